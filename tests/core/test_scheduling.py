"""Scheduling in the core: system tasks, node tasks, jobs, outcomes, retries, warnings, reconciliation."""

from __future__ import annotations

import pytest

from scheduler.core.apply import add_queued_jobs, apply
from scheduler.core.events import OffersReceived, Subscribed, TaskUpdate
from scheduler.core.inputs import (
    AgentsListed,
    Cycle,
    FlagsRead,
    HandlersAlive,
    JobTypesRead,
    LaunchRefused,
    LoadedTry,
    NodeIdsStored,
    StateLoaded,
    Tick,
    WriteDone,
)
from scheduler.core.records import ExeEnded, ExeLaunched
from scheduler.core.state import CoreState
from scheduler.jobs.definitions import ErrorCategory, ExeStatus, JobStatus, JobType
from scheduler.jobs.queue import QueuedJob
from scheduler.nodes import states
from scheduler.nodes.agent_report import AgentReport
from scheduler.offers.offer import Offer, Resource
from scheduler.scheduling.pending import PendingReason
from scheduler.tasks.status import TaskState, TaskStatus

UUID = "AAECAwQFBgcICQoLDA0ODw=="
ECHO = JobType("echo", "1.0", "echo hi", cpus=1.0, mem=256.0, max_tries=3, error_mapping={2: ErrorCategory.DATA}, id=1)


class Harness:
    """A subscribed core with N ready agents (node ids 1..N) and a clock the test moves."""

    def __init__(self, agents: int = 2, *, cpus: float = 4.0, mem: float = 4096.0, **core_args) -> None:
        self.now = 1000.0
        self.core = CoreState(hostname="sched", now=self.now, **core_args)
        self.apply(Subscribed("F", 15.0))
        self.apply(JobTypesRead((ECHO,)))
        self.offer_seq = 0
        self.cpus, self.mem = cpus, mem
        for i in range(1, agents + 1):
            node = self.core.nodes.saw_offer(f"S{i}", f"host-{i}", self.now)
            self.apply(NodeIdsStored({f"host-{i}": i}))
            node.initial_cleanup_done = True
            self.core.node_tasks.work(node).health_due_at = self.now + 1e9  # health checks: their own tests
        total = {"cpus": cpus, "mem": mem}
        self.apply(
            AgentsListed(tuple(AgentReport(f"S{i}", f"host-{i}", True, total, {}, {}) for i in range(1, agents + 1)))
        )
        self.core.db_update.completed_at = self.now  # most tests are not about system tasks
        self.apply(FlagsRead(paused=False, message_handlers=0))

    def apply(self, item):
        return apply(self.core, item, self.now)

    def offer(self, agent: int, cpus: float | None = None, mem: float | None = None):
        self.offer_seq += 1
        return Offer(
            f"O{self.offer_seq}",
            f"S{agent}",
            f"host-{agent}",
            (
                Resource("cpus", "SCALAR", scalar=self.cpus if cpus is None else cpus),
                Resource("mem", "SCALAR", scalar=self.mem if mem is None else mem),
            ),
        )

    def offer_all(self, agents=None, **kwargs):
        agents = agents or range(1, len(self.core.nodes) + 1)
        return self.apply(OffersReceived(tuple(self.offer(a, **kwargs) for a in agents)))

    def queue(self, *job_ids: int, job_type_id: int = 1, priority: int = 100):
        add_queued_jobs(self.core, (QueuedJob(j, job_type_id, priority, self.now + j / 1000) for j in job_ids))

    def cycle(self, **kwargs):
        self.now += 1
        return self.apply(Cycle(**kwargs))

    def update(self, task_id: str, state: TaskState, message: str | None = None, agent: str = "S1"):
        self.now += 0.1
        status = TaskStatus(task_id, state, agent_id=agent, uuid=UUID, message=message)
        return self.apply(TaskUpdate(status))


def launched_ids(actions) -> list[str]:
    return [t.task_id for launch in actions.launch for t in launch.tasks]


