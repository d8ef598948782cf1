"""The scheduler row: framework id, paused flag, last status document.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduler",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("framework_id", sa.String(255), nullable=True),
        sa.Column("is_paused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("num_message_handlers", sa.Integer, nullable=False, server_default="1"),
        sa.Column("status", sa.Text, nullable=True),
        sa.Column("status_time", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("scheduler")
