"""Credentials never travel in a TaskInfo (the master's state, the agents' checkpoints and
``docker inspect`` show every environment value). ``system_task_environment`` hands a system task
the scheduler's DATABASE_URL and SCALE_BROKER_URL as, in this order of preference:

- a Mesos secret reference (``DATABASE_URL_SECRET_REF``): an ``Environment.Variable`` of type SECRET
  that the agent's secret resolver fills in (Mesos containerizer only; Mesos >= 1.4);
- the path of the file the scheduler read it from (``DATABASE_URL_FILE``): the task gets
  ``DATABASE_URL_FILE`` and its own settings read that file on the agent;
- otherwise the URL without its password, and one warning in the log.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from scheduler.config import Settings
from scheduler.scheduling.system_tasks import EnvValue

log = logging.getLogger(__name__)

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
