"""Scale's INVALID_RESOURCES<name> warning: a job type the cluster cannot run at all.

Checked once a second for the job types with queued jobs: a resource no node has, or more of one
than any single node has. Jobs of such a type are skipped while the warning stands; it is cleared
as soon as the cluster can run the type again.
"""

from __future__ import annotations

from collections.abc import Iterable

from scheduler.change_log import ChangeLog
from scheduler.core.warnings import SchedulerWarnings
from scheduler.jobs.definitions import JobType
from scheduler.nodes.conditions import ConditionKind
from scheduler.nodes.registry import NodeRegistry
from scheduler.resources.accounting import Cents

MISSING = "Cluster does not have one or more of the following resources: %s."
TOO_BIG = "No node has enough of this resource for the job type: %s."


def _names(names: list[str]) -> str:
    return "[" + ", ".join(repr(n) for n in names) + "]"


def _take_larger(largest: Cents, total: Cents) -> None:
    for name, value in total.items():
        if value > largest.get(name, 0):
            largest[name] = value


class ResourceCheck:
    """Keeps the most of each resource any one node has up to date from the nodes' change log (every
    field it reads is shown in the status, so logged): a check costs the nodes that changed since
    the last, not a walk of 10,000 nodes every second (20-50 ms on a slow 2-core VM). Only a node
    that held a largest value and now has less makes it look at every node again."""

    def __init__(self) -> None:
        self._failing: dict[int, str] = {}  # job type id -> warning name
        self._totals: dict[str, Cents] = {}  # hostname -> what the node counts for (active and online)
        self._largest: Cents = {}  # resource -> the most any one node has, in hundredths
        self._log: ChangeLog | None = None  # the registry's change log last looked at (a new registry: all again)
        self._stamp = 0  # and its stamp then
        self.looked_at = 0  # nodes looked at since made (for the tests)

    def failing(self) -> set[int]:
        return set(self._failing)

    def _follow(self, nodes: NodeRegistry) -> Cents:
        """The most of each resource any one active, online node has, brought up to date."""
        largest, totals = self._largest, self._totals
        if self._log is not nodes.changes:  # the first look, or a new registry: every node
            hostnames = [node.hostname for node in nodes]
            totals.clear()
            largest.clear()
        else:
            hostnames = nodes.changes.since(self._stamp)
        self._log, self._stamp = nodes.changes, nodes.changes.stamp
        self.looked_at += len(hostnames)
        again = False
        for hostname in hostnames:
            node = nodes.get(hostname)
            total = node.resources.known_total() if node is not None and node.is_active and node.online else {}
            before = totals.pop(hostname, None)
            if total:
                totals[hostname] = dict(total)
            if before and any(
                value >= largest.get(name, 0) and total.get(name, 0) < value for name, value in before.items()
            ):
                again = True  # it held a largest value and has less now: only a look at all says what is
            _take_larger(largest, total)
        if again:
            self.looked_at += len(totals)
            largest.clear()
            for total in totals.values():
                _take_larger(largest, total)
        return largest

    def update(self, nodes: NodeRegistry, job_types: Iterable[JobType], warnings: SchedulerWarnings, now: float):
        largest = self._follow(nodes)
        if not largest:
            return  # nothing known about the cluster yet: no verdict
        checked = set()
        for job_type in job_types:
            checked.add(job_type.id)
            needs = job_type.resources
            missing = [name for name in needs if largest.get(name, 0) <= 0]
            too_big = [name for name, amount in needs.items() if name not in missing and amount * 100 > largest[name]]
            name = f"INVALID_RESOURCES{job_type.name}"
            if missing or too_big:
                kind = ConditionKind(name, f"Invalid Resources for {job_type.name}", "")
                description = MISSING % _names(missing) if missing else TOO_BIG % _names(too_big)
                warnings.raise_warning(name, kind, description, now)
                self._failing[job_type.id] = name
            elif job_type.id in self._failing:
                warnings.clear(self._failing.pop(job_type.id))
        for job_type_id in [jt for jt in self._failing if jt not in checked]:
            warnings.clear(self._failing.pop(job_type_id))  # no longer queued
