"""Schemas are versioned migrations run by `yrkesresan migrate` (ADR 0018): a command against a
database that is not migrated, or is at another version, says so in one line and exits
non-zero; migrating twice changes nothing; a database made before revisions is adopted with
its events and its hash chain, on SQLite and on PostgreSQL.

A command whose one-line refusal is checked runs in a process of its own; the rest in the
test's process (`cli`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.enrolment.application import EnrolmentApplication
from shared.platform import schema
from shared.platform.chain import verify
from shared.platform.db import Database
from shared.platform.store import aggregate_id
from tests.integration.audit_helpers import sql
from tests.integration.commands import Command, environment, in_a_process
from tests.integration.test_audit_chain import Note, Noted

pytestmark = pytest.mark.integration

SERVICES = ("enrolment", "scheduling", "certification", "billing", "notification", "dashboard",
            "regions")


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return environment(database_url, tmp_path / "var")


def url_of(env: dict[str, str], service: str) -> str:
    own = f"sqlite:///{env['YRKESRESAN_VAR_DIR']}/{service}.sqlite"
    return env.get("YRKESRESAN_DATABASE_URL") or own


def test_a_command_on_a_database_not_migrated_says_so_in_one_line(
        env: dict[str, str], tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("name,email,role,years_in_profession\nA B,a@b.se,socialsekreterare,1\n")
    result = in_a_process(env, "enrolment", "import-csv", str(accounts), "--municipality", "falun")
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "inte migrerad" in lines[0] and "`yrkesresan migrate`" in lines[0]
    assert "Traceback" not in in_a_process(env, "export", "--log", str(tmp_path / "x.jsonl")).stderr


def test_migrate_brings_every_service_to_its_head_and_twice_changes_nothing(
        env: dict[str, str], tmp_path: Path, cli: Command) -> None:
    for _ in range(2):
        result = cli(env, "migrate")
        assert result.returncode == 0, result.stderr
    for service in SERVICES:
        assert schema.current(service, url_of(env, service)) == schema.head(service)
    result = cli(env, "export", "--log", str(tmp_path / "empty.jsonl"))
    assert result.returncode == 0, result.stderr


def test_a_database_at_another_version_is_refused(env: dict[str, str], tmp_path: Path,
                                                  cli: Command) -> None:
    assert cli(env, "migrate").returncode == 0
    db = Database(url_of(env, "scheduling"))
    db.execute("UPDATE scheduling_schema_version SET version_num = '9999'")
    db.close()
    result = in_a_process(env, "export", "--log", str(tmp_path / "x.jsonl"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "9999" in lines[0] and "`yrkesresan migrate`" in lines[0]


def test_a_database_made_before_revisions_is_adopted_with_its_events_chained(
        database_url: str) -> None:
    """A store as the library created it before the chain (no version table, no chain
    columns): the first revision keeps its events and chains them, in one transaction."""
    app = EnrolmentApplication(database_url, create_table=True)
    for i in range(3):
        note = Note(aggregate_id("note", str(i)))
        note.trigger(Noted, text=f"text {i}")
        app.save(note)
    before = [n.state for n in app.recorder.select_notifications(start=None, limit=10)]
    table = app.recorder.events_table_name  # type: ignore[attr-defined]
    app.close()
    sql(database_url, f"ALTER TABLE {table} DROP COLUMN chain_hash")
    sql(database_url, f"ALTER TABLE {table} DROP COLUMN chain_seq")

    with pytest.raises(schema.SchemaNotReady, match="yrkesresan migrate"):
        schema.require("enrolment", database_url)
    schema.upgrade("enrolment", database_url)
    schema.require("enrolment", database_url)
    app = EnrolmentApplication(database_url)
    assert [n.state for n in app.recorder.select_notifications(start=None, limit=10)] == before
    verdict = verify("enrolment", app.chain)
    assert verdict.intact and verdict.events == 3
    app.close()
