"""What the tests of a rebuild from scratch share: a demo log imported into the services'
stores, a consumer's path over it batch by batch, and the rows of a projection's tables, to
compare what the two paths leave."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.events import Envelope
from shared.platform.consumer import ProjectionRunner
from shared.platform.db import Database
from shared.platform.store import ServiceApplication
from tests.integration.audit_helpers import configure_services
from yrkesresan import processes, stores


def imported_demo(pg_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *,
                  participants: int, seed: int, regions: int
                  ) -> tuple[list[ServiceApplication], list[Envelope]]:
    """Every service's store on the test database, filled with a demo log by `import-log`'s
    importer; the stores and their envelopes as a rebuild reads them."""
    from yrkesresan.demo import demo_log
    from yrkesresan.import_log import SERVICES, Importer

    configure_services(pg_url, monkeypatch, tmp_path)
    apps = [processes.services()[name].store() for name in SERVICES]
    Importer(dict(zip(SERVICES, apps, strict=True))).run(
        iter(demo_log(participants, seed=seed, regions=regions)))
    return apps, list(stores.merged_parsed(apps))


def on_sqlite(service: Any, tmp_path: Path) -> Any:
    """A service's database of its own, the embedded default's (`service`: its application
    module), migrated and bootstrapped: where the consumer's path runs beside a rebuild."""
    url = f"sqlite:///{tmp_path / 'live.sqlite'}"
    service.migrate(url)
    return service.bootstrap(url)


def fed_as_delivered(consumer: ProjectionRunner, envelopes: list[Envelope]) -> None:
    """The consumer's path: batches as the broker would deliver them, one of them twice (the
    second time it applies nothing)."""
    for start in range(0, len(envelopes), 300):
        consumer.apply_batch(envelopes[start:start + 300])
    assert consumer.apply_batch(envelopes[300:600]) == 0


def table_rows(db: Database, tables: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    """Each table's rows (of the columns given, as text), sorted."""
    return {table: sorted(tuple(str(v) for v in row) for row in db.execute(
        f"SELECT {columns} FROM {table}")) for table, columns in tables.items()}
