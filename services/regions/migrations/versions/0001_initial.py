"""The schema as `yrkesresan migrate` created it before revisions: the regions' logs, held
envelopes, publishing positions and applied envelopes.

Its statements say IF NOT EXISTS so that a database made by that older `migrate` is
adopted as it stands.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATEMENTS = (
    "CREATE TABLE IF NOT EXISTS applied_events (consumer TEXT NOT NULL, event_id TEXT NOT NULL, "
    "envelope TEXT NOT NULL, PRIMARY KEY (consumer, event_id))",
    "CREATE TABLE IF NOT EXISTS region_events (region_id TEXT NOT NULL, position BIGINT NOT "
    "NULL, event_id TEXT NOT NULL, event_key TEXT NOT NULL, envelope TEXT NOT NULL, PRIMARY KEY "
    "(region_id, position), UNIQUE (region_id, event_id))",
    "CREATE TABLE IF NOT EXISTS region_held (event_id TEXT PRIMARY KEY, envelope TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS region_published (region_id TEXT PRIMARY KEY, position BIGINT "
    "NOT NULL)",
    "CREATE TABLE IF NOT EXISTS region_participant_events (participant_id TEXT NOT NULL, "
    "event_id TEXT NOT NULL, occurred_at TEXT NOT NULL, PRIMARY KEY (participant_id, event_id))",
    "CREATE INDEX IF NOT EXISTS region_events_by_id ON region_events (event_id)",
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("schemas move forward: restore a backup to go back")
