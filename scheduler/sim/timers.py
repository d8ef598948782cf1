"""The master's timers: one heap of (due, seq, kind, args), fired in order by `advance`.

Timer kinds are named here and each maps to one handler (see
`MasterState.__init__`), so a timer can only call what is listed.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator

STEP = "step"  # a task's next state change (args: framework id, task id, step gen, step)
RETRY = "retry"  # re-send an unacknowledged update (args: framework id, task id, retry token)
FAILOVER = "failover"  # a disconnected framework's failover timeout (args: framework id, failover gen)
UNREACHABLE = "unreachable"  # a partitioned agent's ping timeouts ran out (args: agent id, partition gen)
KINDS = frozenset({STEP, RETRY, FAILOVER, UNREACHABLE})


class TimerHeap:
    """Timers in due order; ties fire in the order they were armed."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str, tuple]] = []
        self._seq = itertools.count()

    def push(self, due: float, kind: str, args: tuple) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown timer kind {kind!r}")
        heapq.heappush(self._heap, (due, next(self._seq), kind, args))

    def next_deadline(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, t: float) -> Iterator[tuple[float, str, tuple]]:
        """Pop (due, kind, args) of every timer due at or before `t`, including ones armed meanwhile."""
        while self._heap and self._heap[0][0] <= t:
            due, _, kind, args = heapq.heappop(self._heap)
            yield due, kind, args

    def __len__(self) -> int:
        return len(self._heap)
