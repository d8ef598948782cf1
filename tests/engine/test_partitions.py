"""Partitions, outcomes after a restart, kills sent again, silent launches: engine scenarios on a
fake clock. The master's own answers (reconciliation, an agent marked unreachable or re-registered)
carry no uuid, as in Mesos; the agent's updates do."""

from __future__ import annotations

import pytest
from harness import Harness

from scheduler.core.events import Disconnected, Subscribed, TaskUpdate
from scheduler.jobs.definitions import ErrorCategory, ExeStatus, JobStatus, JobType
from scheduler.mesos.driver import CallError
from scheduler.tasks.status import TaskState, TaskStatus

MAPPED = JobType("work", "1", "do-work", cpus=1.0, mem=256.0, max_tries=3, error_mapping={2: ErrorCategory.DATA}, id=1)


@pytest.fixture
async def h(tmp_path):
    harness = Harness(tmp_path, agents=2)
    harness.store.types = [MAPPED]
    harness.state.watch.unreachable_timeout_s = 300.0
    harness.state.watch.outcome_wait_s = 600.0
    await harness.start()
    return harness


def master(task_id: str, state: TaskState, agent: str = "S1", reason: str | None = None, message: str | None = None):
    """An update made by the master: no uuid, so nothing to acknowledge."""
    return TaskUpdate(
        TaskStatus(task_id, state, agent_id=agent, source="SOURCE_MASTER", reason=reason, message=message)
    )


async def launch_one(h) -> str:
    (job,) = h.queue_jobs(1)
    await h.sync()
    await h.offer_all()
    await h.cycle()
    (task_id,) = h.driver.accepted()
    agent = next(i["agent_id"]["value"] for i in h.driver.task_infos if i["task_id"]["value"] == task_id)
    h.post(h.update(task_id, TaskState.RUNNING, agent))
    await h.run_until_idle()
    return task_id, agent


def node_of(h, agent: str):
    return h.state.nodes.for_agent(agent)


async def test_an_unreachable_try_is_kept_and_finishes_when_its_agent_comes_back(h):
    task_id, agent = await launch_one(h)
    h.post(master(task_id, TaskState.UNREACHABLE, agent, "REASON_AGENT_REMOVED", "health check timed out"))
    await h.run_until_idle()
    for _ in range(30):  # half a minute of cycles, with offers of the other agent
        await h.offer_all()
        await h.cycle()
    assert not h.driver.of("KILL") and not h.writer.ended()
    assert h.driver.accepted() == [task_id]  # not rerun
    assert task_id in h.tracked()
    error = node_of(h, agent).conditions.errors["AGENT_UNREACHABLE"]
    assert "Unreachable tasks: 1" in error.description
    assert node_of(h, agent).state(False).name == "DEGRADED"
    # Healed: the master reports the task's current state, then the agent its end.
    h.post(master(task_id, TaskState.RUNNING, agent, "REASON_AGENT_REREGISTERED", "Unreachable agent re-reregistered"))
    await h.cycle()
    assert "AGENT_UNREACHABLE" not in node_of(h, agent).conditions.errors
    h.post(h.update(task_id, TaskState.FINISHED, agent))
    await h.run_until_idle()
    (ended,) = h.writer.ended()
    assert (ended.task_id, ended.status, ended.job_status) == (task_id, ExeStatus.COMPLETED, JobStatus.COMPLETED)
    assert not h.driver.of("KILL")


async def test_an_unreachable_try_past_the_timeout_is_killed_and_retried_once_as_system(h):
    task_id, agent = await launch_one(h)
    h.post(master(task_id, TaskState.UNREACHABLE, agent, "REASON_AGENT_REMOVED"))
    await h.run_until_idle()
    h.clock.now += 298.0
    await h.cycle()  # 299 s: still kept
    assert not h.writer.ended()
    await h.cycle()  # 300 s: given up
    (ended,) = h.writer.ended()
    assert (ended.status, ended.category, ended.job_status) == (
        ExeStatus.FAILED,
        ErrorCategory.SYSTEM,
        JobStatus.QUEUED,
    )
    assert [c.task_ids for c in h.driver.of("KILL")] == [(task_id,)]
    assert "AGENT_UNREACHABLE" not in node_of(h, agent).conditions.errors
    await h.offer_all()
    await h.cycle()
    retry = task_id[: -len("1")] + "2"
    assert h.driver.accepted() == [task_id, retry]
    # The master answers the kill of an unreachable task with TASK_UNREACHABLE: no kill at once
    # for it (that would loop with the master); the kill is sent again on its own schedule.
    kills = len(h.driver.of("KILL"))
    h.post(master(task_id, TaskState.UNREACHABLE, agent, "REASON_RECONCILIATION"))
    await h.run_until_idle()
    assert len(h.driver.of("KILL")) == kills
    # The agent comes back with the old task still running: it is killed, and the kill is sent
    # again until the task is over; its try stays ended.
    h.post(master(task_id, TaskState.RUNNING, agent, "REASON_AGENT_REREGISTERED"))
    await h.run_until_idle()
    for _ in range(6):
        await h.cycle()
    kills = [c for c in h.driver.of("KILL") if c.task_ids == (task_id,)]
    assert len(kills) >= 3  # the timeout's, the stranger's, and at least one more (5 s)
    h.post(h.update(task_id, TaskState.KILLED, agent))
    await h.run_until_idle()
    sent = len(h.driver.of("KILL"))
    h.clock.now += 600
    await h.cycle()
    assert len(h.driver.of("KILL")) == sent  # over: no more kills
    assert [e.task_id for e in h.writer.ended()] == [task_id]  # the late KILLED changes nothing
    assert len(h.driver.accepted()) == 2


