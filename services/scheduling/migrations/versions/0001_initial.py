"""The schema as `yrkesresan migrate` created it before revisions: the event store, relay
positions, the registry copy and its applied envelopes.

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
    "CREATE TABLE IF NOT EXISTS scheduling_copy_regions (region_id TEXT PRIMARY KEY, name TEXT "
    "NOT NULL)",
    "CREATE TABLE IF NOT EXISTS scheduling_copy_municipalities (municipality_id TEXT PRIMARY "
    "KEY, region_id TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS scheduling_copy_municipalities_region ON "
    "scheduling_copy_municipalities (region_id)",
    "CREATE TABLE IF NOT EXISTS scheduling_copy_participants (participant_id TEXT PRIMARY KEY, "
    "municipality_id TEXT, stamp TEXT NOT NULL, registered INTEGER NOT NULL, erased INTEGER NOT "
    "NULL)",
    "CREATE INDEX IF NOT EXISTS scheduling_copy_participants_municipality ON "
    "scheduling_copy_participants (municipality_id)",
    "CREATE TABLE IF NOT EXISTS scheduling_copy_trainers (trainer_id TEXT PRIMARY KEY, "
    "municipality_id TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS scheduling_copy_levels (participant_id TEXT PRIMARY KEY, "
    "journey TEXT, level TEXT NOT NULL, stamp TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS scheduling_copy_completions (participant_id TEXT NOT NULL, "
    "course_id TEXT NOT NULL, occasion_id TEXT NOT NULL, PRIMARY KEY (participant_id, "
    "course_id, occasion_id))",
    "CREATE TABLE IF NOT EXISTS scheduling_copy_certificates (certificate_id TEXT PRIMARY KEY, "
    "participant_id TEXT, course_id TEXT, occasion_id TEXT, revoked INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS scheduling_copy_certificates_completion ON "
    "scheduling_copy_certificates (participant_id, course_id, occasion_id)",
    "CREATE TABLE IF NOT EXISTS scheduling_copy_closed_years (region_id TEXT NOT NULL, year "
    "INTEGER NOT NULL, PRIMARY KEY (region_id, year))",
)


def upgrade() -> None:
    create_event_store(op, "scheduling")
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("schemas move forward: restore a backup to go back")
