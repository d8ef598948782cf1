"""Scale's INVALID_RESOURCES<name> warning: a job type the cluster cannot run at all.

Checked once a second for the job types with queued jobs: a resource no node has, or more of one
than any single node has. Jobs of such a type are skipped while the warning stands; it is cleared
as soon as the cluster can run the type again.
"""

from __future__ import annotations

from collections.abc import Iterable

from scheduler.core.warnings import SchedulerWarnings
from scheduler.jobs.definitions import JobType
from scheduler.nodes.conditions import ConditionKind
from scheduler.nodes.registry import NodeRegistry

MISSING = "Cluster does not have one or more of the following resources: %s."
TOO_BIG = "No node has enough of this resource for the job type: %s."


def _names(names: list[str]) -> str:
    return "[" + ", ".join(repr(n) for n in names) + "]"


class ResourceCheck:
    def __init__(self) -> None:
        self._failing: dict[int, str] = {}  # job type id -> warning name

    def failing(self) -> set[int]:
        return set(self._failing)

    def update(self, nodes: NodeRegistry, job_types: Iterable[JobType], warnings: SchedulerWarnings, now: float):
        largest: dict[str, int] = {}  # resource -> the most any one node has, in hundredths
        for node in nodes:
            if node.is_active and node.online:
                for name, value in node.resources.known_total().items():
                    if value > largest.get(name, 0):
                        largest[name] = value
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