@pytest.mark.parametrize(
    "state,killed",
    [
        (TaskState.GONE, False),
        (TaskState.GONE_BY_OPERATOR, False),
        (TaskState.DROPPED, False),
        (TaskState.UNKNOWN, True),
        (TaskState.LOST, False),
    ],
)
async def test_the_partition_aware_states_that_end_a_try_retry_it_as_system(h, state, killed):
    task_id, agent = await launch_one(h)
    acks = len(h.driver.of("ACKNOWLEDGE"))
    h.post(master(task_id, state, agent, "REASON_RECONCILIATION"))
    await h.run_until_idle()
    (ended,) = h.writer.ended()
    assert (ended.status, ended.category, ended.job_status) == (
        ExeStatus.FAILED,
        ErrorCategory.SYSTEM,
        JobStatus.QUEUED,
    )
    assert bool(h.driver.of("KILL")) is killed  # UNKNOWN: it may still run somewhere
    assert len(h.driver.of("ACKNOWLEDGE")) == acks  # the master's answer has no uuid
    await h.offer_all()
    await h.cycle()
    assert h.driver.accepted()[-1] == task_id[:-1] + "2"


async def test_a_reconciled_failure_waits_for_the_agents_exit_status(h):
    task_id, agent = await launch_one(h)
    acks_before = len(h.driver.of("ACKNOWLEDGE"))
    # A restart: the master's reconciliation answer has the state, not the exit status.
    h.post(Disconnected("scheduler restarted"), Subscribed("F-1", 15.0))
    await h.run_until_idle()
    h.post(master(task_id, TaskState.FAILED, agent, "REASON_RECONCILIATION", "Reconciliation: Latest task state"))
    await h.run_until_idle()
    first_said = h.clock.now
    assert not h.writer.ended()
    assert len(h.driver.of("ACKNOWLEDGE")) == acks_before  # nothing to acknowledge
    assert task_id not in h.tracked()  # its resources are free
    node = node_of(h, agent)
    assert h.state.exe_metrics.counts(node.id)["running"] == 1  # as the database: the try is still RUNNING
    h.clock.now += 30
    await h.offer_all()
    await h.cycle()
    assert h.driver.accepted() == [task_id]  # the job waits: not requeued, not relaunched
    # Another reconciliation answer changes nothing; the agent's own update decides.
    h.post(master(task_id, TaskState.FAILED, agent, "REASON_RECONCILIATION", "Reconciliation: Latest task state"))
    await h.run_until_idle()
    assert not h.writer.ended()
    h.post(h.update(task_id, TaskState.FAILED, agent, message="Command exited with status 2"))
    await h.run_until_idle()
    (ended,) = h.writer.ended()
    assert (ended.status, ended.category, ended.exit_code, ended.job_status) == (
        ExeStatus.FAILED,
        ErrorCategory.DATA,
        2,
        JobStatus.FAILED,
    )
    assert ended.ended == first_said  # when Mesos first said it ended
    assert h.driver.of("ACKNOWLEDGE")[-1].task_ids == (task_id,)
    assert h.state.exe_metrics.counts(node.id) == {"completed": 0, "data": 1, "algorithm": 0, "system": 0, "running": 0}


async def test_a_failure_whose_exit_status_never_comes_ends_unknown_after_the_wait(h):
    task_id, agent = await launch_one(h)
    h.post(master(task_id, TaskState.FAILED, agent, "REASON_RECONCILIATION", "Reconciliation: Latest task state"))
    await h.run_until_idle()
    h.clock.now += 598
    await h.cycle()
    assert not h.writer.ended()
    h.clock.now += 1
    await h.cycle()
    (ended,) = h.writer.ended()
    assert (ended.status, ended.category, ended.exit_code, ended.job_status) == (
        ExeStatus.FAILED,
        ErrorCategory.UNKNOWN,
        None,
        JobStatus.FAILED,
    )
    node = node_of(h, agent)
    # Counted in no bucket of the status (Scale's shape has none for it), and no longer running.
    assert h.state.exe_metrics.counts(node.id) == {"completed": 0, "data": 0, "algorithm": 0, "system": 0, "running": 0}
    # The agent's update, very late: acknowledged, nothing rewritten.
    h.post(h.update(task_id, TaskState.FAILED, agent, message="Command exited with status 1"))
    await h.run_until_idle()
    assert len(h.writer.ended()) == 1 and h.driver.of("ACKNOWLEDGE")[-1].task_ids == (task_id,)


