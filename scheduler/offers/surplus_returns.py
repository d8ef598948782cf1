"""When offers declined for want of room come back: spread out, about ``RETURNS_PER_S`` a second.

While launches in flight are at their bound a pass uses a few agents' offers and hands the rest
back. With one filter for all of them they all came back at once: at 10,000 agents a burst's first
REVIVE brought every agent's offer, the first passes declined nearly all of them within a second,
and for the filter's 50 s the scheduler saw only the agents where its own tasks ended, so it ran
about as many tasks as that first second had placed while 9,900 agents sat idle. Then all of them
came back in one allocation (one event of 10,000 offers to read).

Each decline gets the filter of the next free one-second slot instead, ``RETURNS_PER_S`` offers a
slot, from Mesos' default filter (5 s) to a minute: the surplus comes back at a steady rate that a
pass can look at, on a small cluster after 5 s as before, and on a large one every agent within the
minute. Mesos takes ``refuse_seconds`` per DECLINE call, so a slot is one call. Pure: the engine
asks ``plan`` with the clock's time.
"""

from __future__ import annotations

RETURNS_PER_S = 200  # declined surplus coming back, about, a second (a pass looks at a few agents)
MIN_S = 5.0  # Mesos' default filter
MAX_S = 60.0


class SurplusReturns:
    def __init__(self, returns_per_s: int = RETURNS_PER_S) -> None:
        self.returns_per_s = returns_per_s
        self._slot_at = float("-inf")  # when the offers of the slot being filled come back
        self._left = 0  # offers the slot still takes

    def plan(
        self, count: int, now: float, shortest_s: float = MIN_S, longest_s: float = MAX_S
    ) -> list[tuple[float, int]]:
        """(refuse_seconds, how many) for ``count`` offers declined now, in their order: each slot's
        offers one group, the earliest first, within ``shortest_s`` to ``longest_s`` from now."""
        longest_s = max(shortest_s, longest_s)
        if self._slot_at < now + shortest_s:
            self._slot_at, self._left = now + shortest_s, self.returns_per_s
        groups: list[tuple[float, int]] = []
        while count > 0:
            if self._left <= 0:
                if self._slot_at + 1.0 <= now + longest_s:
                    self._slot_at += 1.0
                    self._left = self.returns_per_s
                else:  # every slot up to the longest filter is full: the rest share the last one
                    self._left = count
            taken, refuse_s = min(count, self._left), self._slot_at - now
            if groups and groups[-1][0] == refuse_s:  # the last slot, overflowing: still one call
                groups[-1] = (refuse_s, groups[-1][1] + taken)
            else:
                groups.append((refuse_s, taken))
            self._left -= taken
            count -= taken
        return groups
