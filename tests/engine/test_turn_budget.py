"""The consumer's turn is bounded in time as well as in inputs, so that a burst of updates does not
hold the event loop (and every request and call) for half a second."""

from __future__ import annotations

import time

from harness import Harness

from scheduler import loop_turns
from scheduler.loop_turns import Slice
from scheduler.runtime import engine as engine_module
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


async def test_a_turn_of_the_loop_already_spent_by_other_work_ends_the_consumers_slice(tmp_path, monkeypatch):
    h = Harness(tmp_path, agents=1)
    await h.start()
    h.post(*[h.update(f"unknown-{n}", TaskState.FINISHED) for n in range(5)])
    # Other work has held this turn of the loop past the budget; no least share, so that the test does
    # not depend on how long an input takes.
    monkeypatch.setattr(loop_turns, "_turn_began", time.perf_counter() - 100.0)
    monkeypatch.setattr(engine_module, "Slice", lambda budget_s: Slice(budget_s, least_s=0.0))
    assert h.engine.apply_pending(budget_s=10.0) == 1  # its own budget is far from spent
    monkeypatch.setattr(loop_turns, "_turn_began", None)  # a loop that does not note its turns
    assert h.engine.apply_pending(budget_s=10.0) == 4
