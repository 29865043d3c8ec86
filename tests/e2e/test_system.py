"""The whole system as a user starts it: separate processes, real PostgreSQL, real broker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from icalendar import Calendar
from kafka import KafkaConsumer, TopicPartition

from shared.events import ALL_TOPICS, EVENT_TYPES, parse_envelope
from shared.platform import asof
from shared.platform.auth import Principal, Role
from tests.ports import ports_env
from tests.tokens import mint
from yrkesresan.launcher import SERVICES, System
from yrkesresan.processes import registry

pytestmark = pytest.mark.e2e

SYSTEM = {"Authorization": f"Bearer {mint(Principal(subject='t', role=Role.SYSTEM))}"}


def _admin(municipality_id: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint(
        Principal(subject="admin", role=Role.MUNICIPAL_ADMIN, municipality_id=municipality_id))}


def _metric(url: str, name: str) -> float:
    lines = httpx.get(url, timeout=5).text.splitlines()
    return sum(float(x.rsplit(" ", 1)[1]) for x in lines if x.startswith(name + "{"))


def _reference_data(enrolment: str) -> str:
    """A region and a municipality of the test's own (the tests share one running system);
    the municipality's id."""
    tag = uuid.uuid4().hex[:6]
    with httpx.Client(base_url=enrolment, headers=SYSTEM, timeout=10) as http:
        r = http.post("/regions", json={"region_id": f"r-{tag}", "name": "RSS Test"})
        assert r.status_code == 201, r.text
        r = http.post("/municipalities",
                      json={"municipality_id": f"m-{tag}", "name": "Testby",
                            "region_id": f"r-{tag}"})
        assert r.status_code == 201, r.text
    return f"m-{tag}"


def _progression(certification: str, participant_id: str, municipality_id: str
                 ) -> httpx.Response:
    return httpx.get(f"{certification}/progression/{participant_id}",
                     headers=_admin(municipality_id), timeout=5)


def _ics(content: str) -> tuple[str, str, int]:
    """(METHOD, UID, SEQUENCE) of a calendar file with one event, parsed by icalendar."""
    cal = Calendar.from_ical(content)
    event = cal.walk("VEVENT")[0]
    return str(cal["METHOD"]), str(event["UID"]), int(event["SEQUENCE"])


def _types_on_bus(bootstrap: str, timeout: float = 180) -> tuple[set[str], set[float]]:
    """The event types on the contract topics, read from the start as an outsider would, until
    every type of the contract is seen (or `timeout`: what was seen by then); and the years in
    the profession registered with more than one decimal (float noise a person would see)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False)
    try:
        parts = [TopicPartition(t, p) for t in ALL_TOPICS
                 for p in consumer.partitions_for_topic(t) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        seen: set[str] = set()
        noisy: set[float] = set()
        deadline = time.monotonic() + timeout
        while seen < set(EVENT_TYPES) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                for env in (parse_envelope(r.value) for r in batch):
                    seen.add(env.type)
                    years = getattr(env.data, "years_in_profession", None)
                    if years is not None and round(years, 1) != years:
                        noisy.add(years)
        return seen, noisy
    finally:
        consumer.close()


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    """Until `predicate()`; a request of it that timed out or found nothing listening (a
    loaded machine, a process restarting) counts as not yet, up to the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_registration_flows_from_api_to_progression(system: System) -> None:
    urls = system.urls()
    m = _reference_data(urls["enrolment"])
    r = httpx.post(f"{urls['enrolment']}/participants", headers=_admin(m), timeout=10, json={
        "municipality_id": m, "name": "Sara Socionom", "email": "sara@testby.se",
        "role": "socialsekreterare", "years_in_profession": 3.5})
    assert r.status_code == 201, r.text
    pid = r.json()["participant_id"]
    _wait(lambda: _progression(urls["certification"], pid, m).status_code == 200, 30,
          "progression")
    row = _progression(urls["certification"], pid, m).json()
    assert row == {"participant_id": pid, "municipality_id": m, "journey": "barn_och_unga",
                   "level": "van", "completed_courses": [], "certificates": 0}
    # Every process counts what it did, and logs JSON lines without personal data.
    assert _metric(f"{urls['enrolment']}/metrics", "yrkesresan_events_stored_total") >= 5
    relay_ops = f"http://127.0.0.1:{system.ops_port('enrolment_relay', 0)}/metrics"
    assert _metric(relay_ops, "yrkesresan_events_relayed_total") >= 3
    consumer_ops = f"http://127.0.0.1:{system.ops_port('progression_consumer', 0)}"
    assert _metric(f"{consumer_ops}/metrics", "yrkesresan_events_applied_total") >= 3
    assert httpx.get(f"{consumer_ops}/health", timeout=5).json()["ok"] is True
    logs = b"".join(p.read_bytes() for p in system.log_dir.glob("*.log"))
    assert b"Sara" not in logs and b"sara@testby.se" not in logs
    assert any(line.startswith(b"{") for line in logs.splitlines())
    # A rejected command writes nothing and says what is wrong.
    bad = httpx.post(f"{urls['enrolment']}/participants", headers=_admin(m), timeout=10, json={
        "municipality_id": m, "name": "X", "email": "not-an-address",
        "role": "socialsekreterare", "years_in_profession": -1})
    assert bad.status_code == 422
    fields = {e["loc"][-1] for e in bad.json()["detail"]}
    assert fields == {"email", "years_in_profession"}


