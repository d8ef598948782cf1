"""The scheduler's own states and warnings as the v6 status shows them (Scale's exact words)."""

from __future__ import annotations

from scheduler.nodes.conditions import ConditionKind, Conditions
from scheduler.timefmt import iso

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
# Not Scale's: /master/slaves (resources and states the offers do not show) cannot be read.
MASTER_AGENTS_UNREAD = ConditionKind(
    "MASTER_AGENTS_UNREAD",
    "Master Agents Unread",
    "Cannot read the Mesos master's agents (%s): node resources and states come from offers only",
)
# Not Scale's: /master/frameworks (the ghost check) cannot be read.
MASTER_FRAMEWORKS_UNREAD = ConditionKind(
    "MASTER_FRAMEWORKS_UNREAD",
    "Master Frameworks Unread",
    "Cannot read the Mesos master's frameworks (%s): other frameworks with this scheduler's name or "
    "principal would go unseen",
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


# --- contact with the Mesos master ---

NOT_SUBSCRIBED = ConditionKind(
    "NOT_SUBSCRIBED",
    "Not Subscribed to Mesos",
    "No contact with the Mesos master since %s (%s). Offers, task updates and node states are not current; "
    "tasks already launched keep running.",
)
STALE_NODE = ConditionKind(
    "STALE_DATA",
    "Node Data Not Current",
    "No contact with the Mesos master since %s: this node's state, resources and tasks are as last known.",
)
# No HEARTBEAT for this many intervals: contact counts as lost, well before the driver gives up on the
# stream (MESOS_MISSED_HEARTBEATS, about 5 in Mesos' guide) and re-subscribes. Mesos sends one every
# interval whatever else it sends, so 1.5 means one is overdue by half an interval.
SILENT_HEARTBEATS = 1.5
REASON_MAX_CHARS = 200  # the driver's reason may quote the master's answer


class MasterContact:
    """Whether the core hears from the master, learned from its inputs: SUBSCRIBED and HEARTBEAT
    events prove contact; the driver's ``Disconnected``, or heartbeats overdue on the scheduling
    clock, end it. ``lost_at`` is since when contact is lost (None while in contact)."""

    def __init__(self, now: float) -> None:
        self.lost_at: float | None = now  # not subscribed yet
        self.reason = "not subscribed yet"
        self.heard_at: float | None = None  # the last SUBSCRIBED or HEARTBEAT
        self.heartbeat_s: float | None = None

    def subscribed(self, heartbeat_s: float, now: float) -> None:
        self.lost_at, self.heard_at = None, now
        self.heartbeat_s = heartbeat_s if heartbeat_s > 0 else None

    def heard(self, now: float) -> None:
        self.heard_at = now
        if self.lost_at is not None and self.reason == "no heartbeat":
            self.lost_at = None  # the stream was only slow; it was never closed

    def disconnected(self, reason: str, now: float) -> None:
        if self.lost_at is None:  # after a silence, contact was lost when the silence began
            self.lost_at = now
        self.reason = master_words(reason) or "subscription ended"
        self.heard_at = None

    def check(self, now: float) -> None:
        """Heartbeats overdue while subscribed: contact is lost since the last one heard."""
        if self.lost_at is not None or self.heard_at is None or self.heartbeat_s is None:
            return
        if now - self.heard_at > SILENT_HEARTBEATS * self.heartbeat_s:
            self.lost_at, self.reason = self.heard_at, "no heartbeat"


def master_words(text: str) -> str:
    """Text from the master (or about it) as a warning may quote it: printable, and bounded."""
    return "".join(c if c.isprintable() else " " for c in text).strip()[:REASON_MAX_CHARS]


def update_contact_warning(warnings: SchedulerWarnings, contact: MasterContact, now: float) -> None:
    """NOT_SUBSCRIBED while contact is lost (raised again each time, so it never ages out); gone once
    the master is heard again."""
    if contact.lost_at is None:
        warnings.clear(NOT_SUBSCRIBED.name)
        return
    reason = (
        f"no heartbeat for {now - contact.lost_at:.0f} s, one expected every {contact.heartbeat_s:g} s"
        if contact.reason == "no heartbeat" and contact.heartbeat_s
        else contact.reason
    )
    description = NOT_SUBSCRIBED.description % (iso(contact.lost_at), reason)
    warnings.raise_warning(NOT_SUBSCRIBED.name, NOT_SUBSCRIBED, description, now)


def stale_node_warning(lost_at: float) -> dict[str, str]:
    """The warning every node shows while contact with the master is lost (its times: since when)."""
    since = iso(lost_at)
    return {
        "name": STALE_NODE.name,
        "title": STALE_NODE.title,
        "description": STALE_NODE.description % since,
        "started": since,
        "last_updated": since,
    }


# Not Scale's: the one event loop ran late (runtime/loop_lag.py measures it; the engine's tick says).
EVENT_LOOP_LAG = ConditionKind("EVENT_LOOP_LAG", "Event Loop Lag", "%s")
