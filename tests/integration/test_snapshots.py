"""A consumer restores its fold from a snapshot and the envelopes applied after it, and its
applied log stays bounded (ADR 0020): on SQLite and PostgreSQL, with the progression
projection of certification."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from services.certification import application as certification
from shared.events import Envelope
from shared.platform import schema
from shared.platform.consumer import ProjectionRunner, SnapshotOutdated
from shared.platform.db import Database
from yrkesresan.demo import demo_envelopes

pytestmark = pytest.mark.integration

EVERY, WINDOW = 50, 200


@pytest.fixture
def url(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("YRKESRESAN_SNAPSHOT_EVERY", str(EVERY))
    monkeypatch.setenv("YRKESRESAN_SNAPSHOT_SECONDS", "0")
    monkeypatch.setenv("YRKESRESAN_APPLIED_WINDOW", str(WINDOW))
    certification.migrate(database_url)
    yield database_url


def view(db: Database) -> list[tuple[str, str]]:
    return [(str(k), str(b)) for k, b in
            db.execute("SELECT key, body FROM view_progression ORDER BY key")]


def feed(runner: ProjectionRunner, envelopes: list[Envelope], batch: int = 40) -> None:
    for i in range(0, len(envelopes), batch):
        runner.apply_batch(envelopes[i:i + batch])


def runner_on(url: str) -> ProjectionRunner:
    return certification.bootstrap(url).runner()


def test_a_restart_loads_the_snapshot_and_only_the_envelopes_after_it(
        url: str, tmp_path: Path) -> None:
    envelopes = list(demo_envelopes(25, seed=3))
    assert len(envelopes) > 4 * WINDOW
    first = runner_on(url)
    first.restore()
    feed(first, envelopes[:-30])
    db = first.db
    kept = db.execute("SELECT count(*) FROM applied_events WHERE envelope IS NOT NULL")[0][0]
    ids = db.execute("SELECT count(*) FROM applied_events")[0][0]
    assert kept < EVERY + 40 and ids <= WINDOW + EVERY + 40  # bounded, not the whole log
    assert db.execute("SELECT count(*) FROM projection_snapshots")[0][0] == 1

    second = runner_on(url)
    loaded: list[Envelope] = []
    load = second.projector.load

    def counting(envs: Iterable[Envelope]) -> None:
        loaded.extend(envs)
        load(loaded)

    second.projector.load = counting  # type: ignore[method-assign]
    second.restore()
    assert len(loaded) == kept  # the tail only
    feed(second, envelopes[-30:])
    feed(second, envelopes)  # everything again: older than the window, yet applied once

    once_url = f"sqlite:///{tmp_path / 'once.sqlite'}"
    certification.migrate(once_url)
    once = runner_on(once_url)
    once.restore()
    feed(once, envelopes, batch=1000)
    assert view(db) == view(once.db)


def test_a_restored_fold_is_left_out_of_the_collectors_walks(url: str) -> None:
    """The objects of a fold loaded from its snapshot are frozen (the collector never walks
    them), and a second restore (after a batch rolled back) unfreezes the first so that what
    is left of it can be collected."""
    import gc
    import weakref

    runner = certification.bootstrap(url).certification_runner()
    runner.restore()
    feed(runner, list(demo_envelopes(25, seed=3)))
    try:
        runner.restore()  # from the snapshot
        fold = runner.projector.facts
        assert not any(o is fold for o in gc.get_objects())  # in no generation walked
        cyclic = weakref.ref(fold.evaluations)  # held by its own handlers' bound methods
        del fold
        runner.restore()  # again, as after a batch rolled back
        assert cyclic() is None  # the first fold was collected, not frozen again
    finally:
        gc.unfreeze()


def test_a_snapshot_of_other_code_is_refused_or_rebuilt_from_history(url: str) -> None:
    envelopes = list(demo_envelopes(8, seed=5))
    runner = runner_on(url)
    runner.restore()
    feed(runner, envelopes)
    runner.snapshot()
    expected = view(runner.db)
    runner.db.execute("UPDATE projection_snapshots SET fold_version = 'older-rules'")

    again = runner_on(url)
    with pytest.raises(SnapshotOutdated, match="yrkesresan rebuild progression"):
        again.restore()
    again.history = lambda: iter(envelopes)
    again.restore()
    assert view(again.db) == expected
    assert again.db.execute("SELECT fold_version FROM projection_snapshots")[0][0] == again.version


def test_the_revision_numbers_an_applied_log_kept_whole(database_url: str) -> None:
    """A database whose applied log predates snapshots (every envelope kept): the revision
    numbers it, and a restart folds it all."""
    schema.upgrade("certification", database_url, "0001")
    envelopes = list(demo_envelopes(5, seed=9))
    db = Database(database_url)
    with db.transaction() as cur:
        cur.executemany(
            "INSERT INTO applied_events (consumer, event_id, envelope) VALUES (%s, %s, %s)",
            [("progression", str(e.id), e.to_json().decode()) for e in envelopes])
    schema.upgrade("certification", database_url)
    assert db.execute("SELECT count(*), max(seq) FROM applied_events") == [
        (len(envelopes), len(envelopes))]
    runner = runner_on(database_url)
    runner.restore()
    assert runner.applied.count() == len(envelopes)
    assert len(runner.projector.main.fold.result()["participants"]) == 5  # type: ignore[attr-defined]
    db.close()


def test_a_wiped_log_and_tables_rebuild_whole_despite_the_snapshot(url: str) -> None:
    """Wiping a projection's tables and applied log (a rebuild from scratch) makes its
    snapshot stale: the rebuild folds everything again instead of trusting it."""
    envelopes = list(demo_envelopes(8, seed=6))
    runner = runner_on(url)
    runner.restore()
    feed(runner, envelopes)
    runner.snapshot()
    expected = view(runner.db)
    runner.db.execute("DELETE FROM view_progression")
    runner.db.execute("DELETE FROM applied_events WHERE consumer = 'progression'")
    again = runner_on(url)
    again.restore()
    feed(again, envelopes)
    assert view(again.db) == expected


def test_a_rebuild_from_scratch_writes_only_the_window_of_ids_with_its_snapshot(
        url: str, tmp_path: Path) -> None:
    envelopes = list(demo_envelopes(25, seed=3))
    runner = runner_on(url)
    assert runner.rebuild(iter(envelopes), batch=100) == len(envelopes)
    db = runner.db
    assert db.execute("SELECT count(*), min(seq), max(seq), count(envelope) FROM applied_events "
                      "WHERE consumer = 'progression'") == [
        (WINDOW, len(envelopes) - WINDOW + 1, len(envelopes), 0)]
    assert db.execute("SELECT fold_version, seq FROM projection_snapshots") == [
        (runner.version, len(envelopes))]

    once_url = f"sqlite:///{tmp_path / 'once.sqlite'}"
    certification.migrate(once_url)
    once = runner_on(once_url)
    once.restore()
    feed(once, envelopes, batch=1000)
    assert view(db) == view(once.db)

    again = runner_on(url)
    again.restore()
    assert again.applied.count() == len(envelopes)
    assert again.apply_batch(envelopes[-WINDOW:]) == 0  # the window's ids are refused
    assert view(again.db) == view(once.db)


def test_a_rebuild_stopped_half_way_is_rebuilt_rather_than_trusted(url: str) -> None:
    envelopes = list(demo_envelopes(8, seed=5))
    expected_runner = runner_on(url)
    expected_runner.rebuild(iter(envelopes))
    expected = view(expected_runner.db)

    def stops() -> Iterator[Envelope]:
        yield from envelopes[:len(envelopes) // 2]
        raise RuntimeError("the machine stopped")

    with pytest.raises(RuntimeError, match="stopped"):
        runner_on(url).rebuild(stops(), batch=50)
    assert view(expected_runner.db) != expected  # half of it: not to be trusted

    again = runner_on(url)
    with pytest.raises(SnapshotOutdated, match="a rebuild of it stopped before its end; run "
                                               "`yrkesresan rebuild progression`"):
        again.restore()
    again.history = lambda: iter(envelopes)
    again.restore()
    assert view(again.db) == expected
