"""Rebuild and export read the stores through the same mapping and fold as the live path."""

from __future__ import annotations

import heapq
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from typer.testing import CliRunner

from services.certification import application as certification
from services.dashboard import application as dashboard
from services.dashboard.store import FiguresReader
from services.enrolment import application as enrolment
from services.enrolment.application import RegisterParticipant
from services.regions import application as regions
from services.regions.application import read_log
from shared.events.fast import ENVELOPE_STRUCTS
from shared.platform.relay import envelope_of
from tests.integration.audit_helpers import configure_services, url_of
from tests.integration.helpers import add_testby
from tests.values import plain
from yrkesresan import processes, stores
from yrkesresan.cli import app as cli
from yrkesresan.replay import replay

pytestmark = pytest.mark.integration


def test_rebuild_from_stores_equals_replay_of_the_export(pg_url: str) -> None:
    enrolment.migrate(pg_url)
    certification.migrate(pg_url)
    e = enrolment.bootstrap(pg_url)
    add_testby(e)
    for i in range(25):
        e.register_participant(RegisterParticipant(
            municipality_id="m1", name=f"Hemlig Person {i}", email=f"hemlig{i}@example.se",
            role="chef" if i % 5 == 0 else "socialsekreterare", years_in_profession=i % 8))

    out = io.BytesIO()
    assert stores.export_log([e.app], out) == 27  # region, municipality, 25 registrations
    log = out.getvalue()
    assert b"Hemlig" not in log and b"@example.se" not in log  # nothing personal exported

    cert = certification.bootstrap(pg_url)
    runner = cert.runner()
    assert stores.rebuild(runner, [e.app]) == 27
    assert stores.rebuild(runner, [e.app]) == 0  # a second rebuild applies nothing twice
    rows = cert.progression.list(cert.db)

    replayed = replay("progression", log.splitlines(), None, None)
    assert replayed["participants"] == rows
    assert {r["level"] for r in rows} == {"chef", "ny", "van", "erfaren"}
    e.close()
    cert.close()


def _relayed(apps: list[Any]) -> Iterator[bytes]:
    """What the relays publish of the stores, merged by recording time as export merges them
    (a stable merge: the stores in their order where two times are equal)."""

    def keyed(app: Any) -> Iterator[tuple[str, bytes]]:
        for note in stores._notifications(app):
            message = envelope_of(app.mapper, app.service, note)
            if message is not None:
                yield orjson.loads(message[2])["recorded_at"], message[2]

    for _, raw in heapq.merge(*(keyed(a) for a in apps), key=lambda pair: pair[0]):
        yield raw


