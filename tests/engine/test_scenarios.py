"""The engine's glue, scenario by scenario: inputs in, calls to the master and records out.

Each runs the real engine and core against the recording fakes of ``harness.py``, with a fake
clock; nothing sleeps, and absence (no ACCEPT, no second launch) is read off the recorded calls.
"""

from __future__ import annotations

import pytest
from harness import Harness

from scheduler.core.events import Disconnected, Subscribed
from scheduler.core.inputs import FlagsRead, NodeFlagsRead
from scheduler.jobs.definitions import ErrorCategory, ExeStatus, JobStatus
from scheduler.tasks.status import TaskState


@pytest.fixture
async def h(tmp_path):
    harness = Harness(tmp_path, agents=2)
    await harness.start()
    return harness


async def test_start_brings_nodes_ready_and_a_queued_job_launches_after_its_record(h):
    (job,) = h.queue_jobs(1)
    await h.sync()
    offers = await h.offer_all()
    await h.cycle()
    assert h.writer.launched() == [f"scale-job-{job}-1"]
    (accept,) = h.driver.of("ACCEPT")
    assert accept.task_ids == (f"scale-job-{job}-1",) and accept.offer_ids[0] in offers
    assert h.driver.declined() == set(offers) - set(accept.offer_ids)  # every other offer went back


async def test_a_failed_write_hands_the_offers_back_and_holds_launches_until_writes_work(h):
    (job,) = h.queue_jobs(1)
    await h.sync()
    h.writer.failing = True
    offers = await h.offer_all()
    await h.cycle()
    # The launch was planned, its record could not be written: no ACCEPT, its offer declined.
    assert not h.driver.of("ACCEPT")
    assert set(offers) <= h.driver.declined()
    assert [(j.job_id, j.num_exes) for j in h.state.queue] == [(job, 0)]  # the try was never made
    # While writes fail, the next cycle launches nothing and says why.
    offers = await h.offer_all()
    await h.cycle()
    assert not h.driver.of("ACCEPT") and set(offers) <= h.driver.declined()
    (queue,) = h.view().queue
    assert queue.pending_reasons == {"LAUNCHES_HELD": 1}
    # Writes work again: the same try number is used.
    h.writer.failing = False
    await h.offer_all()
    await h.cycle()
    await h.offer_all()
    await h.cycle()
    assert h.driver.accepted() == [f"scale-job-{job}-1"]


async def test_a_refused_accept_fails_the_try_as_system_and_requeues_the_job(h):
    (job,) = h.queue_jobs(1)
    await h.sync()
    h.driver.refuse_accepts = [400]
    await h.offer_all()
    await h.cycle()
    assert not h.driver.accepted()
    (ended,) = h.writer.ended()
    assert (ended.task_id, ended.status, ended.category) == (
        f"scale-job-{job}-1",
        ExeStatus.FAILED,
        ErrorCategory.SYSTEM,
    )
    assert ended.job_status is JobStatus.QUEUED
    assert f"scale-job-{job}-1" not in h.tracked()
    await h.offer_all()
    await h.cycle()
    assert h.driver.accepted() == [f"scale-job-{job}-2"]


async def test_an_unanswered_accept_is_reconciled_and_its_answer_decides(h):
    (job,) = h.queue_jobs(1)
    await h.sync()
    h.driver.refuse_accepts = [0]  # sent, no answer
    await h.offer_all()
    await h.cycle()
    task_id = f"scale-job-{job}-1"
    assert [call.task_ids for call in h.driver.of("RECONCILE")] == [(task_id,)]
    assert not h.writer.ended() and task_id in h.tracked()  # not guessed either way
    # The master had never heard of it: LOST from reconciliation; the try fails and is retried.
    h.post(h.update(task_id, TaskState.LOST, reason="REASON_RECONCILIATION"))
    await h.run_until_idle()
    (ended,) = h.writer.ended()
    assert ended.category is ErrorCategory.SYSTEM and ended.job_status is JobStatus.QUEUED
    await h.offer_all()
    await h.cycle()
    assert h.driver.accepted() == [f"scale-job-{job}-2"]


async def test_a_pause_that_arrives_while_a_launch_waits_for_its_write_stops_that_launch(h):
    (job,) = h.queue_jobs(1)
    await h.sync()
    offers = await h.offer_all()
    await h.cycle(write=False)  # planned; its record is being written
    assert len(h.writer.pending) == 1
    h.post(FlagsRead(paused=True, message_handlers=0))
    await h.run_until_idle()  # the pause is applied, then the write completes
    assert not h.driver.of("ACCEPT")
    assert set(offers) <= h.driver.declined()
    launched, withdrawn = h.writer.written
    assert launched.task_id == withdrawn.task_id == f"scale-job-{job}-1"
    assert (withdrawn.status, withdrawn.job_status) == (ExeStatus.CANCELED, JobStatus.QUEUED)
    assert [j.job_id for j in h.state.queue] == [job]
    assert len(h.state.launches) == 0  # a withdrawn launch holds no place among those in flight
    (queue,) = h.view().queue
    await h.cycle()
    assert h.view().queue[0].pending_reasons == {"SCHEDULER_PAUSED": 1}
    assert queue.count == 1
    # Resumed: the next try runs (a pause is not the job's failure).
    h.post(FlagsRead(paused=False, message_handlers=0))
    await h.offer_all()
    await h.cycle()
    assert h.driver.accepted() == [f"scale-job-{job}-2"]


