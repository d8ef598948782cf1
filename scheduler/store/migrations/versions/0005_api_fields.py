"""What Scale's v6 scheduler and node resources show and take besides: the system logging level
and a node's pause reason.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scheduler") as batch:
        batch.add_column(sa.Column("system_logging_level", sa.String(10), nullable=False, server_default="INFO"))
    with op.batch_alter_table("node") as batch:
        batch.add_column(sa.Column("pause_reason", sa.String(250), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("node") as batch:
        batch.drop_column("pause_reason")
    with op.batch_alter_table("scheduler") as batch:
        batch.drop_column("system_logging_level")