def test_rebuild_feeds_the_envelopes_the_relays_publish_as_the_consumers_parse_them(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A rebuild validates each stored event's fields once, without the JSON the relay sends:
    what it feeds equals, type, value and JSON, what a consumer parses from the relay's bytes,
    event for event in the same order, for every type a demo log holds."""
    from shared.events import parse_envelope
    from yrkesresan.demo import demo_log
    from yrkesresan.import_log import SERVICES, Importer

    configure_services(pg_url, monkeypatch, tmp_path)
    apps = [processes.services()[name].store() for name in SERVICES]
    Importer(dict(zip(SERVICES, apps, strict=True))).run(iter(demo_log(30, seed=4)))

    # the relays' bytes: each stored event read through the library (its `Notification`s),
    # the stores merged by recording time; what export writes (the rows read directly) is
    # the same, byte for byte
    relayed = list(_relayed(apps))
    assert list(stores.merged_envelopes(apps)) == relayed
    published = [parse_envelope(raw) for raw in relayed]
    read = list(stores.merged_read(apps))  # the stores' rows read directly, with topics
    assert [topic for topic, _ in read] == [env.topic for env in published]
    fed = [env for _, env in read]
    assert fed == list(stores.merged_parsed(apps))
    assert len(fed) == len(published) > 1000
    assert len({env.type for env in fed}) >= 20  # the demo's realism: most of the contract
    for ours, theirs in zip(fed, published, strict=True):
        assert type(ours) is type(theirs)
        assert ours == theirs
        assert ours.to_json() == theirs.to_json()
    # what a rebuild feeds: the contract's msgspec Structs (as replay reads a log), but for
    # the few types the projections keep as models; field for field the same values, of the
    # same types, and the same JSON byte for byte
    structs = list(stores.merged_read(apps, structs=True))
    assert [topic for topic, _ in structs] == [topic for topic, _ in read]
    kept = 0
    for (_, struct), theirs in zip(structs, published, strict=True):
        if struct.type in stores.KEPT_AS_MODELS:
            kept += 1
            assert type(struct) is type(theirs) and struct == theirs
        else:
            assert isinstance(struct, msgspec.Struct)
            assert type(struct) is ENVELOPE_STRUCTS[theirs.type]
            assert plain(struct) == plain(theirs)
            assert struct.topic == theirs.topic and struct.key() == theirs.key()
        assert struct.to_json() == theirs.to_json()
    assert 0 < kept < len(structs)
    for app in apps:
        app.close()


def test_the_rebuild_command_covers_every_projection_dashboard_and_region_logs_included(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configure_services(database_url, monkeypatch, tmp_path)
    e = enrolment.bootstrap(url_of("enrolment"))
    add_testby(e)
    minted = e.register_participant(RegisterParticipant(
        municipality_id="m1", name="Hemlig Person", email="hemlig@example.se",
        role="chef", years_in_profession=3))
    processes.migrate(["dashboard", "regions"])
    result = CliRunner().invoke(cli, ["rebuild"])
    assert result.exit_code == 0, result.output
    assert "3 new events applied to progression" in result.output
    assert set(processes.projections()) < set(processes.rebuildable())
    for name in processes.rebuildable():
        assert f"new events applied to {name}" in result.output
    cert = certification.bootstrap(url_of("certification"))
    assert [r["participant_id"] for r in cert.progression.list(cert.db)] == [minted]
    # the dashboard's figures and the region's log, fed by their own processes when running
    assert "3 new events applied to dashboard" in result.output
    figures = dashboard.bootstrap(url_of("dashboard"))
    nation = FiguresReader(figures.db).cell("nation:SE")
    assert nation is not None and nation["registered"] == 1
    figures.close()
    assert "3 new events applied to regions" in result.output
    region = regions.bootstrap(url_of("regions"))
    assert [e.position for e in read_log(region.db, "r1")] == [1, 2, 3]
    assert any(minted in e.envelope for e in read_log(region.db, "r1"))
    region.close()
    # each pass says how far it read (not a terminal here: a line at each pass's end)
    passes = [line for line in result.output.splitlines() if "händelser lästa på" in line]
    fed = [name for line in passes for name in line.split(": ")[0].split(", ")]
    assert sorted(fed) == sorted(processes.rebuildable()), passes  # each in one pass
    assert all(line.split(": ")[1].startswith("3 händelser") for line in passes), passes
    assert "återuppbyggnaden tog" in result.output.splitlines()[-1]
    result = CliRunner().invoke(cli, ["rebuild", "progression"])
    assert "0 new events applied to progression" in result.output
    assert CliRunner().invoke(cli, ["rebuild", "nosuch"]).exit_code == 2
    e.close()
    cert.close()


def test_a_rebuild_reads_only_what_the_stores_recorded_since_the_last_rebuild(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Each projection keeps the id of the last envelope applied only: without the positions a
    # rebuild read to, a second rebuild would count all but that one as new again (the folds'
    # idempotence keeping the figures right), and at national size take as long as the first.
    monkeypatch.setenv("YRKESRESAN_APPLIED_WINDOW", "1")
    configure_services(database_url, monkeypatch, tmp_path)
    e = enrolment.bootstrap(url_of("enrolment"))
    add_testby(e)

    def register(name: str) -> str:
        return e.register_participant(RegisterParticipant(
            municipality_id="m1", name=name, email=f"{name.split()[0].lower()}@example.se",
            role="chef", years_in_profession=3))

    first = register("Första Person")
    processes.migrate(["dashboard", "regions"])
    result = CliRunner().invoke(cli, ["rebuild"])
    assert result.exit_code == 0, result.output
    assert "3 new events applied to progression" in result.output
    result = CliRunner().invoke(cli, ["rebuild"])
    assert result.exit_code == 0, result.output
    for name in processes.rebuildable():
        assert f"0 new events applied to {name}\n" in result.output
    second = register("Andra Person")
    result = CliRunner().invoke(cli, ["rebuild", "progression"])
    assert "1 new events applied to progression" in result.output
    cert = certification.bootstrap(url_of("certification"))
    assert sorted(r["participant_id"] for r in cert.progression.list(cert.db)) == sorted(
        [first, second])
    # one pass reads the stores from where the projection that read least stopped; the one
    # that read further is given only what follows its own position
    result = CliRunner().invoke(cli, ["rebuild"])
    assert "0 new events applied to progression" in result.output
    assert "1 new events applied to dashboard" in result.output
    assert "1 new events applied to regions" in result.output
    figures = dashboard.bootstrap(url_of("dashboard"))
    nation = FiguresReader(figures.db).cell("nation:SE")
    assert nation is not None and nation["registered"] == 2
    figures.close()
    # wiped (a fold of other code), a projection is rebuilt whole: its positions go with it
    runner = processes.rebuildable()["progression"]()
    runner.start_rebuild()
    assert runner.positions.load() == {}
    runner.close()
    result = CliRunner().invoke(cli, ["rebuild", "progression"])
    assert "4 new events applied to progression" in result.output
    assert sorted(r["participant_id"] for r in cert.progression.list(cert.db)) == sorted(
        [first, second])
    e.close()
    cert.close()


def test_as_of_folds_the_stores_cut_at_a_moment_by_recording_time(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import datetime as dt

    import orjson

    configure_services(database_url, monkeypatch, tmp_path)
    e = enrolment.bootstrap(url_of("enrolment"))
    add_testby(e)

    def register() -> str:
        return e.register_participant(RegisterParticipant(
            municipality_id="m1", name="Hemlig Person", email=f"{uuid.uuid4().hex}@example.se",
            role="chef", years_in_profession=3))

    first = register()
    moment = dt.datetime.now(dt.UTC)
    second = register()
    e.close()
    result = CliRunner().invoke(cli, ["audit", "as-of", "progression", "--at",
                                      moment.isoformat()])
    assert result.exit_code == 0, result.output
    then = orjson.loads(result.stdout)
    assert [r["participant_id"] for r in then["participants"]] == [first]
    now = orjson.loads(CliRunner().invoke(cli, [
        "audit", "as-of", "progression", "--at", "2999-12-31", "--participant", second]).stdout)
    assert now["participant"]["participant_id"] == second
    pot = CliRunner().invoke(cli, ["audit", "as-of", "pot", "--region", "r1", "--year", "2026",
                                   "--at", moment.isoformat()])
    assert pot.exit_code == 0 and orjson.loads(pot.stdout)["pot_sek"] == 0
    assert CliRunner().invoke(cli, ["audit", "as-of", "pot", "--at", "2026-01-01"]).exit_code == 2
    assert CliRunner().invoke(cli, ["audit", "as-of", "progression", "--at", "igår"]
                              ).exit_code == 2
