"""The schema, as SQLAlchemy Core tables. Alembic migrations in ``migrations/`` create and evolve it."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# One row (id 1): what a restarted or standby scheduler needs to carry on.
scheduler_table = Table(
    "scheduler",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("framework_id", String(255), nullable=True),
    Column("is_paused", Boolean, nullable=False, default=False),
    Column("num_message_handlers", Integer, nullable=False, default=1),
    Column("system_logging_level", String(10), nullable=False, default="INFO"),  # Scale's; set by PATCH
    # The last v6 status document as JSON text: written by versions before 0006, read when
    # ``status_gzip`` is empty (a scheduler not yet upgraded); cleared by newer writers.
    Column("status", Text, nullable=True),
    Column("status_time", DateTime(timezone=True), nullable=True),
    # The same document gzipped (60 times smaller at 10,000 nodes): the text form, quoted by the
    # driver while it held the interpreter, stalled the scheduler's loop 20-45 ms each write.
    Column("status_gzip", LargeBinary, nullable=True),
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
    Column("pause_reason", String(250), nullable=True),  # Scale's; shown while paused
    Column("deprecated", DateTime(timezone=True), nullable=True),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("last_modified", DateTime(timezone=True), nullable=False),
)

# Job types, by (name, version). error_mapping is JSON: {"<exit code>": "DATA" | "ALGORITHM"}.
job_type_table = Table(
    "job_type",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("version", String(50), nullable=False),
    Column("title", String(250), nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("is_system", Boolean, nullable=False, default=False),
    Column("icon_code", String(20), nullable=False, default=""),
    Column("cpus", Float, nullable=False),
    Column("mem", Float, nullable=False),
    Column("disk", Float, nullable=False),
    Column("gpus", Float, nullable=False),
    Column("command", Text, nullable=False),
    Column("image", String(500), nullable=True),
    Column("max_tries", Integer, nullable=False),
    Column("error_mapping", Text, nullable=False, default="{}"),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("last_modified", DateTime(timezone=True), nullable=False),
    UniqueConstraint("name", "version", name="uq_job_type_name_version"),
)

# Jobs. Handlers insert them QUEUED; from then on only the scheduler changes them.
job_table = Table(
    "job",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_type_id", Integer, ForeignKey("job_type.id"), nullable=False),
    Column("priority", Integer, nullable=False, default=100),  # lower runs first, as in Scale
    Column("status", String(20), nullable=False),
    Column("inputs", Text, nullable=True),  # JSON
    Column("num_exes", Integer, nullable=False, default=0),  # tries so far
    Column("error_category", String(20), nullable=True),
    Column("message_id", String(64), nullable=True),  # the queue message that created it
    Column("queued", DateTime(timezone=True), nullable=False),
    Column("started", DateTime(timezone=True), nullable=True),
    Column("ended", DateTime(timezone=True), nullable=True),
    Column("last_modified", DateTime(timezone=True), nullable=False),
    Index("ix_job_status_priority_queued", "status", "priority", "queued"),
)

# One row per try of a job. (job_id, exe_num) is unique: a try never runs twice.
job_exe_table = Table(
    "job_exe",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("job.id"), nullable=False),
    Column("job_type_id", Integer, ForeignKey("job_type.id"), nullable=False),
    Column("exe_num", Integer, nullable=False),
    Column("node_id", Integer, ForeignKey("node.id"), nullable=False),
    Column("task_id", String(250), nullable=False, unique=True),
    Column("status", String(20), nullable=False),
    Column("error_category", String(20), nullable=True),
    Column("exit_code", Integer, nullable=True),
    Column("started", DateTime(timezone=True), nullable=False),
    Column("ended", DateTime(timezone=True), nullable=True),
    UniqueConstraint("job_id", "exe_num", name="uq_job_exe_try"),
    Index("ix_job_exe_ended", "ended"),
    Index("ix_job_exe_node_status", "node_id", "status"),
)

# Command messages already stored: a message redelivered after a crash is acknowledged, not re-applied.
queue_message_table = Table(
    "queue_message",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("type", String(50), nullable=False),
    Column("num_jobs", Integer, nullable=False),
    Column("received", DateTime(timezone=True), nullable=False),
)
