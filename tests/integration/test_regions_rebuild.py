"""A rebuild from scratch of the regions' logs writes what their consumer writes.

The regions keep no snapshot: their applied log keeps the envelopes the router learns from
(`FACTS`) whole, for good, and the ids of the last window (`AppliedLog.forget_ids`); a rebuild
from scratch writes the facts batch by batch, knowing what it applied in memory
(`AppliedLog.stream`) where the consumer asks the database, and the window's ids at its end.
Both are run over the same stored events here, the rebuild in PostgreSQL (by COPY) and the
consumer's path batch by batch in a database of its own, and every row they leave is
compared."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.regions import application as regions
from services.regions.domain import FACTS
from shared.platform.observability import EVENTS_APPLIED
from tests.integration.audit_helpers import url_of
from tests.integration.from_scratch import (
    fed_as_delivered,
    imported_demo,
    on_sqlite,
    table_rows,
)
from tests.regions_world import two_regions
from yrkesresan import processes, stores

pytestmark = pytest.mark.integration

TABLES = {
    "region_events": "region_id, position, event_id, event_key, envelope",
    "region_participant_events": "participant_id, event_id, occurred_at",
    "region_heads": "region_id, position",
    "region_held": "event_id, envelope",
    "applied_events": "consumer, event_id, seq, envelope",
}


def test_the_regions_rebuild_from_scratch_leaves_what_their_consumer_leaves(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    apps, envelopes = imported_demo(pg_url, monkeypatch, tmp_path,
                                    participants=40, seed=4, regions=3)
    processes.migrate(["regions"])
    assert any(env.type == "ParticipantMoved" for env in envelopes)  # the re-routing path

    live = on_sqlite(regions, tmp_path)
    fed_as_delivered(live.runner(), envelopes)

    rebuilt = regions.bootstrap(url_of("regions"))
    runner = rebuilt.runner()
    counted = EVENTS_APPLIED.labels("regions")._value.get()
    assert stores.rebuild(runner, apps, batch=250) == len(envelopes)
    # the batches written behind the routing are counted as the consumer's are
    assert EVENTS_APPLIED.labels("regions")._value.get() - counted == len(envelopes)
    assert runner.applied.streaming is None  # the rebuild is over: batches ask the database
    assert table_rows(rebuilt.db, TABLES) == table_rows(live.db, TABLES)
    assert len(table_rows(rebuilt.db, TABLES)["region_events"]) >= len(envelopes) // 2

    # After it, a batch delivered again is found in the database, and a restart reads back
    # every envelope the rebuild kept: each id (the log is within the window), and the
    # router's facts whole.
    assert runner.apply_batch(envelopes[:500]) == 0
    assert stores.rebuild(runner, apps) == 0
    assert runner.applied.count() == len(envelopes)
    assert sum(1 for _ in runner.applied.envelopes()) \
        == sum(1 for env in envelopes if env.type in FACTS)
    for app in apps:
        app.close()
    live.close()
    rebuilt.close()


def test_a_rebuild_re_routes_from_the_batches_not_written_yet(
    pg_url: str, tmp_path: Path
) -> None:
    """A rebuild from scratch folds a batch while the one before is being written
    (`ProjectionRunner._apply_ahead`): a backdated move finds what was routed about its
    participant in the database, in the batch on its way there, or earlier in its own batch.
    Over the two regions' world with its move last, rebuilt in batches of every size, each
    rebuild leaves what the consumer's path leaves."""
    world = two_regions("ahead")
    move = next(e for e in world.envelopes if e.type == "ParticipantMoved")
    envelopes = [e for e in world.envelopes if e is not move] + [move]
    pm = world.people()["pm"]
    later = [i for i, e in enumerate(envelopes)
             if getattr(e.data, "participant_id", None) == pm and e.occurred_at > move.occurred_at]
    assert len(later) == 2

    live = on_sqlite(regions, tmp_path)
    consumer = live.runner()
    consumer.apply_batch(envelopes[:-1])
    consumer.apply_batch([move])
    expected = table_rows(live.db, TABLES)
    assert world.expected(world.b) <= {row[2] for row in expected["region_events"]
                                       if row[0] == world.b}

    regions.migrate(pg_url)
    rebuilt = regions.bootstrap(pg_url)
    runner = rebuilt.runner()
    where: set[str] = set()  # which batches held what the move re-routes, over the sizes
    for batch in range(1, len(envelopes) + 1):
        last = (len(envelopes) - 1) // batch
        where |= {"own" if i // batch == last else "on its way" if i // batch == last - 1
                  else "written" for i in later}
        assert runner.rebuild(envelopes, batch=batch) == len(envelopes)
        assert table_rows(rebuilt.db, TABLES) == expected, f"batches of {batch}"
    assert where == {"own", "on its way", "written"}
    live.close()
    rebuilt.close()


