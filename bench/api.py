"""API command rate (POST /participants over HTTP) next to the eventsourcing library's raw save
rate of the same aggregates, on the same PostgreSQL server in the same run.

The baseline is the library's own PostgreSQL recorder. Our services write through
`shared.platform.store.PostgresRecorder` (one statement per save, the table lock held only on
the server), which saves faster than the library's; its raw rate is printed too, so the API's
own overhead can be read off as well.

    .venv/bin/python bench/api.py [--requests N] [--clients C] [--repeat R]

Every figure is the fastest of R runs (3 by default), interleaved, with one API server up
throughout: on this shared 2-core machine single runs of the same work differ by a third.
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import orjson  # noqa: E402
from eventsourcing.postgres import PostgresApplicationRecorder  # noqa: E402

from bench._common import on_library_recorder, ratio_line, scratch_database, serve  # noqa: E402
from services.enrolment.application import EnrolmentApplication, migrate  # noqa: E402
from services.enrolment.domain import (  # noqa: E402
    EmailClaim,
    EmailClaimed,
    Participant,
    ParticipantRegistered,
    PersonalDataRecorded,
    participant_key,
)
from shared.platform.auth import Principal, Role, Verifier, issue_token  # noqa: E402
from shared.platform.settings import current_settings  # noqa: E402
from shared.platform.store import aggregate_id  # noqa: E402


def raw_save_rate(url: str, n: int, clients: int, library: bool = True) -> float:
    """One save per registration, as the command does: participant + e-mail claim."""
    app = (on_library_recorder(EnrolmentApplication) if library else EnrolmentApplication)(url)
    assert isinstance(app.recorder, PostgresApplicationRecorder)
    assert (type(app.recorder) is PostgresApplicationRecorder) == library
    run = uuid.uuid4().hex[:6]

    def save(n: int) -> None:
        i = f"{run}-{n}"
        p = Participant(participant_key(f"raw-{i}"))
        p.trigger(ParticipantRegistered, participant_id=f"raw-{i}", municipality_id="m1",
                  journey="barn_och_unga", role="socialsekreterare", level="ny",
                  years_in_profession=1)
        p.trigger(PersonalDataRecorded, participant_id=f"raw-{i}", ciphertext="x" * 120)
        claim = EmailClaim(aggregate_id("email", f"raw-{i}"))
        claim.trigger(EmailClaimed, participant_id=f"raw-{i}")
        app.save(p, claim)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(save, range(n)))
    rate = n / (time.perf_counter() - started)
    app.close()
    return rate


@contextmanager
def api_server(url: str, workers: int) -> Iterator[Callable[[int, int, int], float]]:
    """The enrolment API as `yrkesresan serve` runs it, with a region and a municipality;
    yields `measure(n, clients, first)`: requests/s for n registrations numbered from first."""
    env = {**os.environ, "YRKESRESAN_DATABASE_URL": url, "YRKESRESAN_LOG_LEVEL": "WARNING"}

    # a loaded 2-core machine imports slowly
    server, port = serve("enrolment", env, "--workers", str(workers), timeout=120)
    base = f"http://127.0.0.1:{port}"
    system = {"Authorization": "Bearer " + issue_token(Principal(subject="b", role=Role.SYSTEM))}
    admin = {"Authorization": "Bearer " + issue_token(
        Principal(subject="b", role=Role.MUNICIPAL_ADMIN, municipality_id="m1"))}
    try:
        httpx.post(f"{base}/regions", headers=system, json={"region_id": "r1", "name": "R"})
        httpx.post(f"{base}/municipalities", headers=system,
                   json={"municipality_id": "m1", "name": "M", "region_id": "r1"})
        local = threading.local()
        headers = {**admin, "Content-Type": "application/json"}

        def register(i: int) -> None:
            # http.client with keep-alive: a light load generator, so that the client's own
            # CPU does not eat the two cores the server needs.
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            body = orjson.dumps({
                "municipality_id": "m1", "name": f"Bench {i}", "email": f"b{i}@bench.se",
                "role": "socialsekreterare", "years_in_profession": 1})
            conn.request("POST", "/participants", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 201:
                raise RuntimeError(f"POST /participants answered {response.status}")

        def measure(n: int, clients: int, first: int) -> float:
            started = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                list(pool.map(register, range(first, first + n)))
            return n / (time.perf_counter() - started)

        for i in range(50):  # warm-up
            register(-1 - i)
        yield measure
    finally:
        server.terminate()
        server.wait()


def verification_seconds(n: int = 3000) -> tuple[float, str]:
    """Seconds per token check as every API request makes it (signature with the JWKS key
    picked by `kid`, then `iss`, `aud`, `exp` and the claim mapping), in-process, and the
    algorithm."""
    token = issue_token(Principal(subject="b", role=Role.MUNICIPAL_ADMIN, municipality_id="m1"))
    verifier = Verifier.from_settings(current_settings())
    verifier.principal(token)  # the JWKS read once, as the first request does
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(n):
            verifier.principal(token)
        best = min(best, (time.perf_counter() - started) / n)
    return best, str(verifier.keys.get_signing_keys()[0].algorithm_name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="API worker processes")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each measurement, interleaved; the fastest counts")
    args = parser.parse_args()
    n, clients = args.requests, args.clients
    runs: dict[str, list[float]] = {k: [] for k in ("raw_one", "raw", "ours_one", "ours", "api")}
    with scratch_database() as url:
        migrate(url)
        with api_server(url, args.workers) as api_measure:
            for r in range(args.repeat):  # interleaved, so a slow spell hits every figure alike
                runs["raw_one"].append(raw_save_rate(url, n, 1))
                runs["raw"].append(raw_save_rate(url, n, clients))
                runs["ours_one"].append(raw_save_rate(url, n, 1, library=False))
                runs["ours"].append(raw_save_rate(url, n, clients, library=False))
                runs["api"].append(api_measure(n, clients, r * n))
    raw_one, raw, ours_one, ours, api = (max(runs[k]) for k in runs)
    verify, algorithm = verification_seconds()
    print(f"each figure the fastest of {args.repeat} interleaved runs; API runs: "
          + ", ".join(f"{x:,.0f}" for x in runs["api"]) + " requests/s")
    print(f"{args.requests} registrations, {args.clients} concurrent clients, "
          f"{args.workers} API worker processes, PostgreSQL, {os.cpu_count()} cores")
    print("raw save, in-process (participant + e-mail claim per save):")
    print(f"  the library's recorder, one writer (the baseline): {raw_one:,.0f} saves/s")
    print(f"  the library's recorder, {args.clients} writer threads: {raw:,.0f} saves/s")
    print(f"  our recorder (one statement per save), one writer: {ours_one:,.0f} saves/s")
    print(f"  our recorder, {args.clients} writer threads: {ours:,.0f} saves/s")
    print(f"API POST /participants (auth, validation, encryption, save): {api:,.0f} requests/s")
    per_request = args.workers / api  # worker-seconds one request takes at the measured rate
    print(f"token verification ({algorithm}, key from the JWKS by kid; iss, aud, exp; claims "
          f"mapped): {verify * 1e6:,.0f} us per request, {verify / per_request:.1%} of a "
          f"request's worker time ({per_request * 1e3:.2f} ms at {api:,.0f} requests/s on "
          f"{args.workers} workers)")
    print(ratio_line("API / library's raw save, one writer", api, raw_one, 0.80))
    print(ratio_line(f"API / library's raw save, {args.clients} writers", api, raw, 0.80))
    print(f"for information, API / our recorder's raw save, {args.clients} writers: "
          f"{api / ours:.0%} (what HTTP, auth, validation and encryption cost)")


if __name__ == "__main__":
    main()
