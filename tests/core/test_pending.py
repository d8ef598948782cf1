"""Why queued jobs wait: one reason per job left unplaced by a cycle, counted per job type, and the
queue summary of the snapshot view that shows them."""

from __future__ import annotations

from scheduler.core.apply import add_queued_jobs, apply
from scheduler.core.events import Disconnected, OffersReceived, Subscribed
from scheduler.core.inputs import AgentsListed, Cycle, FlagsRead, JobTypesRead, NodeFlagsRead, NodeIdsStored, Tick
from scheduler.core.state import CoreState
from scheduler.jobs.definitions import JobType
from scheduler.jobs.queue import QueuedJob
from scheduler.nodes.agent_report import AgentReport
from scheduler.offers.offer import Offer, Resource
from scheduler.scheduling.pending import PendingReason
from scheduler.status.core_view import view_of

SMALL = JobType("small", "1", "x", cpus=1.0, mem=64.0, id=1)
LARGE = JobType("large", "2", "x", cpus=3.0, mem=64.0, id=2)
HUGE = JobType("huge", "1", "x", cpus=64.0, mem=64.0, id=3)
NOW = 2000.0


def ready(agents: int = 2, cpus: float = 4.0) -> CoreState:
    state = CoreState(hostname="s", now=NOW)
    apply(state, Subscribed("F", 15.0), NOW)
    apply(state, JobTypesRead((SMALL, LARGE, HUGE)), NOW)
    reports = tuple(
        AgentReport(f"S{a}", f"host-{a}", True, {"cpus": cpus, "mem": 4096.0}, {}, {}) for a in range(agents)
    )
    apply(state, AgentsListed(reports), NOW)
    apply(state, NodeIdsStored({f"host-{a}": a + 1 for a in range(agents)}), NOW)
    apply(state, FlagsRead(paused=False, message_handlers=0), NOW)
    state.db_update.completed_at = NOW
    for node in state.nodes:
        node.initial_cleanup_done = True
        state.node_tasks.work(node).health_due_at = NOW + 1e9
    return state


def offers(state: CoreState, cpus: float = 4.0, agents=(0, 1)) -> None:
    made = tuple(
        Offer(
            f"O{a}-{cpus}",
            f"S{a}",
            f"host-{a}",
            (Resource("cpus", "SCALAR", scalar=cpus), Resource("mem", "SCALAR", scalar=4096.0)),
        )
        for a in agents
    )
    apply(state, OffersReceived(made), NOW)


def queue(state: CoreState, job_type: JobType, *job_ids: int, priority: int = 100) -> None:
    add_queued_jobs(state, (QueuedJob(j, job_type.id, priority, NOW - j) for j in job_ids))


def reasons(state: CoreState, **cycle) -> dict[int, dict[str, int]]:
    apply(state, Cycle(**cycle), NOW + 1)
    return {jt: {r.value: n for r, n in by.items()} for jt, by in state.pending.items()}


def test_no_offer_with_room_and_no_node_that_could_ever_run_it():
    state = ready()
    queue(state, SMALL, 1, 2)
    queue(state, LARGE, 3)
    queue(state, HUGE, 4)
    apply(state, Tick(), NOW)  # the resource check: no node has 64 cpus
    offers(state, cpus=2.0)
    assert reasons(state) == {2: {"NO_OFFERS": 1}, 3: {"NO_NODE_FITS": 1}}  # both smalls placed


def test_unknown_job_type_and_no_offers_at_all():
    state = ready()
    queue(state, SMALL, 1)
    add_queued_jobs(state, [QueuedJob(9, 99, 100, NOW)])
    assert reasons(state) == {1: {"NO_OFFERS": 1}, 99: {"UNKNOWN_JOB_TYPE": 1}}


def test_only_a_paused_node_had_room():
    state = ready()
    apply(state, NodeFlagsRead({"host-1": True}), NOW)
    queue(state, LARGE, 1, 2)
    offers(state, cpus=4.0, agents=(1,))  # the paused node's offer
    offers(state, cpus=1.0, agents=(0,))
    assert reasons(state) == {2: {"NODE_PAUSED": 2}}


