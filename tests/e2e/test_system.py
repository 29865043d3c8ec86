"""The whole system as a user starts it: separate processes, real PostgreSQL, real broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.platform.auth import Principal, Role, issue_token
from shared.platform.broker import LocalBroker, ensure_topics, free_port
from yrkesresan.launcher import SERVICES, System

pytestmark = pytest.mark.e2e

SYSTEM = {"Authorization": f"Bearer {issue_token(Principal(subject='t', role=Role.SYSTEM))}"}
ADMIN = {"Authorization": "Bearer " + issue_token(
    Principal(subject="admin", role=Role.MUNICIPAL_ADMIN, municipality_id="m1"))}


def _ports_env(broker: LocalBroker) -> dict[str, str]:
    env = {"KAFKA_BOOTSTRAP": broker.bootstrap, "YRKESRESAN_LOG_LEVEL": "INFO"}
    for service in SERVICES:
        env[f"YRKESRESAN_{service.upper()}_PORT"] = str(free_port())
        env[f"YRKESRESAN_{service.upper()}_RELAY_OPS_PORT"] = str(free_port())
    env["YRKESRESAN_PROGRESSION_CONSUMER_OPS_PORT"] = str(free_port())
    env["YRKESRESAN_CERTIFICATION_CONSUMER_OPS_PORT"] = str(free_port())
    return env


@pytest.fixture
def system(pg_url: str, tmp_path: Path) -> Iterator[System]:
    broker = LocalBroker(free_port()).start()
    ensure_topics(broker.bootstrap)
    system = System({**_ports_env(broker), "YRKESRESAN_DATABASE_URL": pg_url}, tmp_path / "logs")
    try:
        system.migrate()
        system.start_all()
        system.wait_healthy([f"{u}/health" for u in system.urls().values()])
        yield system
    finally:
        system.stop()
        broker.stop()


def _reference_data(enrolment: str) -> None:
    with httpx.Client(base_url=enrolment, headers=SYSTEM, timeout=10) as http:
        r = http.post("/regions", json={"region_id": "r1", "name": "RSS Test"})
        assert r.status_code == 201, r.text
        r = http.post("/municipalities",
                      json={"municipality_id": "m1", "name": "Testby", "region_id": "r1"})
        assert r.status_code == 201, r.text


def _progression(certification: str, participant_id: str) -> httpx.Response:
    return httpx.get(f"{certification}/progression/{participant_id}", headers=ADMIN, timeout=5)


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_registration_flows_from_api_to_progression(system: System) -> None:
    urls = system.urls()
    _reference_data(urls["enrolment"])
    r = httpx.post(f"{urls['enrolment']}/participants", headers=ADMIN, timeout=10, json={
        "municipality_id": "m1", "name": "Sara Socionom", "email": "sara@testby.se",
        "role": "socialsekreterare", "years_in_profession": 3.5})
    assert r.status_code == 201, r.text
    pid = r.json()["participant_id"]
    _wait(lambda: _progression(urls["certification"], pid).status_code == 200, 30, "progression")
    row = _progression(urls["certification"], pid).json()
    assert row == {"participant_id": pid, "municipality_id": "m1", "journey": "barn_och_unga",
                   "level": "van", "completed_courses": [], "certificates": 0}
    # Every process counts what it did, and logs JSON lines without personal data.
    def metric(url: str, name: str) -> float:
        lines = httpx.get(url, timeout=5).text.splitlines()
        return sum(float(x.rsplit(" ", 1)[1]) for x in lines if x.startswith(name + "{"))

    assert metric(f"{urls['enrolment']}/metrics", "yrkesresan_events_stored_total") >= 5
    relay_ops = f"http://127.0.0.1:{system.ops_port('enrolment_relay', 0)}/metrics"
    assert metric(relay_ops, "yrkesresan_events_relayed_total") >= 3
    consumer_ops = f"http://127.0.0.1:{system.ops_port('progression_consumer', 0)}"
    assert metric(f"{consumer_ops}/metrics", "yrkesresan_events_applied_total") >= 3
    assert httpx.get(f"{consumer_ops}/health", timeout=5).json()["ok"] is True
    logs = b"".join(p.read_bytes() for p in system.log_dir.glob("*.log"))
    assert b"Sara" not in logs and b"sara@testby.se" not in logs
    assert any(line.startswith(b"{") for line in logs.splitlines())
    # A rejected command writes nothing and says what is wrong.
    bad = httpx.post(f"{urls['enrolment']}/participants", headers=ADMIN, timeout=10, json={
        "municipality_id": "m1", "name": "X", "email": "not-an-address",
        "role": "socialsekreterare", "years_in_profession": -1})
    assert bad.status_code == 422
    fields = {e["loc"][-1] for e in bad.json()["detail"]}
    assert fields == {"email", "years_in_profession"}


def test_relay_killed_mid_stream_loses_nothing_and_duplicates_nothing(system: System) -> None:
    urls = system.urls()
    _reference_data(urls["enrolment"])
    total = 1000
    registered: list[str] = []

    def register_all() -> None:
        with httpx.Client(base_url=urls["enrolment"], headers=ADMIN, timeout=30) as http:
            for i in range(total):
                r = http.post("/participants", json={
                    "municipality_id": "m1", "name": f"Deltagare {i}",
                    "email": f"d{i}@testby.se", "role": "socialsekreterare",
                    "years_in_profession": i % 9, "participant_id": f"k{i:04d}"})
                assert r.status_code == 201, r.text
                registered.append(r.json()["participant_id"])

    writer = threading.Thread(target=register_all)
    writer.start()
    _wait(lambda: len(registered) >= total // 3, 120, "a third registered")
    system.kill("enrolment-relay", signal.SIGKILL)
    killed_at = len(registered)
    time.sleep(1.0)
    system.start_relay("enrolment")
    writer.join(timeout=300)
    assert len(registered) == total and killed_at < total

    def count() -> int:
        r = httpx.get(f"{urls['certification']}/progression", timeout=10, params={"limit": 5000},
                      headers={"Authorization": SYSTEM["Authorization"]})
        return len(r.json()["participants"])

    _wait(lambda: count() >= total, 180, f"{total} participants in the projection")
    time.sleep(2)  # anything re-published after the kill has arrived by now
    assert count() == total
    health = httpx.get(f"http://127.0.0.1:{system.ops_port('progression_consumer', 0)}/health",
                       timeout=5).json()
    assert health["applied"] == total + 2  # + region and municipality, each applied once


def test_make_run_comes_up_and_a_curl_registration_reaches_the_projection(
    tmp_path: Path,
) -> None:
    """`yrkesresan run` (what `make run` calls) on embedded defaults: SQLite and local broker."""
    broker_port = free_port()
    ports = {s: free_port() for s in SERVICES}
    env = {**os.environ, "YRKESRESAN_VAR_DIR": str(tmp_path / "var"),
           "YRKESRESAN_PROGRESSION_CONSUMER_OPS_PORT": str(free_port()),
           "YRKESRESAN_CERTIFICATION_CONSUMER_OPS_PORT": str(free_port()),
           **{f"YRKESRESAN_{s.upper()}_PORT": str(p) for s, p in ports.items()},
           **{f"YRKESRESAN_{s.upper()}_RELAY_OPS_PORT": str(free_port()) for s in SERVICES}}
    env.pop("YRKESRESAN_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "yrkesresan", "run", "--broker-port", str(broker_port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if "Press Ctrl-C" in line:
                break
        assert any("Demo data" in line for line in output), "".join(output)
        token = subprocess.run(
            [sys.executable, "-m", "yrkesresan", "token", "--role", "municipal_admin",
             "--municipality", "falun"], capture_output=True, text=True, check=True, env=env,
        ).stdout.strip()
        enrolment = f"http://127.0.0.1:{ports['enrolment']}"
        curl = subprocess.run(
            ["curl", "-s", "-X", "POST", f"{enrolment}/participants",
             "-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/json",
             "-d", '{"municipality_id": "falun", "name": "Curl Person", '
                   '"email": "curl@falun.example.se", "role": "socialsekreterare", '
                   '"years_in_profession": 6, "participant_id": "curl-1"}'],
            capture_output=True, text=True, check=True)
        assert '"participant_id":"curl-1"' in curl.stdout, curl.stdout
        certification = f"http://127.0.0.1:{ports['certification']}"

        def seen() -> bool:
            r = httpx.get(f"{certification}/progression/curl-1",
                          headers={"Authorization": f"Bearer {token}"}, timeout=5)
            return r.status_code == 200 and r.json()["level"] == "erfaren"

        _wait(seen, 30, "the curl registration in the projection")
        assert (tmp_path / "var" / "enrolment.sqlite").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