def test_jobs_run_by_priority_then_age_and_fill_offers():
    h = Harness(agents=1)  # one agent with 4 cpus: four 1-cpu jobs fit
    h.queue(10, 11, 12, priority=100)
    h.queue(20, 21, priority=5)
    h.offer_all()
    actions = h.cycle()
    assert launched_ids(actions) == ["scale-job-20-1", "scale-job-21-1", "scale-job-10-1", "scale-job-11-1"]
    assert len(actions.launch) == 1 and actions.launch[0].offer_ids == ["O1"]  # one ACCEPT per agent
    assert [type(r) for r in actions.records] == [ExeLaunched] * 4
    assert [job.job_id for job in h.core.queue] == [12]
    assert h.core.exe_metrics.counts(1)["running"] == 4
    rates = h.core.metrics.counters
    assert rates["jobs_launched_per_sec"].total == 4 and rates["offers_launched_per_sec"].total == 1


def test_unused_offers_are_declined_and_only_ready_nodes_get_jobs():
    h = Harness(agents=3)
    h.core.nodes.get("host-2").is_paused = True
    h.core.nodes.get("host-3").initial_cleanup_done = False  # INITIAL_CLEANUP: its cleanup task, no jobs
    h.queue(1)
    h.offer_all()
    actions = h.cycle()
    jobs = [t for launch in actions.launch for t in launch.tasks if t.task_id.startswith("scale-job")]
    assert [spec.agent_id for spec in jobs] == ["S1"]
    assert "O2" in actions.decline  # the paused node's offer goes back at once
    cleanup = [launch for launch in actions.launch if launch.agent_id == "S3"]
    assert cleanup and "cleanup" in cleanup[0].tasks[0].task_id


def test_finished_failed_killed_and_lost_map_to_execution_outcomes():
    h = Harness(agents=1)
    h.queue(1, 2, 3, 4)
    h.offer_all()
    h.cycle()
    ended = {}
    for job, state, message in [
        (1, TaskState.FINISHED, None),
        (2, TaskState.FAILED, "Command exited with status 2"),
        (3, TaskState.KILLED, None),
        (4, TaskState.FAILED, "Command exited with status 7"),
    ]:
        actions = h.update(f"scale-job-{job}-1", state, message)
        assert len(actions.acknowledge) == 1
        (record,) = actions.records
        ended[job] = record
    assert (ended[1].status, ended[1].job_status) == (ExeStatus.COMPLETED, JobStatus.COMPLETED)
    assert (ended[2].status, ended[2].category, ended[2].exit_code) == (ExeStatus.FAILED, ErrorCategory.DATA, 2)
    assert (ended[3].status, ended[3].job_status) == (ExeStatus.CANCELED, JobStatus.CANCELED)
    assert ended[4].category is ErrorCategory.ALGORITHM and ended[4].job_status is JobStatus.FAILED
    counts = h.core.exe_metrics.counts(1)
    assert counts == {"completed": 1, "data": 1, "algorithm": 1, "system": 0, "running": 0}
    assert len(h.core.queue) == 0  # DATA and ALGORITHM failures are not retried


def test_system_failures_are_retried_up_to_max_tries():
    h = Harness(agents=1)
    h.queue(1)
    for attempt in (1, 2, 3):
        h.offer_all()
        jobs = [t for t in launched_ids(h.cycle()) if t.startswith("scale-job")]  # cleanups run alongside
        assert jobs == [f"scale-job-1-{attempt}"]
        (record,) = h.update(f"scale-job-1-{attempt}", TaskState.LOST).records
        assert record.category is ErrorCategory.SYSTEM
        assert record.job_status is (JobStatus.QUEUED if attempt < 3 else JobStatus.FAILED)
    assert len(h.core.queue) == 0
    assert h.core.exe_metrics.counts(1)["system"] == 3


def test_a_stale_database_read_never_requeues_a_running_or_ended_job():
    h = Harness(agents=1)
    h.queue(1, 2)
    h.offer_all()
    h.cycle()
    h.update("scale-job-1-1", TaskState.FINISHED)
    # The database still says QUEUED for both (their records are being written):
    assert add_queued_jobs(h.core, [QueuedJob(1, 1, 100, 0.0), QueuedJob(2, 1, 100, 0.0)]) == 0
    assert len(h.core.queue) == 0


