"""Starts the whole system as separate processes, the way production runs it: broker, one API
and one relay per service, the consumers (progression, scheduling's registry copy, enrolment's
catalogue copy, billing's facts), the notification process and (locally, in place of a real
SMTP server) a mail catcher. Used by `make run` and the e2e tests."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from shared.platform import asof
from shared.platform.auth import Principal, Role, ensure_dev_keys, issue_token
from shared.platform.broker import ensure_topics, tansu_command, wait_for_port
from shared.platform.settings import SERVICE_PORTS, Settings
from yrkesresan.demo import working_day
from yrkesresan.processes import Program, registry
from yrkesresan.supervision import APP, INFRA, Supervised, Supervisor

SERVICES = tuple(SERVICE_PORTS)


class PortConflict(RuntimeError):
    """A process found the port it was given taken (start again on other ports)."""


_ADDRESS_IN_USE = re.compile(r"address (already )?in use", re.IGNORECASE)


class System:
    """The processes of `processes.registry()` (and, given a port, the local broker) under one
    supervisor (`yrkesresan/supervision.py`): each restarted when it dies, all stopped together.
    The child processes share one environment."""

    def __init__(self, env: dict[str, str], log_dir: Path, broker_port: int | None = None,
                 programs: Sequence[Program] | None = None) -> None:
        self.env = {**os.environ, **env}
        self.log_dir = log_dir
        self.broker_port = broker_port
        if broker_port is not None:
            self.env["KAFKA_BOOTSTRAP"] = f"127.0.0.1:{broker_port}"
        self.programs = {p.name: p for p in (registry() if programs is None else programs)}
        smtp, _ = self.mail_ports()
        self.env.setdefault("YRKESRESAN_SMTP_HOST", "127.0.0.1")
        self.env.setdefault("YRKESRESAN_SMTP_PORT", str(smtp))
        self.env.setdefault("YRKESRESAN_ENROLMENT_URL", self.urls()["enrolment"])
        self.supervisor: Supervisor | None = None
        log_dir.mkdir(parents=True, exist_ok=True)

    def cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "yrkesresan", *args]

    def migrate(self) -> None:
        subprocess.run(self.cli("migrate"), env=self.env, check=True,
                       stdout=subprocess.DEVNULL)

    def program_port(self, name: str, placeholder: str = "port") -> int:
        variable, default = self.programs[name].ports[placeholder]
        return int(self.env.get(variable) or default)

    def argv(self, program: Program) -> list[str]:
        ports = {key: str(self.program_port(program.name, key)) for key in program.ports}
        return self.cli(*(a.format(**ports) for a in program.args))

    def health_urls(self) -> dict[str, str]:
        return {name: f"http://127.0.0.1:{self.program_port(name)}{p.health}"
                for name, p in self.programs.items()}

    def start_all(self) -> None:
        """Start the supervisor, the broker (if any) and, once it answers, every process."""
        supervised = [Supervised(name, self.argv(p)) for name, p in self.programs.items()]
        if self.broker_port is not None:
            supervised.append(Supervised("broker", tansu_command(self.broker_port), INFRA,
                                         env={"RUST_LOG": "warn"}, stopwaitsecs=8))
        self.supervisor = Supervisor(supervised, self.log_dir, self.env)
        self.supervisor.start()
        if self.broker_port is not None:
            wait_for_port("127.0.0.1", self.broker_port, 30)
            ensure_topics(self.env["KAFKA_BOOTSTRAP"])
        self.supervisor.start_group(APP)

    def port(self, service: str) -> int:
        return self.program_port(f"{service}-api")

    def ops_port(self, name: str, default: int) -> int:
        return int(self.env.get(f"YRKESRESAN_{name.upper()}_OPS_PORT", default))

    def region_feed_url(self) -> str:
        return f"http://127.0.0.1:{self.program_port('region-feed')}"

    def dashboard_port(self) -> int:
        return self.program_port("dashboard-web")

    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port()}"

    def mail_ports(self) -> tuple[int, int]:
        """(SMTP, web) of the local mail catcher."""
        return (self.program_port("mailcatcher", "smtp"), self.program_port("mailcatcher"))

    def mail_url(self) -> str:
        return f"http://127.0.0.1:{self.mail_ports()[1]}"

    def demo_recipients(self, municipalities: Sequence[str]) -> None:
        """Each municipality's weekly summary goes to a demo address (see the catcher)."""
        for mid in municipalities:
            subprocess.run(self.cli("notification", "recipient", "set", mid,
                                    f"yrkesresan@{mid}.example.se"),
                           env=self.env, check=True, stdout=subprocess.DEVNULL)

    def urls(self, host: str = "127.0.0.1") -> dict[str, str]:
        return {s: f"http://{host}:{self.port(s)}" for s in SERVICES}

    def _supervised(self) -> Supervisor:
        if self.supervisor is None:
            raise RuntimeError("start_all() first")
        return self.supervisor

    def states(self) -> dict[str, dict[str, Any]]:
        """Each process's state, as the supervisor has it (`statename`, `pid`)."""
        return self._supervised().info()

    def wait_healthy(self, urls: Sequence[str] | None = None, timeout: float = 120) -> None:
        """Until every URL (by default every process's health) answers 200; a process the
        supervisor gave up on fails at once, with the end of its log."""
        deadline = time.monotonic() + timeout
        # One client for every poll: `httpx.get` builds a client (and its TLS context) per
        # call, some 60 ms of CPU, which at five polls a second took a third of a core from
        # the processes being waited for.
        with httpx.Client(timeout=1) as http:
            for url in urls if urls is not None else self.health_urls().values():
                while True:
                    for name, state in self.states().items():
                        if state["statename"] in ("BACKOFF", "EXITED", "FATAL"):
                            self._raise_for(name, state["statename"])
                    try:
                        if http.get(url).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{url} did not become healthy")
                    time.sleep(0.2)

    def _raise_for(self, name: str, state: str) -> None:
        """A process that did not start: PortConflict when its port was taken, RuntimeError
        once the supervisor gave up on it."""
        log = self.log_dir / (name + ".log")
        tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
        if any(_ADDRESS_IN_USE.search(line) for line in tail):
            raise PortConflict(f"{name}: its port is taken")
        if state == "FATAL":
            raise RuntimeError(f"{name} keeps exiting; {log} ends:\n" + "\n".join(tail))

    def kill(self, name: str, sig: int) -> int:
        """Send a signal to one process (the supervisor restarts it); returns its pid."""
        pid = self._supervised().pid(name)
        if not pid:
            raise RuntimeError(f"{name} is not running")
        os.kill(pid, sig)
        return pid

    def wait_restarted(self, name: str, old_pid: int, timeout: float = 60) -> int:
        """Until the supervisor has started `name` again (a pid other than `old_pid`)."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.states()[name]
            if state["pid"] not in (0, old_pid) and state["statename"] in ("STARTING",
                                                                           "RUNNING"):
                return int(state["pid"])
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} was not restarted (state {state['statename']})")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()
            self.supervisor = None


def _bearer(**claims: str) -> dict[str, str]:
    token = issue_token(Principal(subject=claims.pop("subject", "demo"), **claims))  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


def _ok(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        raise RuntimeError(f"demo data: {response.request.method} {response.request.url.path} "
                           f"answered {response.status_code}: {response.text}")
    return response


def _once_known(call: Callable[[], httpx.Response], timeout: float = 60) -> httpx.Response:
    """Repeat a call answered 404 until the service has learned the ids it names from the
    bus (scheduling and enrolment keep copies, fed by consumers), then insist on success."""
    deadline = time.monotonic() + timeout
    response = call()
    while response.status_code == 404 and time.monotonic() < deadline:
        time.sleep(0.25)
        response = call()
    return _ok(response)


REGION = "rss-dalarna"
MUNICIPALITIES = {"falun": "Falun", "borlange": "Borlänge", "mora": "Mora"}
TEAM = (("Karin", "falun", "leader"), ("Ulf", "borlange", "trainer"), ("Rosa", "mora", "reserve"))
CERTIFICATION_LEADER = ("Fia", "mora", "leader")  # of the certification demo's occasion
OCCASION = "demo-samtal-1"
COURSE = "bou-ny-samtal"


@dataclass
class Demo:
    """The ids the demo data minted (printed, for curl)."""

    participants: dict[str, list[str]] = field(default_factory=dict)  # municipality -> ids
    order: list[str] = field(default_factory=list)  # every participant, as registered
    trainers: dict[str, str] = field(default_factory=dict)  # first name -> id

    def booked(self) -> list[str]:
        """Eight participants: three of Falun, three of Borlänge, two of Mora."""
        return [pid for ids in self.participants.values() for pid in ids[:3]][:8]


def load_demo(urls: dict[str, str], participants: int = 12) -> Demo | None:
    """A region with three municipalities, participant and trainer accounts (ids minted by
    enrolment), the Barn och unga Ny catalogue, and one course occasion of *Samtal och
    delaktighet* run to the end: a trainer team (course leader, trainer, reserve), bookings,
    preparations and two attended days. Every step goes through the APIs, as the people doing
    it would. None when an earlier start loaded it already."""
    coordinator = _bearer(role=Role.REGIONAL_COORDINATOR, region_id=REGION)
    if httpx.get(f"{urls['scheduling']}/occasions/{OCCASION}", headers=coordinator,
                 timeout=30).status_code == 200:
        return None
    demo = Demo()
    with httpx.Client(base_url=urls["enrolment"], headers=_bearer(role=Role.SYSTEM),
                      timeout=30) as http:
        http.post("/regions", json={"region_id": REGION, "name": "RSS Dalarna"})
        for mid, name in MUNICIPALITIES.items():
            http.post("/municipalities",
                      json={"municipality_id": mid, "name": name, "region_id": REGION})
        roles = ["socialsekreterare"] * 3 + ["arbetsledare"]
        for i in range(participants):
            mid = list(MUNICIPALITIES)[i % 3]
            r = _ok(http.post("/participants", headers=_bearer(
                role=Role.MUNICIPAL_ADMIN, municipality_id=mid), json={
                "municipality_id": mid, "name": f"Demodeltagare {i + 1}",
                "email": f"demo{i + 1}@{mid}.example.se", "role": roles[i % 4],
                "years_in_profession": round((i * 1.3) % 8, 1)}))
            demo.participants.setdefault(mid, []).append(r.json()["participant_id"])
            demo.order.append(r.json()["participant_id"])
        for name, mid, _ in (*TEAM, CERTIFICATION_LEADER):
            r = _ok(http.post("/trainers", headers=coordinator, json={
                "municipality_id": mid, "name": f"{name} Utbildare",
                "email": f"{name.lower()}.utbildare@{mid}.example.se"}))
            demo.trainers[name] = r.json()["trainer_id"]
    _demo_occasion(urls, demo)
    _demo_upcoming(urls, demo)
    return demo


UPCOMING = "demo-vald-1"


def course_day(days_from_today: int) -> dt.date:
    """A demo course day about `days_from_today` away, on a weekday: moved back for a day gone
    by (its attendance is reported), forward for one to come."""
    day = asof.today() + dt.timedelta(days=days_from_today)
    return working_day(day, -1 if days_from_today < 0 else 1)


def _demo_upcoming(urls: dict[str, str], demo: Demo) -> None:
    """An occasion of *Våld och utsatthet* starting within a week, three places and four
    bookings: the three booked get a confirmation with calendar entries and a reminder of the
    preparations not done (see the mail catcher), the fourth waits for a place. The occasion to
    re-plan or cancel when trying it out. The four are those the certification step puts on
    *Verktyg i vardagen*, not booked on the first occasion."""
    people = [pid for pid in demo.order if pid not in demo.booked()][:4]
    coordinator = _bearer(role=Role.REGIONAL_COORDINATOR, region_id=REGION)
    with httpx.Client(base_url=urls["scheduling"], headers=coordinator, timeout=30) as http:
        _ok(http.post("/occasions", json={
            "occasion_id": UPCOMING, "course_id": "bou-ny-vald", "region_id": REGION,
            "capacity": 3, "days": [
                {"day": 1, "date": str(course_day(5)), "mode": "digital"},
                {"day": 2, "date": str(course_day(12)), "mode": "on_site",
                 "venue": "Kulturhuset Tjärna Ängar, Borlänge"}]}))
        for pid in people:
            _once_known(partial(http.post, f"/occasions/{UPCOMING}/bookings",
                                json={"participant_id": pid}))


def _demo_occasion(urls: dict[str, str], demo: Demo) -> None:
    people = demo.booked()
    days = [course_day(-21), course_day(-7)]
    coordinator = _bearer(role=Role.REGIONAL_COORDINATOR, region_id=REGION)
    with httpx.Client(base_url=urls["scheduling"], headers=coordinator, timeout=30) as http:
        _ok(http.post("/catalogue", headers=_bearer(role=Role.SYSTEM)))
        _once_known(lambda: http.post("/occasions", json={
            "occasion_id": OCCASION, "course_id": COURSE, "region_id": REGION, "capacity": 20,
            "days": [{"day": 1, "date": str(days[0]), "mode": "digital"},
                     {"day": 2, "date": str(days[1]), "mode": "on_site",
                      "venue": "Kulturhuset Tjärna Ängar, Borlänge"}]}))
        for name, _, role in TEAM:
            body = {"trainer_id": demo.trainers[name], "role": role}
            _once_known(partial(http.post, f"/occasions/{OCCASION}/trainers", json=body))
        for pid in people:
            _once_known(partial(http.post, f"/occasions/{OCCASION}/bookings",
                                json={"participant_id": pid}))
        leader = _bearer(role=Role.TRAINER, trainer_id=demo.trainers["Karin"])
        delivered = [{"trainer_id": demo.trainers["Karin"], "role": "leader"},
                     {"trainer_id": demo.trainers["Ulf"], "role": "trainer"}]
        _ok(http.post(f"/occasions/{OCCASION}/days/1/attendance", headers=leader,
                      json={"present": people, "delivered_by": delivered}))
        _ok(http.post(f"/occasions/{OCCASION}/days/2/attendance", headers=leader,
                      json={"present": people[:-1], "delivered_by": delivered}))  # one absent
    with httpx.Client(base_url=urls["enrolment"], timeout=30) as http:
        for pid in people[:6]:  # two never did their preparations
            me = _bearer(role=Role.PARTICIPANT, participant_id=pid)
            for item in ("sod-f1", "sod-f2", "sod-f3"):
                _once_known(partial(http.post, f"/participants/{pid}/preparations",
                                    headers=me, json={"course_id": COURSE, "item_id": item}))


def describe(demo: Demo | None) -> str:
    if demo is None:
        return "Demo data: loaded on an earlier start (var/ keeps it; `make clean` starts over)."
    lines = [f"Demo data: region {REGION}, municipalities {', '.join(MUNICIPALITIES)}; course "
             f"occasion {OCCASION} (Samtal och delaktighet) run with two days, bookings, a "
             f"trainer team and preparations; {UPCOMING} (Våld och utsatthet) starting within "
             "a week with three bookings and one on the waitlist (their e-mail is in the mail "
             "catcher). Ids are minted:"]
    lines += [f"  participants in {mid}: {' '.join(ids)}"
              for mid, ids in demo.participants.items()]
    lines += [f"  trainer {name} ({role}, {mid}): {demo.trainers[name]}"
              for name, mid, role in (*TEAM, CERTIFICATION_LEADER)]
    return "\n".join(lines)


def load_certification_demo(urls: dict[str, str], demo: Demo,
                            timeout: float = 90) -> dict[str, object]:
    """The certification step of the demo, after `load_demo`: a digital occasion of *Verktyg i
    vardagen* run to the end, then the certificates both occasions earned (issued by the
    certification consumer from the bus), and evaluations from some of those who completed.
    Returns what a newcomer can try (a certificate id and its verification code)."""
    region, course, occasion = REGION, "bou-ny-verktyg", "demo-verktyg-1"
    people = [pid for pid in demo.order if pid not in demo.booked()][:4]
    fia = demo.trainers["Fia"]
    coordinator = _bearer(role=Role.REGIONAL_COORDINATOR, region_id=region)
    with httpx.Client(base_url=urls["scheduling"], timeout=30) as http:
        if http.get(f"/occasions/{occasion}", headers=coordinator).status_code != 200:
            day = course_day(-3)
            _ok(http.post("/occasions", headers=coordinator, json={
                "occasion_id": occasion, "course_id": course, "region_id": region,
                "capacity": 60, "days": [{"day": 1, "date": str(day), "mode": "digital"}]}))
            _once_known(partial(http.post, f"/occasions/{occasion}/trainers",
                                headers=coordinator, json={"trainer_id": fia, "role": "leader"}))
            for pid in people:
                _once_known(partial(http.post, f"/occasions/{occasion}/bookings",
                                    headers=coordinator, json={"participant_id": pid}))
            _ok(http.post(f"/occasions/{occasion}/days/1/attendance", headers=_bearer(
                role=Role.TRAINER, trainer_id=fia), json={
                "present": people, "delivered_by": [{"trainer_id": fia, "role": "leader"}]}))
    with httpx.Client(base_url=urls["enrolment"], timeout=30) as http:
        for pid in people:
            _once_known(partial(http.post, f"/participants/{pid}/preparations", json={
                "course_id": course, "item_id": "viv-f1"},
                headers=_bearer(role=Role.PARTICIPANT, participant_id=pid)))
    completed = demo.booked()[:6] + people
    certificates = _wait_for_certificates(urls["certification"], completed, timeout)
    _demo_evaluations(urls["certification"], certificates)
    first = certificates[0]
    return {"certificates": len(certificates), "certificate_id": first["certificate_id"],
            "participant_id": first["participant_id"],
            "verification_code": first["verification_code"]}


def _wait_for_certificates(base: str, participants: list[str],
                           timeout: float) -> list[dict[str, Any]]:
    """Every participant's certificates, once each has one (the consumer works from the bus)."""
    system = _bearer(role=Role.SYSTEM)
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base, headers=system, timeout=10) as http:
        while True:
            found = [c for pid in participants
                     for c in http.get(f"/participants/{pid}/certificates").json().get(
                         "certificates", [])]
            if {c["participant_id"] for c in found} >= set(participants):
                return found
            if time.monotonic() > deadline:
                raise RuntimeError(f"demo data: {len(found)} certificates after {timeout} s; "
                                   "see the certification consumer's log")
            time.sleep(0.5)


