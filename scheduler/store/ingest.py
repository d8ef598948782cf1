"""Storing a ``queue_jobs`` command message: its queue_message row and its jobs, in one transaction.

The caller runs ``store_queue_jobs`` inside one transaction (``engine.begin()``) and acknowledges the
message only after the commit. A message whose id is already stored (redelivered after a crash
between commit and acknowledgement) inserts nothing and reports itself as a duplicate; if the
stored jobs differ from the message's (an id reused for other work), it reports a conflict instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError

from scheduler.jobs.definitions import JobStatus
from scheduler.jobs.messages import DEFAULT_PRIORITY, QueueJobsMessage
from scheduler.redact import mask_text
from scheduler.store.job_type_rows import job_type_ids
from scheduler.store.multi_row import copy_rows
from scheduler.store.tables import job_table, job_type_table, queue_message_table

# What a new job's row holds; the other columns are NULL (error_category, started, ended).
JOB_COLUMNS = ("job_type_id", "priority", "status", "inputs", "num_exes", "message_id", "queued", "last_modified")


class UnknownJobTypes(ValueError):
    """The message names job types that are not registered (or not active); nothing was stored."""

    def __init__(self, missing: list[tuple[str, str]]) -> None:
        self.missing = missing
        names = ", ".join(f"{name} {version}" for name, version in missing[:10])
        more = f" (and {len(missing) - 10} more)" if len(missing) > 10 else ""
        super().__init__(f"unknown job type{'s' if len(missing) > 1 else ''}: {names}{more}")


@dataclass(frozen=True, slots=True)
class StoreResult:
    message_id: str
    num_jobs: int  # jobs in the message
    duplicate: bool  # already stored before: nothing inserted
    conflict: bool = False  # the stored message with this id has other jobs: nothing inserted


def queue_message_exists(connection: Connection, message_id: str) -> bool:
    query = select(queue_message_table.c.id).where(queue_message_table.c.id == message_id)
    return connection.execute(query).first() is not None


def stored_jobs_match(connection: Connection, message: QueueJobsMessage) -> bool:
    """Whether the jobs stored for the message's id are the message's (job type, priority, inputs)."""
    query = (
        select(job_type_table.c.name, job_type_table.c.version, job_table.c.priority, job_table.c.inputs)
        .select_from(job_table.join(job_type_table, job_table.c.job_type_id == job_type_table.c.id))
        .where(job_table.c.message_id == message.id)
        .order_by(job_table.c.id)
    )
    stored = connection.execute(query).all()
    if len(stored) != len(message.jobs):
        return False
    for row, job in zip(stored, message.jobs, strict=True):
        priority = DEFAULT_PRIORITY if job.priority is None else job.priority
        try:
            inputs = None if row.inputs is None else json.loads(row.inputs)
        except ValueError:
            return False
        wanted = None if job.inputs is None else dict(job.inputs)
        if (row.name, row.version, row.priority, inputs) != (job.name, job.version, priority, wanted):
            return False
    return True


def store_queue_jobs(connection: Connection, message: QueueJobsMessage) -> StoreResult:
    """Insert the message's queue_message row and its jobs (QUEUED), unless the id is stored already.

    Raises UnknownJobTypes (before inserting anything) if a job names an unregistered job type.
    """
    if queue_message_exists(connection, message.id):
        same = stored_jobs_match(connection, message)
        return StoreResult(message.id, len(message.jobs), duplicate=True, conflict=not same)
    ids = job_type_ids(connection, message.job_type_keys)
    missing = sorted(message.job_type_keys - ids.keys())
    if missing:
        raise UnknownJobTypes(missing)
    now = datetime.now(UTC)
    # The message row first: a second handler storing the same id concurrently fails on its primary
    # key here (PostgreSQL makes it wait for the first to commit), before any job is written.
    connection.execute(
        insert(queue_message_table).values(id=message.id, type=message.type, num_jobs=len(message.jobs), received=now)
    )
    status = JobStatus.QUEUED.value
    values = (
        (
            ids[(job.name, job.version)],
            DEFAULT_PRIORITY if job.priority is None else job.priority,
            status,
            None if job.inputs is None else json.dumps(job.inputs, separators=(",", ":")),
            0,
            message.id,
            now,
            now,
        )
        for job in message.jobs
    )
    if connection.dialect.name == "postgresql":
        copy_rows(connection, job_table, JOB_COLUMNS, values)
    else:
        connection.execute(insert(job_table), [dict(zip(JOB_COLUMNS, row, strict=True)) for row in values])
    return StoreResult(message.id, len(message.jobs), duplicate=False)


def refused_by_database(exc: BaseException) -> bool:
    """Whether the database or its driver refuses the values themselves (retrying cannot help).

    DataError and IntegrityError come from the database; a ValueError or TypeError from the driver
    (psycopg2 refuses NUL in a string, a lone surrogate cannot be encoded). Everything else (cannot
    connect, timed out, locked, no table yet) is an outage: the message waits for the database.
    """
    if isinstance(exc, (DataError, IntegrityError)):
        return True
    if isinstance(exc, StatementError) and not isinstance(exc, DBAPIError):
        exc = exc.orig if isinstance(exc.orig, BaseException) else exc
    if isinstance(exc, SQLAlchemyError):
        return False
    return isinstance(exc, (ValueError, TypeError, OverflowError))


def describe_database_error(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """One line for a log or a CLI error: the driver's own message, without SQL or secrets."""
    cause: BaseException = exc
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        cause = exc.orig
    text = ""
    for line in str(cause).splitlines():
        if line.strip():
            text = line.strip()
            break
    if isinstance(exc, SQLAlchemyError) and not isinstance(exc, DBAPIError):
        text = text.split(" (Background on this error", 1)[0]
    name = type(cause).__name__
    return mask_text(f"{name}: {text}" if text else name, secrets)
