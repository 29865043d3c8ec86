"""What the benchmarks share: a throw-away PostgreSQL database and a private broker; for the
end-to-end ones, their processes, pollers of the database and an open-loop load."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeVar

import aiohttp
import httpx
import orjson
import psycopg
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import Environment, get_topic
from kafka import KafkaConsumer, TopicPartition

from services.enrolment import application as enrolment_app
from services.enrolment.application import RegisterParticipant
from services.scheduling import application as scheduling_app
from services.scheduling.domain import Occasion
from shared.events import models as contract
from shared.events import topic_name
from shared.events.models import DayMode
from shared.platform import asof
from shared.platform.auth import Principal, Role, issue_token, jwks_source
from shared.platform.settings import current_settings
from shared.platform.store import ServiceApplication
from tests.ports import broker_with_topics, on_a_port, random_ports

A = TypeVar("A", bound=ServiceApplication)
T = TypeVar("T")

PG_ADMIN_URL = os.environ.get("YRKESRESAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def scratch_database() -> Iterator[str]:
    name = f"yr_bench_{uuid.uuid4().hex[:10]}"
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


scratch_broker = broker_with_topics  # a private broker with the topics, as the tests have


def ratio_line(label: str, value: float, baseline: float, goal: float) -> str:
    ratio = value / baseline if baseline else float("nan")
    verdict = "meets" if ratio >= goal else "BELOW"
    return f"{label}: {ratio:.0%} of baseline (goal ≥ {goal:.0%}: {verdict})"


def on_library_recorder(cls: type[A]) -> type[A]:
    """`cls` saving through the eventsourcing library's own recorder, for baselines: the
    services save through ours (`shared.platform.store.PostgresRecorder`, ADR 0007), which is
    faster, so a baseline measured on it would not be "the library's raw save"."""

    class OnLibraryRecorder(cls):  # type: ignore[valid-type,misc]
        name = cls.name  # the same tables

        def construct_env(self, name: str, env: Any = None) -> Environment:
            environment: Environment = super().construct_env(name, env)
            sqlite = environment.get("PERSISTENCE_MODULE") == "eventsourcing.sqlite"
            library = SQLiteApplicationRecorder if sqlite else PostgresApplicationRecorder
            environment["APPLICATION_RECORDER_TOPIC"] = get_topic(library)
            return environment

    return OnLibraryRecorder


# --- the end-to-end benches: processes, pollers and an open-loop load -----------------------

IN_FLIGHT = 100  # requests in flight at most (see open_loop)
REGION, MUNICIPALITY = "rss-bench", "bench-kommun"


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ms(seconds: float, digits: int = 0) -> str:
    return f"{seconds * 1000:.{digits}f} ms"


def _stat(pid: int | str) -> list[str]:
    """The fields of /proc/PID/stat after the command's name (state is [0], ppid [1])."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _own_cpu(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(proc: subprocess.Popen[bytes] | int) -> float:
    """The CPU time (user and system) a process (or process id) and its living descendants
    have used so far, from /proc: an API of several workers is uvicorn's process and a process
    per worker, whose time its parent's own figure does not hold."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(int(_stat(entry.name)[1]), []).append(int(entry.name))
            except (OSError, IndexError):
                continue  # gone meanwhile
    total, todo = 0.0, [proc if isinstance(proc, int) else proc.pid]
    while todo:
        pid = todo.pop()
        try:
            total += _own_cpu(_stat(pid))
        except OSError:
            continue
        todo += children.get(pid, [])
    return total


def database_cpu_seconds(url: str) -> float:
    """The CPU time the PostgreSQL server processes serving `url`'s database have used so far
    (those alive now: a connection closed meanwhile takes its time with it), from /proc, where
    each backend's title names its database."""
    name, total = url.rsplit("/", 1)[1], 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            if title.startswith("postgres: ") and f" {name} " in title:
                total += _own_cpu(_stat(entry.name))
        except (OSError, IndexError):
            continue
    return total


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`yrkesresan ARGS` as a process of its own, its output appended to `log`."""
    return subprocess.Popen([sys.executable, "-m", "yrkesresan", *args], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def answers(http: httpx.Client, url: str) -> bool:
    try:
        return http.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(done: Callable[[], bool], what: str, procs: Sequence[subprocess.Popen[bytes]],
               timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if any(p.poll() is not None for p in procs):
            raise RuntimeError(f"a process exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.2)


def pipeline_env(url: str, bootstrap: str, var: str) -> dict[str, str]:
    """The environment of a bench's processes: one database, the private broker, `var` for
    their files; the APIs trust the key this process signs its tokens with (as an absolute
    path: a relative one fails every request, auth.py's file URI wants it absolute)."""
    return {**os.environ, "YRKESRESAN_DATABASE_URL": url, "KAFKA_BOOTSTRAP": bootstrap,
            "YRKESRESAN_LOG_LEVEL": "WARNING", "YRKESRESAN_VAR_DIR": var,
            "YRKESRESAN_AUTH_JWKS": str(Path(jwks_source(current_settings())).resolve())}


@contextmanager
def processes(commands: dict[str, list[str]], env: dict[str, str], logs: Path,
              ) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Each `yrkesresan` command (name -> arguments) as a process logging to `logs/NAME.log`;
    when the block fails, the end of each log is printed; at its end all are terminated."""
    procs = [start(args, env, logs / f"{name}.log") for name, args in commands.items()]
    try:
        yield procs
    except Exception:
        for name in commands:  # what the processes said, then fail
            tail = (logs / f"{name}.log").read_text(errors="replace").splitlines()[-8:]
            print(f"--- {name}.log ends:", *tail, sep="\n", file=sys.stderr)
        raise
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def serve(service: str, env: dict[str, str], *options: str, timeout: float = 30,
          ) -> tuple[subprocess.Popen[bytes], int]:
    """`yrkesresan serve SERVICE OPTIONS` on a port drawn at random (another when it is
    taken), once its /health answers; its standard error is discarded."""

    def on(port: int) -> tuple[subprocess.Popen[bytes], int]:
        server = subprocess.Popen([sys.executable, "-m", "yrkesresan", "serve", service,
                                   "--port", str(port), *options],
                                  env=env, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    return server, port
            except httpx.HTTPError:
                pass
            if server.poll() is not None:  # its port taken: on_a_port draws another
                raise RuntimeError(f"the {service} API exited with {server.returncode}")
            if time.monotonic() > deadline:
                server.terminate()
                raise TimeoutError(f"the {service} API did not answer in {timeout:.0f} s")
            time.sleep(0.2)

    return on_a_port(on)


class CpuTally:
    """CPU seconds used between `__enter__` and `__exit__` by each named process (with its
    descendants), by this process (the bench: its client and pollers) and by the PostgreSQL
    backends of the bench's database, from /proc: what a rate was bought with, and whether
    the bench's own client took the cores the system needed."""

    def __init__(self, url: str, procs: dict[str, subprocess.Popen[bytes]]) -> None:
        self.url, self.procs = url, procs
        self.used: dict[str, float] = {}
        self.wall = 0.0

    def _now(self) -> dict[str, float]:
        return {**{name: cpu_seconds(p) for name, p in self.procs.items()},
                "bench (client, pollers)": time.process_time(),
                "postgres": database_cpu_seconds(self.url)}

    def __enter__(self) -> Self:
        self._before, self._t0 = self._now(), time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self._t0
        after = self._now()
        self.used = {k: after[k] - v for k, v in self._before.items()}

    def line(self, requests: int, what: str = "request") -> str:
        """Each one's CPU per request (ms) and its share of a core over the tally's time."""
        parts = [f"{name} {used / max(requests, 1) * 1000:.2f} ms ({used / self.wall:.0%})"
                 for name, used in self.used.items()]
        return (f"CPU per {what} (/proc; in brackets: of one core, over {self.wall:.1f} s): "
                + ", ".join(parts) + f"; all {sum(self.used.values()) / self.wall:.2f} cores")


def add_bench_municipality(http: httpx.Client, enrolment: str) -> None:
    """REGION and MUNICIPALITY in the enrolment API at `enrolment`, as the system does."""
    system = {"Authorization": "Bearer " + issue_token(
        Principal(subject="bench", role=Role.SYSTEM))}
    http.post(f"{enrolment}/regions", headers=system,
              json={"region_id": REGION, "name": "Bänkregionen"}).raise_for_status()
    http.post(f"{enrolment}/municipalities", headers=system, json={
        "municipality_id": MUNICIPALITY, "name": "Bänkkommunen",
        "region_id": REGION}).raise_for_status()


class PollingThread:
    """Runs `poll` every `interval` seconds on a thread of its own, over one database
    connection of its own, between `__enter__` and `__exit__`."""

    interval = 0.01

    def __init__(self, url: str) -> None:
        self.url = url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def poll(self, conn: psycopg.Connection[Any]) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop.wait(self.interval):
                self.poll(conn)


@dataclass
class OpenLoopRun:
    """When each request was due (wall clock, in the order given), each one's latency from
    when it was due and status (0: no answer), in the order they ended; the run's length and
    how far the generator fell behind its schedule at most."""

    due: list[float]
    latencies: list[float]
    statuses: list[int]
    elapsed: float
    lag: float


@dataclass
class Answer:
    """A response as `open_loop`'s senders and callbacks see it."""

    status_code: int
    content: bytes

    def json(self) -> Any:
        return orjson.loads(self.content)


class LeanClient:
    """The open-loop benches' HTTP client: aiohttp's connection pool (installed with faust)
    with JSON by orjson. httpx's asynchronous client spent 9.5-9.8 ms of CPU a request here
    (py-spy: httpcore's pool asks every one of its 100 connections whether it has expired,
    through anyio's socket attributes, for every request; and looks for trio by an import
    each time), about four times what the enrolment API spent answering it, on the same two
    cores: the bench measured its own client rather than the system. In production the
    clients are other machines."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self._session, self._base = session, base

    async def post(self, path: str, *, json: Any, headers: dict[str, str] | None = None,
                   ) -> Answer:
        async with self._session.post(
                self._base + path, data=orjson.dumps(json),
                headers={"Content-Type": "application/json", **(headers or {})}) as response:
            return Answer(response.status, await response.read())


async def open_loop(base: str, requests: Sequence[T], rate: float,
                    send: Callable[[LeanClient, T], Awaitable[Answer]],
                    answered: Callable[[T, Answer], None] = lambda *_: None, *,
                    headers: dict[str, str] | None = None, timeout: float = 60,
                    ) -> OpenLoopRun:
    """Open loop: request i is sent at t0 + i/rate whatever the answers before it, so a slow
    server shows as latency rather than as a lower offered rate. `answered` is called with
    each answer as it arrives."""
    run = OpenLoopRun([0.0] * len(requests), [], [], 0.0, 0.0)
    # At most IN_FLIGHT requests at once, each on a connection of its own, so the client's
    # pool never holds waiters: with 500 connections and more requests than that, a run of
    # certification.py at load average 25 stalled for 12 minutes (the API idle, the client
    # at 44% CPU, 57 answers left unread). A request waiting for a slot counts from when it
    # was due, so the figures still include the wait.
    in_flight = asyncio.Semaphore(IN_FLIGHT)
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    async with aiohttp.ClientSession(connector=connector, headers=headers,
                                     timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        client = LeanClient(session, base)

        async def one(i: int, request: T) -> None:
            started = time.perf_counter()
            run.due[i] = time.time()
            try:
                async with in_flight:
                    response = await send(client, request)
                run.statuses.append(response.status_code)
                answered(request, response)
            except (aiohttp.ClientError, TimeoutError):
                run.statuses.append(0)  # no answer at all: counted, not fatal
            run.latencies.append(time.perf_counter() - started)

        tasks = []
        t0 = time.perf_counter()
        for i, request in enumerate(requests):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                run.lag = max(run.lag, -delay)
            tasks.append(asyncio.create_task(one(i, request)))
        await asyncio.gather(*tasks)
        run.elapsed = time.perf_counter() - t0
    return run


HANDLAGGNING, HANDLAGGNING_DAYS = "bou-ny-handlaggning", 4  # Handläggning med barnet i centrum


def save_occasions(url: str, occasions: int, participants: int, trainers: int = 0) -> None:
    """The catalogue, and occasions `o{n}` of Handläggning in REGION (their days weekly from 60
    days ago) with `participants` booked (`o{n}-p{p}`), a course leader (`o{n}-leader`) and
    `trainers` trainers (`o{n}-t{t}`), saved in batches through scheduling's domain model (the
    API would take minutes to book this many one by one)."""
    s = scheduling_app.bootstrap(url)
    s.publish_catalogue(actor="bench")
    course = s.course(HANDLAGGNING)
    first = asof.today() - dt.timedelta(days=60)
    batch: list[Occasion] = []
    for n in range(occasions):
        days = [(contract.CourseDay(day=d + 1, date=first + dt.timedelta(days=7 * d),
                                    mode=DayMode.ON_SITE if d == 0 else DayMode.DIGITAL),
                 "Folkets hus" if d == 0 else None) for d in range(HANDLAGGNING_DAYS)]
        occasion = Occasion.plan(f"o{n}", course, REGION, participants, days, actor="bench")
        for p in range(participants):
            occasion.book(f"o{n}-p{p}", f"m{p % 7}", actor="bench")
        occasion.assign(f"o{n}-leader", "m0", "leader", actor="bench")
        for t in range(trainers):
            occasion.assign(f"o{n}-t{t}", f"m{t % 7}", "trainer", actor="bench")
        batch.append(occasion)
        if len(batch) == 25:
            s.app.save(*batch)
            batch = []
    if batch:
        s.app.save(*batch)
    s.close()


def leader_tokens(occasions: Iterable[int]) -> dict[int, str]:
    """Occasion number n -> a token of its course leader `o{n}-leader`."""
    return {n: issue_token(Principal(subject=f"o{n}-leader", role=Role.TRAINER,
                                     trainer_id=f"o{n}-leader")) for n in occasions}


def attendance_reports(tokens: dict[int, str], body: Callable[[int, int], dict[str, object]],
                       ) -> Callable[[LeanClient, tuple[int, int]], Awaitable[Answer]]:
    """`open_loop`'s sender of attendance for (occasion number, day): occasion `o{n}`, `body(n,
    day)` sent with its course leader's token `tokens[n]`."""

    def report(client: LeanClient, request: tuple[int, int]) -> Awaitable[Answer]:
        n, day = request
        return client.post(f"/occasions/o{n}/days/{day}/attendance", json=body(n, day),
                           headers={"Authorization": f"Bearer {tokens[n]}"})

    return report


async def register_participants(base: str, n: int, rate: float, expect: Callable[[str], None],
                                first: int = 0) -> tuple[dict[str, float], OpenLoopRun]:
    """n registrations (`POST /participants` in MUNICIPALITY, numbered from `first`) at `rate`
    against the enrolment API at `base`, `expect`ed by id as each 201 arrives: participant id
    -> when its 201 arrived (wall clock), and the run."""
    accepted: dict[str, float] = {}
    admin = {"Authorization": "Bearer " + issue_token(Principal(
        subject="bench", role=Role.MUNICIPAL_ADMIN, municipality_id=MUNICIPALITY))}

    def post(client: LeanClient, i: int) -> Awaitable[Answer]:
        return client.post("/participants", json={
            "municipality_id": MUNICIPALITY, "name": f"Bänk Person {i}",
            "email": f"p{i}@bench.example.se", "role": "socialsekreterare",
            "years_in_profession": 1})

    def created(_: int, response: Answer) -> None:
        if response.status_code == 201:
            pid = str(response.json()["participant_id"])
            accepted[pid] = time.time()
            expect(pid)

    run = await open_loop(base, range(first, first + n), rate, post, created, headers=admin)
    return accepted, run


def register_directly(url: str, n: int, rate: float, expect: Callable[[str], None],
                      first: int = 0) -> tuple[dict[str, float], OpenLoopRun]:
    """`register_participants`' registrations, handled by enrolment's application in this
    process on four threads, open loop: participant id -> when its save returned. The pipe
    behind the API (relay, broker, reader) is then measured at the offered rate even where
    the API's processes cannot take it (HTTP, tokens and validation cost most of a
    registration's CPU)."""
    e = enrolment_app.bootstrap(url)
    accepted: dict[str, float] = {}
    run = OpenLoopRun([0.0] * n, [], [], 0.0, 0.0)

    def one(i: int, due: float) -> None:
        try:
            pid = e.register_participant(RegisterParticipant(
                municipality_id=MUNICIPALITY, name=f"Bänk Person {i}",
                email=f"p{i}@bench.example.se", role="socialsekreterare",
                years_in_profession=1))
        except Exception:  # noqa: BLE001 - counted as no answer, as open_loop does
            run.statuses.append(0)
        else:
            accepted[pid] = time.time()
            run.statuses.append(201)
            expect(pid)
        run.latencies.append(time.perf_counter() - due)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        for i in range(n):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            else:
                run.lag = max(run.lag, -delay)
            run.due[i] = time.time()
            pool.submit(one, first + i, due)
    run.elapsed = time.perf_counter() - t0
    e.close()
    return accepted, run


def rate_arguments(doc: str | None, rate: float, direct: bool = False,
                   ) -> argparse.ArgumentParser:
    """The options every open-loop bench takes: --rate (default `rate`) and --seconds (20);
    with `direct`, those of an `enrolment_pipeline` bench: --workers and --direct."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=rate)
    parser.add_argument("--seconds", type=float, default=20)
    if direct:
        parser.add_argument("--workers", type=int, default=2, help="API worker processes")
        parser.add_argument("--direct", action="store_true",
                            help="commands handled in this process (register_directly)")
    return parser


@contextmanager
def enrolment_pipeline(url: str, bootstrap: str, var: str, workers: int,
                       reader: tuple[str, list[str]],
                       ) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """The enrolment API (`workers` worker processes), its relay and `reader` (its name and
    `yrkesresan` command, given `--ops-port`), each a process of its own (`processes`); once
    each answers and REGION and MUNICIPALITY are registered: the API's address and the
    processes."""
    # drawn below the kernel's range for outgoing connections (tests/ports.py)
    port, relay_port, ops_port = random_ports(3)
    name, command = reader
    commands = {"api": ["serve", "enrolment", "--port", str(port), "--workers", str(workers)],
                "relay": ["relay", "enrolment", "--ops-port", str(relay_port)],
                name: [*command, "--ops-port", str(ops_port)]}
    base, ops = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{ops_port}"
    with processes(commands, pipeline_env(url, bootstrap, var), Path(var)) as procs:
        with httpx.Client(timeout=5) as http:
            wait_until(lambda: answers(http, f"{base}/health"), "the API", procs)
            wait_until(lambda: answers(http, f"{ops}/health"), f"the {name}", procs)
            add_bench_municipality(http, base)
        yield base, procs


def relay_stages(bootstrap: str, kind: str = "ParticipantRegistered",
                 ) -> dict[str, tuple[float, float]]:
    """Each `kind` envelope on enrolment's topic, by its key: (when it was recorded, when the
    relay handed it to its producer), wall clock, read back from the broker after a run. The
    record's timestamp is the producer's send time (CreateTime), so the two stages behind the
    API can be told apart: the relay's (store -> sent) and the broker's and reader's (sent ->
    shown)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             auto_offset_reset="earliest", consumer_timeout_ms=3000)
    partitions = [TopicPartition(topic_name("enrolment"), p)
                  for p in consumer.partitions_for_topic(topic_name("enrolment")) or ()]
    consumer.assign(partitions)
    consumer.seek_to_beginning()
    stages = {}
    try:
        for record in consumer:
            envelope = orjson.loads(record.value)
            if envelope["type"] == kind:
                recorded = dt.datetime.fromisoformat(envelope["recorded_at"]).timestamp()
                stages[record.key.decode()] = (recorded, record.timestamp / 1000)
    finally:
        consumer.close()
    return stages


def print_stages(stages: Sequence[tuple[float, float, float]]) -> None:
    """Percentiles of each stage of (recorded, sent by the relay, shown) wall-clock triples."""
    def line(name: str, values: list[float]) -> str:
        return (f"{name}: p50 {ms(percentile(values, 50))}  p95 {ms(percentile(values, 95))}  "
                f"p99 {ms(percentile(values, 99))}  max {ms(max(values))}")
    if stages:
        print("stages, from the envelope's recorded_at and the record's send time:")
        print("  " + line("recorded -> sent by the relay", [s - r for r, s, _ in stages]))
        print("  " + line("sent -> shown (broker, reader, its commit)",
                          [v - s for _, s, v in stages]))


def print_command_figures(to_view: list[float], run: OpenLoopRun, args: argparse.Namespace,
                          view: str, updated: str, reader: str,
                          load_before: tuple[float, float, float]) -> None:
    """What an `enrolment_pipeline` bench prints: the registrations offered and answered, how
    long from the 201 until `view` was `updated` (`to_view`), the command's own latency as
    the baseline, and the ratio (what the relay, the broker and the `reader` add)."""
    latencies, statuses = run.latencies, run.statuses
    direct = getattr(args, "direct", False)  # handled in the bench's process, not the API's
    where = "in the bench's process, no API" if direct else f"{args.workers} API workers"
    print(f"registrations: {len(latencies)} offered at {args.rate:.0f}/s, achieved "
          f"{len(latencies) / run.elapsed:.1f}/s ({where}), answers "
          f"{dict(sorted(Counter(statuses).items()))} (0: no answer); "
          f"{len(to_view)} seen in {view}")
    if to_view:
        print(f"command accepted -> {updated}: p50 {ms(percentile(to_view, 50))}  "
              f"p95 {ms(percentile(to_view, 95))}  p99 {ms(percentile(to_view, 99))}  "
              f"max {ms(max(to_view))}  (target: p50 <= 100 ms, p99 <= 500 ms; polled every "
              "10 ms)")
    base_p50, base_p99 = percentile(latencies, 50), percentile(latencies, 99)
    alone = "command handled to its save returned" if direct else "request to 201"
    print(f"baseline, the command alone ({alone}): p50 {ms(base_p50)}  p99 {ms(base_p99)}")
    if to_view:
        print(f"ratio: p50 {percentile(to_view, 50) / base_p50:.1f}x, p99 "
              f"{percentile(to_view, 99) / base_p99:.1f}x the command's own (relay, broker and "
              f"{reader} on top)")
    print(f"machine: {os.cpu_count()} cores, load average (1, 5, 15 min) "
          f"{' '.join(f'{x:.1f}' for x in load_before)} before, "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} after "
          "(other processes share the cores)")
