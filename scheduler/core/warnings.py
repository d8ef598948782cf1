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

# Not Scale's: a second framework with our name ran the same jobs after a master election (its #1900).
GHOST_FRAMEWORK = ConditionKind(
    "GHOST_FRAMEWORK",
    "Ghost Framework",
    "The Mesos master lists other frameworks with this scheduler's name or principal: %s",
)
MASTER_DETECTION = ConditionKind("MASTER_DETECTION", "Master Detection", "Finding the Mesos master: %s")
OFFERS_HELD = ConditionKind(
    "OFFERS_HELD",
    "Offers Held",
    "%d offers held longer than %.0f s (the longest %.0f s): other frameworks cannot use them meanwhile",
)
GHOSTS_LISTED = 5  # past this many, the description counts the rest


def ghosts_description(ghosts: tuple[str, ...]) -> str:
    listed = "; ".join(ghosts[:GHOSTS_LISTED])
    more = len(ghosts) - GHOSTS_LISTED
    return GHOST_FRAMEWORK.description % (listed + (f"; and {more} more" if more > 0 else ""))


class SchedulerWarnings:
    def __init__(self) -> None:
        self._conditions = Conditions()

    def raise_warning(self, name: str, kind: ConditionKind, description: str, now: float) -> None:
        self._conditions.raise_warning(name, kind, description, now)

    def set(self, kind: ConditionKind, description: str | None, now: float) -> None:
        """Raise ``kind`` with this description, or clear it when the description is None."""
        if description is None:
            self.clear(kind.name)
        else:
            self.raise_warning(kind.name, kind, description, now)

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
