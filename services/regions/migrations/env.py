"""Alembic's environment for this service: the shared one (`shared.platform.schema`)."""

from shared.platform.schema import run_env

run_env()