def test_the_scheduler_s_own_state_comes_first():
    state = ready()
    queue(state, SMALL, 1)
    add_queued_jobs(state, [QueuedJob(9, 99, 100, NOW)])
    offers(state)
    assert reasons(state, launches_held=True) == {1: {"LAUNCHES_HELD": 1}, 99: {"LAUNCHES_HELD": 1}}
    apply(state, FlagsRead(paused=True, message_handlers=0), NOW)
    assert reasons(state) == {1: {"SCHEDULER_PAUSED": 1}, 99: {"SCHEDULER_PAUSED": 1}}
    apply(state, Disconnected("test"), NOW)
    assert reasons(state) == {1: {"NOT_SUBSCRIBED": 1}, 99: {"NOT_SUBSCRIBED": 1}}


def test_jobs_wait_behind_a_system_task_that_has_no_room():
    state = ready(agents=1, cpus=0.4)  # a message handler needs 0.5 cpu
    apply(state, FlagsRead(paused=False, message_handlers=1), NOW)
    tiny = JobType("tiny", "1", "x", cpus=0.1, mem=1.0, id=4)
    apply(state, JobTypesRead((SMALL, tiny)), NOW)
    queue(state, tiny, 1)
    offers(state, cpus=0.4, agents=(0,))
    assert reasons(state) == {4: {"WAITING_SYSTEM_TASKS": 1}}


def test_no_head_of_line_blocking_behind_a_higher_priority_job():
    """Scale issue 1801: here a job that cannot be placed never holds back one that can."""
    state = ready(agents=1)
    queue(state, LARGE, 1, priority=1)
    queue(state, SMALL, 2, priority=500)
    offers(state, cpus=2.0, agents=(0,))
    placed = apply(state, Cycle(), NOW + 1)
    assert [spec.task_id for launch in placed.launch for spec in launch.tasks] == ["scale-job-2-1"]
    assert state.pending == {2: {PendingReason.NO_OFFERS: 1}}
    assert all(PendingReason.BEHIND_BLOCKED_PRIORITY not in by for by in state.pending.values())


def test_the_view_summarizes_the_queue_by_type_with_its_reasons():
    state = ready()
    queue(state, SMALL, 1, 2, priority=50)
    queue(state, SMALL, 3, priority=10)
    queue(state, HUGE, 4)
    apply(state, Tick(), NOW)
    apply(state, Cycle(), NOW + 1)  # no offers
    view = view_of(state, NOW + 2)
    small, huge = view.queue
    assert (small.job_type_name, small.job_type_version, small.count) == ("small", "1", 3)
    assert (small.longest_queued, small.highest_priority) == (NOW - 3, 10)
    assert small.pending_reasons == {"NO_OFFERS": 3}
    assert (huge.job_type_id, huge.count, huge.pending_reasons) == (3, 1, {"NO_NODE_FITS": 1})
    assert view.gauges["jobs_queued"] == 4 and view.scheduler_state == "READY" and view.subscribed
    assert [(n.hostname, n.node_id, n.state) for n in view.nodes] == [("host-0", 1, "READY"), ("host-1", 2, "READY")]


def test_500_gpu_jobs_no_agent_can_run_do_not_hold_back_100_cpu_jobs_behind_them():
    """The operators' issue's case: GPU jobs queued first and at a higher priority, on a cluster
    without GPUs. Every CPU job is placed, and the queue summary says why the GPU jobs wait."""
    gpu = JobType("render", "1", "x", cpus=1.0, mem=64.0, gpus=1.0, id=7)
    state = ready(agents=25)
    apply(state, JobTypesRead((SMALL, LARGE, HUGE, gpu)), NOW)
    queue(state, gpu, *range(1, 501), priority=1)
    queue(state, SMALL, *range(501, 601), priority=100)
    apply(state, Tick(), NOW)
    offers(state, cpus=4.0, agents=range(25))
    placed = apply(state, Cycle(), NOW + 1)
    launched = [spec.task_id for launch in placed.launch for spec in launch.tasks]
    assert sorted(launched) == sorted(f"scale-job-{j}-1" for j in range(501, 601))
    render = next(entry for entry in view_of(state, NOW + 2).queue if entry.job_type_name == "render")
    assert (render.count, render.highest_priority, render.pending_reasons) == (500, 1, {"NO_NODE_FITS": 500})