def test_unknown_running_task_is_killed_and_unknown_job_type_warns():
    h = Harness(agents=1)
    actions = h.apply(TaskUpdate(TaskStatus("stray", TaskState.RUNNING, agent_id="S1", reason="REASON_RECONCILIATION")))
    assert actions.kill == [("stray", "S1")] and actions.acknowledge == []
    h.queue(5, job_type_id=99)
    h.offer_all()
    assert launched_ids(h.cycle()) == []
    assert "UNKNOWN_JOB_TYPE" in h.core.warnings.names()


def test_node_tasks_from_before_a_restart_are_stopped_quietly(caplog):
    """Node and system tasks are kept in memory only: after a restart the master still runs the last
    run's health checks; they are stopped (a new one runs when due) with an info line, not the
    warning a task this scheduler never made gets."""
    earlier = CoreState(hostname="scheduler", now=400.0).new_task_id  # the run before the harness's (1000.0)
    ids = [earlier(kind) for kind in ("health-check", "cleanup", "db-update", "message-handler")]
    h = Harness(agents=1)
    assert not h.core.new_task_id.from_earlier_run(h.core.new_task_id("health-check"))  # this run's own
    strays = ["scale-job-12-1", "scale-other-3e8-1", "scale-health-check-xyz-1", "scale-health-check-3e8-"]
    with caplog.at_level("INFO", logger="scheduler.core.task_updates"):
        for task_id in ids + strays:
            actions = h.apply(
                TaskUpdate(TaskStatus(task_id, TaskState.RUNNING, agent_id="S1", reason="REASON_RECONCILIATION"))
            )
            assert actions.kill == [(task_id, "S1")]
    lines = {r.getMessage().split(":")[0]: r.levelname for r in caplog.records}
    assert {f"Stopping task {task_id}" for task_id in ids} == {k for k, v in lines.items() if v == "INFO"}
    assert {f"Killing task {task_id}" for task_id in strays} == {k for k, v in lines.items() if v == "WARNING"}


def test_the_view_counts_tries_running_per_job_type():
    from scheduler.status.core_view import view_of

    h = Harness(agents=1)
    h.queue(10, 11, 12)
    h.offer_all()
    assert len(launched_ids(h.cycle())) == 3
    assert view_of(h.core, h.now).running_by_type == ((1, 3),)
    h.update("scale-job-10-1", TaskState.FINISHED)
    assert view_of(h.core, h.now).running_by_type == ((1, 2),)


def test_invalid_resources_warning_and_skip():
    big = JobType("big", "1", "x", cpus=64.0, mem=10.0, id=2)
    gpu = JobType("gpu", "1", "x", cpus=1.0, gpus=1.0, id=3)
    h = Harness(agents=1)
    h.apply(JobTypesRead((ECHO, big, gpu)))
    h.queue(1, job_type_id=2)
    h.queue(2, job_type_id=3)
    h.apply(Tick())
    warnings = {w["name"]: w for w in h.core.warnings.active(h.now)}
    assert warnings["INVALID_RESOURCESbig"]["description"] == (
        "No node has enough of this resource for the job type: ['cpus']."
    )
    assert warnings["INVALID_RESOURCESgpu"]["title"] == "Invalid Resources for gpu"
    assert warnings["INVALID_RESOURCESgpu"]["description"] == (
        "Cluster does not have one or more of the following resources: ['gpus']."
    )
    # Once no such job waits, the warnings go.
    h.core.queue.remove(1)
    h.core.queue.remove(2)
    h.now += 1
    h.apply(Tick())
    assert not {n for n in h.core.warnings.names() if n.startswith("INVALID")}


