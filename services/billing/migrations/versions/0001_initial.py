"""The schema as `yrkesresan migrate` created it before revisions: the event store and relay
positions.

Its statements say IF NOT EXISTS so that a database made by that older `migrate` is
adopted as it stands.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""
from alembic import op

from shared.platform.schema import create_event_store

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATEMENTS = (
    "CREATE TABLE IF NOT EXISTS relay_positions (relay TEXT PRIMARY KEY, position BIGINT NOT "
    "NULL)",
)


def upgrade() -> None:
    create_event_store(op, "billing")
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("schemas move forward: restore a backup to go back")
