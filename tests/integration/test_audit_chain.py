"""The hash chain of every store (ADR 0008), on PostgreSQL and SQLite: saves extend it, `verify`
names the first event someone changed, removed or inserted by hand, and `migrate` chains a
store that predates the chain without ever re-chaining an edited one."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError
from typer.testing import CliRunner

from services.enrolment import application as enrolment
from services.enrolment.application import RegisterRegion
from shared.platform.chain import GENESIS, chained_rows, link, verify
from shared.platform.store import Aggregate, DomainEvent, ServiceApplication, aggregate_id
from tests.integration.audit_helpers import (
    configure_services,
    notification_column,
    sql,
    url_of,
)
from yrkesresan.cli import app as cli

pytestmark = pytest.mark.integration


class Noted(DomainEvent):
    text: str


class Note(Aggregate):
    pass


class Notes(ServiceApplication):
    service = "enrolment"
    name = "notes"


TABLE = "notes_events"  # on PostgreSQL; on SQLite each store is a file of its own


@pytest.fixture
def app(database_url: str) -> Iterator[Notes]:
    global TABLE
    Notes(database_url, create_table=True).close()
    a = Notes(database_url)
    TABLE = a.recorder.events_table_name  # type: ignore[attr-defined]
    yield a
    a.close()


def save_notes(app: Notes, key: str, *texts: str) -> uuid.UUID:
    note = Note(aggregate_id("note", key))
    for text in texts:
        note.trigger(Noted, text=text)
    app.save(note)
    return note.id


def fill(app: Notes) -> list[uuid.UUID]:
    """Five saves, nine events."""
    return [save_notes(app, f"n{i}", *(f"text {i}.{j}" for j in range(1 + i % 3)))
            for i in range(5)]


def nth(app: Notes, n: int) -> Any:
    return list(chained_rows(app.chain))[n - 1]


def test_saves_extend_the_chain_in_notification_order(app: Notes) -> None:
    fill(app)
    verdict = verify("enrolment", app.chain)
    assert verdict.intact and verdict.events == 9
    rows = list(chained_rows(app.chain))
    assert [r.chain_seq for r in rows] == list(range(1, 10))
    prev = GENESIS  # the hashes are the Python formula's (on PostgreSQL, computed in SQL)
    for r in rows:
        assert r.topic is not None and r.state is not None
        prev = link(prev, r.chain_seq or 0, r.originator_id, r.originator_version, r.topic,
                    r.state)
        assert r.chain_hash == prev
    assert verdict.head is not None and verdict.head.hash == prev
    assert app.chain.chain_head(rows[4].notification_id).seq == 5  # type: ignore[union-attr]


def test_an_edited_row_is_named(app: Notes, database_url: str) -> None:
    fill(app)
    target = nth(app, 4)
    where = notification_column(database_url)
    state = target.state.replace(b"text", b"TEXT")
    sql(database_url, f"UPDATE {TABLE} SET state = %s WHERE {where} = %s",
        (state, target.notification_id))
    broken = verify("enrolment", app.chain).broken
    assert broken is not None
    assert (broken.kind, broken.notification_id) == ("changed", target.notification_id)
    assert (broken.originator_id, broken.originator_version) == (
        str(target.originator_id), target.originator_version)
    assert "enrolment" in broken.describe() and str(target.notification_id) in broken.describe()
    assert broken.event_type == "Noted" and "a Noted event" in broken.describe()  # its type


def test_an_edited_version_is_named(app: Notes, database_url: str) -> None:
    fill(app)
    target = nth(app, 9)  # the last event: nothing after it to compare with
    where = notification_column(database_url)
    sql(database_url, f"UPDATE {TABLE} SET originator_version = 99 WHERE {where} = %s",
        (target.notification_id,))
    broken = verify("enrolment", app.chain).broken
    assert broken is not None
    assert (broken.kind, broken.notification_id, broken.originator_version) == (
        "changed", target.notification_id, 99)


def test_a_removed_row_is_named_by_the_event_after_it(app: Notes, database_url: str) -> None:
    fill(app)
    gone, after = nth(app, 3), nth(app, 4)
    where = notification_column(database_url)
    sql(database_url, f"DELETE FROM {TABLE} WHERE {where} = %s", (gone.notification_id,))
    broken = verify("enrolment", app.chain).broken
    assert broken is not None
    assert (broken.kind, broken.notification_id, broken.originator_id) == (
        "removed", after.notification_id, str(after.originator_id))
    assert "positions 3-3" in broken.detail


def test_an_inserted_row_is_named(app: Notes, database_url: str) -> None:
    ids = fill(app)
    before = nth(app, 5)
    where = notification_column(database_url)
    # A plausible event slipped in between two others, with a hash copied from its neighbour.
    # The originator id is stored as hex text on SQLite and as uuid on PostgreSQL.
    originator: Any = ids[0].hex if database_url.startswith("sqlite") else ids[0]
    sql(database_url,
        f"INSERT INTO {TABLE} ({where}, originator_id, originator_version, topic, state, "
        "chain_seq, chain_hash) SELECT %s, %s, 50, topic, state, chain_seq, chain_hash "
        f"FROM {TABLE} WHERE {where} = %s",
        (before.notification_id + 1000, originator, before.notification_id))
    sql(database_url, f"UPDATE {TABLE} SET {where} = {where} + 2000 WHERE {where} > %s "
        f"AND {where} < %s", (before.notification_id, before.notification_id + 1000))
    sql(database_url, f"UPDATE {TABLE} SET {where} = %s WHERE {where} = %s",
        (before.notification_id + 1, before.notification_id + 1000))
    broken = verify("enrolment", app.chain).broken
    assert broken is not None
    assert (broken.kind, broken.notification_id, broken.originator_version) == (
        "inserted", before.notification_id + 1, 50)


def test_an_appended_row_without_a_hash_is_named(app: Notes, database_url: str) -> None:
    ids = fill(app)
    originator: Any = ids[1].hex if database_url.startswith("sqlite") else ids[1]
    sql(database_url, f"INSERT INTO {TABLE} (originator_id, originator_version, topic, state) "
        f"SELECT %s, 40, topic, state FROM {TABLE} LIMIT 1", (originator,))
    broken = verify("enrolment", app.chain).broken
    assert broken is not None and (broken.kind, broken.originator_version) == ("inserted", 40)


def test_a_refused_save_leaves_the_chain_whole(app: Notes) -> None:
    fill(app)
    again = Note(aggregate_id("note", "n0"))  # version 1 again: refused
    again.trigger(Noted, text="conflict")
    with pytest.raises(IntegrityError):
        app.save(again)
    save_notes(app, "later", "after the refusal")
    verdict = verify("enrolment", app.chain)
    assert verdict.intact and verdict.events == 10


def test_concurrent_writers_keep_one_chain(app: Notes, database_url: str) -> None:
    """The chain is extended under the write lock: threads (and, on PostgreSQL, connections)
    saving at once still leave one unbroken chain."""

    def writer(w: int) -> None:
        own = Notes(database_url)
        for i in range(15):
            save_notes(own, f"w{w}-{i}", "a", "b")
        own.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    verdict = verify("enrolment", app.chain)
    assert verdict.intact and verdict.events == 4 * 15 * 2


def _unchain(url: str) -> None:
    """The store as it was before the chain existed."""
    sql(url, f"ALTER TABLE {TABLE} DROP COLUMN chain_hash")
    sql(url, f"ALTER TABLE {TABLE} DROP COLUMN chain_seq")


def test_migrate_chains_a_store_that_predates_the_chain(app: Notes, database_url: str) -> None:
    fill(app)
    before = [(r.notification_id, r.state) for r in chained_rows(app.chain)]
    _unchain(database_url)
    Notes(database_url, create_table=True).close()  # what `yrkesresan migrate` does
    verdict = verify("enrolment", app.chain)
    assert verdict.intact and verdict.events == 9
    assert [(r.notification_id, r.state) for r in chained_rows(app.chain)] == before
    save_notes(app, "after", "the upgrade")
    assert verify("enrolment", app.chain).events == 10


def test_migrate_never_rechains_an_edited_store(app: Notes, database_url: str) -> None:
    fill(app)
    target = nth(app, 2)
    where = notification_column(database_url)
    sql(database_url, f"UPDATE {TABLE} SET state = %s WHERE {where} = %s",
        (b'{"text":"forged"}', target.notification_id))
    Notes(database_url, create_table=True).close()
    broken = verify("enrolment", app.chain).broken
    assert broken is not None and broken.notification_id == target.notification_id


def test_a_failed_upgrade_leaves_the_store_unchained(pg_url: str) -> None:
    """Columns and chain come in one transaction: a store is chained entirely or not at all."""
    Notes(pg_url, create_table=True).close()
    app = Notes(pg_url)
    assert TABLE == app.recorder.events_table_name  # type: ignore[attr-defined]
    fill(app)
    _unchain(pg_url)
    sql(pg_url, f"UPDATE {TABLE} SET topic = NULL WHERE notification_id = "
        f"(SELECT max(notification_id) FROM {TABLE})")
    sql(pg_url, f"ALTER TABLE {TABLE} ADD CONSTRAINT no_null_hash CHECK (topic IS NOT NULL) "
        "NOT VALID")  # the backfill's UPDATE of that row now fails, late in the upgrade
    with pytest.raises(Exception, match="no_null_hash"):
        Notes(pg_url, create_table=True).close()
    columns = sql(pg_url, "SELECT column_name FROM information_schema.columns "
                  "WHERE table_name = %s AND column_name LIKE 'chain%%'", (TABLE,))
    assert columns == []
    app.close()


def test_the_command_passes_on_intact_stores_and_names_an_edited_event(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    configure_services(database_url, monkeypatch, tmp_path)
    database_url = url_of("enrolment")
    e = enrolment.bootstrap(database_url)
    e.register_region(RegisterRegion(region_id="r1", name="RSS Test"))
    e.register_region(RegisterRegion(region_id="r2", name="RSS Annan"))
    runner = CliRunner()
    result = runner.invoke(cli, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "enrolment: intact, 2 events" in result.output
    assert "billing: intact (no events)" in result.output

    table = e.app.recorder.events_table_name  # type: ignore[attr-defined]
    where = notification_column(database_url)
    first = min(r[0] for r in sql(database_url, f"SELECT {where} FROM {table}"))
    sql(database_url, f"UPDATE {table} SET topic = topic || 'x' WHERE {where} = %s", (first,))
    result = runner.invoke(cli, ["audit", "verify", "enrolment"])
    assert result.exit_code == 1
    assert f"enrolment: chain broken at notification {first}" in result.output
    assert "changed" in result.output
    result = runner.invoke(cli, ["audit", "verify", "billing"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["audit", "verify", "nosuch"])
    assert result.exit_code == 2
    e.close()
