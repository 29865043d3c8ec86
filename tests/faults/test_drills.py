"""Fault drills: the whole system under a steady load of commands, as `make run` starts it
(every process under the supervisor, the local broker, PostgreSQL), while one part after another
fails: kill -9 of a relay, of the working progression consumer (a second instance stands by
and takes over), of an API worker and of the broker, and a restart of PostgreSQL (a cluster of
the drills' own). After each, the system heals by itself: a registration acknowledged after
the fault reaches progression, every acknowledged registration is there, every consumer has
applied each stored event exactly once, and progression equals a replay of the stores' export.
At the end every projection equals its rebuild from the stores, and `yrkesresan replay` of
`yrkesresan export` equals the live progression. Each recovery's time is printed.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.events import parse_envelope
from shared.platform.auth import Principal, Role, issue_token
from shared.platform.db import Database
from tests.faults.figures import FIGURES
from tests.faults.pgcluster import PrivateCluster
from tests.integration.helpers import wait_for
from tests.ports import start_system
from yrkesresan import processes, stores
from yrkesresan.launcher import System
from yrkesresan.processes import Program
from yrkesresan.replay import replay

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

SYSTEM = {"Authorization": f"Bearer {issue_token(Principal(subject='t', role=Role.SYSTEM))}"}
ADMIN = {"Authorization": "Bearer " + issue_token(
    Principal(subject="drill", role=Role.MUNICIPAL_ADMIN, municipality_id="m1"))}
STANDBY = Program("progression-consumer-standby", ("consume", "progression", "--ops-port",
                                                    "{port}"),
                  {"port": ("YRKESRESAN_PROGRESSION_STANDBY_OPS_PORT", 8210)})
RECOVERY_LIMIT = 90.0  # seconds; the figures printed are what matters


@dataclass
class Load:
    """Registrations at a steady pace, from a thread; what was acknowledged (201), when."""

    base: str
    pace: float = 0.1
    acked: list[tuple[float, str]] = field(default_factory=list)
    failed: int = 0
    running: threading.Event = field(default_factory=threading.Event)
    stopping: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Load:
        self.running.set()
        threading.Thread(target=self._run, daemon=True, name="load").start()
        return self

    def _run(self) -> None:
        n = 0
        with httpx.Client(base_url=self.base, headers=ADMIN, timeout=10) as http:
            while not self.stopping.is_set():
                self.running.wait()
                n += 1
                try:
                    r = http.post("/participants", json={
                        "municipality_id": "m1", "name": f"Drill {n}",
                        "email": f"drill{n}@testby.se", "role": "socialsekreterare",
                        "years_in_profession": n % 9})
                    if r.status_code == 201:
                        self.acked.append((time.monotonic(), r.json()["participant_id"]))
                    else:
                        self.failed += 1
                except httpx.HTTPError:
                    self.failed += 1
                self.stopping.wait(self.pace)  # the pace of the load, not a wait for anything

    def pause(self) -> None:
        self.running.clear()

    def resume(self) -> None:
        self.running.set()

    def stop(self) -> None:
        self.stopping.set()
        self.running.set()


@dataclass
class World:
    system: System
    url: str
    cluster: PrivateCluster
    load: Load

    def progression_has(self, participant_id: str) -> bool:
        try:
            r = httpx.get(f"{self.system.urls()['certification']}/progression/{participant_id}",
                          headers=ADMIN, timeout=5)
        except httpx.HTTPError:
            return False
        return r.status_code == 200


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    cluster = PrivateCluster().start()
    system: System | None = None
    load: Load | None = None
    try:
        url = cluster.create_database("yrkesresan")
        system = start_system(
            {"YRKESRESAN_DATABASE_URL": url, "YRKESRESAN_ENROLMENT_WORKERS": "2"},
            tmp_path_factory.mktemp("drills") / "logs", extra=[STANDBY])
        with httpx.Client(base_url=system.urls()["enrolment"], headers=SYSTEM, timeout=30) as h:
            assert h.post("/regions", json={"region_id": "r1", "name": "RSS Drill"}
                          ).status_code == 201
            assert h.post("/municipalities", json={"municipality_id": "m1", "name": "Drillby",
                                                   "region_id": "r1"}).status_code == 201
        load = Load(system.urls()["enrolment"]).start()
        yield World(system, url, cluster, load)
    finally:
        if load is not None:
            load.stop()
        if system is not None:
            system.stop()
        cluster.stop()


def recovered_after(world: World, fault: Callable[[], Any], what: str) -> float:
    """Cause the fault; seconds until a registration acknowledged after it is in progression."""
    world.load.resume()
    at = time.monotonic()
    fault()
    deadline = at + RECOVERY_LIMIT
    seen: set[str] = set()
    while True:
        after = [pid for t, pid in world.load.acked if t > at]
        if after and after[-1] not in seen:
            if world.progression_has(after[-1]):
                took = time.monotonic() - at
                FIGURES.append(f"{what}: healed in {took:.1f} s (a registration acknowledged "
                               f"after it reached progression; {world.load.failed} commands "
                               "refused or failed so far)")
                return took
            seen.add(after[-1])
        assert time.monotonic() < deadline, f"{what}: not healed within {RECOVERY_LIMIT} s"
        time.sleep(0.1)


def settled_and_exact(world: World) -> None:
    """Load paused: every consumer has applied each stored event of its topics exactly once,
    every acknowledged registration is in progression, and progression equals a replay of the
    stores' export."""
    world.load.pause()
    with _env(world):
        apps = [spec.store() for spec in processes.services().values()]
        runners = {name: make() for name, make in processes.projections().items()}
        try:
            def behind() -> dict[str, tuple[int, int]]:
                """Each consumer not caught up: (applied, stored on its topics)."""
                on_topic = Counter(parse_envelope(raw).topic
                                   for raw in stores.merged_envelopes(apps))
                counts = {name: (r.applied.count(), sum(on_topic[t] for t in r.projector.topics))
                          for name, r in runners.items()}
                return {name: c for name, c in counts.items() if c[0] != c[1]}

            try:
                wait_for(lambda: not behind(), timeout=RECOVERY_LIMIT,
                         what="every consumer caught up")
            except AssertionError as e:
                raise AssertionError(f"{e}: (applied, stored) {behind()}; "
                                     f"missing {missing(runners, apps)}") from None
            rows = _progression_rows(world.url)
            acked = {pid for _, pid in world.load.acked}
            assert acked <= {r["participant_id"] for r in rows}, "an acknowledged one is lost"
            exported = list(stores.merged_envelopes(apps))
            assert replay("progression", exported)["participants"] == rows
        finally:
            for app in apps:
                app.close()
            for runner in runners.values():
                runner.db.close()


