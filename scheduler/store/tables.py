"""The schema, as SQLAlchemy Core tables. Alembic migrations in ``migrations/`` create and evolve it."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, Text

metadata = MetaData()

# One row (id 1): what a restarted or standby scheduler needs to carry on.
scheduler_table = Table(
    "scheduler",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("framework_id", String(255), nullable=True),
    Column("is_paused", Boolean, nullable=False, default=False),
    Column("num_message_handlers", Integer, nullable=False, default=1),
    Column("status", Text, nullable=True),  # the last v6 status document, as JSON text
    Column("status_time", DateTime(timezone=True), nullable=True),
)

# One row per agent hostname; the id is the node id shown in the status and survives restarts.
node_table = Table(
    "node",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hostname", String(250), nullable=False, unique=True),
    Column("agent_id", String(250), nullable=True),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("is_paused", Boolean, nullable=False, default=False),
    Column("deprecated", DateTime(timezone=True), nullable=True),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("last_modified", DateTime(timezone=True), nullable=False),
)
