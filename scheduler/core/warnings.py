"""The scheduler's own states and warnings as the v6 status shows them (Scale's exact words)."""

from __future__ import annotations

from scheduler.nodes.conditions import ConditionKind, Conditions

READY = {"name": "READY", "title": "Ready", "description": "Scheduler is ready to run new jobs."}
PAUSED = {
    "name": "PAUSED",
    "title": "Paused",
    "description": "Scheduler is paused, so no new jobs will be scheduled. Existing jobs will continue to run.",
}

WARNING_MAX_AGE_S = 3600.0  # a scheduler warning not raised again for an hour is dropped (Scale)

WAITING_SYSTEM_TASKS = ConditionKind(
    "WAITING_SYSTEM_TASKS", "Waiting System Tasks", "No new jobs scheduled due to waiting system tasks"
)
UNKNOWN_JOB_TYPE = ConditionKind(
    "UNKNOWN_JOB_TYPE", "Unknown Job Type", "A job is queued with a job type %s that is not in the data base"
)


class SchedulerWarnings:
    def __init__(self) -> None:
        self._conditions = Conditions()

    def raise_warning(self, name: str, kind: ConditionKind, description: str, now: float) -> None:
        self._conditions.raise_warning(name, kind, description, now)

    def clear(self, name: str) -> bool:
        return self._conditions.clear_warning(name)

    def drop_old(self, now: float) -> None:
        """Forget warnings not raised again for an hour (on the scheduling clock)."""
        self._conditions.drop_warnings_older_than(WARNING_MAX_AGE_S, now)

    def active(self, now: float) -> list[dict[str, str]]:
        """The warnings shown at ``now`` (a read: those an hour old are left out, not dropped)."""
        return [w.as_json() for w in self._conditions.warnings.values() if now - w.last_updated < WARNING_MAX_AGE_S]

    def names(self) -> set[str]:
        return set(self._conditions.warnings)
