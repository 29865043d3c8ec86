"""A rebuild over PostgreSQL reads the stores in a process of its own: the same envelopes, in
the same order, of the same types, with the same positions read, as reading them itself."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from shared.platform.consumer import ProjectionRunner
from tests.integration.audit_helpers import configure_services
from tests.values import plain
from yrkesresan import processes, stores
from yrkesresan.import_log import SERVICES, Importer
from yrkesresan.store_reader import StoreReader, StoreReaderError

pytestmark = pytest.mark.integration


@pytest.fixture
def apps(pg_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    from yrkesresan.demo import demo_log

    configure_services(pg_url, monkeypatch, tmp_path)
    made = [processes.services()[name].store() for name in processes.services()]
    by_name = {app.service: app for app in made}
    Importer({name: by_name[name] for name in SERVICES}).run(iter(demo_log(30, seed=4)))
    yield made
    for app in made:
        app.close()


def _same(ours: list[tuple[str, Any]], theirs: list[tuple[str, Any]]) -> None:
    assert [topic for topic, _ in ours] == [topic for topic, _ in theirs]
    for (_, mine), (_, other) in zip(ours, theirs, strict=True):
        assert type(mine) is type(other)
        assert plain(mine) == plain(other)
        assert mine.to_json() == other.to_json()


def test_the_reader_reads_what_the_rebuild_would_read_itself(apps: list[Any]) -> None:
    read_here: dict[str, int] = {}
    here = list(stores.merged_read(apps, structs=True, read=read_here))
    assert len(here) > 1000
    kept = {env.type for _, env in here} & stores.KEPT_AS_MODELS
    assert kept  # the pydantic models a rebuild feeds go through the reader too
    with StoreReader() as reader:
        read_there: dict[str, int] = {}
        there = list(reader.read(read=read_there))
        _same(there, here)
        assert read_there == read_here and set(read_here) == {app.service for app in apps}

        # the next pass, from half-way through two stores: what follows them, and the rest
        after = {"enrolment": read_here["enrolment"] // 2,
                 "scheduling": read_here["scheduling"] // 2}
        here_after = list(stores.merged_read(apps, structs=True, after=after))
        assert 0 < len(here_after) < len(here)
        _same(list(reader.read(after=after)), here_after)


class Told:
    """A rebuild's progress as it was told (`stores.RebuildProgress`), reads summed."""

    def __init__(self) -> None:
        self.said: list[tuple[Any, ...]] = []

    def begun(self, names: list[str], total: int) -> None:
        self.said.append(("begun", names, total))

    def read(self, count: int) -> None:
        if self.said[-1][0] == "read":
            count += self.said.pop()[1]
        self.said.append(("read", count))

    def ending(self, name: str) -> None:
        self.said.append(("ending", name))


def test_a_rebuild_over_postgresql_reads_each_pass_through_the_reader(
        apps: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    passes: list[dict[str, int]] = []
    readers: list[StoreReader] = []

    class Counted(StoreReader):
        def __init__(self) -> None:
            super().__init__()
            readers.append(self)

        def read(self, after: dict[str, int] | None = None,
                 read: dict[str, int] | None = None) -> Any:
            passes.append(dict(after or {}))
            return super().read(after, read)

    finish = ProjectionRunner.finish_rebuild
    ended: list[int | None] = []

    def finish_rebuild(runner: ProjectionRunner) -> None:  # a pass's end: the peak
        ended.append(readers[-1]._process.poll())
        finish(runner)

    monkeypatch.setattr(ProjectionRunner, "finish_rebuild", finish_rebuild)

    monkeypatch.setattr(stores, "StoreReader", Counted)
    processes.migrate(["dashboard", "regions"])
    events = sum(1 for _ in stores.merged_read(apps))
    told = Told()
    applied = dict(stores.rebuild_projections(["dashboard", "progression", "regions"],
                                              progress=told))
    assert applied == {"dashboard": events, "progression": applied["progression"],
                       "regions": events}
    # each pass told what it feeds, at most how much it reads, what it read and each end
    stored = sum(app.recorder.max_notification_id() for app in apps)
    assert told.said == [("begun", ["dashboard"], stored), ("read", events),
                         ("ending", "dashboard"),
                         ("begun", ["progression", "regions"], stored), ("read", events),
                         ("ending", "progression"), ("ending", "regions")]
    assert 0 < applied["progression"] < events  # what is on its topics
    # the dashboard's fold, then progression's with the regions, each from the start
    assert len(passes) == 2 and not any(at for one in passes for at in one.values())
    # a reader for each pass, ended once it has read the stores, before the pass's ends
    assert len(readers) == 2 and ended == [0, 0, 0]
    # a second rebuild applies nothing, from where the first read to
    assert dict(stores.rebuild_projections(["progression", "regions"])) == {
        "progression": 0, "regions": 0}
    assert len(passes) == 3 and all(passes[2].values())
    assert len(readers) == 3 and all(r._process.returncode == 0 for r in readers)


def test_a_reader_that_dies_fails_the_pass_in_one_line(apps: list[Any]) -> None:
    reader = StoreReader()
    try:
        os.kill(reader._process.pid, signal.SIGKILL)
        with pytest.raises(StoreReaderError, match=r"avslutades \(kod -9\)"):
            list(reader.read())
    finally:
        reader.close()
    assert reader._process.returncode == -signal.SIGKILL


def test_a_pass_left_half_way_is_not_resumed_and_close_ends_the_reader(
        apps: list[Any]) -> None:
    reader = StoreReader()
    envelopes = reader.read()
    next(envelopes)
    envelopes.close()
    with pytest.raises(StoreReaderError, match="mitt i en läsning"):
        next(reader.read())
    reader.close()
    assert reader._process.returncode is not None


def test_a_database_gone_is_said_as_the_readers_operational_error(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = pg_url.rsplit("/", 1)[0] + "/yrkesresan_no_such_database"
    monkeypatch.setenv("YRKESRESAN_DATABASE_URL", gone)
    with StoreReader() as reader, pytest.raises(StoreReaderError) as raised:
        list(reader.read())
    assert "yrkesresan_no_such_database" in str(raised.value)
    assert isinstance(raised.value, OSError)  # the CLI's one line, no traceback
