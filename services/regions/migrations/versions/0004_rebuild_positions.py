"""A rebuild keeps how far it read each service's store for a projection, so that the next
rebuild reads only what came after (`yrkesresan rebuild` over projections up to date).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from alembic import op

from shared.platform.schema import rebuild_positions

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    rebuild_positions(op)


def downgrade() -> None:
    raise NotImplementedError("schemas move forward: restore a backup to go back")