def _demo_evaluations(base: str, certificates: list[dict[str, Any]]) -> None:
    """Two in three answer the questionnaire; the scores differ by occasion."""
    with httpx.Client(base_url=base, timeout=10) as http:
        for n, c in enumerate(certificates):
            if n % 3 == 2:
                continue
            me = _bearer(role=Role.PARTICIPANT, participant_id=c["participant_id"])
            digital = c["occasion_id"] == "demo-verktyg-1"
            answers = {"nytta": 4 + n % 2, "forberedelser": 3 + n % 3, "ovningar": 4,
                       "utbildare": 5, "upplagg": 3 if digital else 5,
                       "rekommendera": 4 + (n + 1) % 2}
            r = http.post(f"/participants/{c['participant_id']}/evaluations/{c['occasion_id']}",
                          headers=me, json={"answers": answers})
            if r.status_code != 409:  # answered on an earlier start
                _ok(r)


# --- the re-planning step: a day of a booked occasion moved, another occasion cancelled ---------

REPLANNED, CANCELLED = "demo-omplanerad-1", "demo-installd-1"


def load_replanning_demo(urls: dict[str, str], demo: Demo, mail_url: str | None = None,
                         timeout: float = 120) -> dict[str, str]:
    """After `load_demo`: a booked occasion of *Våld och utsatthet* whose day 2 the coordinator
    moves (`CourseOccasionRescheduled`) once the booked have their confirmations (with
    `mail_url`, the mail catcher: else the confirmation would carry the new plan already and no
    update would be seen), and from whose team a trainer is taken (`TrainerUnassigned`); and a
    booked occasion of *Arbeta med familjehem* that is cancelled for too few sign-ups
    (`CourseOccasionCancelled`); the notification process sends those booked an updated
    calendar entry, and a cancellation. Returns what was done."""
    moved_to = course_day(28)
    people = demo.booked()[:4]
    coordinator = _bearer(role=Role.REGIONAL_COORDINATOR, region_id=REGION)
    with httpx.Client(base_url=urls["scheduling"], headers=coordinator, timeout=30) as http:
        _ok(http.post("/occasions", json={
            "occasion_id": REPLANNED, "course_id": "bou-ny-vald", "region_id": REGION,
            "capacity": 20, "days": [
                {"day": 1, "date": str(course_day(14)), "mode": "digital"},
                {"day": 2, "date": str(course_day(21)), "mode": "on_site",
                 "venue": "Folkets hus, Falun"}]}))
        _ok(http.post("/occasions", json={
            "occasion_id": CANCELLED, "course_id": "bou-ny-familjehem", "region_id": REGION,
            "capacity": 20, "days": [
                {"day": 1, "date": str(course_day(10)), "mode": "digital"}]}))
        for occasion_id in (REPLANNED, CANCELLED):
            _ok(http.post(f"/occasions/{occasion_id}/trainers",
                          json={"trainer_id": demo.trainers["Karin"], "role": "leader"}))
            for pid in people:
                _ok(http.post(f"/occasions/{occasion_id}/bookings", json={"participant_id": pid}))
        _ok(http.post(f"/occasions/{REPLANNED}/trainers",
                      json={"trainer_id": demo.trainers["Ulf"], "role": "trainer"}))
        if mail_url is not None:
            _confirmed(mail_url, REPLANNED, len(people), timeout)
        _ok(http.patch(f"/occasions/{REPLANNED}/days/2", json={
            "date": str(moved_to), "venue": "Kulturhuset, Mora"}))
        _ok(http.delete(f"/occasions/{REPLANNED}/trainers/{demo.trainers['Ulf']}"))
        _ok(http.post(f"/occasions/{CANCELLED}/cancellation",
                      json={"reason": "För få anmälda; ett nytt tillfälle planeras i höst."}))
    return {"replanned": REPLANNED, "moved_to": str(moved_to), "cancelled": CANCELLED,
            "booked": str(len(people))}