REGION_TABLES = {table: columns for table, columns in TABLES.items() if table != "applied_events"}


def test_the_regions_keep_their_facts_and_a_window_of_ids(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The regions' applied log does not grow with every event: past the window it holds only
    the router's facts. An older envelope that comes again (a broker that came back empty and
    got everything re-published), before a restart and after, changes none of the regions'
    tables: their log holds each event once per region. A rebuild from scratch leaves the
    facts and the window's ids, as the consumer's log holds them after a trim."""
    window = 200
    monkeypatch.setenv("YRKESRESAN_APPLIED_WINDOW", str(window))
    monkeypatch.setenv("YRKESRESAN_SNAPSHOT_EVERY", "300")
    monkeypatch.setenv("YRKESRESAN_SNAPSHOT_SECONDS", "0")
    apps, envelopes = imported_demo(pg_url, monkeypatch, tmp_path,
                                    participants=40, seed=4, regions=3)
    processes.migrate(["regions"])
    facts = {str(env.id) for env in envelopes if env.type in FACTS}
    assert 0 < len(facts) < len(envelopes) - window - 300

    live = on_sqlite(regions, tmp_path)
    consumer = live.runner()
    for start in range(0, len(envelopes), 300):
        consumer.apply_batch(envelopes[start:start + 300])
    rows = live.db.execute("SELECT event_id, seq, envelope FROM applied_events")
    assert {event_id for event_id, _, body in rows if body is not None} == facts
    ids_only = [int(seq) for _, seq, body in rows if body is None]
    # trimmed at the last batch that made a trim due: at most the window and a batch since
    assert min(ids_only) > len(envelopes) - window - 300
    assert len(rows) < len(facts) + window + 300 < len(envelopes)
    routed = table_rows(live.db, REGION_TABLES)
    assert len(routed["region_events"]) >= len(envelopes) // 2

    consumer.apply_batch(envelopes[:300])  # past the window: applied again, routed nowhere new
    assert table_rows(live.db, REGION_TABLES) == routed
    live.close()
    again = on_sqlite(regions, tmp_path)  # a restart: the router from its facts
    restarted = again.runner()
    restarted.restore()
    for start in range(0, len(envelopes), 300):
        restarted.apply_batch(envelopes[start:start + 300])
    assert table_rows(again.db, REGION_TABLES) == routed
    again.close()

    rebuilt = regions.bootstrap(url_of("regions"))
    assert stores.rebuild(rebuilt.runner(), apps, batch=250) == len(envelopes)
    assert table_rows(rebuilt.db, REGION_TABLES) == routed
    kept = sorted((str(env.id), i, env.type in FACTS) for i, env in enumerate(envelopes, 1)
                  if env.type in FACTS or i > len(envelopes) - window)
    assert sorted((str(e), int(seq), body is not None) for e, seq, body in rebuilt.db.execute(
        "SELECT event_id, seq, envelope FROM applied_events WHERE consumer = 'regions'")) == kept
    for app in apps:
        app.close()
    rebuilt.close()
