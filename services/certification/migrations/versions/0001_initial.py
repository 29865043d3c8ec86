"""The schema as `yrkesresan migrate` created it before revisions: the event store, relay
positions, the progression read model and its copy of places, certificates and certification's
views, applied envelopes.

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
    "CREATE TABLE IF NOT EXISTS view_progression (key TEXT PRIMARY KEY, scope TEXT, body TEXT "
    "NOT NULL)",
    "CREATE INDEX IF NOT EXISTS view_progression_scope ON view_progression (scope)",
    "CREATE TABLE IF NOT EXISTS certification_copy_municipalities (municipality_id TEXT PRIMARY "
    "KEY, region_id TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS certification_copy_municipalities_region ON "
    "certification_copy_municipalities (region_id)",
    "CREATE TABLE IF NOT EXISTS certificates (certificate_id TEXT PRIMARY KEY, participant_id "
    "TEXT NOT NULL, course_id TEXT NOT NULL, occasion_id TEXT NOT NULL, region_id TEXT NOT "
    "NULL, status TEXT NOT NULL, verification_code TEXT NOT NULL UNIQUE, completed_on TEXT NOT "
    "NULL, issued_at TEXT NOT NULL, revoked_at TEXT, reason TEXT, evidence TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS certificates_participant ON certificates (participant_id)",
    "CREATE TABLE IF NOT EXISTS cert_views (kind TEXT NOT NULL, key TEXT NOT NULL, scope TEXT, "
    "body TEXT NOT NULL, PRIMARY KEY (kind, key))",
    "CREATE INDEX IF NOT EXISTS cert_views_scope ON cert_views (kind, scope)",
    "CREATE TABLE IF NOT EXISTS cert_history (subject TEXT NOT NULL, event_id TEXT NOT NULL, "
    "recorded TEXT NOT NULL, envelope TEXT NOT NULL, PRIMARY KEY (subject, event_id))",
)


def upgrade() -> None:
    create_event_store(op, "certification")
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("schemas move forward: restore a backup to go back")
