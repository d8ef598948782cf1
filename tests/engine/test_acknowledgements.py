"""Acknowledgements under load: an update the master sends again while our acknowledgement of it
waits is not applied twice, and launches wait while a call to the master has waited long."""

from __future__ import annotations

import gc

import pytest
from harness import Harness
from prometheus_client import CollectorRegistry, Counter

from scheduler.runtime import engine as engine_module
from scheduler.tasks.status import TaskState


@pytest.fixture
async def h(tmp_path):
    harness = Harness(tmp_path, agents=2)
    await harness.start()
    return harness


def acknowledged(h: Harness, task_id: str) -> int:
    return sum(task_id in call.task_ids for call in h.driver.of("ACKNOWLEDGE"))


async def test_an_update_sent_again_while_its_acknowledgement_waits_is_skipped(h):
    (job,) = h.queue_jobs(1)
    await h.sync()
    await h.offer_all()
    await h.cycle()
    task_id = f"scale-job-{job}-1"
    update = h.update(task_id, TaskState.RUNNING)
    h.post(update)
    h.engine.apply_pending()
    h.writer.flush()  # written: its acknowledgement is queued, not made yet
    assert h.calls.waiting(("ack", task_id, update.status.uuid, TaskState.RUNNING))
    h.post(update, update)  # the agent's resends, 10 s and 20 s later
    h.engine.apply_pending()
    assert h.engine.updates_resent_skipped == 2 and not h.writer.pending  # nothing applied or written again
    await h.run_until_idle()
    assert acknowledged(h, task_id) == 1
    h.post(update)  # sent again after our acknowledgement went out (it crossed): applied, acknowledged again
    await h.run_until_idle()
    assert h.engine.updates_resent_skipped == 2 and acknowledged(h, task_id) == 2
    h.post(h.update(task_id, TaskState.FINISHED))  # (the harness gives every update one uuid: the state counts too)
    await h.run_until_idle()
    assert task_id not in h.state.tasks and acknowledged(h, task_id) == 3


async def test_launches_wait_while_a_call_to_the_master_has_waited_long(h):
    jobs = h.queue_jobs(4)
    await h.sync()
    await h.offer_all()
    made = []
    for n in range(4):
        h.calls.spawn(lambda n=n: _made(made, n), f"ACKNOWLEDGE queued {n}", key=("ack", f"t{n}", "u", "x"))
    h.clock.now += engine_module.CALLS_WAIT_HOLD_S + 0.5  # queued this long, not made yet
    h.engine.step_cycle()
    h.engine.apply_pending()
    assert not h.writer.pending and len(h.state.queue) == 4  # nothing placed
    (queue,) = h.view().queue
    assert queue.pending_reasons == {"LAUNCHES_HELD": 4}
    await h.run_until_idle()  # the calls are made
    assert made == [0, 1, 2, 3]
    await h.offer_all()
    await h.cycle()
    assert sorted(h.driver.accepted()) == sorted(f"scale-job-{job}-1" for job in jobs)


async def test_each_cycle_is_counted_with_the_reason_its_launches_waited(h):
    registry = CollectorRegistry()
    h.engine.cycles_counter = Counter("cycles", "", ["launch_hold"], registry=registry)

    def counts() -> dict[str, float]:
        return {
            sample.labels["launch_hold"]: sample.value
            for sample in next(iter(registry.collect())).samples
            if sample.name == "cycles_total"
        }

    h.engine.step_cycle()
    assert counts() == {"none": 1}
    backlog = [object()] * (engine_module.WRITER_BACKLOG_RECORDS + 1)
    h.writer.submit(backlog, lambda ok: None, droppable=True)
    h.calls.spawn(lambda: _made([], 0), "ACKNOWLEDGE queued", key=("ack", "t", "u", "x"))
    h.clock.now += engine_module.CALLS_WAIT_HOLD_S + 0.5
    h.engine.step_cycle()  # both apply: the first is named
    h.writer.pending.clear()
    h.engine.step_cycle()
    assert counts() == {"none": 1, "records_behind": 1, "calls_behind": 1}
    await h.run_until_idle()
    h.engine.step_cycle()
    assert counts() == {"none": 2, "records_behind": 1, "calls_behind": 1}


async def _made(made: list[int], n: int) -> None:
    made.append(n)


async def test_an_update_waiting_for_its_write_keeps_only_its_acknowledgement_as_strings(h):
    # Thousands of updates wait for their write under load: what waits must leave the collector's
    # sight (no Actions and its lists, no TaskStatus), and the acknowledgement must still go out.
    (job,) = h.queue_jobs(1)
    await h.sync()
    await h.offer_all()
    await h.cycle()
    h.writer.flush()
    task_id = f"scale-job-{job}-1"
    update = h.update(task_id, TaskState.RUNNING)
    h.post(update)
    h.engine.apply_pending()
    (batch,) = h.writer.pending
    gc.collect()
    launches, acknowledgements = batch.done.args
    assert launches == ()
    assert acknowledgements == (update.status.agent_id, task_id, update.status.uuid, "TASK_RUNNING")
    assert not gc.is_tracked(acknowledgements)
    h.writer.flush()
    await h.run_until_idle()
    assert acknowledged(h, task_id) == 1
