"""``submit-jobs NAME VERSION``: queue jobs of a registered job type through the command queue."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from scheduler.commands import EXIT_FAILED, EXIT_INVALID, EXIT_OK, CommandFailed, error, with_database
from scheduler.config import Settings
from scheduler.jobs.messages import MessageError, build_queue_jobs_for
from scheduler.messaging.producer import PublishError, publish_queue_jobs
from scheduler.messaging.queue import broker_type
from scheduler.store.job_type_rows import find_job_type, job_type_versions


def _inputs(inputs: Mapping[str, Any] | str | None) -> Mapping[str, Any] | None:
    if inputs is None or isinstance(inputs, Mapping):
        return inputs
    try:
        value = json.loads(inputs)
    except ValueError as exc:
        raise CommandFailed(f"--inputs: not valid JSON ({exc})", EXIT_INVALID) from None
    if not isinstance(value, dict):
        raise CommandFailed("--inputs: must be a JSON object", EXIT_INVALID)
    return value


def _check_registered(settings: Settings, name: str, version: str) -> None:
    def work(connection: Connection) -> str | None:
        if not inspect(connection).has_table("job_type"):
            return "the database holds no job types yet; register job types first"
        if find_job_type(connection, name, version) is not None:
            return None
        versions = job_type_versions(connection, name)
        known = f" (registered versions of {name}: {', '.join(versions)})" if versions else ""
        return f"job type {name} {version} is not registered{known}"

    problem = with_database(settings, work)
    if problem:
        raise CommandFailed(problem, EXIT_INVALID)


def submit_jobs(
    settings: Settings,
    name: str,
    version: str,
    *,
    count: int = 1,
    priority: int | None = None,
    inputs: Mapping[str, Any] | str | None = None,
    allow_memory: bool = False,
) -> int:
    """Publish ONE queue_jobs message of ``count`` jobs; print its id on stdout.

    ``inputs`` is a JSON object (a mapping or its JSON text) given to every job. A memory://
    broker only reaches handlers in this same process, so it is refused unless ``allow_memory``
    (a CLI process would report success while the message vanishes with it).
    """
    if broker_type(settings.broker_url) == "memory" and not allow_memory:
        error(
            settings,
            "SCALE_BROKER_URL is memory://, which reaches no scheduler outside this process; "
            "set it (or --broker-url) to the scheduler's broker, e.g. amqp://user:password@host:5672//",
        )
        return EXIT_INVALID
    try:
        message = build_queue_jobs_for(name, version, count=count, priority=priority, inputs=_inputs(inputs))
        _check_registered(settings, name, version)
        publish_queue_jobs(settings, message)
    except MessageError as exc:
        error(settings, f"cannot queue these jobs: {exc}")
        return EXIT_INVALID
    except CommandFailed as exc:
        error(settings, str(exc))
        return exc.code
    except PublishError as exc:
        error(settings, str(exc))
        return EXIT_FAILED
    plural = "s" if count != 1 else ""
    print(
        f"published {count} job{plural} of {name} {version} to {settings.queue_name} as message {message.id}",
        file=sys.stderr,
    )
    print(message.id)
    return EXIT_OK
