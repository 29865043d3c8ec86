"""A rebuild from scratch of certification writes the history its consumer writes.

A rebuild from scratch writes each batch's rows of the history (`cert_history`) straight into
the table (every envelope is new to it), where the consumer's batches check each key. Both are
run over the same stored events here, the rebuild in PostgreSQL (by COPY), the consumer's path
batch by batch, one batch twice, in a database of its own; their rows are compared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.certification import application as certification
from shared.platform.db import Database
from tests.integration.audit_helpers import configure_services, url_of
from yrkesresan import processes, stores

pytestmark = pytest.mark.integration

TABLES = {
    "cert_history": "subject, event_id, recorded, envelope",
    "cert_views": "kind, key, scope, body",
}


def _rows(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    return {table: sorted(tuple(str(v) for v in row) for row in db.execute(
        f"SELECT {columns} FROM {table}")) for table, columns in TABLES.items()}


def test_certification_s_rebuild_from_scratch_keeps_the_history_its_consumer_keeps(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from yrkesresan.demo import demo_log
    from yrkesresan.import_log import SERVICES, Importer

    configure_services(pg_url, monkeypatch, tmp_path)
    apps = [processes.services()[name].store() for name in SERVICES]
    Importer(dict(zip(SERVICES, apps, strict=True))).run(iter(demo_log(40, seed=5, regions=2)))
    envelopes = list(stores.merged_parsed(apps))

    live_url = f"sqlite:///{tmp_path / 'live.sqlite'}"
    certification.migrate(live_url)
    live = certification.bootstrap(live_url)
    consumer = live.certification_runner()
    for start in range(0, len(envelopes), 300):
        consumer.apply_batch(envelopes[start:start + 300])
    assert consumer.apply_batch(envelopes[300:600]) == 0

    rebuilt = certification.bootstrap(url_of("certification"))
    runner = rebuilt.certification_runner()
    assert stores.rebuild(runner, apps, batch=250) == sum(
        1 for env in envelopes if env.topic in runner.projector.topics)
    assert not runner.applied.from_scratch  # over: the next batches check each key again
    kept = _rows(rebuilt.db)
    assert kept == _rows(live.db)
    assert len(kept["cert_history"]) > len(envelopes) // 2
    assert {row[0].partition(":")[0] for row in kept["cert_history"]} >= {
        "participant", "occasion", "course"}

    # After it, a batch delivered again adds nothing, and neither does a rebuild.
    assert runner.apply_batch(envelopes[:500]) == 0
    assert stores.rebuild(runner, apps) == 0
    assert _rows(rebuilt.db) == kept
    for app in apps:
        app.close()
    live.close()
    rebuilt.close()
