"""Consumers keep a snapshot of their fold and a bounded applied log (ADR 0020): a sequence
number per applied envelope, the envelope only until a snapshot covers it, and the snapshots.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from alembic import op

from shared.platform.schema import bound_applied_log

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bound_applied_log(op)


def downgrade() -> None:
    raise NotImplementedError("schemas move forward: restore a backup to go back")