def missing(runners: dict[str, Any], apps: list[Any]) -> dict[str, Counter[str]]:
    """Per consumer behind: the stored events it never applied, counted by topic and type."""
    stored = [parse_envelope(raw) for raw in stores.merged_envelopes(apps)]
    out: dict[str, Counter[str]] = {}
    for name, runner in runners.items():
        applied = {str(env.id) for env in runner.applied.envelopes()}
        gone = Counter(f"{env.topic} {env.type}" for env in stored
                       if env.topic in runner.projector.topics and str(env.id) not in applied)
        if gone:
            out[name] = gone
    return out


def _progression_rows(url: str) -> list[dict[str, Any]]:
    """The live progression read model, as the API reads it."""
    from services.certification import application as certification

    cert = certification.bootstrap(url)
    try:
        return cert.progression.list(cert.db, limit=10_000_000)
    finally:
        cert.close()


class _env:
    """The system's database for this process's store and projection objects."""

    def __init__(self, world: World) -> None:
        self.url = world.url

    def __enter__(self) -> None:
        import os

        self.before = os.environ.get("YRKESRESAN_DATABASE_URL")
        os.environ["YRKESRESAN_DATABASE_URL"] = self.url

    def __exit__(self, *exc: object) -> None:
        import os

        if self.before is None:
            os.environ.pop("YRKESRESAN_DATABASE_URL", None)
        else:
            os.environ["YRKESRESAN_DATABASE_URL"] = self.before


