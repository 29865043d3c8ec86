"""The schema as `yrkesresan migrate` created it before revisions: the event store, relay
positions, the facts log and copies the billing consumer keeps, applied envelopes.

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
    "CREATE TABLE IF NOT EXISTS applied_events (consumer TEXT NOT NULL, event_id TEXT NOT NULL, "
    "envelope TEXT NOT NULL, PRIMARY KEY (consumer, event_id))",
    "CREATE TABLE IF NOT EXISTS billing_copy_regions (region_id TEXT PRIMARY KEY, name TEXT NOT "
    "NULL)",
    "CREATE TABLE IF NOT EXISTS billing_copy_municipalities (municipality_id TEXT PRIMARY KEY, "
    "region_id TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS billing_copy_municipalities_region ON "
    "billing_copy_municipalities (region_id)",
    "CREATE TABLE IF NOT EXISTS billing_copy_municipality_names (municipality_id TEXT PRIMARY "
    "KEY, name TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS billing_copy_trainers (trainer_id TEXT PRIMARY KEY, "
    "municipality_id TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS billing_copy_assignments (occasion_id TEXT NOT NULL, trainer_id "
    "TEXT NOT NULL, role TEXT, stamp TEXT NOT NULL, PRIMARY KEY (occasion_id, trainer_id))",
    "CREATE INDEX IF NOT EXISTS billing_copy_assignments_trainer ON billing_copy_assignments "
    "(trainer_id)",
)


def upgrade() -> None:
    create_event_store(op, "billing")
    for statement in STATEMENTS:
        op.execute(statement)
    serial = ("INTEGER PRIMARY KEY" if op.get_bind().dialect.name == "sqlite"
              else "BIGSERIAL PRIMARY KEY")
    op.execute(f"CREATE TABLE IF NOT EXISTS billing_facts (seq {serial}, "
               "envelope TEXT NOT NULL)")


def downgrade() -> None:
    raise NotImplementedError("schemas move forward: restore a backup to go back")