def _confirmed(mail_url: str, occasion_id: str, booked: int, timeout: float) -> None:
    """Until the mail catcher holds `booked` confirmations with the occasion's calendar
    entries (or `timeout` passed: the demo goes on, the update then comes with them)."""
    uid = f"kurstillfalle-{occasion_id}-dag-1@"
    deadline, seen = time.monotonic() + timeout, set()
    with httpx.Client(base_url=mail_url, timeout=10) as http:
        while time.monotonic() < deadline:
            for m in http.get("/messages").json():
                if m["id"] not in seen and m["subject"].startswith("Bokningsbekräftelse"):
                    detail = http.get(f"/messages/{m['id']}").json()
                    if any(uid in c["content"] for c in detail["calendars"]):
                        seen.add(m["id"])
            if len(seen) >= booked:
                return
            time.sleep(0.5)


REPLANNED_TEXT = """Re-planning demo: day 2 of {replanned} (Våld och utsatthet, {booked} booked)
moved to {moved_to} in Mora, after the booked had their confirmations, and a trainer taken off
its team; {cancelled} (Arbeta med familjehem, {booked} booked) cancelled. The booked are told
by e-mail from the bus (updated and cancelled calendar entries, in the mail catcher). Try:
  TOKEN=$(.venv/bin/yrkesresan token --role regional_coordinator --region rss-dalarna)
  curl -s {scheduling}/occasions/{replanned} -H "Authorization: Bearer $TOKEN"
  curl -s "{scheduling}/planning/demand?region_id=rss-dalarna&year={year}" \\
    -H "Authorization: Bearer $TOKEN"
"""