def test_system_tasks_go_first_and_while_one_waits_no_job_starts():
    h = Harness(agents=1, cpus=1.0, mem=1100.0)
    tiny = JobType("tiny", "1", "x", cpus=0.1, mem=10.0, id=4)
    h.apply(JobTypesRead((ECHO, tiny)))
    h.core.db_update.completed_at = None
    h.apply(FlagsRead(paused=False, message_handlers=1))
    h.offer_all()
    names = sorted(t.name for launch in h.cycle().launch for t in launch.tasks)
    assert names[:2] == ["Database Update", "Message Handler"]
    assert h.core.messaging.actual_count == 1
    # A second handler is wanted but no offer can hold it: a tiny job that would fit must wait too.
    h.apply(FlagsRead(paused=False, message_handlers=2))
    h.queue(1, job_type_id=4)
    h.offer_all(cpus=0.3, mem=600.0)
    actions = h.cycle()
    assert "WAITING_SYSTEM_TASKS" in h.core.warnings.names()
    assert not [t for launch in actions.launch for t in launch.tasks if "scale-job" in t.task_id]
    assert [job.job_id for job in h.core.queue] == [1]


def test_in_process_handlers_are_counted_not_launched():
    h = Harness(agents=1, message_handlers_in_process=True)
    h.apply(FlagsRead(paused=False, message_handlers=2))
    h.apply(HandlersAlive(2))
    h.offer_all()
    actions = h.cycle()
    assert not [t for launch in actions.launch for t in launch.tasks if "message-handler" in t.task_id]
    assert h.core.messaging.status_json()["actual_count"] == 2


def test_node_cleanup_and_health_checks():
    h = Harness(agents=1)
    node = h.core.nodes.get("host-1")
    node.initial_cleanup_done = False
    h.core.node_tasks.work(node).health_due_at = 0
    h.offer_all()
    infos = {t.task_id: t for launch in h.cycle().launch for t in launch.tasks}
    cleanup = next(t for t in infos if "cleanup" in t)
    health = next(t for t in infos if "health-check" in t)
    assert node.state(False) is states.INITIAL_CLEANUP
    h.update(cleanup, TaskState.FINISHED)
    assert node.state(False) is states.READY
    h.update(health, TaskState.FAILED, "Command exited with status 3")
    assert node.state(False) is states.DEGRADED
    assert [e["name"] for e in [c.as_json() for c in node.conditions.errors.values()]] == ["LOW_DOCKER_SPACE"]
    # No new health check within 2 minutes of the failure; one after.
    h.offer_all()
    assert not [t for t in launched_ids(h.cycle()) if "health" in t]
    h.now += 125
    h.offer_all()
    (again,) = [t for t in launched_ids(h.cycle()) if "health" in t]
    h.update(again, TaskState.FINISHED)
    assert node.state(False) is states.READY and not node.conditions.errors


def test_cleanup_after_job_executions_and_its_failure_warnings():
    h = Harness(agents=1)
    node = h.core.nodes.get("host-1")
    h.queue(1)
    h.offer_all()
    h.cycle()
    h.update("scale-job-1-1", TaskState.FINISHED)
    h.offer_all()
    (cleanup,) = [t for t in launched_ids(h.cycle()) if "cleanup" in t]
    h.update(cleanup, TaskState.FAILED, "Command exited with status 1")
    assert "CLEANUP" in node.conditions.errors
    (warning,) = [w for w in node.conditions.warnings.values() if w.name.startswith("CLEANUP_FAILURE")]
    assert warning.description == "There was a failure cleaning up some of the following jobs: [scale-job-1-1]"
    # DEGRADED now: the next cleanup waits two minutes after the error.
    h.offer_all()
    assert not [t for t in launched_ids(h.cycle()) if "cleanup" in t]
    h.now += 121
    h.offer_all()
    (retry,) = [t for t in launched_ids(h.cycle()) if "cleanup" in t]
    h.update(retry, TaskState.FINISHED)
    assert "CLEANUP" not in node.conditions.errors


def test_slow_cleanup_warning_at_one_hundred_waiting():
    h = Harness(agents=1)
    node = h.core.nodes.get("host-1")
    for i in range(100):
        h.core.node_tasks.exe_ended(node, f"t{i}", h.now)
    assert node.conditions.warnings["SLOW_CLEANUP"].description == (
        "There are 100 job executions waiting to be cleaned up on this node."
    )


