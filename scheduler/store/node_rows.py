"""Queries on the node table: load at start, write what changed, read the pause flags."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, Integer, String, case, column, func, insert, select, update
from sqlalchemy.engine import Connection

from scheduler.store.multi_row import UpdateFromValues, chunks
from scheduler.store.tables import node_table


@dataclass(frozen=True, slots=True)
class NodeRow:
    hostname: str
    agent_id: str
    is_active: bool
    is_paused: bool = False
    id: int | None = None


def _utc(epoch_s: float | None = None) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC) if epoch_s is not None else datetime.now(UTC)


def load_nodes(connection: Connection) -> list[NodeRow]:
    rows = connection.execute(
        select(
            node_table.c.id,
            node_table.c.hostname,
            node_table.c.agent_id,
            node_table.c.is_active,
            node_table.c.is_paused,
        ).order_by(node_table.c.id)
    )
    return [NodeRow(r.hostname, r.agent_id or "", r.is_active, r.is_paused, r.id) for r in rows]


NODES_CHANGED = UpdateFromValues(
    node_table,
    (
        column("id", Integer),
        column("agent_id", String),
        column("is_active", Boolean),
        column("now", DateTime(timezone=True)),
    ),
    lambda v: {
        "agent_id": v.agent_id,
        "is_active": v.is_active,
        "deprecated": case((v.is_active, None), else_=func.coalesce(node_table.c.deprecated, v.now)),
        "last_modified": v.now,
    },
    lambda v: node_table.c.id == v.id,
)


def save_nodes(connection: Connection, rows: list[NodeRow]) -> dict[str, int]:
    """Insert new nodes and update known ones; returns the id of every node written."""
    now = _utc()
    ids: dict[str, int] = {}
    known = [r for r in rows if r.id is not None]
    new = [r for r in rows if r.id is None]
    if new:
        # A row may exist already (written by another instance, or by a write whose answer was lost).
        existing: dict[str, int] = {}
        for chunk in chunks([r.hostname for r in new]):  # SQLite takes at most 32,766 parameters
            existing.update(
                connection.execute(
                    select(node_table.c.hostname, node_table.c.id).where(node_table.c.hostname.in_(chunk))
                ).all()
            )
        known += [replace(r, id=existing[r.hostname]) for r in new if r.hostname in existing]
        to_insert = [r for r in new if r.hostname not in existing]
        if to_insert:
            inserted = connection.execute(
                insert(node_table).returning(node_table.c.hostname, node_table.c.id),
                [
                    {
                        "hostname": r.hostname,
                        "agent_id": r.agent_id or None,
                        "is_active": r.is_active,
                        "is_paused": r.is_paused,
                        "deprecated": None if r.is_active else now,
                        "created": now,
                        "last_modified": now,
                    }
                    for r in to_insert
                ],
            )
            ids.update(inserted.all())
    # The retirement time is the first write that retired the node.
    NODES_CHANGED.execute(connection, [(r.id, r.agent_id or None, r.is_active, now) for r in known])
    ids.update((r.hostname, r.id) for r in known)
    return ids


def load_pause_flags(connection: Connection) -> dict[str, bool]:
    return dict(connection.execute(select(node_table.c.hostname, node_table.c.is_paused)).all())


def set_node_paused(connection: Connection, hostname: str, paused: bool) -> bool:
    result = connection.execute(
        update(node_table).where(node_table.c.hostname == hostname).values(is_paused=paused, last_modified=_utc())
    )
    return result.rowcount > 0
