"""Create the scheduler row once, here, instead of racing to create it on first use.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        sa.text(
            "INSERT INTO scheduler (id, is_paused, num_message_handlers) "
            "SELECT 1, :paused, 1 WHERE NOT EXISTS (SELECT 1 FROM scheduler WHERE id = 1)"
        ).bindparams(paused=False)
    )


def downgrade() -> None:
    pass
