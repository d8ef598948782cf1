"""Queries on the job_type table: register (insert or update) job types, load them, look them up.

Job types are keyed by (name, version). Registering one that exists updates it in place (same id,
so its jobs keep pointing at it) and makes it active again; ``created`` is kept.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Row

from scheduler.jobs.definitions import ErrorCategory, JobType
from scheduler.store.tables import job_type_table

log = logging.getLogger(__name__)

_UPDATABLE = (
    "title",
    "description",
    "is_system",
    "icon_code",
    "cpus",
    "mem",
    "disk",
    "gpus",
    "command",
    "image",
    "max_tries",
    "error_mapping",
    "is_active",
    "last_modified",
)


def encode_error_mapping(mapping: dict[int, ErrorCategory]) -> str:
    return json.dumps({str(code): str(category) for code, category in sorted(mapping.items())})


def decode_error_mapping(text: str | None, where: str = "") -> dict[int, ErrorCategory]:
    """The stored mapping; an entry that cannot be read is skipped (and logged), never fatal."""
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except ValueError:
        log.warning("job type %s: error_mapping is not JSON; ignored", where)
        return {}
    if not isinstance(raw, dict):
        log.warning("job type %s: error_mapping is not an object; ignored", where)
        return {}
    mapping: dict[int, ErrorCategory] = {}
    for code, category in raw.items():
        try:
            mapping[int(code)] = ErrorCategory(category)
        except (TypeError, ValueError):
            log.warning("job type %s: error_mapping entry %r: %r ignored", where, code, category)
    return mapping


def _values(job_type: JobType, now: datetime) -> dict[str, Any]:
    return {
        "name": job_type.name,
        "version": job_type.version,
        "title": job_type.title,
        "description": job_type.description,
        "is_system": job_type.is_system,
        "icon_code": job_type.icon_code,
        "cpus": float(job_type.cpus),
        "mem": float(job_type.mem),
        "disk": float(job_type.disk),
        "gpus": float(job_type.gpus),
        "command": job_type.command,
        "image": job_type.image,
        "max_tries": job_type.max_tries,
        "error_mapping": encode_error_mapping(job_type.error_mapping),
        "is_active": True,
        "created": now,
        "last_modified": now,
    }


def upsert_job_types(connection: Connection, job_types: Sequence[JobType]) -> list[JobType]:
    """Insert new (name, version)s and update existing ones; the job types with their ids, in order.

    One INSERT ... ON CONFLICT DO UPDATE per job type (SQLite and PostgreSQL), so two instances
    registering the same job type at once cannot collide on the unique (name, version).
    """
    dialect = connection.dialect.name
    if dialect == "postgresql":
        insert = postgresql_insert
    elif dialect == "sqlite":
        insert = sqlite_insert
    else:  # pragma: no cover - config refuses other databases
        raise RuntimeError(f"unsupported database dialect {dialect!r}")
    now = datetime.now(UTC)
    stored = []
    for job_type in job_types:
        statement = insert(job_type_table).values(**_values(job_type, now))
        statement = statement.on_conflict_do_update(
            index_elements=[job_type_table.c.name, job_type_table.c.version],
            set_={name: statement.excluded[name] for name in _UPDATABLE},
        ).returning(job_type_table.c.id)
        job_type_id = connection.execute(statement).scalar_one()
        stored.append(replace(job_type, id=job_type_id))
    return stored


def _from_row(row: Row[Any]) -> JobType:
    return JobType(
        id=row.id,
        name=row.name,
        version=row.version,
        command=row.command,
        cpus=row.cpus,
        mem=row.mem,
        disk=row.disk,
        gpus=row.gpus,
        title=row.title or "",
        description=row.description or "",
        is_system=bool(row.is_system),
        icon_code=row.icon_code or "",
        image=row.image,
        max_tries=row.max_tries,
        error_mapping=decode_error_mapping(row.error_mapping, f"{row.name} {row.version}"),
    )


def load_job_types(connection: Connection, active_only: bool = True) -> list[JobType]:
    """Every (active) job type with its id, by name then id."""
    query = select(job_type_table).order_by(job_type_table.c.name, job_type_table.c.id)
    if active_only:
        query = query.where(job_type_table.c.is_active.is_(True))
    return [_from_row(row) for row in connection.execute(query)]


def find_job_type(connection: Connection, name: str, version: str, active_only: bool = True) -> JobType | None:
    query = select(job_type_table).where(job_type_table.c.name == name, job_type_table.c.version == version)
    if active_only:
        query = query.where(job_type_table.c.is_active.is_(True))
    row = connection.execute(query).first()
    return _from_row(row) if row is not None else None


def job_type_versions(connection: Connection, name: str, active_only: bool = True) -> list[str]:
    """The versions registered under a name (to say what exists when a version is unknown)."""
    query = select(job_type_table.c.version).where(job_type_table.c.name == name).order_by(job_type_table.c.id)
    if active_only:
        query = query.where(job_type_table.c.is_active.is_(True))
    return list(connection.execute(query).scalars())


def job_type_ids(
    connection: Connection, keys: Iterable[tuple[str, str]], active_only: bool = True
) -> dict[tuple[str, str], int]:
    """The ids of the given (name, version)s that exist; missing ones are absent from the result."""
    keys = sorted(set(keys))
    found: dict[tuple[str, str], int] = {}
    for start in range(0, len(keys), 200):  # bounded statement size
        chunk = keys[start : start + 200]
        query = select(job_type_table.c.id, job_type_table.c.name, job_type_table.c.version).where(
            or_(*(and_(job_type_table.c.name == n, job_type_table.c.version == v) for n, v in chunk))
        )
        if active_only:
            query = query.where(job_type_table.c.is_active.is_(True))
        for row in connection.execute(query):
            found[(row.name, row.version)] = row.id
    return found