# --- the billing step: last year run through, closed with its pot, this year's first invoice ---

BILLED = "demo-samtal-forra-aret"


def load_billing_demo(urls: dict[str, str], demo: Demo, timeout: float = 90) -> dict[str, Any]:
    """After `load_demo`: an occasion of *Samtal och delaktighet* given last October, six
    booked, its two days reported; a day reported by mistake withdrawn (`AttendanceWithdrawn`);
    the coordinator closes last year (`YearClosed`, and billing divides its pot:
    `PotDistributed`); then the coordinator reports a day of last year late, which lands on
    this year's first invoice basis as an adjustment. Returns what a newcomer can fetch."""
    last = asof.today().year - 1
    people = demo.order[:6]
    home = {pid: list(MUNICIPALITIES)[i % 3] for i, pid in enumerate(demo.order)}
    coordinator = _bearer(role=Role.REGIONAL_COORDINATOR, region_id=REGION)
    team = [{"trainer_id": demo.trainers["Karin"], "role": "leader"},
            {"trainer_id": demo.trainers["Ulf"], "role": "trainer"}]
    leader = _bearer(role=Role.TRAINER, trainer_id=demo.trainers["Karin"])
    with httpx.Client(base_url=urls["scheduling"], headers=coordinator, timeout=30) as http:
        _ok(http.post("/occasions", json={
            "occasion_id": BILLED, "course_id": COURSE, "region_id": REGION, "capacity": 20,
            "days": [{"day": 1, "date": str(working_day(dt.date(last, 10, 7))),
                      "mode": "digital"},
                     {"day": 2, "date": str(working_day(dt.date(last, 10, 21))),
                      "mode": "on_site",
                      "venue": "Kulturhuset Tjärna Ängar, Borlänge"}]}))
        for member in team:
            _ok(http.post(f"/occasions/{BILLED}/trainers", json=member))
        for pid in people:
            _ok(http.post(f"/occasions/{BILLED}/bookings", json={"participant_id": pid}))
        _ok(http.post(f"/occasions/{BILLED}/days/1/attendance", headers=leader,
                      json={"present": people, "delivered_by": team}))
        _ok(http.post(f"/occasions/{BILLED}/days/2/attendance", headers=leader,
                      json={"present": people[:5], "delivered_by": team}))  # one absent
        # The fifth completed the course here (their preparations are done): the withdrawal
        # below revokes that certificate (`CertificateRevoked`) once it is issued. Sent at
        # once, the certification consumer could take the day and its withdrawal in one
        # batch, and no certificate would be issued or revoked.
        _until(lambda: _certified(urls["certification"], people[4], BILLED), timeout,
               "the certificate the withdrawal revokes", "certification")
        _ok(http.post(f"/occasions/{BILLED}/days/2/withdrawals", json={
            "participant_id": people[4], "reason": "Rapporterades av misstag: var inte där."}))
    base = f"{urls['billing']}/regions/{REGION}/years"
    with httpx.Client(headers=coordinator, timeout=30) as http:
        _until(lambda: http.get(f"{base}/{last}/pot").json().get("pot_sek") == 10 * 400,
               timeout, "billing to count last year's ten participant-days")
        closed = _ok(http.post(f"{base}/{last}/close")).json()
        late = people[:4] + people[5:]  # the sixth was there on day 2 after all
        _ok(http.post(f"{urls['scheduling']}/occasions/{BILLED}/days/2/attendance",
                      json={"present": late, "delivered_by": team}))
        municipality = home[people[5]]
        invoice = f"{base}/{last + 1}/invoices/{municipality}"
        _until(lambda: http.get(invoice).json().get("adjustment_days") == 1, timeout,
               "the late report on this year's invoice basis")
        # Next year's price list, set ahead (`PriceListSet`): the trainer pot up by 50 kr.
        _ok(http.put(f"{base}/{last + 2}/price-list", json={"components": {
            "venue_and_fika": 300, "administration": 400, "trainer_pot": 450,
            "course_material": 100, "buffer": 50}, "points": {"leader": 1.5, "trainer": 1.0}}))
    return {"year": last, "pot_sek": closed["pot"]["pot_sek"],
            "trainers": len(closed["pot"]["trainers"]), "municipality": municipality,
            "next": last + 1, "after": last + 2}