def test_reconciliation_after_subscribe_and_of_stale_launches():
    h = Harness(agents=1)
    h.queue(1)
    h.offer_all()
    h.cycle()
    actions = h.apply(Subscribed("F", 15.0))
    explicit, implicit = actions.reconcile
    assert ("scale-job-1-1", "S1") in explicit and implicit == []
    h.now += 11
    assert h.apply(Cycle()).reconcile  # no answer yet: asked again
    h.update("scale-job-1-1", TaskState.RUNNING)
    h.now += 100
    assert not [c for c in h.apply(Cycle()).reconcile if c]


def test_launch_refused_requeues_without_using_up_a_try():
    h = Harness(agents=1)
    h.queue(1)
    h.offer_all()
    (launch,) = h.cycle().launch
    assert h.apply(WriteDone((launch,), ok=False)).decline == launch.offer_ids  # records not written
    assert [job.num_exes for job in h.core.queue] == [0]
    h.offer_all()
    (launch,) = h.cycle().launch
    assert launch.tasks[0].task_id == "scale-job-1-1"
    # Refused after its try was written: that try failed (SYSTEM) and the next one is queued.
    actions = h.apply(LaunchRefused(launch))
    (record,) = actions.records
    assert isinstance(record, ExeEnded) and record.category is ErrorCategory.SYSTEM
    assert [job.num_exes for job in h.core.queue] == [1]


# TASK_UNREACHABLE keeps the try (PARTITION_AWARE): tests/core/test_partitions.py.
@pytest.mark.parametrize("state", [TaskState.UNKNOWN])
def test_unknown_tries_are_killed_and_retried(state):
    h = Harness(agents=1)
    h.queue(1)
    h.offer_all()
    h.cycle()
    actions = h.update("scale-job-1-1", state)
    assert actions.kill == [("scale-job-1-1", "S1")]
    assert actions.records[0].job_status is JobStatus.QUEUED


def test_paused_scheduler_launches_nothing():
    h = Harness(agents=1)
    h.queue(1)
    h.apply(FlagsRead(paused=True, message_handlers=0))
    assert h.offer_all().decline == ["O1"]
    assert not h.cycle().launch


def test_an_old_try_ending_late_leaves_the_job_alone():
    from scheduler.jobs.executions import RunningExe

    h = Harness(agents=1)
    # After a restart the database held two running tries of job 7 (the older one left behind).
    tries = [LoadedTry(RunningExe(7, n, 1, f"scale-job-7-{n}", 1, "S1", h.now), 100, h.now) for n in (1, 2)]
    h.apply(StateLoaded(message_handlers=0, job_types=(ECHO,), running=tuple(tries)))
    (record,) = h.update("scale-job-7-1", TaskState.LOST).records
    assert record.exe_num == 1 and record.category is ErrorCategory.SYSTEM
    assert len(h.core.queue) == 0  # not requeued: try 2 is the job's
    h.offer_all()
    assert not [t for t in launched_ids(h.cycle()) if t.startswith("scale-job-7")]
    (record,) = h.update("scale-job-7-2", TaskState.FINISHED).records
    assert record.job_status is JobStatus.COMPLETED


def test_held_launches_hand_offers_back():
    h = Harness(agents=1)
    h.queue(1)
    h.offer_all()
    actions = h.cycle(launches_held=True)
    assert actions.decline == ["O1"] and not actions.launch
    h.offer_all()
    assert [t for t in launched_ids(h.cycle()) if t.startswith("scale-job")] == ["scale-job-1-1"]


def test_a_failing_cycle_declines_its_offers(monkeypatch):
    h = Harness(agents=1)
    h.queue(1)
    h.offer_all()

    def broken(*_args):
        raise RuntimeError("bug")

    monkeypatch.setattr("scheduler.core.cycle._place_jobs", broken)
    actions = h.cycle()
    assert actions.decline == ["O1"] and not actions.launch
    assert len(h.core.offers) == 0


