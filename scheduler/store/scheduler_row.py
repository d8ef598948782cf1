"""Queries on the scheduler row: the framework id, the paused flag, the last status document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.engine import Connection

from scheduler.store.database import Database
from scheduler.store.tables import scheduler_table

ROW_ID = 1


def ensure_row(connection: Connection) -> None:
    """The row is created by migration 0004; this only guards against a database migrated by hand."""
    exists = connection.execute(select(scheduler_table.c.id).where(scheduler_table.c.id == ROW_ID)).first()
    if exists is None:
        raise RuntimeError("the scheduler row is missing: run `scale-scheduler db-update`")


def load_framework_id(connection: Connection) -> str | None:
    ensure_row(connection)
    return connection.execute(select(scheduler_table.c.framework_id).where(scheduler_table.c.id == ROW_ID)).scalar_one()


def save_framework_id(connection: Connection, framework_id: str | None) -> None:
    ensure_row(connection)
    connection.execute(scheduler_table.update().where(scheduler_table.c.id == ROW_ID).values(framework_id=framework_id))


class DatabaseFrameworkIdStore:
    """The driver's FrameworkIdStore, backed by the scheduler row."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def load_framework_id(self) -> str | None:
        return await self.database.run(load_framework_id)

    async def save_framework_id(self, framework_id: str | None) -> None:
        await self.database.run(lambda connection: save_framework_id(connection, framework_id))


class SchedulerFlags(NamedTuple):
    is_paused: bool
    num_message_handlers: int


def load_scheduler_flags(connection: Connection) -> SchedulerFlags:
    ensure_row(connection)
    row = connection.execute(
        select(scheduler_table.c.is_paused, scheduler_table.c.num_message_handlers).where(
            scheduler_table.c.id == ROW_ID
        )
    ).one()
    return SchedulerFlags(bool(row.is_paused), int(row.num_message_handlers))


def set_scheduler_paused(connection: Connection, paused: bool) -> None:
    ensure_row(connection)
    connection.execute(scheduler_table.update().where(scheduler_table.c.id == ROW_ID).values(is_paused=paused))


def save_status(connection: Connection, gzipped: bytes, generated_at: float) -> None:
    """The last status document, gzipped, for the api command and for standby instances."""
    ensure_row(connection)
    connection.execute(
        scheduler_table.update()
        .where(scheduler_table.c.id == ROW_ID)
        .values(status_gzip=gzipped, status=None, status_time=datetime.fromtimestamp(generated_at, UTC))
    )


class StoredStatus(NamedTuple):
    gzipped: bytes | None  # written by this version
    text: str | None  # written by a version before migration 0006
    time: datetime | None


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands timestamps back without their zone; they were written in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def load_status_time(connection: Connection) -> datetime | None:
    return _aware(
        connection.execute(select(scheduler_table.c.status_time).where(scheduler_table.c.id == ROW_ID)).scalar()
    )


def load_status(connection: Connection) -> StoredStatus:
    table = scheduler_table
    row = connection.execute(
        select(table.c.status_gzip, table.c.status, table.c.status_time).where(table.c.id == ROW_ID)
    ).first()
    if row is None:
        return StoredStatus(None, None, None)
    return StoredStatus(
        bytes(row.status_gzip) if row.status_gzip is not None else None, row.status, _aware(row.status_time)
    )
