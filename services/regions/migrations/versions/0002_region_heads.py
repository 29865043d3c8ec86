"""The last position of each region's log, kept in the same transaction as the log: the
publisher polls it (a small table) instead of grouping the whole log on every poll.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATEMENTS = (
    "CREATE TABLE region_heads (region_id TEXT PRIMARY KEY, position BIGINT NOT NULL)",
    "INSERT INTO region_heads (region_id, position) "
    "SELECT region_id, MAX(position) FROM region_events GROUP BY region_id",
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("schemas move forward: restore a backup to go back")
