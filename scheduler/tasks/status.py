"""A task's state as Mesos reports it, and one status update: plain values the core reads.

``scheduler.mesos.events`` parses the wire JSON into these; nothing here knows the wire format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class TaskState(StrEnum):
    STAGING = "TASK_STAGING"
    STARTING = "TASK_STARTING"
    RUNNING = "TASK_RUNNING"
    KILLING = "TASK_KILLING"
    FINISHED = "TASK_FINISHED"
    FAILED = "TASK_FAILED"
    KILLED = "TASK_KILLED"
    ERROR = "TASK_ERROR"
    LOST = "TASK_LOST"
    DROPPED = "TASK_DROPPED"
    UNREACHABLE = "TASK_UNREACHABLE"
    GONE = "TASK_GONE"
    GONE_BY_OPERATOR = "TASK_GONE_BY_OPERATOR"
    UNKNOWN = "TASK_UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL_STATES


_TERMINAL_STATES = frozenset(
    {
        TaskState.FINISHED,
        TaskState.FAILED,
        TaskState.KILLED,
        TaskState.ERROR,
        TaskState.LOST,
        TaskState.DROPPED,
        TaskState.GONE,
        TaskState.GONE_BY_OPERATOR,
    }
)

_EXIT_STATUS = re.compile(r"(?:exited with status|exit(?:ed)? code|exit status)\s*:?\s*(-?\d+)", re.I)


@dataclass(frozen=True, slots=True)
class TaskStatus:
    task_id: str
    state: TaskState
    agent_id: str | None = None
    executor_id: str | None = None
    source: str | None = None
    reason: str | None = None
    message: str | None = None
    uuid: str | None = None  # base64, set only on agent/executor updates, which must be acknowledged
    timestamp: float | None = None
    healthy: bool | None = None

    @property
    def exit_code(self) -> int | None:
        """The command's exit status, as the command and Docker executors put it in the message."""
        match = _EXIT_STATUS.search(self.message or "")
        return int(match.group(1)) if match else None
