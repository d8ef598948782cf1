"""System tasks: the message handlers of the messaging service, and the database update.

The environment of system tasks (credentials by reference, never by value) is built by
scheduler.task_environment.

The messaging service wants ``desired_count`` handlers (the scheduler row's num_message_handlers).
In ``tasks`` mode each is a Mesos task running ``scale-scheduler message-handler`` on a READY node;
in ``in-process`` mode (dev) the scheduler runs the handlers itself and reports how many are alive,
counted the same way. The database update runs once per scheduler start until it succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scheduler.scheduling.planner import TaskDemand
from scheduler.tasks.status import TaskState, TaskStatus
from scheduler.timefmt import iso

MESSAGE_HANDLER = "message-handler"
DB_UPDATE = "db-update"
TITLES = {
    MESSAGE_HANDLER: ("Message Handler", "Processes messages from Scale's backend messaging system"),
    DB_UPDATE: ("Database Update", "Updates the Scale database to the current version"),
}
RESOURCES = {"cpus": 0.5, "mem": 512.0}
DB_UPDATE_RETRY_S = 120.0  # after a failed update, as Scale waits
KILL_AGAIN_S = 60.0  # a surplus handler still running this long after its KILL is asked again

MESSAGING_SERVICE = {
    "name": "messaging",
    "title": "Messaging",
    "description": "Processes the backend messaging system",
}


# A variable's value is text, or a Mesos Environment.Variable body without its name (a secret).
EnvValue = str | dict[str, Any]


@dataclass(slots=True)
class TaskTemplate:
    """How system tasks are started on an agent: the command line, the image and the environment."""

    image: str | None = None
    environment: dict[str, EnvValue] = field(default_factory=dict)

    def demand(self, task_id: str, task_type: str, command: str) -> TaskDemand:
        return TaskDemand(task_id, TITLES[task_type][0], RESOURCES, command, self.image, None, self.environment)


class MessagingService:
    def __init__(self, template: TaskTemplate, *, in_process: bool) -> None:
        self.template = template
        self.in_process = in_process
        self.desired_count = 1
        self.in_process_count = 0  # handlers alive inside the scheduler (in-process mode)
        self.tasks: set[str] = set()  # handler tasks launched and not ended (tasks mode)
        self._killing: dict[str, float] = {}  # surplus handlers asked to stop -> when, until they end

    @property
    def actual_count(self) -> int:
        return self.in_process_count if self.in_process else len(self.tasks)

    def demands(self, new_id) -> list[TaskDemand]:
        if self.in_process:
            return []
        missing = self.desired_count - len(self.tasks)
        return [
            self.template.demand(new_id(MESSAGE_HANDLER), MESSAGE_HANDLER, "scale-scheduler message-handler")
            for _ in range(max(missing, 0))
        ]

    def surplus(self, now: float) -> list[str]:
        """Handler tasks to kill because more run than are wanted (asked again after a minute)."""
        if self.in_process:
            return []
        alive = sorted(self.tasks - set(self._killing))
        extra = alive[: max(len(alive) - self.desired_count, 0)]
        again = [task for task, asked in self._killing.items() if now - asked >= KILL_AGAIN_S]
        for task in extra + again:
            self._killing[task] = now
        return extra + again

    def launched(self, task_id: str) -> None:
        self.tasks.add(task_id)

    def ended(self, task_id: str) -> None:
        self.tasks.discard(task_id)
        self._killing.pop(task_id, None)

    def status_json(self) -> dict[str, Any]:
        return {**MESSAGING_SERVICE, "actual_count": self.actual_count, "desired_count": self.desired_count}


class DatabaseUpdate:
    def __init__(self, template: TaskTemplate) -> None:
        self.template = template
        self.completed_at: float | None = None
        self.task_id: str | None = None
        self.retry_at = 0.0

    def demand(self, now: float, new_id) -> TaskDemand | None:
        if self.completed_at is not None or self.task_id is not None or now < self.retry_at:
            return None
        return self.template.demand(new_id(DB_UPDATE), DB_UPDATE, "scale-scheduler db-update")

    def launched(self, task_id: str) -> None:
        self.task_id = task_id

    def on_update(self, task_id: str, status: TaskStatus, now: float) -> None:
        if task_id != self.task_id or not status.state.is_terminal:
            return
        self.task_id = None
        if status.state is TaskState.FINISHED:
            self.completed_at = now
        elif status.state is TaskState.FAILED:
            self.retry_at = now + DB_UPDATE_RETRY_S
        # KILLED or LOST: replaced at the next opportunity.

    def status_json(self) -> dict[str, Any]:
        if self.completed_at is None:
            return {"is_completed": False}
        return {"is_completed": True, "completed": iso(self.completed_at)}
