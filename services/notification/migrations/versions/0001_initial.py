"""The schema as `yrkesresan migrate` created it before revisions: the notices outbox, calendars,
summary recipients and applied envelopes.

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
    "CREATE TABLE IF NOT EXISTS notices (key TEXT PRIMARY KEY, kind TEXT NOT NULL, notice TEXT "
    "NOT NULL, status TEXT NOT NULL, not_before DOUBLE PRECISION NOT NULL, attempts INTEGER NOT "
    "NULL DEFAULT 0, outcome TEXT, updated_at DOUBLE PRECISION)",
    "CREATE INDEX IF NOT EXISTS notices_due ON notices (status, not_before)",
    "CREATE TABLE IF NOT EXISTS calendars (occasion_id TEXT NOT NULL, participant_id TEXT NOT "
    "NULL, sequence INTEGER NOT NULL, days TEXT NOT NULL, cancelled INTEGER NOT NULL, PRIMARY "
    "KEY (occasion_id, participant_id))",
    "CREATE TABLE IF NOT EXISTS summary_recipients (municipality_id TEXT PRIMARY KEY, email "
    "TEXT NOT NULL)",
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("schemas move forward: restore a backup to go back")
