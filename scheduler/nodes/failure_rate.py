"""Black-hole nodes: a node whose tries fail as SYSTEM far more often than on the other nodes.

Neither Scale's health checks nor a peer catches a node that accepts work and loses it (a broken
mount, a bad Docker daemon that still answers its health check): each try is retried elsewhere,
but the node takes the next one and fails it too. Over a sliding window (10 min), a node is
failing when all of these hold:

- at least ``min_failures`` (5) of its tries failed as SYSTEM;
- more than ``min_share`` (50 %) of its tries did;
- its share is more than ``factor`` (3) times the share on the other nodes together.

Comparing with the *other* nodes keeps a cluster-wide fault (the database down, every node failing
alike) from degrading every node at once. A failing node gets the ``FAILING_TASKS`` error (so it is
DEGRADED: no new jobs) with its figures; once its failures leave the window, the error clears and
the node takes work again, which tests it anew.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from scheduler.nodes.conditions import FAILING_TASKS
from scheduler.nodes.registry import NodeRegistry

log = logging.getLogger(__name__)

WINDOW_S = 600.0
MIN_FAILURES = 5
FACTOR = 3.0
MIN_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class FailingNode:
    hostname: str
    failures: int  # SYSTEM failures in the window
    tries: int  # tries ended in the window
    others_failures: int
    others_tries: int

    @property
    def share(self) -> float:
        return self.failures / self.tries

    @property
    def others_share(self) -> float:
        return self.others_failures / self.others_tries if self.others_tries else 0.0

    def describe(self, window_s: float) -> str:
        return (
            f"{self.failures} of the last {self.tries} job tries on this node failed as SYSTEM in "
            f"{window_s / 60:g} minutes ({self.share:.0%}), against {self.others_share:.0%} "
            f"({self.others_failures} of {self.others_tries}) on the other nodes."
        )


class FailureRates:
    def __init__(
        self,
        *,
        window_s: float = WINDOW_S,
        min_failures: int = MIN_FAILURES,
        factor: float = FACTOR,
        min_share: float = MIN_SHARE,
    ) -> None:
        self.window_s = window_s
        self.min_failures = min_failures
        self.factor = factor
        self.min_share = min_share
        self._ends: deque[tuple[float, str, bool]] = deque()  # (ended at, hostname, SYSTEM failure), in order
        self._tries: dict[str, int] = {}
        self._failures: dict[str, int] = {}
        self.marked: set[str] = set()  # hostnames given the FAILING_TASKS error (see mark_failing_nodes)

    def ended(self, hostname: str, system_failure: bool, now: float) -> None:
        """A try on ``hostname`` ended (any outcome; CANCELED ones are better left out by the caller)."""
        self._ends.append((now, hostname, system_failure))
        self._tries[hostname] = self._tries.get(hostname, 0) + 1
        if system_failure:
            self._failures[hostname] = self._failures.get(hostname, 0) + 1

    def _prune(self, now: float) -> None:
        while self._ends and now - self._ends[0][0] > self.window_s:
            _, hostname, failed = self._ends.popleft()
            self._tries[hostname] -= 1
            if not self._tries[hostname]:
                del self._tries[hostname]
            if failed:
                self._failures[hostname] -= 1
                if not self._failures[hostname]:
                    del self._failures[hostname]

    def failing(self, now: float) -> dict[str, FailingNode]:
        """The nodes failing by the rule at ``now``, by hostname."""
        self._prune(now)
        total_tries = sum(self._tries.values())
        total_failures = sum(self._failures.values())
        result = {}
        for hostname, failures in self._failures.items():
            tries = self._tries[hostname]
            node = FailingNode(hostname, failures, tries, total_failures - failures, total_tries - tries)
            if (
                failures >= self.min_failures
                and node.share > self.min_share
                and node.share > self.factor * node.others_share
            ):
                result[hostname] = node
        return result


def mark_failing_nodes(nodes: NodeRegistry, rates: FailureRates, now: float, *, pause: bool = False) -> None:
    """Raise ``FAILING_TASKS`` on the failing nodes (and pause them, if asked), clear it on the others.
    Only nodes failing now or marked before are visited: a tick costs nothing on a healthy cluster."""
    failing = rates.failing(now)
    for hostname in rates.marked - failing.keys():
        node = nodes.get(hostname)
        if node is not None and node.conditions.clear_errors(FAILING_TASKS):
            log.warning("Node %s no longer fails its tries as SYSTEM more than the others", hostname)
    rates.marked = set()
    for hostname, found in failing.items():
        node = nodes.get(hostname)
        if node is None:
            continue
        rates.marked.add(hostname)
        description = found.describe(rates.window_s)
        current = node.conditions.errors.get(FAILING_TASKS.name)
        if current is None or current.description != description:
            if current is None:
                log.warning("Node %s is failing its tries: %s", hostname, description)
            node.conditions.raise_error(FAILING_TASKS, now, description)
        if pause and not node.is_paused:
            log.warning("Node %s paused (PAUSE_FAILING_NODES): %s", hostname, description)
            node.is_paused = True
            nodes.dirty.add(hostname)  # its row says paused, as an operator's pause would
