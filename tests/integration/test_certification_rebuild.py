"""A rebuild from scratch of certification writes the history its consumer writes.

A rebuild from scratch that begins with no history kept writes each batch's rows of it
(`cert_history`) straight into the table (every envelope is new to it), where the consumer's
batches and a rebuild that finds the history full (it is not among the tables a rebuild wipes)
check each key. Both are run over the same stored events here, the rebuild in PostgreSQL (by
COPY), the consumer's path batch by batch, one batch twice, in a database of its own; their
rows are compared."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.certification import application as certification
from tests.integration.audit_helpers import url_of
from tests.integration.from_scratch import (
    fed_as_delivered,
    imported_demo,
    on_sqlite,
    table_rows,
)
from yrkesresan import stores

pytestmark = pytest.mark.integration

TABLES = {
    "cert_history": "subject, event_id, recorded, envelope",
    "cert_views": "kind, key, scope, body",
}


def test_certification_s_rebuild_from_scratch_keeps_the_history_its_consumer_keeps(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    apps, envelopes = imported_demo(pg_url, monkeypatch, tmp_path,
                                    participants=40, seed=5, regions=2)
    live = on_sqlite(certification, tmp_path)
    fed_as_delivered(live.certification_runner(), envelopes)

    rebuilt = certification.bootstrap(url_of("certification"))
    runner = rebuilt.certification_runner()
    assert stores.rebuild(runner, apps, batch=250) == sum(
        1 for env in envelopes if env.topic in runner.projector.topics)
    assert runner.history_new  # it began with no history kept
    assert not runner.applied.from_scratch  # over: the next batches check each key again
    kept = table_rows(rebuilt.db, TABLES)
    assert kept == table_rows(live.db, TABLES)
    assert len(kept["cert_history"]) > len(envelopes) // 2
    assert {row[0].partition(":")[0] for row in kept["cert_history"]} >= {
        "participant", "occasion", "course"}

    # After it, a batch delivered again adds nothing, and neither does a rebuild.
    assert runner.apply_batch(envelopes[:500]) == 0
    assert stores.rebuild(runner, apps) == 0
    assert table_rows(rebuilt.db, TABLES) == kept

    # Wiped as a rebuild wipes it (its tables, its applied log), the history is left, and the
    # rebuild from scratch that follows finds it full: it checks each key again.
    with rebuilt.db.transaction() as cur:
        for table in runner.projector.tables:
            cur.execute(f"DELETE FROM {table}")
        cur.execute("DELETE FROM applied_events WHERE consumer = 'certification'")
    assert stores.rebuild(runner, apps) > 0
    assert not runner.history_new
    assert table_rows(rebuilt.db, TABLES) == kept
    for app in apps:
        app.close()
    live.close()
    rebuilt.close()