def _bearer(**claims: str) -> dict[str, str]:
    subject = claims.pop("subject", "e2e")
    return {"Authorization": "Bearer " + mint(Principal(subject=subject, **claims))}  # type: ignore[arg-type]


def _created(response: httpx.Response) -> bool:
    """201; 404 while the copy has not learned the ids yet; anything else fails the test."""
    assert response.status_code in (201, 404), response.text
    return response.status_code == 201


def test_scopes_hold_across_the_running_processes(system: System) -> None:
    """The holes of issue 8, through the real pipe: scheduling learns participants and trainers
    from the bus; an administrator books only their own; unknown and out of scope look alike;
    a coordinator reads progression only in their region."""
    urls, tag = system.urls(), uuid.uuid4().hex[:6]  # ids of its own: the system is shared
    r1, r2, occasion = f"r1-{tag}", f"r2-{tag}", f"occ-{tag}"
    falun, mora, malmo = f"falun-{tag}", f"mora-{tag}", f"malmo-{tag}"
    with httpx.Client(base_url=urls["enrolment"], headers=SYSTEM, timeout=10) as http:
        for rid in (r1, r2):
            assert http.post("/regions", json={"region_id": rid, "name": rid}).status_code == 201
        for mid, rid in ((falun, r1), (mora, r1), (malmo, r2)):
            assert http.post("/municipalities", json={
                "municipality_id": mid, "name": mid, "region_id": rid}).status_code == 201
        ids = {}
        for mid in (falun, mora):
            r = http.post("/participants", json={
                "municipality_id": mid, "name": f"Person {mid}", "email": f"p@{mid}.se",
                "role": "socialsekreterare", "years_in_profession": 1})
            ids[mid] = r.json()["participant_id"]
        trainer = http.post("/trainers", json={"municipality_id": falun, "name": "Karin T",
                                               "email": f"karin@{falun}.se"}).json()["trainer_id"]
    falun_admin = _bearer(role="municipal_admin", municipality_id=falun)
    coordinator = _bearer(role="regional_coordinator", region_id=r1)
    with httpx.Client(base_url=urls["scheduling"], timeout=10) as http:
        _wait(lambda: http.post("/catalogue", headers=SYSTEM).status_code == 200, 10, "catalogue")
        plan = {"occasion_id": occasion, "course_id": "bou-ny-samtal", "region_id": r1,
                "capacity": 10, "days": [{"day": 1, "date": "2025-05-02", "mode": "digital"},
                                         {"day": 2, "date": "2025-05-09", "mode": "on_site",
                                          "venue": "Aulan"}]}
        _wait(lambda: _created(http.post("/occasions", headers=coordinator, json=plan)), 30,
              "the region known to scheduling")
        own = {"participant_id": ids[falun]}
        _wait(lambda: _created(http.post(f"/occasions/{occasion}/bookings",
                                         headers=falun_admin, json=own)),
              30, "falun's participant known")
        theirs = http.post(f"/occasions/{occasion}/bookings", headers=falun_admin,
                           json={"participant_id": ids[mora]})
        nobody = http.post(f"/occasions/{occasion}/bookings", headers=falun_admin,
                           json={"participant_id": "19121212-1212"})
        assert theirs.status_code == nobody.status_code == 404
        assert theirs.json()["detail"].replace(ids[mora], "X") == nobody.json()[
            "detail"].replace("19121212-1212", "X")
        chosen = http.post(f"/occasions/{occasion}/bookings", headers=falun_admin,
                           json={"participant_id": ids[falun], "municipality_id": mora})
        assert chosen.status_code == 422
        leader = {"trainer_id": trainer, "role": "leader"}
        _wait(lambda: _created(http.post(f"/occasions/{occasion}/trainers", headers=coordinator,
                                         json=leader)), 30, "the trainer known")
        roster = http.get(f"/occasions/{occasion}/roster", headers=coordinator).json()
        assert roster["bookings"] == [{"participant_id": ids[falun], "municipality_id": falun}]
        assert roster["team"][0]["municipality_id"] == falun
    certification = urls["certification"]
    other_region = _bearer(role="regional_coordinator", region_id=r2)
    _wait(lambda: httpx.get(f"{certification}/progression/{ids[mora]}", headers=coordinator,
                            timeout=5).status_code == 200, 30, "progression of mora's")
    hidden = httpx.get(f"{certification}/progression/{ids[mora]}", headers=other_region,
                       timeout=5)
    unknown = httpx.get(f"{certification}/progression/{uuid.uuid4()}", headers=other_region,
                        timeout=5)
    assert hidden.status_code == unknown.status_code == 404


