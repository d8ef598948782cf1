"""A node's errors and warnings: Scale's definitions, with when each began and was last raised."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scheduler.timefmt import iso


@dataclass(frozen=True, slots=True)
class ConditionKind:
    name: str
    title: str
    description: str


BAD_DAEMON = ConditionKind("BAD_DAEMON", "Docker Not Responding", "The Docker daemon on this node is not responding.")
BAD_LOGSTASH = ConditionKind(
    "BAD_LOGSTASH", "Fluentd Not Responding", "The Scale fluentd is not responding to this node."
)
CLEANUP = ConditionKind(
    "CLEANUP", "Cleanup Failure", "The node failed to clean up some Scale Docker containers and volumes."
)
HEALTH_FAIL = ConditionKind(
    "HEALTH_FAIL", "Health Check Failure", "The last node health check failed with an unknown exit code."
)
HEALTH_TIMEOUT = ConditionKind("HEALTH_TIMEOUT", "Health Check Timeout", "The last node health check timed out.")
IMAGE_PULL = ConditionKind(
    "IMAGE_PULL", "Image Pull Failure", "The node failed to pull the Scale Docker image from the registry."
)
LOW_DOCKER_SPACE = ConditionKind(
    "LOW_DOCKER_SPACE", "Low Docker Disk Space", "The free disk space available to Docker is low."
)

# Not Scale's: errors of the scheduler's own rules (same shape; the description carries the figures).
FAILING_TASKS = ConditionKind(
    "FAILING_TASKS", "Failing Tasks", "Job tries on this node fail as SYSTEM far more often than on the other nodes."
)
AGENT_UNREACHABLE = ConditionKind(
    "AGENT_UNREACHABLE",
    "Agent Unreachable",
    "The Mesos master cannot reach this node's agent; its tasks are kept until they return or time out.",
)

HEALTH_ERRORS = (BAD_DAEMON, BAD_LOGSTASH, HEALTH_FAIL, HEALTH_TIMEOUT, LOW_DOCKER_SPACE)
HEALTH_EXIT_CODES = {2: BAD_DAEMON, 3: LOW_DOCKER_SPACE, 4: BAD_LOGSTASH}

SLOW_CLEANUP = ConditionKind(
    "SLOW_CLEANUP", "Slow Cleanup", "There are %s job executions waiting to be cleaned up on this node."
)
CLEANUP_FAILURE = ConditionKind(
    "CLEANUP_FAILURE", "Cleanup Failure", "There was a failure cleaning up some of the following jobs: %s"
)
CLEANUP_TIMEOUT = ConditionKind(
    "CLEANUP_TIMEOUT", "Cleanup Timeout", "There was a timeout cleaning up some of the following jobs: %s"
)


@dataclass(slots=True)
class Condition:
    name: str
    title: str
    description: str
    started: float
    last_updated: float

    def as_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "started": iso(self.started),
            "last_updated": iso(self.last_updated),
        }


class Conditions:
    """Active errors and warnings by name; raising one again keeps its start and refreshes the rest."""

    __slots__ = ("errors", "warnings", "version", "_on_change")

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self.errors: dict[str, Condition] = {}
        self.warnings: dict[str, Condition] = {}
        self.version = 0  # bumped on every change, so the status can reuse an unchanged node's entry
        self._on_change = on_change  # told of every change (the node's change log)

    def _changed(self) -> None:
        self.version += 1
        if self._on_change is not None:
            self._on_change()

    def raise_error(self, kind: ConditionKind, now: float, description: str | None = None) -> None:
        _raise(self.errors, kind.name, kind.title, description or kind.description, now)
        self._changed()

    def clear_errors(self, *kinds: ConditionKind) -> bool:
        cleared = [self.errors.pop(kind.name, None) is not None for kind in kinds]
        if any(cleared):
            self._changed()
        return any(cleared)

    def raise_warning(self, name: str, kind: ConditionKind, description: str, now: float) -> None:
        _raise(self.warnings, name, kind.title, description, now)
        self._changed()

    def clear_warning(self, name: str) -> bool:
        if self.warnings.pop(name, None) is None:
            return False
        self._changed()
        return True

    def drop_warnings_older_than(self, max_age_s: float, now: float, *, keep: tuple[str, ...] = ()) -> bool:
        old = [n for n, w in self.warnings.items() if n not in keep and now - w.last_updated >= max_age_s]
        for name in old:
            del self.warnings[name]
        if old:
            self._changed()
        return bool(old)


def _raise(table: dict[str, Condition], name: str, title: str, description: str, now: float) -> None:
    current = table.get(name)
    if current is None:
        table[name] = Condition(name, title, description, now, now)
    else:
        current.description, current.last_updated = description, now
