"""The schema as `yrkesresan migrate` created it before revisions: the figures' cells, their
version and the worker's applied envelopes.

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
    "CREATE TABLE IF NOT EXISTS dashboard_cells (key TEXT PRIMARY KEY, dimension TEXT NOT NULL, "
    "parent TEXT, body TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS dashboard_cells_dim ON dashboard_cells (dimension)",
    "CREATE TABLE IF NOT EXISTS dashboard_state (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)
    op.execute("INSERT INTO dashboard_state (name, value) VALUES ('version', 0) "
               "ON CONFLICT (name) DO NOTHING")


def downgrade() -> None:
    raise NotImplementedError("schemas move forward: restore a backup to go back")
