"""The consumer's turn is bounded in time as well as in inputs, so that a burst of updates does not
hold the event loop (and every request and call) for half a second."""

from __future__ import annotations

from harness import Harness

from scheduler.tasks.status import TaskState


async def test_a_turn_stops_when_its_time_is_spent_and_the_rest_waits_its_turn(tmp_path):
    h = Harness(tmp_path, agents=1)
    await h.start()
    updates = [h.update(f"unknown-{n}", TaskState.FINISHED) for n in range(5)]
    h.post(*updates)
    assert h.engine.apply_pending(budget_s=0.0) == 1  # at least one input per turn, then the time is up
    assert h.engine.apply_pending(limit=2, budget_s=10.0) == 2
    assert h.engine.apply_pending(budget_s=10.0) == 2
    assert h.engine.apply_pending(budget_s=10.0) == 0