def test_relay_killed_mid_stream_loses_nothing_and_duplicates_nothing(system: System) -> None:
    urls = system.urls()
    relay = f"http://127.0.0.1:{system.ops_port('enrolment_relay', 0)}/metrics"
    consumer = f"http://127.0.0.1:{system.ops_port('progression_consumer', 0)}"

    def settled() -> bool:
        """The relay has published all it stored, and the consumer has read all the broker
        holds (both lag gauges at 0)."""
        return (_metric(relay, "yrkesresan_relay_lag_events") == 0
                and _metric(f"{consumer}/metrics", "yrkesresan_consumer_lag_messages") == 0)

    _wait(settled, 60, "what earlier tests did settled")  # the system is shared
    applied_before = httpx.get(f"{consumer}/health", timeout=5).json()["applied"]
    m = _reference_data(urls["enrolment"])
    total = 1000
    registered: list[str] = []

    def register_all() -> None:
        with httpx.Client(base_url=urls["enrolment"], headers=_admin(m), timeout=30) as http:
            for i in range(total):
                r = http.post("/participants", json={
                    "municipality_id": m, "name": f"Deltagare {i}",
                    "email": f"d{i}@testby.se", "role": "socialsekreterare",
                    "years_in_profession": i % 9})
                assert r.status_code == 201, r.text
                registered.append(r.json()["participant_id"])

    writer = threading.Thread(target=register_all)
    writer.start()
    _wait(lambda: len(registered) >= total // 3, 120, "a third registered")
    killed = system.kill("enrolment-relay", signal.SIGKILL)
    killed_at = len(registered)
    system.wait_restarted("enrolment-relay", killed)  # by the supervisor, nobody else
    writer.join(timeout=300)
    assert len(registered) == total and killed_at < total

    def count() -> int:
        r = httpx.get(f"{urls['certification']}/progression", timeout=10,
                      params={"limit": 5000, "municipality_id": m}, headers=SYSTEM)
        return len(r.json()["participants"])

    _wait(lambda: count() >= total, 180, f"{total} participants in the projection")
    # Settled: what was re-published after the kill has been applied too.
    _wait(settled, 60, "relay and consumer caught up")
    assert count() == total
    health = httpx.get(f"{consumer}/health", timeout=5).json()
    # + region and municipality, each applied once
    assert health["applied"] == applied_before + total + 2


def test_make_run_comes_up_and_a_curl_registration_reaches_the_projection(
    tmp_path: Path,
) -> None:
    """`yrkesresan run` (what `make run` calls) on embedded defaults: SQLite and local broker."""
    for attempt in range(1, 4):  # on other ports when one was taken (tests/ports.py)
        ports_of, broker_port = ports_env(registry())
        env = {**os.environ, "YRKESRESAN_VAR_DIR": str(tmp_path / "var"), **ports_of}
        env.pop("YRKESRESAN_DATABASE_URL", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "yrkesresan", "run", "--broker-port", str(broker_port)],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        output: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if "Press Ctrl-C" in line:
                break
        if any("Press Ctrl-C" in line for line in output) or attempt == 3 or not any(
                "PortConflict" in line for line in output):
            break
        proc.wait(timeout=60)
    ports = {s: int(ports_of[f"YRKESRESAN_{s.upper()}_PORT"]) for s in SERVICES}
    mail = ports_of
    try:
        assert any("Demo data" in line for line in output), "".join(output)
        assert any("Re-planning demo" in line for line in output), "".join(output)
        assert any("Billing demo" in line for line in output), "".join(output)
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
                   '"years_in_profession": 6}'],
            capture_output=True, text=True, check=True)
        pid = json.loads(curl.stdout)["participant_id"]  # minted by the service
        certification = f"http://127.0.0.1:{ports['certification']}"

        def seen() -> bool:
            r = httpx.get(f"{certification}/progression/{pid}",
                          headers={"Authorization": f"Bearer {token}"}, timeout=5)
            return r.status_code == 200 and r.json()["level"] == "erfaren"

        _wait(seen, 30, "the curl registration in the projection")
        assert (tmp_path / "var" / "enrolment.sqlite").exists()
        # The demo's bookings are confirmed by e-mail, in the mail catcher `run` printed.
        catcher = f"http://127.0.0.1:{mail['YRKESRESAN_MAILCATCHER_HTTP_PORT']}"
        assert any(catcher in line for line in output), "".join(output)

        def confirmed() -> list[dict[str, object]]:
            return [m for m in httpx.get(f"{catcher}/messages", timeout=5).json()
                    if m["subject"] == "Bokningsbekräftelse: Våld och utsatthet"]

        # Three booked on the upcoming occasion, four on the one the demo re-plans.
        _wait(lambda: len(confirmed()) == 7, 60, "seven booking confirmations")
        assert all(m["attachments"] == ["kursdag-1.ics", "kursdag-2.ics"] for m in confirmed())
        # Issue 12 as a newcomer sees it: the demo moved day 2 of an occasion after its four
        # booked had their confirmations, and cancelled another: an update of the same entry
        # (same UID, higher SEQUENCE) and a cancellation of each, once.
        def calendars(subject: str) -> list[list[tuple[str, str, int]]]:
            found = []
            for m in httpx.get(f"{catcher}/messages", timeout=30).json():
                if m["subject"] == subject:
                    detail = httpx.get(f"{catcher}/messages/{m['id']}", timeout=30).json()
                    found.append([_ics(c["content"]) for c in detail["calendars"]])
            return found

        _wait(lambda: len(calendars("Ändrade kursdagar: Våld och utsatthet")) == 4
              and len(calendars("Inställt kurstillfälle: Arbeta med familjehem")) == 4, 60,
              "four calendar updates and four cancellations")
        replanned = "kurstillfalle-demo-omplanerad-1-dag-{}@yrkesresan"
        first = [e for cal in calendars("Bokningsbekräftelse: Våld och utsatthet") for e in cal
                 if e[1] == replanned.format(2)]
        assert len(first) == 4 and {e[0] for e in first} == {"REQUEST"}
        for update in calendars("Ändrade kursdagar: Våld och utsatthet"):
            [(method, uid, sequence)] = update
            assert (method, uid) == ("REQUEST", replanned.format(2))
            assert sequence > first[0][2]
        for cancel in calendars("Inställt kurstillfälle: Arbeta med familjehem"):
            assert cancel == [("CANCEL", "kurstillfalle-demo-installd-1-dag-1@yrkesresan", 1)]
        # Billing's demo closed last year and reported a day of it late: this year's first
        # invoice basis carries it as an adjustment; last year's is a PDF to file.
        mora = {"Authorization": "Bearer " + mint(Principal(
            subject="adm", role=Role.MUNICIPAL_ADMIN, municipality_id="mora"))}
        invoices = f"http://127.0.0.1:{ports['billing']}/regions/rss-dalarna/years"
        year = asof.today().year
        basis = httpx.get(f"{invoices}/{year}/invoices/mora", headers=mora, timeout=10).json()
        assert (basis["adjustment_days"], basis["adjustment_sek"]) == (1, 1250), basis
        closed = httpx.get(f"{invoices}/{year - 1}/invoices/mora/fakturaunderlag.pdf",
                           headers=mora, timeout=30)
        assert closed.status_code == 200 and closed.content.startswith(b"%PDF")
        # A newcomer sees every kind of event of the contract on the bus (issue 9).
        on_bus, noisy = _types_on_bus(f"127.0.0.1:{broker_port}")
        assert not set(EVENT_TYPES) - on_bus, sorted(set(EVENT_TYPES) - on_bus)
        assert not noisy, sorted(noisy)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
