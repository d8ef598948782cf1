"""Reads and writes behind Scale's v6 resources: the scheduler row, nodes, the queue by job type.

Writes touch the same columns as the CLI's ``pause``/``resume``/``nodes pause`` commands; the
running scheduler reads them on its flag sync. All of it runs through ``Database.run``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from scheduler.jobs.definitions import JobStatus
from scheduler.store.scheduler_row import ROW_ID, ensure_row
from scheduler.store.tables import job_table, job_type_table, node_table, scheduler_table

SCHEDULER_FIELDS = ("is_paused", "num_message_handlers", "system_logging_level")
NODE_FIELDS = ("id", "hostname", "pause_reason", "is_paused", "is_active", "deprecated", "created", "last_modified")
JOB_TYPE_FIELDS = ("id", "name", "version", "title", "description", "is_system", "is_active", "icon_code")


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands timestamps back without their zone; they were written in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _plain(row: Any) -> dict[str, Any]:
    # Column names come back as SQLAlchemy's str subclass; plain str keys serialize anywhere.
    return {str(key): value for key, value in row._asdict().items()}


def load_scheduler_settings(connection: Connection) -> dict[str, Any]:
    ensure_row(connection)
    row = connection.execute(
        select(*(scheduler_table.c[name] for name in SCHEDULER_FIELDS)).where(scheduler_table.c.id == ROW_ID)
    ).one()
    return _plain(row)


def update_scheduler_settings(connection: Connection, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply ``changes`` (already validated) and return the row as it now is."""
    ensure_row(connection)
    if changes:
        connection.execute(update(scheduler_table).where(scheduler_table.c.id == ROW_ID).values(**changes))
    return load_scheduler_settings(connection)


def _node(row: Any) -> dict[str, Any]:
    node = _plain(row)
    for name in ("deprecated", "created", "last_modified"):
        node[name] = _aware(node[name])
    return node


def list_nodes(
    connection: Connection, *, is_active: bool | None, offset: int, limit: int
) -> tuple[int, list[dict[str, Any]]]:
    """The total number of matching nodes and one page of them, by id."""
    where = [] if is_active is None else [node_table.c.is_active == is_active]
    count = connection.execute(select(func.count()).select_from(node_table).where(*where)).scalar_one()
    rows = connection.execute(
        select(*(node_table.c[name] for name in NODE_FIELDS))
        .where(*where)
        .order_by(node_table.c.id)
        .offset(offset)
        .limit(limit)
    )
    return count, [_node(row) for row in rows]


def get_node(connection: Connection, node_id: int) -> dict[str, Any] | None:
    row = connection.execute(
        select(*(node_table.c[name] for name in NODE_FIELDS)).where(node_table.c.id == node_id)
    ).first()
    return _node(row) if row is not None else None


def update_node(connection: Connection, node_id: int, changes: dict[str, Any]) -> dict[str, Any] | None:
    """Apply ``changes`` to one node; None if there is no such node. As in Scale, resuming a node
    clears its pause reason, and deactivating one stamps ``deprecated``."""
    values = dict(changes)
    if values.get("is_paused") is False:
        values["pause_reason"] = None
    now = datetime.now(UTC)
    if "is_active" in values:
        values["deprecated"] = None if values["is_active"] else func.coalesce(node_table.c.deprecated, now)
    values["last_modified"] = now
    result = connection.execute(update(node_table).where(node_table.c.id == node_id).values(**values))
    if result.rowcount == 0:
        return None
    return get_node(connection, node_id)


@dataclass(frozen=True, slots=True)
class QueuedByType:
    job_type_id: int
    count: int
    longest_queued: datetime
    highest_priority: int  # the smallest priority number (Scale: lower runs first)


def queued_by_job_type(connection: Connection) -> list[QueuedByType]:
    rows = connection.execute(
        select(
            job_table.c.job_type_id,
            func.count(),
            func.min(job_table.c.queued),
            func.min(job_table.c.priority),
        )
        .where(job_table.c.status == JobStatus.QUEUED.value)
        .group_by(job_table.c.job_type_id)
    )
    return [QueuedByType(r[0], int(r[1]), _aware(r[2]), int(r[3])) for r in rows]


def job_types_by_id(connection: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows = connection.execute(
        select(*(job_type_table.c[name] for name in JOB_TYPE_FIELDS)).where(job_type_table.c.id.in_(ids))
    )
    return {row.id: _plain(row) for row in rows}


def job_counts_by_type(connection: Connection) -> dict[int, tuple[int, int]]:
    """Jobs queued and running now per job type id, for the load history of the database-only API."""
    counts: dict[int, tuple[int, int]] = {}
    rows = connection.execute(
        select(job_table.c.job_type_id, job_table.c.status, func.count())
        .where(job_table.c.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]))
        .group_by(job_table.c.job_type_id, job_table.c.status)
    ).all()
    for job_type_id, status, count in rows:
        queued, running = counts.get(int(job_type_id), (0, 0))
        if status == JobStatus.QUEUED.value:
            queued += int(count)
        else:
            running += int(count)
        counts[int(job_type_id)] = (queued, running)
    return counts
