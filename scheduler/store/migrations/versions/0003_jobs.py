"""Job types, jobs, job executions, and the command messages already stored.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_type",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("title", sa.String(250), nullable=False, server_default=""),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("is_system", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("icon_code", sa.String(20), nullable=False, server_default=""),
        sa.Column("cpus", sa.Float, nullable=False),
        sa.Column("mem", sa.Float, nullable=False),
        sa.Column("disk", sa.Float, nullable=False),
        sa.Column("gpus", sa.Float, nullable=False),
        sa.Column("command", sa.Text, nullable=False),
        sa.Column("image", sa.String(500), nullable=True),
        sa.Column("max_tries", sa.Integer, nullable=False),
        sa.Column("error_mapping", sa.Text, nullable=False, server_default="{}"),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_job_type_name_version"),
    )
    op.create_table(
        "job",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_type_id", sa.Integer, sa.ForeignKey("job_type.id"), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False, server_default="100"),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("inputs", sa.Text, nullable=True),
        sa.Column("num_exes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error_category", sa.String(20), nullable=True),
        sa.Column("message_id", sa.String(64), nullable=True),
        sa.Column("queued", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_job_status_priority_queued", "job", ["status", "priority", "queued"])
    op.create_table(
        "job_exe",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("job.id"), nullable=False),
        sa.Column("job_type_id", sa.Integer, sa.ForeignKey("job_type.id"), nullable=False),
        sa.Column("exe_num", sa.Integer, nullable=False),
        sa.Column("node_id", sa.Integer, sa.ForeignKey("node.id"), nullable=False),
        sa.Column("task_id", sa.String(250), nullable=False, unique=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error_category", sa.String(20), nullable=True),
        sa.Column("exit_code", sa.Integer, nullable=True),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("job_id", "exe_num", name="uq_job_exe_try"),
    )
    op.create_index("ix_job_exe_ended", "job_exe", ["ended"])
    op.create_index("ix_job_exe_node_status", "job_exe", ["node_id", "status"])
    op.create_table(
        "queue_message",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(50), nullable=False),
        sa.Column("num_jobs", sa.Integer, nullable=False),
        sa.Column("received", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("queue_message")
    op.drop_index("ix_job_exe_node_status", "job_exe")
    op.drop_index("ix_job_exe_ended", "job_exe")
    op.drop_table("job_exe")
    op.drop_index("ix_job_status_priority_queued", "job")
    op.drop_table("job")
    op.drop_table("job_type")
