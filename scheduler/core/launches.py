"""Launches in flight: tasks placed whose ACCEPT the master has not answered yet.

A pass places no more than the room left under the bound (``MAX_LAUNCHES_IN_FLIGHT``), and no more
than ``per_pass`` at once: a pass runs on the event loop, and 1,000 at once made passes of 200 ms
under load at 10,000 agents (about 90 µs per job placed then, about 15 µs at 100,000 queued now). A
launch leaves the count when the master answers its ACCEPT, refuses it, leaves it unanswered (it is
reconciled), or when it is never sent (records not written, or withdrawn).
So placement waits for the master rather than queueing calls to it: ahead of a slow master, at
most the bound of tries is recorded and not yet taken.

Offers left when the room runs out are kept in the book for the next pass (the engine runs one as
soon as there is room again) for at most ``KEEP_OFFERS_S``, then declined (with at least Mesos'
default 5 s filter: they are not needed for a while): no longer than a declined offer would take to
come back, so no other framework waits more. A pass without room leaves the book as it is.

On a large cluster such offers come back spread out over up to a minute, about 200 a second
(``scheduler.offers.surplus_returns`` says why): a pass uses a few agents' offers, and at 10,000 agents
the rest, declined for 5 s, came back at 2,000 offers a second, which the scheduler spent more time
reading than placing. A filter holds back only what was declined: an agent where a task ends offers
its freed resources at once (Mesos' refuse filters hold back only resources within the refused ones).
"""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_LIMIT = 1500
DEFAULT_PER_PASS = 250
KEEP_OFFERS_S = 1.0


class LaunchesInFlight:
    def __init__(self, limit: int = DEFAULT_LIMIT, per_pass: int = DEFAULT_PER_PASS) -> None:
        self.limit = limit
        self.per_pass = per_pass
        self._task_ids: set[str] = set()
        self.most = 0  # the largest count seen (for the metrics and the tests)

    def __len__(self) -> int:
        return len(self._task_ids)

    def __contains__(self, task_id: str) -> bool:
        return task_id in self._task_ids

    def room(self) -> int:
        """Tasks the next pass may place."""
        return max(0, min(self.limit - len(self._task_ids), self.per_pass))

    def placed(self, task_ids: Iterable[str]) -> None:
        self._task_ids.update(task_ids)
        self.most = max(self.most, len(self._task_ids))

    def answered(self, task_ids: Iterable[str]) -> int:
        """These tasks' launch is over, one way or another; how many were still counted."""
        before = len(self._task_ids)
        self._task_ids.difference_update(task_ids)
        return before - len(self._task_ids)