def _until(done: Callable[[], bool], timeout: float, what: str,
           consumer: str = "billing") -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"demo data: waited {timeout} s for {what}; see the {consumer} "
                               "consumer's log")
        time.sleep(0.5)


def _certified(base: str, participant_id: str, occasion_id: str) -> bool:
    found = httpx.get(f"{base}/participants/{participant_id}/certificates",
                      headers=_bearer(role=Role.SYSTEM), timeout=10).json()
    return any(c["occasion_id"] == occasion_id for c in found.get("certificates", []))


BILLED_TEXT = """Billing demo: {billed} given in October {year}, one day withdrawn,
{year} closed by the coordinator (its pot, {pot_sek} kr, divided among {trainers} trainers:
PotDistributed), then a day of {year} reported late: it is on {municipality}'s first invoice
basis of {next} as an adjustment; {after}'s price list set ahead (PriceListSet, 1300 kr a
participant-day). Download an invoice basis (JSON, CSV for Excel, PDF):
  TOKEN=$(.venv/bin/yrkesresan token --role municipal_admin --municipality {municipality})
  curl -s {billing}/regions/rss-dalarna/years/{next}/invoices/{municipality} \\
    -H "Authorization: Bearer $TOKEN"
  curl -s -o fakturaunderlag.csv \\
    {billing}/regions/rss-dalarna/years/{next}/invoices/{municipality}/fakturaunderlag.csv \\
    -H "Authorization: Bearer $TOKEN"
  curl -s -o fakturaunderlag.pdf \\
    {billing}/regions/rss-dalarna/years/{year}/invoices/{municipality}/fakturaunderlag.pdf \\
    -H "Authorization: Bearer $TOKEN"
"""


