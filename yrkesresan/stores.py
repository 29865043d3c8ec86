"""Reading the services' event stores as contract envelopes: for rebuilding a projection without
the broker, and for exporting a contract log (JSON Lines) that `yrkesresan replay` reads."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import orjson

from shared.events import Envelope, parse_envelope
from shared.platform.consumer import ProjectionRunner, SnapshotOutdated
from shared.platform.relay import envelope_of
from shared.platform.store import PydanticMapper, ServiceApplication


def store_envelopes(app: ServiceApplication, page: int = 5000) -> Iterator[bytes]:
    """Every published event of one store, in the order recorded, as envelope JSON."""
    assert isinstance(app.mapper, PydanticMapper)
    position: int | None = None
    while True:
        notes = app.recorder.select_notifications(
            start=position, limit=page, inclusive_of_start=position is None)
        if not notes:
            return
        for note in notes:
            message = envelope_of(app.mapper, app.service, note)
            if message is not None:
                yield message[2]
        position = notes[-1].id


def merged_envelopes(apps: Iterable[ServiceApplication]) -> Iterator[bytes]:
    """All stores merged by recording time (each store keeps its own order)."""

    def keyed(app: ServiceApplication) -> Iterator[tuple[str, bytes]]:
        for raw in store_envelopes(app):
            yield orjson.loads(raw)["recorded_at"], raw

    for _, raw in heapq.merge(*(keyed(a) for a in apps), key=lambda pair: pair[0]):
        yield raw


def export_log(apps: Iterable[ServiceApplication], out: IO[bytes]) -> int:
    count = 0
    for raw in merged_envelopes(apps):
        out.write(raw + b"\n")
        count += 1
    return count


def rebuild(runner: ProjectionRunner, apps: Iterable[ServiceApplication], batch: int = 2000) -> int:
    """Feed a projection from the stores through the same runner the Kafka consumer uses;
    envelopes it already applied are skipped by id (and by its fold). A projection whose
    snapshot was folded by other code is wiped and rebuilt whole. Ends with a snapshot.
    Returns how many were new."""
    envelopes = (parse_envelope(raw) for raw in merged_envelopes(apps))
    try:
        runner.restore()
    except SnapshotOutdated:
        return runner.rebuild(envelopes, batch)
    applied = 0
    pending = []
    for env in envelopes:
        pending.append(env)
        if len(pending) >= batch:
            applied += runner.apply_batch(pending, snapshot=False)
            pending = []
    if pending:
        applied += runner.apply_batch(pending, snapshot=False)
    runner.snapshot()
    return applied


def history() -> Iterator[Envelope]:
    """Every published event of every service's store, parsed: what a consumer whose fold
    changed rebuilds from (`ProjectionRunner.history`)."""
    from yrkesresan import processes

    apps = [spec.store() for spec in processes.services().values()]
    try:
        for raw in merged_envelopes(apps):
            yield parse_envelope(raw)
    finally:
        for app in apps:
            app.close()


def rebuild_projections(names: Iterable[str] | None = None, batch: int = 2000
                        ) -> Iterator[tuple[str, int]]:
    """Rebuild the named projections (default: every one in `processes.rebuildable()`, the
    consumers' registry, the dashboard and the regions' logs) from every service's store,
    reading the stores once for all of them: (name, events applied). One whose snapshot was
    folded by other code is wiped first and rebuilt whole."""
    from yrkesresan import processes

    registry = processes.rebuildable()
    apps = [spec.store() for spec in processes.services().values()]
    try:
        runners = {name: registry[name]() for name in names or list(registry)}
        for runner in runners.values():
            try:
                runner.restore()
            except SnapshotOutdated:
                runner.rebuild(())
        applied = dict.fromkeys(runners, 0)
        pending: list[Envelope] = []
        for raw in merged_envelopes(apps):
            pending.append(parse_envelope(raw))
            if len(pending) >= batch:
                for name, runner in runners.items():
                    applied[name] += runner.apply_batch(pending, snapshot=False)
                pending = []
        for name, runner in runners.items():
            if pending:
                applied[name] += runner.apply_batch(pending, snapshot=False)
            runner.snapshot()
            yield name, applied[name]
    finally:
        for app in apps:
            app.close()


def write_log(path: Path, lines: Iterable[bytes]) -> None:
    with path.open("wb") as f:
        for line in lines:
            f.write(line + b"\n")