async def test_a_kill_lost_while_the_master_is_away_is_sent_again_until_the_task_ends(h):
    task_id, agent = await launch_one(h)
    sent = []

    async def kill_fails(task_id, agent_id):
        sent.append(task_id)
        raise CallError("KILL", 503, "Master has not finished recovery")

    real_kill, h.driver.kill = h.driver.kill, kill_fails
    # A try of ours the master reports as UNKNOWN: killed (it may still run).
    h.post(master(task_id, TaskState.UNKNOWN, agent, "REASON_RECONCILIATION"))
    await h.run_until_idle()
    assert sent == [task_id]
    for _ in range(4):
        await h.cycle()
    assert sent == [task_id]  # not yet: the first retry is 5 s later
    await h.cycle()
    assert sent == [task_id] * 2
    h.clock.now += 9
    await h.cycle()  # then 10 s later
    assert sent == [task_id] * 3
    h.driver.kill = real_kill
    h.clock.now += 19
    await h.cycle()
    assert [c.task_ids for c in h.driver.of("KILL")] == [(task_id,)]
    h.post(h.update(task_id, TaskState.KILLED, agent))
    await h.run_until_idle()
    h.clock.now += 3600
    await h.cycle()
    assert len(h.driver.of("KILL")) == 1


async def test_a_launch_never_heard_of_is_reconciled_and_retried(h):
    (job,) = h.queue_jobs(1)
    await h.sync()
    await h.offer_all()
    await h.cycle()
    (task_id,) = h.driver.accepted()
    h.clock.now += 58
    await h.cycle()
    assert not [c for c in h.driver.of("RECONCILE") if task_id in c.task_ids]
    h.clock.now += 1
    await h.cycle()
    assert [c.task_ids for c in h.driver.of("RECONCILE") if task_id in c.task_ids] == [(task_id,)]
    # The master answers STAGING each time: asked again, but less and less often (10 s, 20 s...).
    asked_at = []
    for _ in range(45):
        asks = [c for c in h.driver.of("RECONCILE") if task_id in c.task_ids]
        if len(asks) > len(asked_at):
            asked_at.append(h.clock.now)
            h.post(master(task_id, TaskState.STAGING, "S1", "REASON_RECONCILIATION"))
        await h.cycle()
    gaps = [round(b - a) for a, b in zip(asked_at, asked_at[1:], strict=False)]
    assert gaps == [10, 20], asked_at
    # The master never had it (agent registered, task unknown): TASK_GONE; retried as SYSTEM.
    h.post(master(task_id, TaskState.GONE, "S1", "REASON_RECONCILIATION"))
    await h.run_until_idle()
    (ended,) = h.writer.ended()
    assert (ended.category, ended.job_status) == (ErrorCategory.SYSTEM, JobStatus.QUEUED)
    await h.offer_all()
    await h.cycle()
    assert h.driver.accepted() == [task_id, f"scale-job-{job}-2"]


async def test_a_node_that_fails_every_try_is_degraded_with_its_figures_and_gets_no_more_jobs(h):
    jobs = h.queue_jobs(8)
    await h.sync()
    # Only host-1 offers: every try lands there and is lost.
    lost = 0
    while lost < 5:
        await h.offer_all([1])
        await h.cycle()
        for task_id in [t for t in h.tracked() if t.startswith("scale-job-")]:
            h.post(h.update(task_id, TaskState.LOST, "S1"))
            lost += 1
        await h.run_until_idle()
    await h.cycle()
    node = h.state.nodes.get("host-1")
    error = node.conditions.errors["FAILING_TASKS"]
    assert error.description.startswith(f"{lost} of the last {lost} job tries on this node failed as SYSTEM")
    assert "against 0% (0 of 0) on the other nodes" in error.description
    assert node.state(False).name == "DEGRADED" and not node.is_paused
    h.driver.calls.clear()
    await h.offer_all()
    await h.cycle()
    placed_on = {i["agent_id"]["value"] for i in h.driver.task_infos[-len(h.driver.accepted()) :]}
    assert placed_on == {"S2"} and len(jobs) >= len(h.driver.accepted()) > 0
    # The failures leave the 10-minute window: the node takes work again.
    h.clock.now += 601
    await h.cycle()
    assert "FAILING_TASKS" not in node.conditions.errors


async def test_kills_wait_for_the_subscription_and_go_out_after_it(h):
    task_id, agent = await launch_one(h)
    h.post(master(task_id, TaskState.UNKNOWN, agent, "REASON_RECONCILIATION"))
    await h.run_until_idle()
    assert len(h.driver.of("KILL")) == 1  # lost: the master is failing over
    h.post(Disconnected("master failed over"))
    await h.run_until_idle()
    h.clock.now += 60
    for _ in range(3):
        await h.cycle()
    assert len(h.driver.of("KILL")) == 1  # not while there is no subscription to send it on
    h.post(Subscribed("F-1", 15.0))
    await h.cycle()
    assert [c.task_ids for c in h.driver.of("KILL")] == [(task_id,), (task_id,)]