def test_only_resources_of_the_accepted_role_are_used():
    from scheduler.scheduling.planner import capacity_of

    h = Harness(agents=1)
    node = h.core.nodes.get("host-1")
    offer = Offer(
        "O9",
        "S1",
        "host-1",
        (
            Resource("cpus", "SCALAR", scalar=2.0, role="scale", raw={"role": "scale"}),
            Resource("cpus", "SCALAR", scalar=6.0, role="*", raw={"role": "*"}),
            Resource("disk", "SCALAR", scalar=100.0, role="*", raw={"disk": {"source": {"type": "MOUNT"}}}),
            Resource("mem", "SCALAR", scalar=512.0, role="*", raw={"role": "*", "revocable": {}}),
        ),
    )
    capacity = capacity_of("S1", node, [offer], "*")
    assert capacity.remaining == {"cpus": 6.0}
    assert capacity.like["cpus"].raw == {"role": "*"}
    assert capacity_of("S1", node, [offer], "scale").remaining == {"cpus": 2.0}


# --- GPU placement: GPU agents are kept for GPU work ---

GPU_JOB = JobType("render", "1.0", "render", cpus=1.0, mem=256.0, gpus=1.0, max_tries=3, id=2)


def gpu_cluster(plain: int = 2, *, cpus: float = 4.0) -> Harness:
    """``plain`` agents without GPUs (S1..), then one GPU agent (the last) with one GPU."""
    h = Harness(agents=plain + 1, cpus=cpus)
    h.apply(JobTypesRead((ECHO, GPU_JOB)))
    gpu = plain + 1
    reports = [AgentReport(f"S{i}", f"host-{i}", True, {"cpus": cpus, "mem": 4096.0}, {}, {}) for i in range(1, gpu)]
    reports.append(AgentReport(f"S{gpu}", f"host-{gpu}", True, {"cpus": cpus, "mem": 4096.0, "gpus": 1.0}, {}, {}))
    h.apply(AgentsListed(tuple(reports)))
    h.apply(Tick())  # the resource check learns that a GPU agent exists
    return h


def offer_gpus(h: Harness, gpus: float = 1.0) -> None:
    """Offers of every agent; the GPU agent (the last) also offers ``gpus`` GPUs. Its offer comes
    first, so that a first fit in arrival order would look at it first."""
    agents = len(h.core.nodes)
    offers = [h.offer(i) for i in range(1, agents)]
    h.offer_seq += 1
    resources = (Resource("cpus", "SCALAR", scalar=h.cpus), Resource("mem", "SCALAR", scalar=h.mem))
    if gpus:
        resources += (Resource("gpus", "SCALAR", scalar=gpus),)
    offers.insert(0, Offer(f"O{h.offer_seq}", f"S{agents}", f"host-{agents}", resources))
    h.apply(OffersReceived(tuple(offers)))


def agents_of(actions) -> dict[str, str]:
    return {t.task_id: launch.agent_id for launch in actions.launch for t in launch.tasks}


def test_jobs_without_gpus_go_to_agents_without_gpus_while_one_has_room():
    h = gpu_cluster(plain=2)
    h.queue(*range(1, 9), priority=1)  # eight 1-cpu jobs: exactly the room of the two plain agents
    h.queue(100, job_type_id=2, priority=100)
    offer_gpus(h)
    placed = agents_of(h.cycle())
    assert placed.pop("scale-job-100-1") == "S3"
    assert sorted(placed.values()) == ["S1"] * 4 + ["S2"] * 4  # none on the GPU agent
    assert len(h.core.queue) == 0


