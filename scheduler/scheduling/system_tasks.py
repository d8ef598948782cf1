"""System tasks: the message handlers of the messaging service, and the database update.

Credentials never travel in a TaskInfo (the master's state, the agents' checkpoints and
``docker inspect`` show every environment value). ``system_task_environment`` hands a system task
the scheduler's DATABASE_URL and SCALE_BROKER_URL as, in this order of preference:

- a Mesos secret reference (``DATABASE_URL_SECRET_REF``): an ``Environment.Variable`` of type SECRET
  that the agent's secret resolver fills in (Mesos containerizer only; Mesos >= 1.4);
- the path of the file the scheduler read it from (``DATABASE_URL_FILE``): the task gets
  ``DATABASE_URL_FILE`` and its own settings read that file on the agent;
- otherwise the URL without its password, and one warning in the log.

The messaging service wants ``desired_count`` handlers (the scheduler row's num_message_handlers).
In ``tasks`` mode each is a Mesos task running ``scale-scheduler message-handler`` on a READY node;
in ``in-process`` mode (dev) the scheduler runs the handlers itself and reports how many are alive,
counted the same way. The database update runs once per scheduler start until it succeeds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from scheduler.scheduling.planner import TaskDemand
from scheduler.tasks.status import TaskState, TaskStatus
from scheduler.timefmt import iso

if TYPE_CHECKING:
    from scheduler.config import Settings

log = logging.getLogger(__name__)

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

# Settings system tasks need, passed as they are (none of them is secret).
_PLAIN = (
    ("SCALE_QUEUE_NAME", "queue_name"),
    ("LOG_LEVEL", "log_level"),
    ("MESSAGE_MAX_BYTES", "message_max_bytes"),
    ("MESSAGE_MAX_DELIVERIES", "message_max_deliveries"),
    ("DATABASE_SSLMODE", "database_sslmode"),
    ("CA_FILE", "ca_file"),
)
# (variable, Settings field, field of its secret reference)
_CREDENTIALS = (
    ("DATABASE_URL", "database_url", "database_url_secret_ref"),
    ("SCALE_BROKER_URL", "broker_url", "broker_url_secret_ref"),
)


def secret_variable(reference: str) -> dict[str, Any]:
    """A Mesos ``Environment.Variable`` (without its name) whose value the agent resolves."""
    return {"type": "SECRET", "secret": {"type": "REFERENCE", "reference": {"name": reference}}}


def without_password(url: str) -> str:
    """The URL with its password (everything between the user's ``:`` and the last ``@``) left out."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("://", 1)[0] + "://" if "://" in url else ""
    if parts.password is None:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{userinfo.split(':', 1)[0]}@{host}"))


def system_task_environment(settings: Settings) -> dict[str, EnvValue]:
    """The environment of message handler and db-update tasks, without a single password in it."""
    environment: dict[str, EnvValue] = {}
    for name, attr in _PLAIN:
        value = getattr(settings, attr, None)
        if value is not None:
            environment[name] = str(value)
    stripped = []
    for name, attr, reference_attr in _CREDENTIALS:
        reference = getattr(settings, reference_attr, None)
        path = settings.secret_file(name)
        if reference:
            environment[name] = secret_variable(reference)
            if settings.scale_docker_image:
                log.warning(
                    "%s_SECRET_REF with SCALE_DOCKER_IMAGE: Mesos resolves secrets for the Mesos containerizer "
                    "only, so system tasks in a DOCKER container get no %s",
                    name,
                    name,
                )
        elif path:
            environment[f"{name}_FILE"] = path
        else:
            value = getattr(settings, attr)
            environment[name] = without_password(value)
            if environment[name] != value:
                stripped.append(name)
    if stripped:
        names = " and ".join(stripped)
        log.warning(
            "system tasks get %s without the password: set %s or give the setting as a file on the agents "
            "(NAME_FILE) so that they can log in",
            names,
            " or ".join(f"{n}_SECRET_REF" for n in stripped),
        )
    return environment


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
