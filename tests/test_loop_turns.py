"""A slice of work ends when its own budget is spent, or when the loop's turn has lasted the budget
and the slice has had its least share; the loop made by ``new_event_loop`` notes when turns begin."""

from __future__ import annotations

import asyncio
import time

from scheduler import loop_turns
from scheduler.loop_turns import Slice


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_slice_is_over_once_its_own_budget_is_spent_without_a_turn():
    clock = Clock()
    part = Slice(0.02, 0.004, clock=clock, turn=lambda: None)
    clock.now += 0.019
    assert not part.over()
    clock.now += 0.001
    assert part.over()
    part.restart()
    assert not part.over()


def test_a_slice_in_a_long_turn_ends_after_its_least_share():
    clock = Clock()
    turn_began = clock.now - 0.05  # other work has held this turn for 50 ms already
    part = Slice(0.02, 0.004, clock=clock, turn=lambda: turn_began)
    assert not part.over()  # a new slice always gets its least share
    clock.now += 0.0039
    assert not part.over()
    clock.now += 0.0001
    assert part.over()


def test_a_slice_in_a_fresh_turn_takes_what_the_turn_has_left_or_its_least_share():
    clock = Clock()
    turn_began = clock.now - 0.012
    part = Slice(0.02, 0.004, clock=clock, turn=lambda: turn_began)
    clock.now += 0.0079
    assert not part.over()  # the turn has lasted 19.9 ms
    clock.now += 0.0001
    assert part.over()  # 20 ms: over, the slice having had 8 ms


def test_the_least_share_is_never_more_than_the_budget():
    clock = Clock()
    part = Slice(0.0, clock=clock, turn=lambda: clock.now - 1.0)
    assert part.over()  # a budget of nothing: one unit of work per slice, as callers count it


def test_the_loop_made_here_notes_when_each_turn_begins():
    seen: list[tuple[float, float]] = []

    async def main() -> None:
        for _ in range(3):
            await asyncio.sleep(0.01)
            seen.append((loop_turns.turn_began(), time.perf_counter()))

    with asyncio.Runner(loop_factory=loop_turns.new_event_loop) as runner:
        runner.run(main())
    assert len(seen) == 3
    assert all(began is not None and 0 <= now - began < 0.5 for began, now in seen)
    assert seen[0][0] < seen[1][0] < seen[2][0]  # a new turn each time: the mark moves on
