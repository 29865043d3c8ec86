"""The pydantic event store on every backend it supports (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from typing import Any, ClassVar

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError

from shared.events import models as contract
from shared.events import parse_envelope
from shared.platform.db import Database
from shared.platform.relay import envelope_of
from shared.platform.store import Aggregate, DomainEvent, ServiceApplication, aggregate_id


class Noted(DomainEvent):
    """A private event (no contract base): stored, never published."""

    text: str


class Renamed(DomainEvent):
    """Version 2 renamed `title` to `label`; stored v1 events are upcast on read."""

    class_version: ClassVar[int] = 2
    label: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["label"] = state.pop("title")


class Moved(DomainEvent, contract.ParticipantMoved):
    pass


class Thing(Aggregate):
    def when_Noted(self, e: Noted) -> None:  # noqa: N802
        self.text = e.text

    def when_Renamed(self, e: Renamed) -> None:  # noqa: N802
        self.label = e.label

    def when_Moved(self, e: Moved) -> None:  # noqa: N802
        self.municipality_id = e.to_municipality_id


class Things(ServiceApplication):
    service = "enrolment"
    name = "things"


@pytest.fixture
def app(database_url: str) -> Any:
    Things(database_url, create_table=True).close()
    a = Things(database_url)
    yield a
    a.close()


def test_events_round_trip_with_types_and_times(app: Things) -> None:
    thing = Thing(aggregate_id("thing", "t1"))
    thing.trigger(Noted, text="hej")
    thing.trigger(Moved, participant_id="p1", to_municipality_id="m2")
    app.save(thing)
    again = app.load(Thing, thing.id)
    assert (again.text, again.municipality_id, again.version) == ("hej", "m2", 2)
    stored = list(app.events.get(thing.id))
    assert [type(e) for e in stored] == [Noted, Moved]
    assert stored[1].occurred_at.tzinfo is not None


def test_state_bytes_that_text_formats_escape_are_stored_as_they_were(app: Things) -> None:
    """The events array travels in binary on PostgreSQL: quotes, backslashes, commas,
    brackets, braces and non-Latin letters in a state come back byte for byte."""
    awkward = 'a"b\\c,d(e)f{g}h\'i ÅÄÖ Łódź 日本 \t\n end'
    thing = Thing(aggregate_id("thing", "awkward"))
    for n in range(40):
        thing.trigger(Noted, text=f"{awkward} {n}")
    app.save(thing)
    stored = list(app.recorder.select_events(thing.id))
    assert len(stored) == 40
    assert [app.mapper.to_domain_event(e).text for e in stored] == [  # type: ignore[attr-defined]
        f"{awkward} {n}" for n in range(40)]
    assert app.load(Thing, thing.id).text == f"{awkward} 39"


def test_optimistic_concurrency_refuses_the_second_writer(app: Things) -> None:
    first = Thing(aggregate_id("thing", "t2"))
    first.trigger(Noted, text="a")
    app.save(first)
    one, two = app.load(Thing, first.id), app.load(Thing, first.id)
    one.trigger(Noted, text="b")
    two.trigger(Noted, text="c")
    app.save(one)
    with pytest.raises(IntegrityError):
        app.save(two)
    assert app.load(Thing, first.id).text == "b"
    assert app.recorder.max_notification_id() is not None


def test_statements_commit_with_the_events_or_not_at_all(app: Things,
                                                         database_url: str) -> None:
    db = Database(database_url)
    db.execute("CREATE TABLE side (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
    upsert = "INSERT INTO side (k, v) VALUES (%s, %s) ON CONFLICT (k) DO UPDATE SET v = excluded.v"
    thing = Thing(aggregate_id("thing", "t4"))
    thing.trigger(Noted, text="a")
    app.save(thing, statements=[(upsert, ("t4", "first"))])
    assert db.execute("SELECT v FROM side") == [("first",)]

    again = Thing(aggregate_id("thing", "t4"))  # version 1 again: the events conflict
    again.trigger(Noted, text="b")
    with pytest.raises(IntegrityError):
        app.save(again, statements=[(upsert, ("t4", "second")), (upsert, ("other", "x"))])
    assert db.execute("SELECT k, v FROM side") == [("t4", "first")]  # rolled back, both
    assert app.load(Thing, thing.id).text == "a"
    db.close()


class Others(ServiceApplication):
    service = "billing"
    name = "others"


def test_applications_sharing_a_postgres_database_keep_to_their_own_tables(pg_url: str) -> None:
    """Each service's events table has its own insert function (the e2e set-up and deploy/ may
    put all services in one database). On SQLite every service has a file of its own."""
    for cls in (Things, Others):
        cls(pg_url, create_table=True).close()
    app, others = Things(pg_url), Others(pg_url)
    mine, theirs = Thing(aggregate_id("thing", "t5")), Thing(aggregate_id("thing", "t6"))
    mine.trigger(Noted, text="mine")
    theirs.trigger(Noted, text="theirs")
    app.save(mine)
    others.save(theirs)
    assert app.load(Thing, mine.id).text == "mine"
    assert others.load(Thing, theirs.id).text == "theirs"
    assert not app.exists(theirs.id) and not others.exists(mine.id)
    app.close()
    others.close()


def test_a_postgres_save_takes_the_table_lock_that_orders_the_log(pg_url: str) -> None:
    """Commit order must equal notification id order (the relay follows the log), so every
    save takes the events table in EXCLUSIVE mode, as the library's own insert does. ROW SHARE
    conflicts with EXCLUSIVE but not with a plain insert: holding it must hold the save up."""
    Things(pg_url, create_table=True).close()
    app = Things(pg_url)
    thing = Thing(aggregate_id("thing", "t7"))
    thing.trigger(Noted, text="waits")
    with psycopg.connect(pg_url) as holder:
        holder.execute("LOCK TABLE things_events IN ROW SHARE MODE")
        saving = threading.Thread(target=app.save, args=(thing,))
        saving.start()
        saving.join(1.0)
        assert saving.is_alive(), "the save did not wait for the table lock"
        holder.rollback()
    saving.join(10)
    assert not saving.is_alive()
    assert app.load(Thing, thing.id).text == "waits"
    app.close()


def test_old_versions_are_upcast_on_read(app: Things) -> None:
    thing = Thing(aggregate_id("thing", "t3"))
    event = thing.trigger(Renamed, label="ny")
    stored = app.mapper.to_stored_event(event)
    old_state = app.mapper.transcoder.decode(stored.state)
    old_state.pop("class_version")
    old_state["title"] = old_state.pop("label")
    as_v1 = dataclasses.replace(stored, state=app.mapper.transcoder.encode(old_state))
    app.recorder.insert_events([as_v1])  # as version 1 wrote it
    assert app.load(Thing, thing.id).label == "ny"


def test_only_contract_events_are_published_and_they_validate(app: Things) -> None:
    thing = Thing(aggregate_id("thing", "t4"))
    thing.trigger(Noted, text="privat anteckning")
    thing.trigger(Moved, participant_id="p9", to_municipality_id="m3")
    app.save(thing)
    notes = app.recorder.select_notifications(start=None, limit=10)
    messages = [envelope_of(app.mapper, "enrolment", n) for n in notes]
    assert messages[0] is None
    topic, key, value = messages[1]  # type: ignore[misc]
    assert (topic, key) == ("yrkesresan.enrolment.v1", b"p9")
    env = parse_envelope(value)
    assert env.type == "ParticipantMoved" and env.data.to_municipality_id == "m3"
    again = envelope_of(app.mapper, "enrolment", notes[1])
    assert again is not None and parse_envelope(again[2]).id == env.id  # stable id


def test_aggregate_ids_are_stable_and_distinct_per_kind() -> None:
    assert aggregate_id("participant", "x") == aggregate_id("participant", "x")
    assert aggregate_id("participant", "x") != aggregate_id("course", "x")
    assert isinstance(aggregate_id("a", "b"), uuid.UUID)


def test_many_threads_share_a_bounded_pool_of_connections(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads come and go (an API's workers, a consumer's health requests): on PostgreSQL
    they borrow from one pool of `YRKESRESAN_DB_POOL_SIZE` connections and give them back. A
    statement inside a transaction runs on the transaction's connection and sees its writes."""
    import threading

    monkeypatch.setenv("YRKESRESAN_DB_POOL_SIZE", "3")
    db = Database(pg_url)
    db.execute("CREATE TABLE side (k TEXT PRIMARY KEY)")

    def held() -> int:
        return int(db.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                              "current_database() AND application_name = ''")[0][0])

    counts: list[int] = []
    threads = [threading.Thread(target=lambda: counts.append(
        int(db.execute("SELECT 1 FROM pg_sleep(0.02)")[0][0]))) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counts == [1] * 30
    assert db.pool.get_stats()["pool_size"] <= 3 and held() <= 3
    with db.transaction() as cur:
        cur.execute("INSERT INTO side (k) VALUES (%s)", ("inside",))
        assert db.execute("SELECT k FROM side") == [("inside",)]  # the same connection
    assert db.execute_count("DELETE FROM side WHERE k = %s", ("inside",)) == 1
    db.close()


def test_aggregate_id_is_uuid5_of_the_kind_and_key() -> None:
    """Ids already stored were made by uuid.uuid5: the faster derivation gives the same ones."""
    keys = ["t1", "", "o1-p1|bou-ny-handlaggning|o1", "Åsa Öberg|ü", "x" * 300,
            *(f"p{i}|c{i % 7}|o{i}" for i in range(2000))]
    for key in keys:
        expected = uuid.uuid5(uuid.NAMESPACE_URL, f"yrkesresan:completion:{key}")
        got = aggregate_id("completion", key)
        assert (got, got.version, got.variant, str(got)) == (
            expected, 5, uuid.RFC_4122, str(expected))


def test_saves_made_at_once_are_written_together_each_with_its_own_outcome(pg_url: str) -> None:
    """Saves from several threads while one is being written wait, and go as one statement
    (one table lock, one commit: `GroupCommit`); a group that fails is written again save by
    save, so a version conflict fails only its own save, and the others' events and
    statements are stored, chained in order."""
    from shared.platform.chain import verify

    Things(pg_url, create_table=True).close()
    app = Things(pg_url)
    db = Database(pg_url)
    db.execute("CREATE TABLE side (k TEXT PRIMARY KEY)")
    taken = Thing(aggregate_id("thing", "taken"))
    taken.trigger(Noted, text="first")
    app.save(taken)
    stale = Thing(aggregate_id("thing", "taken"))  # version 1 again: conflicts
    stale.trigger(Noted, text="second")
    group = app.recorder._group  # type: ignore[attr-defined]
    written: list[int] = []
    write = group._write
    group._write = lambda saves: (written.append(len(saves)), write(saves))[1]

    fresh = [Thing(aggregate_id("thing", f"g{n}")) for n in range(5)]
    for n, thing in enumerate(fresh):
        thing.trigger(Noted, text=f"g{n}")
        thing.trigger(Noted, text=f"g{n} again")
    outcomes: dict[str, str] = {}

    def save(name: str, thing: Thing) -> None:
        try:
            app.save(thing, statements=[("INSERT INTO side (k) VALUES (%s)", (name,))])
            outcomes[name] = "saved"
        except IntegrityError:
            outcomes[name] = "conflict"

    with psycopg.connect(pg_url) as holder:
        holder.execute("LOCK TABLE things_events IN ROW SHARE MODE")
        threads = [threading.Thread(target=save, args=(f"g{n}", t)) for n, t in enumerate(fresh)]
        threads.append(threading.Thread(target=save, args=("stale", stale)))
        for t in threads:
            t.start()
        threading.Event().wait(0.5)  # all of them waiting: one on the lock, five for it
        holder.rollback()
    for t in threads:
        t.join(10)
    assert outcomes == {**{f"g{n}": "saved" for n in range(5)}, "stale": "conflict"}
    assert max(written) > 1, written  # some went together
    assert sorted(r[0] for r in db.execute("SELECT k FROM side")) == [f"g{n}" for n in range(5)]
    assert [app.load(Thing, t.id).text for t in fresh] == [f"g{n} again" for n in range(5)]
    assert app.load(Thing, taken.id).text == "first"
    assert db.execute("SELECT count(*) FROM things_events") == [(11,)]
    assert verify("enrolment", app.recorder).intact  # type: ignore[arg-type]
    db.close()
    app.close()


def test_an_imports_copy_rows_are_chained_by_the_chains_formula() -> None:
    """`ChainedCopy` (import-log's binary COPY) packs each row and its hash itself: the rows,
    read back field by field, are the events given, each hash `chain.link` of the one before,
    across blocks and topics, and a second call goes on from where the first ended."""
    import struct

    from shared.platform.chain import GENESIS, link
    from shared.platform.store import ChainedCopy

    topics = ["a:Thing.Made", "b:Thing.Mended"] * 20
    events = [(uuid.uuid4(), version, topic, b'{"n":%d,"s":"%s"}' % (version, "\u00e5".encode()
                                                                      * version))
              for version, topic in zip(range(1, 41), topics, strict=True)]
    rows = ChainedCopy(7, b"\x01" * 32)
    data = b"".join(rows.blocks(events[:25], size=200)) + b"".join(rows.blocks(events[25:]))
    prev, offset = b"\x01" * 32, 0
    for seq, (originator, version, topic, state) in enumerate(events, 8):
        fields = []
        assert struct.unpack_from(">h", data, offset)[0] == 6
        offset += 2
        for _ in range(6):
            (length,) = struct.unpack_from(">i", data, offset)
            fields.append(data[offset + 4:offset + 4 + length])
            offset += 4 + length
        prev = link(prev, seq, originator, version, topic, state)
        assert fields == [originator.bytes, struct.pack(">q", version), topic.encode(), state,
                          struct.pack(">q", seq), prev]
    assert offset == len(data) and prev != GENESIS
    assert (rows.seq, rows.prev) == (47, prev)
