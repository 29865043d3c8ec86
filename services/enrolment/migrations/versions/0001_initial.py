"""The schema as `yrkesresan migrate` created it before revisions: the event store, the personal-
data keys, the directory read model, relay positions, the catalogue copy and its applied
envelopes.

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
    "CREATE TABLE IF NOT EXISTS personal_data_keys (owner_id TEXT PRIMARY KEY, kek_id TEXT NOT "
    "NULL, wrapped_key TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS personal_data_reads (read_id TEXT PRIMARY KEY, subject_id TEXT "
    "NOT NULL, read_at TEXT NOT NULL, actor TEXT NOT NULL, endpoint TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS personal_data_reads_subject ON personal_data_reads (subject_id, "
    "read_at)",
    "CREATE TABLE IF NOT EXISTS enrolment_positions (name TEXT PRIMARY KEY, position BIGINT NOT "
    "NULL)",
    "CREATE TABLE IF NOT EXISTS enrolment_regions (region_id TEXT PRIMARY KEY, name TEXT NOT "
    "NULL)",
    "CREATE TABLE IF NOT EXISTS enrolment_municipalities (municipality_id TEXT PRIMARY KEY, "
    "name TEXT NOT NULL, region_id TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS enrolment_participants (participant_id TEXT PRIMARY KEY, "
    "municipality_id TEXT NOT NULL, journey TEXT NOT NULL, role TEXT NOT NULL, level TEXT NOT "
    "NULL, years_in_profession DOUBLE PRECISION NOT NULL, registered_at TEXT NOT NULL, erased "
    "INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS enrolment_participants_municipality ON enrolment_participants "
    "(municipality_id, participant_id)",
    "CREATE TABLE IF NOT EXISTS enrolment_claims (claim_id TEXT PRIMARY KEY, participant_id "
    "TEXT)",
    "CREATE TABLE IF NOT EXISTS enrolment_trainers (trainer_id TEXT PRIMARY KEY, "
    "municipality_id TEXT NOT NULL, registered_at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS enrolment_trainers_municipality ON enrolment_trainers "
    "(municipality_id, trainer_id)",
    "CREATE TABLE IF NOT EXISTS relay_positions (relay TEXT PRIMARY KEY, position BIGINT NOT "
    "NULL)",
    "CREATE TABLE IF NOT EXISTS applied_events (consumer TEXT NOT NULL, event_id TEXT NOT NULL, "
    "envelope TEXT NOT NULL, PRIMARY KEY (consumer, event_id))",
    "CREATE TABLE IF NOT EXISTS enrolment_copy_courses (course_id TEXT PRIMARY KEY, body TEXT "
    "NOT NULL, stamp TEXT NOT NULL)",
)


def upgrade() -> None:
    create_event_store(op, "enrolment")
    for statement in STATEMENTS:
        op.execute(statement)
    op.execute("INSERT INTO enrolment_positions (name, position) "
               "VALUES ('enrolment-directory', 0) ON CONFLICT (name) DO NOTHING")


def downgrade() -> None:
    raise NotImplementedError("schemas move forward: restore a backup to go back")
