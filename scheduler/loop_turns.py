"""The event loop's turns, and how much of one a piece of work done in slices may take.

Parts of the scheduler work in slices and give the loop back between them: the core's consumer,
the dispatch of the master's events, the status warm-up. Each took up to 20 ms per slice, measured
from its own start; when they ran in one turn of the loop (with the call workers woken between
them) the turn lasted their sum, 50-120 ms on a slow 2-core VM. A timer due during such a turn
waits two or three of them: the loop moves it to the turn after its deadline, and the task it
wakes runs in the turn after that.

So the consumer's and the dispatch's slices end once the turn they run in has lasted the budget,
not only once the slice itself has; each still gets a least share of its own, so that work arriving
late in busy turns is not starved. (The status warm-up keeps whole slices of its own: in the least
share it fell behind, and the status' age is a goal too.)

The turn's start is noted by the loop's selector (``new_event_loop``): the loop runs a turn's
callbacks right after its select returns. Without that selector (tests, other commands) a slice is
measured from its own start, as before.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Callable

TURN_BUDGET_S = 0.02  # what a turn of the loop should last at most (the loop lag goal is 50 ms at p99)
LEAST_SLICE_S = 0.004  # what a slice may always take, however long its turn has lasted already

_turn_began: float | None = None  # set by the TurnSelector of the loop running in this process


class TurnSelector(selectors.DefaultSelector):  # type: ignore[misc, valid-type]  (an alias)
    """The platform's selector, noting when each turn of the loop begins."""

    def select(self, timeout: float | None = None):
        ready = super().select(timeout)
        global _turn_began
        _turn_began = time.perf_counter()
        return ready


def new_event_loop() -> asyncio.AbstractEventLoop:
    """An event loop whose turns slices can see (``asyncio.Runner(loop_factory=new_event_loop)``)."""
    return asyncio.SelectorEventLoop(TurnSelector())


def turn_began() -> float | None:
    """When the current turn of the loop began (``time.perf_counter``), if the loop notes it."""
    return _turn_began


class Slice:
    """One slice of work: over once it has taken ``budget_s``, or once the loop's turn has and the
    slice has had ``least_s``."""

    __slots__ = ("budget_s", "least_s", "began", "_clock", "_turn_began")

    def __init__(
        self,
        budget_s: float = TURN_BUDGET_S,
        least_s: float = LEAST_SLICE_S,
        clock: Callable[[], float] = time.perf_counter,
        turn: Callable[[], float | None] = turn_began,
    ) -> None:
        self.budget_s = budget_s
        self.least_s = min(least_s, budget_s)
        self._clock = clock
        self._turn_began = turn
        self.began = clock()

    def restart(self) -> None:
        """A new slice (after the loop has run other work)."""
        self.began = self._clock()

    def over(self) -> bool:
        now = self._clock()
        if now - self.began >= self.budget_s:
            return True
        began = self._turn_began()
        return began is not None and now - began >= self.budget_s and now - self.began >= self.least_s