# --- the people step: a deepening task, a move, a level reached, an erasure -------------------

DEEPENING = ("bou-ny-samtal", "sod-d1")  # a task of *Samtal och delaktighet*, optional


def load_people_demo(urls: dict[str, str], demo: Demo) -> dict[str, str]:
    """After the other steps, what happens to people over a year, through the APIs as the
    people doing it would: one who completed *Samtal och delaktighet* hands in a deepening task
    (`DeepeningSubmitted`); a participant of Falun moves to Borlänge with their history
    (`ParticipantMoved`); an account registered fourteen months ago with just over a year in
    the profession reaches Van when their administrator runs the level-up
    (`ParticipantLevelChanged`); and a participant of Mora is erased (`ParticipantErased`: the
    name and address are destroyed, the certificate and the pseudonymous facts stay)."""
    deepening, moved, erased = demo.booked()[0], demo.participants["falun"][3], \
        demo.participants["mora"][3]
    course_id, task_id = DEEPENING
    with httpx.Client(base_url=urls["enrolment"], timeout=30) as http:
        _ok(http.post(f"/participants/{deepening}/deepening", json={
            "course_id": course_id, "task_id": task_id},
            headers=_bearer(role=Role.PARTICIPANT, participant_id=deepening)))
        _ok(http.post(f"/participants/{moved}/move", json={"to_municipality_id": "borlange"},
                      headers=_bearer(role=Role.MUNICIPAL_ADMIN, municipality_id="falun")))
        mora = _bearer(role=Role.MUNICIPAL_ADMIN, municipality_id="mora")
        registered = dt.datetime.now(dt.UTC) - dt.timedelta(days=425)
        levelled = _ok(http.post("/participants", headers=mora, json={
            "municipality_id": "mora", "name": "Demodeltagare 13",
            "email": "demo13@mora.example.se", "role": "socialsekreterare",
            "years_in_profession": 1.2, "occurred_at": registered.isoformat()})
        ).json()["participant_id"]
        level = _ok(http.post(f"/participants/{levelled}/level-up", headers=mora)).json()
        _ok(http.delete(f"/participants/{erased}", headers=mora))
    return {"deepening": deepening, "task": task_id, "moved": moved, "levelled": levelled,
            "level": level["level"], "erased": erased}


