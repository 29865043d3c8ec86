"""A rebuild from scratch of the regions' logs writes what their consumer writes.

The regions keep no snapshot: their applied log keeps every id and the envelopes the router
learns from (`FACTS`), and a rebuild from scratch writes it batch by batch, knowing what it
applied in memory (`AppliedLog.stream`) where the consumer asks the database. Both are run
over the same stored events here, the rebuild in PostgreSQL (by COPY) and the consumer's path
batch by batch in a database of its own, and every row they leave is compared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.regions import application as regions
from services.regions.domain import FACTS
from shared.platform.db import Database
from tests.integration.audit_helpers import configure_services, url_of
from yrkesresan import processes, stores

pytestmark = pytest.mark.integration

TABLES = {
    "region_events": "region_id, position, event_id, event_key, envelope",
    "region_participant_events": "participant_id, event_id, occurred_at",
    "region_heads": "region_id, position",
    "region_held": "event_id, envelope",
    "applied_events": "consumer, event_id, seq, envelope",
}


def _rows(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    return {table: sorted(tuple(str(v) for v in row) for row in db.execute(
        f"SELECT {columns} FROM {table}")) for table, columns in TABLES.items()}


def test_the_regions_rebuild_from_scratch_leaves_what_their_consumer_leaves(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from yrkesresan.demo import demo_log
    from yrkesresan.import_log import SERVICES, Importer

    configure_services(pg_url, monkeypatch, tmp_path)
    processes.migrate(["regions"])
    apps = [processes.services()[name].store() for name in SERVICES]
    Importer(dict(zip(SERVICES, apps, strict=True))).run(iter(demo_log(40, seed=4, regions=3)))
    envelopes = list(stores.merged_parsed(apps))
    assert any(env.type == "ParticipantMoved" for env in envelopes)  # the re-routing path

    # The consumer's path: batches as the broker would deliver them, one of them twice.
    live_url = f"sqlite:///{tmp_path / 'live.sqlite'}"
    regions.migrate(live_url)
    live = regions.bootstrap(live_url)
    consumer = live.runner()
    for start in range(0, len(envelopes), 300):
        consumer.apply_batch(envelopes[start:start + 300])
    assert consumer.apply_batch(envelopes[300:600]) == 0

    rebuilt = regions.bootstrap(url_of("regions"))
    runner = rebuilt.runner()
    assert stores.rebuild(runner, apps, batch=250) == len(envelopes)
    assert runner.applied.streaming is None  # the rebuild is over: batches ask the database
    assert _rows(rebuilt.db) == _rows(live.db)
    assert len(_rows(rebuilt.db)["region_events"]) >= len(envelopes) // 2

    # After it, a batch delivered again is found in the database, and a restart reads back
    # every envelope the rebuild kept: each id, and the router's facts whole.
    assert runner.apply_batch(envelopes[:500]) == 0
    assert stores.rebuild(runner, apps) == 0
    assert runner.applied.count() == len(envelopes)
    assert sum(1 for _ in runner.applied.envelopes()) \
        == sum(1 for env in envelopes if env.type in FACTS)
    for app in apps:
        app.close()
    live.close()
    rebuilt.close()