async def test_a_node_paused_while_a_launch_waits_for_its_write_stops_that_launch_only(h):
    first, second = h.queue_jobs(2)
    await h.sync()
    offers = await h.offer_all(agents=[1])
    await h.cycle(write=False)  # both planned on host-1; their record is being written
    assert len(h.writer.pending) == 1
    h.post(NodeFlagsRead({"host-1": True}))
    await h.run_until_idle()
    assert not h.driver.of("ACCEPT")
    assert set(offers) <= h.driver.declined()
    assert sorted(j.job_id for j in h.state.queue) == [first, second]
    assert len(h.state.launches) == 0
    # The other node takes them; the paused one gets nothing more.
    await h.offer_all()
    await h.cycle()
    assert sorted(h.driver.accepted()) == [f"scale-job-{first}-2", f"scale-job-{second}-2"]
    agents = {i["agent_id"]["value"] for i in h.driver.task_infos if i["task_id"]["value"].startswith("scale-job-")}
    assert agents == {"S2"}


async def test_no_launch_while_the_framework_id_is_not_stored(h):
    (job,) = h.queue_jobs(1)
    await h.sync()
    h.driver.framework_id_saved = False  # the database refused it: a crash now would orphan the task
    await h.offer_all()
    await h.cycle()
    assert not h.writer.launched() and not h.driver.of("ACCEPT")
    assert h.view().queue[0].pending_reasons == {"LAUNCHES_HELD": 1}
    h.driver.framework_id_saved = True
    await h.offer_all()
    await h.cycle()
    assert h.driver.accepted() == [f"scale-job-{job}-1"]


async def test_a_master_restart_during_a_burst_reconciles_every_task_and_launches_nothing_twice(h):
    jobs = h.queue_jobs(12)  # 2 agents x 4 cpus: 8 run, 4 wait
    await h.sync()
    await h.offer_all()
    await h.cycle()
    running = h.driver.accepted()
    assert len(running) == 8
    stale_offers = h.offers()
    # One burst, applied in order: updates, offers, the master fails over, the framework re-subscribes.
    h.post(
        *[h.update(task_id, TaskState.RUNNING, f"S{1 + i // 4}") for i, task_id in enumerate(running[:4])],
        stale_offers,
        h.update(running[4], TaskState.FINISHED, "S2"),
        h.update(running[5], TaskState.FINISHED, "S2"),
        Disconnected("master restarted"),
        Subscribed("F-1", 15.0),
    )
    await h.run_until_idle()
    explicit = [call.task_ids for call in h.driver.of("RECONCILE") if call.task_ids]
    assert sorted(t for call in explicit for t in call) == sorted(set(running) - {running[4], running[5]})
    assert () in [call.task_ids for call in h.driver.of("RECONCILE")]  # and the implicit pass
    # Offers from before the failover are void: the next cycle uses only fresh ones.
    fresh = await h.offer_all()
    await h.cycle()
    used = {offer_id for call in h.driver.of("ACCEPT") for offer_id in call.offer_ids}
    assert not used & {offer.id for offer in stale_offers.offers}
    assert used & set(fresh)
    # Every job launched exactly once: the two that finished made room for one more (and a cleanup).
    launched = h.driver.accepted()
    assert len(launched) == len(set(launched)) == 9
    assert {int(t.split("-")[2]) for t in launched} <= set(jobs)
    assert len(h.state.queue) == 3 and not set(launched[8:]) & set(running)


async def test_launches_wait_on_records_waiting_not_on_how_many_batches_hold_them(h):
    """Each task update is a batch of one record: hundreds of them are a few milliseconds of writing
    and must not hold launches; thousands of records waiting do."""
    from scheduler.runtime.engine import WRITER_BACKLOG_RECORDS

    (job,) = h.queue_jobs(1)
    await h.sync()
    await h.offer_all()
    for _ in range(200):  # waiting when the cycle decides (the harness writes only when run idle)
        h.writer.submit([object()], lambda ok: None, droppable=False)
    await h.cycle()
    assert h.writer.launched() == [f"scale-job-{job}-1"]
    (second,) = h.queue_jobs(1)
    await h.sync()
    await h.offer_all()
    h.writer.submit([object()] * (WRITER_BACKLOG_RECORDS + 1), lambda ok: None, droppable=False)
    await h.cycle()
    assert f"scale-job-{second}-1" not in h.writer.launched()
    (queue,) = h.view().queue
    assert queue.pending_reasons == {"LAUNCHES_HELD": 1}