PEOPLE_TEXT = """People demo: a deepening task, a move, a level reached, an erasure:
  deepening task {task} handed in by      {deepening}
  moved from falun to borlange:           {moved}
  registered in mora 14 months ago, {level}: {levelled}
  erased in mora (certificate, facts stay): {erased}
Try:
  TOKEN=$(.venv/bin/yrkesresan token --role municipal_admin --municipality borlange)
  curl -s {certification}/progression/{moved} -H "Authorization: Bearer $TOKEN"
  TOKEN=$(.venv/bin/yrkesresan token --role municipal_admin --municipality mora)
  curl -s {certification}/progression/{levelled} -H "Authorization: Bearer $TOKEN"
  curl -s {enrolment}/participants/{erased} -H "Authorization: Bearer $TOKEN"
"""


TRY = """Try:
  TOKEN=$(.venv/bin/yrkesresan token --role municipal_admin --municipality falun)
  curl -s -X POST {enrolment}/participants -H "Authorization: Bearer $TOKEN" \\
    -H 'Content-Type: application/json' -d '{{"municipality_id": "falun", "name": "Ny Person",
    "email": "ny.person@falun.example.se", "role": "socialsekreterare", "years_in_profession": 1}}'
  curl -s {certification}/progression/<participant_id> -H "Authorization: Bearer $TOKEN"
"""


CERTIFIED = """Certification demo: occasion demo-verktyg-1 (Verktyg i vardagen, digital) run too;
{certificates} certificates issued from the bus, evaluations answered. Try:
  TOKEN=$(.venv/bin/yrkesresan token --role participant --participant {participant_id})
  curl -s -o intyg.pdf {certification}/certificates/{certificate_id}/intyg.pdf \\
    -H "Authorization: Bearer $TOKEN"
  curl -s {certification}/verify/{verification_code}
  the verification page: {certification}/intyg/{verification_code}
"""