def test_a_gpu_job_is_placed_before_earlier_jobs_could_fill_the_only_gpu_agent():
    h = gpu_cluster(plain=1, cpus=4.0)
    # Eight 1-cpu jobs ahead of it in the queue; first fit in queue order would put four of them on
    # the GPU agent (the plain one has room for four) and leave the GPU job no cpus.
    h.queue(*range(1, 9), priority=1)
    h.apply(JobTypesRead((ECHO, JobType("render", "1.0", "render", cpus=4.0, mem=256.0, gpus=1.0, id=2))))
    h.queue(100, job_type_id=2, priority=100)
    offer_gpus(h)
    placed = agents_of(h.cycle())
    assert placed["scale-job-100-1"] == "S2"
    assert [a for t, a in placed.items() if t != "scale-job-100-1"] == ["S1"] * 4
    assert sorted(j.job_id for j in h.core.queue) == [5, 6, 7, 8]


def test_jobs_without_gpus_spill_onto_a_gpu_agent_only_while_no_gpu_job_waits():
    h = gpu_cluster(plain=1)
    h.queue(*range(1, 7), priority=1)  # six jobs, the plain agent has room for four
    offer_gpus(h)
    placed = agents_of(h.cycle())
    assert sorted(placed.values()) == ["S1"] * 4 + ["S2"] * 2  # nothing needs the GPU agent: use it

    h = gpu_cluster(plain=1)
    h.queue(*range(1, 7), priority=1)
    h.queue(100, job_type_id=2, priority=100)
    offer_gpus(h, gpus=0)  # the GPU is busy this cycle: the GPU job waits for it
    actions = h.cycle()
    placed = agents_of(actions)
    assert sorted(placed.values()) == ["S1"] * 4  # the GPU agent's cpus stay free for the GPU job
    assert sorted(j.job_id for j in h.core.queue) == [5, 6, 100]
    assert h.core.pending == {1: {PendingReason.NO_OFFERS: 2}, 2: {PendingReason.NO_OFFERS: 1}}


def test_the_offer_pool_looks_at_gpu_agents_last_for_work_without_gpus():
    from scheduler.scheduling.planner import OfferPool, capacity_of

    h = gpu_cluster(plain=1)
    offer_gpus(h, gpus=0)  # the GPU agent offers no GPU now, and is still a GPU agent by its total
    offers = {o.agent_id: [o] for o in h.core.offers.take_all()}
    pool = OfferPool([capacity_of(a, h.core.nodes.for_agent(a), offers[a]) for a in ("S2", "S1")])
    assert [c.has_gpus for c in pool.capacities] == [True, False]
    anywhere = lambda node: True  # noqa: E731
    assert pool.first_fit({"cpus": 1.0}, anywhere).agent_id == "S1"
    assert pool.first_fit({"cpus": 4.0}, anywhere).agent_id == "S1"  # it still has 4 cpus: not taken yet
    pool.by_agent["S1"].remaining["cpus"] = 0.0
    assert pool.first_fit({"cpus": 1.0}, anywhere, gpu_agents=False) is None
    assert pool.first_fit({"cpus": 1.0}, anywhere).agent_id == "S2"
    assert pool.first_fit({"cpus": 1.0, "gpus": 1.0}, anywhere) is None  # no GPU offered now


def test_work_waits_for_runnable_jobs_and_due_node_tasks_only():
    h = Harness(agents=1)
    h.cycle()
    assert not h.core.work_waits
    h.queue(1, job_type_id=99)  # a type the scheduler does not know: nothing an offer could do for it
    h.cycle()
    assert not h.core.work_waits
    h.queue(2)
    h.cycle()
    assert h.core.work_waits
    h.offer_all()
    h.cycle()  # the job launches
    h.update("scale-job-2-1", TaskState.FINISHED)
    h.cycle()
    assert h.core.work_waits  # its execution waits for a cleanup on the node
    h.offer_all()
    (cleanup,) = [t for t in launched_ids(h.cycle()) if "cleanup" in t]
    h.cycle()
    assert not h.core.work_waits  # the cleanup runs
    h.update(cleanup, TaskState.FINISHED)
    h.core.node_tasks.work(h.core.nodes.get("host-1")).health_due_at = h.now + 0.5
    h.cycle()
    assert h.core.work_waits  # the health check is due
    h.apply(FlagsRead(paused=True, message_handlers=0))
    h.cycle()
    assert not h.core.work_waits  # paused: nothing launches, so nothing waits
