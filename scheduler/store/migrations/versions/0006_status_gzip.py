"""The status document stored gzipped, in a column of its own.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scheduler") as batch:
        batch.add_column(sa.Column("status_gzip", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scheduler") as batch:
        batch.drop_column("status_gzip")