def dashboard_filled(system: System, participants: int, certificates: int,
                     timeout: float = 60) -> str:
    """Once the dashboard's worker has the demo's participants and certificates: a line saying
    what it shows."""
    from services.dashboard.application import database
    from services.dashboard.store import FiguresReader

    figures = FiguresReader(database())
    deadline = time.monotonic() + timeout
    nation = figures.cell("nation:SE") or {}
    while (nation.get("registered", 0) < participants
           or nation.get("certificates", 0) < certificates) and time.monotonic() < deadline:
        time.sleep(0.5)
        nation = figures.cell("nation:SE") or {}
    figures.db.close()
    return (f"Dashboard: {system.dashboard_url()} shows the demo: {nation.get('registered', 0)} "
            f"participants, {nation.get('participant_days', 0)} participant-days, "
            f"{nation.get('certificates', 0)} certificates, pot so far "
            f"{nation.get('pot_sek', 0)} kr. Sign in as a national analyst, as the coordinator "
            f"of {REGION}, as a manager of one municipality (Stationen) or as a trainer "
            "(Plattformen, with a trainer id above).")


STARTUP_TIMEOUT = 600.0  # seconds for every process to answer its health check


def run_system(demo: bool = True, broker_port: int = 9092) -> None:
    """`make run`: every process under a supervisor until SIGTERM or SIGINT, which stop them
    all (each with its process group) before this returns."""
    settings = Settings()
    var = settings.var_dir.resolve()
    if not (settings.auth_jwks or settings.auth_signing_key_file):
        ensure_dev_keys(var / "keys")  # the local key pair `yrkesresan token` signs with
    system = System({"YRKESRESAN_DASHBOARD_DEV_SIGNIN": "1"}, var / "logs",
                    broker_port=broker_port)
    urls = system.urls()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        system.migrate()
        system.start_all()
        # Twenty Python processes importing at once take 2-3 CPU seconds each: on a shared
        # 2-core machine (load average 30) the last one answered after more than two minutes.
        # A process the supervisor gave up on still fails at once (wait_healthy).
        system.wait_healthy([*system.health_urls().values()], timeout=STARTUP_TIMEOUT)
        print("Yrkesresan is running (embedded defaults: SQLite under var/, broker "
              f"{system.env['KAFKA_BOOTSTRAP']}). Logs: {var / 'logs'}; the supervisor's "
              f"(every exit and restart): {var / 'logs' / 'supervisord.log'}")
        for service, url in urls.items():
            print(f"  {service:<14} {url}/docs")
        print(f"  {'region feed':<14} {system.region_feed_url()}/regions/<region_id>/events  "
              "(server-sent events; a region_reader token; docs/regions.md)")
        print(f"  {'mail catcher':<14} {system.mail_url()}  (every e-mail sent, as a page; "
              f"JSON at /messages; SMTP on 127.0.0.1:{system.mail_ports()[0]})")
        print(f"  {'dashboard':<14} {system.dashboard_url()}  (national overview, Stationen, "
              "Plattformen; development sign-in: pick a role)")
        if demo:
            loaded = load_demo(urls)
            system.demo_recipients(list(MUNICIPALITIES))
            print(describe(loaded))
            if loaded is not None:
                issued = load_certification_demo(urls, loaded)
                print(CERTIFIED.format(certification=urls["certification"], **issued))
                replanned = load_replanning_demo(urls, loaded, system.mail_url())
                print(REPLANNED_TEXT.format(scheduling=urls["scheduling"],
                                            year=asof.today().year, **replanned))
                billed = load_billing_demo(urls, loaded)
                print(BILLED_TEXT.format(billing=urls["billing"], billed=BILLED, **billed))
                people = load_people_demo(urls, loaded)
                print(PEOPLE_TEXT.format(enrolment=urls["enrolment"],
                                         certification=urls["certification"], **people))
                print(dashboard_filled(system, sum(len(p) for p in loaded.participants.values()),
                                       int(str(issued["certificates"]))))
        print(TRY.format(enrolment=urls["enrolment"], certification=urls["certification"]))
        print("Press Ctrl-C to stop.", flush=True)
        _watch(system)
    except KeyboardInterrupt:
        print("stopping", flush=True)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second signal must not cut it short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        system.stop()
        print("stopped", flush=True)


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _watch(system: System) -> None:
    """Say so when the supervisor restarted a process or gave up on one."""
    pids = {name: s["pid"] for name, s in system.states().items()}
    given_up: set[str] = set()
    while True:
        time.sleep(1)
        for name, state in system.states().items():
            if state["statename"] == "FATAL" and name not in given_up:
                given_up.add(name)
                print(f"{name} keeps exiting; the supervisor gave up on it: see "
                      f"{system.log_dir / (name + '.log')}", flush=True)
            elif state["pid"] and state["pid"] != pids.get(name):
                if pids.get(name):
                    print(f"{name} exited; the supervisor restarted it (pid {state['pid']})",
                          flush=True)
                pids[name] = state["pid"]