def _ops(world: World, name: str) -> dict[str, Any]:
    """A relay's or consumer's health ({} while it does not answer: it is starting)."""
    port = world.system.program_port(name)
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()  # type: ignore[no-any-return]
    except httpx.HTTPError:
        return {}


def test_kill_9_of_a_relay(world: World) -> None:
    system = world.system
    recovered_after(world, lambda: system.kill("enrolment-relay", signal.SIGKILL),
                    "kill -9 enrolment-relay")
    settled_and_exact(world)


def test_kill_9_of_the_working_progression_consumer_the_standby_takes_over(
    world: World,
) -> None:
    system = world.system
    names = ("progression-consumer", "progression-consumer-standby")
    working = [n for n in names if not _ops(world, n).get("standing_by")]
    assert len(working) == 1, "exactly one progression consumer works"
    other = next(n for n in names if n != working[0])
    at = time.monotonic()
    recovered_after(world, lambda: system.kill(working[0], signal.SIGKILL),
                    f"kill -9 of the working progression consumer ({working[0]})")
    wait_for(lambda: not _ops(world, other).get("standing_by"), timeout=RECOVERY_LIMIT,
             what="the standby working")
    FIGURES.append(f"lease takeover by {other}: working {time.monotonic() - at:.1f} s after "
                   "the kill (at most; measured after the registration came through)")
    settled_and_exact(world)
    wait_for(lambda: _ops(world, working[0]).get("standing_by") is True, timeout=60,
             what="the restarted instance standing by")


def _workers(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children
            if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def test_kill_9_of_an_api_worker(world: World) -> None:
    manager = world.system.states()["enrolment-api"]["pid"]
    workers = _workers(manager)
    assert len(workers) == 2
    recovered_after(world, lambda: subprocess.run(["kill", "-9", str(workers[0])], check=True),
                    "kill -9 of one of enrolment's two API workers")
    wait_for(lambda: len(_workers(manager)) == 2 and workers[0] not in _workers(manager),
             timeout=RECOVERY_LIMIT, what="a new worker in its place")
    settled_and_exact(world)


def test_after_the_drills_rebuilds_and_replay_of_export_equal_the_live_projections(
    world: World, tmp_path: Path,
) -> None:
    from tests.e2e.test_audit_system import read_models

    world.load.pause()
    settled_and_exact(world)
    system = world.system
    log = tmp_path / "export.jsonl"
    subprocess.run(system.cli("export", "--log", str(log)), env=system.env, check=True,
                   capture_output=True, timeout=120)
    replayed = subprocess.run(system.cli("replay", "progression", "--log", str(log)),
                              env=system.env, check=True, capture_output=True, timeout=120)
    assert json.loads(replayed.stdout)["participants"] == _progression_rows(world.url)
    with _env(world):
        runners = {name: make() for name, make in processes.projections().items()}
        apps = [spec.store() for spec in processes.services().values()]
        db = Database(world.url)
        try:
            # Each projection, wiped (its tables, its applied log) and rebuilt from the stores,
            # equals what its live consumer had kept.
            for name, runner in runners.items():
                own = set(runner.projector.tables)
                before = {t: rows for t, rows in read_models(world.url).items() if t in own}
                for table in own:
                    db.execute(f"DELETE FROM {table}")
                db.execute("DELETE FROM applied_events WHERE consumer = %s",
                           (runner.projector.name,))
                assert stores.rebuild(runner, apps) > 0
                after = {t: rows for t, rows in read_models(world.url).items() if t in own}
                assert after == before, name
        finally:
            db.close()
            for app in apps:
                app.close()


def test_kill_9_of_the_broker(world: World) -> None:
    world.load.resume()
    system = world.system
    recovered_after(world, lambda: system.kill("broker", signal.SIGKILL),
                    "kill -9 of the broker (it comes back empty)")
    settled_and_exact(world)


def test_restart_of_postgresql(world: World) -> None:
    """Last: what it leaves behind is not checked by the rebuild test above."""
    world.load.resume()
    recovered_after(world, world.cluster.restart, "restart of PostgreSQL")
    settled_and_exact(world)
