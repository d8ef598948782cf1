"""Task reconciliation, as Mesos recommends: explicit for every task we believe in after each
(re)subscribe, asked again with a growing delay until the master has answered for each, plus an
implicit pass (the master reports every task it knows) at subscribe and then periodically.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

BATCH = 1000  # tasks per explicit RECONCILE call
FIRST_RETRY_S = 10.0
MAX_RETRY_S = 600.0
IMPLICIT_EVERY_S = 600.0

Pair = tuple[str, str | None]  # (task id, agent id)


def _batches(pairs: list[Pair]) -> list[list[Pair]]:
    return [pairs[i : i + BATCH] for i in range(0, len(pairs), BATCH)]


class Reconciler:
    def __init__(self, implicit_every_s: float = IMPLICIT_EVERY_S) -> None:
        self.implicit_every_s = implicit_every_s
        self.awaiting: dict[str, tuple[str | None, float, int]] = {}  # task id -> (agent, ask again at, asks)
        self._next_implicit_at: float | None = None
        # No task in ``awaiting`` is due before this: after a restart it holds every task (100,000
        # in a burst), which each pass would otherwise look through.
        self._next_ask_at = math.inf
        # Tasks stuck in STAGING: answered (the master says STAGING too) but asked again, less often.
        self._stale: dict[str, tuple[float, int]] = {}  # task id -> (ask again at, asks)

    def _expect(self, pairs: Iterable[Pair], now: float) -> list[Pair]:
        asked = []
        for task_id, agent_id in pairs:
            self.awaiting[task_id] = (agent_id, now + FIRST_RETRY_S, 1)
            self._next_ask_at = min(self._next_ask_at, now + FIRST_RETRY_S)
            asked.append((task_id, agent_id))
        return asked

    def start(self, pairs: Iterable[Pair], now: float, *, implicit: bool = True) -> list[list[Pair]]:
        """Calls to make now: explicit batches, then (after a subscribe) one implicit call."""
        calls = _batches(self._expect(pairs, now))
        if implicit:
            calls.append([])
            self._next_implicit_at = now + self.implicit_every_s
        return calls

    def heard(self, task_id: str) -> None:
        self.awaiting.pop(task_id, None)

    def due(self, now: float, stale: Iterable[Pair] = ()) -> list[list[Pair]]:
        """Calls to make now: tasks still unanswered whose delay ran out, stale ones, the periodic pass."""
        ask = []
        if self.awaiting and now >= self._next_ask_at:
            next_ask_at = math.inf
            for task_id, (agent_id, ask_at, asks) in list(self.awaiting.items()):
                if now >= ask_at:
                    ask_at = now + min(FIRST_RETRY_S * 2**asks, MAX_RETRY_S)
                    self.awaiting[task_id] = (agent_id, ask_at, asks + 1)
                    ask.append((task_id, agent_id))
                next_ask_at = min(next_ask_at, ask_at)
            self._next_ask_at = next_ask_at
        stale_now = {}
        for task_id, agent_id in stale:
            ask_at, asks = self._stale.get(task_id, (now, 0))
            stale_now[task_id] = (ask_at, asks)
            if task_id not in self.awaiting and now >= ask_at:
                ask += self._expect([(task_id, agent_id)], now)
                stale_now[task_id] = (now + min(FIRST_RETRY_S * 2**asks, MAX_RETRY_S), asks + 1)
        self._stale = stale_now  # tasks no longer stale are forgotten
        calls = _batches(ask)
        if self._next_implicit_at is not None and now >= self._next_implicit_at:
            calls.append([])
            self._next_implicit_at = now + self.implicit_every_s
        return calls
