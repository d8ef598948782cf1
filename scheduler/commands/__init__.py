"""Operator commands behind ``scale-scheduler``: plain functions returning an exit code.

Each takes the loaded Settings; the CLI wires them to argparse. Exit codes: 0 done, 1 a service
(database, broker) failed, 2 the input is wrong (invalid file, unknown job type, bad argument).
Foreseeable failures print one line on stderr (URLs and secrets masked), never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from scheduler.config import Settings
from scheduler.redact import mask_text, mask_url
from scheduler.store.database import make_engine, migrate
from scheduler.store.ingest import describe_database_error

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2

T = TypeVar("T")


class CommandFailed(Exception):
    """A foreseeable failure: ``str()`` is the one line to print, ``code`` the exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def error(settings: Settings | None, message: str) -> None:
    secrets = settings.secret_values() if settings is not None else []
    print(f"scale-scheduler: {mask_text(message, secrets)}", file=sys.stderr)


def with_database(settings: Settings, work: Callable[[Connection], T], *, migrate_first: bool = False) -> T:
    """Run ``work`` in one transaction; a database failure becomes CommandFailed with one clear line."""
    engine: Engine | None = None
    try:
        engine = make_engine(
            settings.database_url,
            settings.database_timeout_s,
            sslmode=settings.database_sslmode,
            ca_file=settings.ca_file,
        )
        if migrate_first:
            migrate(engine)
        with engine.begin() as connection:
            return work(connection)
    except CommandFailed:
        raise
    except (SQLAlchemyError, OSError, CommandError) as exc:  # all mean "the database failed"
        detail = describe_database_error(exc, settings.secret_values())
        raise CommandFailed(f"database {mask_url(settings.database_url)}: {detail}") from None
    finally:
        if engine is not None:
            engine.dispose()
