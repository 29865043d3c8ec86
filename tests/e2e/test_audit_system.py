"""Auditing the running system, as `make run` starts it (processes, real PostgreSQL and broker,
the demo data): every projection rebuilt from the stores (each consumer's, the dashboard's
figures, the regions' logs) equals the live one,
`yrkesresan audit verify` passes (also against the heads the relays published), and fails
naming the event after a row is edited."""

from __future__ import annotations

import subprocess
from collections import Counter
from typing import Any

import orjson
import pytest

from shared.events import parse_envelope
from shared.platform.chain import chained_rows
from shared.platform.db import Database
from shared.platform.relay import RelayPositions
from shared.platform.store import ServiceApplication
from tests.integration.helpers import wait_for
from yrkesresan import processes, stores
from yrkesresan.launcher import SERVICES, System, load_certification_demo, load_demo

pytestmark = pytest.mark.e2e

# Not read models: bookkeeping, and how far the regions' publisher got (a wiped log is
# published again from its start).
NOT_READ_MODELS = ("applied_events", "relay_positions", "region_published",
                   "projection_snapshots", "dashboard_state")
# Logs whose positions are numbered as rows arrive: a rebuild numbers them anew, so their
# content is the rows without the position.
WITHOUT_POSITION = {"billing_facts": "envelope",
                    "region_events": "region_id, event_id, event_key, envelope"}


def settled(runners: dict[str, Any], apps: list[ServiceApplication]) -> bool:
    """Every relay has published what its store holds and every consumer has applied every
    event its topics hold in the stores. (Certification's consumer stores certificates as it
    applies, in the same transaction: then its relay is behind, and this is not yet settled.)"""
    for app in apps:
        relayed = RelayPositions(Database(app.database_url)).get(f"{app.service}-relay")
        if relayed < (app.recorder.max_notification_id() or 0):
            return False
    on_topic = Counter(parse_envelope(raw).topic for raw in stores.merged_envelopes(apps))
    return all(runner.applied.count() == sum(on_topic[t] for t in runner.projector.topics)
               for runner in runners.values())


def audit(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(system.cli("audit", "verify", *args), env=system.env,
                          capture_output=True, text=True, timeout=120)


def read_models(url: str) -> dict[str, list[Any]]:
    """Every read-model table of a projection's database (not its bookkeeping, not event
    stores), rows sorted, JSON bodies parsed."""
    db = Database(url)
    try:
        if db.is_sqlite:
            names = [r[0] for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")]
        else:
            names = [r[0] for r in db.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        tables = [n for n in names if n not in NOT_READ_MODELS
                  and not n.endswith(("events", "snapshots"))]
        return {t: sorted((tuple(_parsed(v) for v in row) for row in
                           db.execute(f"SELECT {WITHOUT_POSITION.get(t, '*')} FROM {t}")),
                          key=repr) for t in tables}
    finally:
        db.close()


def _parsed(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        return orjson.loads(value)
    return value


def test_rebuilt_projections_equal_the_live_ones_and_verify_holds_the_stores(
    system: System, package_pg_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On the system the end-to-end tests share (tests/e2e/conftest.py): the edited row is put
    back at the end."""
    pg_url = package_pg_url
    demo = load_demo(system.urls())
    assert demo is not None
    load_certification_demo(system.urls(), demo)
    monkeypatch.setenv("YRKESRESAN_DATABASE_URL", pg_url)
    apps = {name: spec.store() for name, spec in processes.services().items()}
    live = {name: make() for name, make in processes.rebuildable().items()}
    wait_for(lambda: settled(live, list(apps.values())), timeout=120,
             what="every consumer to apply every published event")

    # Each consumer's projection, wiped (its tables and its applied log) and rebuilt from the
    # stores, equals what the live consumer had kept. In place, beside its service's own event
    # store: certification's rebuild reads the certificates already issued from it.
    db = Database(pg_url)
    for name, runner in live.items():
        own = set(runner.projector.tables)
        before = {t: rows for t, rows in read_models(pg_url).items() if t in own}
        assert any(before.values()), f"{name}: the live projection is empty"
        for table in own:
            db.execute(f"DELETE FROM {table}")
        db.execute("DELETE FROM applied_events WHERE consumer = %s", (runner.projector.name,))
        assert stores.rebuild(runner, list(apps.values())) > 0
        after = {t: rows for t, rows in read_models(pg_url).items() if t in own}
        assert after == before, name
    db.close()

    result = audit(system, "--against-bus")
    assert result.returncode == 0, result.stdout + result.stderr
    for service in SERVICES:
        assert f"{service}: intact" in result.stdout

    scheduling = apps["scheduling"]
    rows = [r for r in chained_rows(scheduling.chain) if r.topic and "DayAttended" in r.topic]
    target = rows[len(rows) // 2]
    assert target.state is not None
    table = scheduling.recorder.events_table_name  # type: ignore[attr-defined]
    day = b'"day":1' if b'"day":1' in target.state else b'"day":2'
    forged = target.state.replace(day, b'"day":2' if day == b'"day":1' else b'"day":1')
    db = Database(pg_url)
    db.execute(f"UPDATE {table} SET state = %s WHERE notification_id = %s",
               (forged, target.notification_id))
    try:
        result = audit(system)
    finally:
        db.execute(f"UPDATE {table} SET state = %s WHERE notification_id = %s",
                   (target.state, target.notification_id))
        db.close()
    assert result.returncode == 1
    assert (f"scheduling: chain broken at notification {target.notification_id} "
            f"(originator {target.originator_id}, version {target.originator_version}, a "
            f"{target.event_type} event): changed") in result.stdout
    assert "enrolment: intact" in result.stdout
    for app in apps.values():
        app.close()
