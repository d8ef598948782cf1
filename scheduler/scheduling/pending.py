"""Why a queued job was not placed in a scheduling cycle: one reason per job, counted per job type.

The planner records the first reason that holds, in the order below (the scheduler's own state,
then the job type's, then this cycle's offers). Operators see the counts in the queue summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class PendingReason(StrEnum):
    NOT_SUBSCRIBED = "NOT_SUBSCRIBED"  # no subscription to the master: no offers can come
    SCHEDULER_PAUSED = "SCHEDULER_PAUSED"
    # The records a launch needs first cannot be written now, or the writer or the calls to the
    # master (acknowledgements) are too far behind to take more.
    LAUNCHES_HELD = "LAUNCHES_HELD"
    # As many launches as allowed wait for the master's answer (MAX_LAUNCHES_IN_FLIGHT), or the
    # pass placed all it may at once: the job keeps its place for the next pass.
    LAUNCHES_IN_FLIGHT = "LAUNCHES_IN_FLIGHT"
    WAITING_SYSTEM_TASKS = "WAITING_SYSTEM_TASKS"  # a system task waits for room: jobs wait behind it
    UNKNOWN_JOB_TYPE = "UNKNOWN_JOB_TYPE"
    NO_NODE_FITS = "NO_NODE_FITS"  # no node of the cluster could ever run it (INVALID_RESOURCES)
    NODE_PAUSED = "NODE_PAUSED"  # only offers of paused nodes had room for it
    NO_OFFERS = "NO_OFFERS"  # nothing offered this cycle had room for it
    # A higher-priority job that cannot be placed holds it back (head-of-line blocking, Scale issue
    # 1801). This planner never does that: every job is tried in turn, so it is never recorded;
    # the name is kept so that readers of the counts have the whole vocabulary.
    BEHIND_BLOCKED_PRIORITY = "BEHIND_BLOCKED_PRIORITY"


PendingCounts = dict[int, dict[PendingReason, int]]  # job type id -> reason -> jobs


def add(counts: PendingCounts, job_type_id: int, reason: PendingReason, jobs: int = 1) -> None:
    if jobs <= 0:
        return
    by_reason = counts.setdefault(job_type_id, {})
    by_reason[reason] = by_reason.get(reason, 0) + jobs


def as_strings(by_reason: Mapping[PendingReason, int]) -> dict[str, int]:
    return {reason.value: count for reason, count in sorted(by_reason.items())}
