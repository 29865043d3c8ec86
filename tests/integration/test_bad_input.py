"""Odd input against the four APIs, on SQLite and PostgreSQL: oversized bodies get 413 (with or
without a declared length; a 30 MB upload against a real server), a CSV file over the row
limit gets 413 naming the limit, and NUL bytes, huge integers and over-long strings in bodies,
query and path parameters get 422 naming the field, without the input repeated. None of them
records anything, and the service stays healthy."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from tests.integration.apis import DALARNA, Seeded, seeded
from tests.ports import bound_port

pytestmark = pytest.mark.integration

HUGE = 10**30  # past any integer column: SQLite's INTEGER overflows at 2**63


@pytest.fixture(scope="module")
def world(module_database_url: str) -> Iterator[Seeded]:
    yield from seeded(module_database_url)


@pytest.fixture
def clients(world: Seeded) -> Iterator[dict[str, TestClient]]:
    """One client per API, each kept open: its requests share one event loop and worker
    thread (each new thread would open database connections of its own)."""
    opened = {name: TestClient(api, raise_server_exceptions=False)
              for name, api in world.apis.items()}
    for c in opened.values():
        c.__enter__()
    yield opened
    for c in opened.values():
        c.__exit__(None, None, None)


def registration(**changes: Any) -> dict[str, Any]:
    return {"municipality_id": "falun", "name": "Ny Person", "email": "ny@falun.example.se",
            "role": "socialsekreterare", "years_in_profession": 1} | changes


# (service, role, method, path, request keywords, the field the answer must name, the input
# that must not come back)
# (A key that is not text at all is named by no field: the reason says so.)
CASES: list[tuple[str, str, str, str, dict[str, Any], str | None, str]] = [
    ("certification", "system", "GET", "/progression",
     {"params": {"offset": HUGE, "municipality_id": "\x00"}}, "offset", str(HUGE)),
    ("certification", "system", "GET", "/progression",
     {"params": {"municipality_id": "\x00"}}, "municipality_id", "\\u0000"),
    ("certification", "system", "GET", "/progression", {"params": {"limit": HUGE}}, "limit",
     str(HUGE)),
    ("certification", "system", "GET", "/progression/a%00b", {}, "participant_id", "a\\u0000b"),
    ("certification", "system", "GET", "/progression/" + "x" * 5000, {}, "participant_id",
     "x" * 200),
    ("enrolment", "municipal_admin", "POST", "/participants",
     {"json": registration(name="Ny\x00Person")}, "name", "Ny\\u0000Person"),
    ("enrolment", "municipal_admin", "POST", "/participants",
     {"json": registration(name="Å" * 100_000)}, "name", "Å" * 200),
    ("enrolment", "municipal_admin", "POST", "/participants",
     {"json": registration(email="a" * 300 + "@falun.example.se")}, "email", "a" * 255),
    ("enrolment", "municipal_admin", "POST", "/participants",
     {"json": registration(years_in_profession=HUGE)}, "years_in_profession", str(HUGE)),
    ("enrolment", "municipal_admin", "POST", "/participants",
     {"content": b'{"municipality_id": "falun", "name": "\\ud800", "email": "a@b.se", '
                 b'"role": "x", "years_in_profession": 1}',
      "headers": {"content-type": "application/json"}}, "name", "\\ud800"),
    ("enrolment", "municipal_admin", "POST", "/participants",
     {"content": b'{"municipality_id": "falun", "name": "A", "email": "a@b.se", '
                 b'"role": "x", "years_in_profession": 1e400}',
      "headers": {"content-type": "application/json"}}, "years_in_profession", "inf"),
    ("enrolment", "municipal_admin", "POST", "/participants",
     {"content": b'{"municipality_id": "falun", "name": "A", "email": "a@b.se", '
                 b'"role": "x", "years_in_profession": 1, "\\ud800\\u0000": 1}',
      "headers": {"content-type": "application/json"}}, None, "\\u0000"),
    ("enrolment", "municipal_admin", "GET", "/participants",
     {"params": {"municipality_id": "falun", "offset": HUGE}}, "offset", str(HUGE)),
    ("enrolment", "municipal_admin", "GET", "/participants",
     {"params": {"municipality_id": "falun\x00"}}, "municipality_id", "falun\\u0000"),
    ("enrolment", "system", "GET", "/municipalities", {"params": {"region_id": "\x00"}},
     "region_id", "\\u0000"),
    ("enrolment", "municipal_admin", "GET", "/participants/" + "x" * 5000, {},
     "participant_id", "x" * 200),
    ("enrolment", "municipal_admin", "POST", "/participants/import",
     {"data": {"municipality_id": "fa\x00lun"},
      "files": {"file": ("f.csv", b"name,email,role,years_in_profession\n", "text/csv")}},
     "municipality_id", "fa\\u0000lun"),
    ("scheduling", "regional_coordinator", "GET", "/occasions", {"params": {"region_id": "\x00"}},
     "region_id", "\\u0000"),
    ("scheduling", "system", "GET", "/courses/%00", {}, "course_id", "\\u0000"),
    ("scheduling", "regional_coordinator", "POST", "/occasions",
     {"json": {"course_id": "bou-ny-samtal", "region_id": DALARNA, "capacity": HUGE,
               "days": [{"day": 1, "date": "2025-05-01", "mode": "digital"}]}},
     "capacity", str(HUGE)),
    ("scheduling", "regional_coordinator", "POST", "/occasions",
     {"json": {"course_id": "bou-ny-samtal", "region_id": DALARNA, "capacity": 5,
               "days": [{"day": 1, "date": "2025-05-01", "mode": "on_site",
                         "venue": "Folkets\x00hus"}]}}, "days.0.venue", "Folkets\\u0000hus"),
    ("scheduling", "regional_coordinator", "POST", "/planning/estimate",
     {"json": {"region_id": DALARNA, "year": HUGE, "participants_per_level": {"ny": 1}}},
     "year", str(HUGE)),
]


@pytest.mark.parametrize(("service", "role", "method", "path", "kwargs", "field", "echo"), CASES,
                         ids=[f"{c[0]} {c[2]} {c[3][:30]} {c[5]}" for c in CASES])
def test_odd_input_is_a_422_naming_the_field(
    world: Seeded, clients: dict[str, TestClient], service: str, role: str, method: str,
    path: str, kwargs: dict[str, Any], field: str | None, echo: str,
) -> None:
    before = world.events()
    kwargs = {**kwargs, "headers": {**kwargs.get("headers", {}), **world.headers(role)}}
    response = clients[service].request(method, path, **kwargs)
    assert response.status_code == 422, response.text[:500]
    body = response.json()
    assert field in {issue["field"] for issue in body["detail"]}, body
    assert all(issue["reason"] for issue in body["detail"])
    # For people: a Swedish sentence naming the field (pydantic's `msg` is English); for
    # programs: pydantic's `loc` and `type` as they were.
    named = next(issue for issue in body["detail"] if issue["field"] == field)
    sentence = f"Fältet {field}: " if field else "Begärans innehåll: "
    assert named["msg"] == f"{sentence}{named['reason']}.", named
    assert named["msg"] in body["message"] and named["type"] and named["loc"]
    assert echo not in response.text
    assert world.events() == before


def test_a_declared_body_over_the_limit_is_413_and_records_nothing(
    world: Seeded, clients: dict[str, TestClient],
) -> None:
    before = world.events()
    http = clients["enrolment"]
    response = http.post("/participants", headers=world.headers("municipal_admin"),
                         json=registration(name="x" * 2_000_000))
    assert response.status_code == 413
    assert response.json()["detail"].startswith("Förfrågan är för stor: högst 1 MB")
    assert world.events() == before
    assert http.get("/health").status_code == 200


def test_a_csv_file_over_the_row_limit_is_413_naming_the_limit(
    world: Seeded, clients: dict[str, TestClient],
) -> None:
    rows = "".join(f"Person {n},p{n}@falun.example.se,socialsekreterare,1\n"
                   for n in range(20_001))
    before = world.events()
    response = clients["enrolment"].post(
        "/participants/import", headers=world.headers("municipal_admin"),
        data={"municipality_id": "falun"},
        files={"file": ("f.csv", f"name,email,role,years_in_profession\n{rows}", "text/csv")})
    assert response.status_code == 413
    assert "högst 20 000 rader" in response.json()["detail"]
    assert world.events() == before


# -- against a real server: a 30 MB upload ---------------------------------------------------

THIRTY_MB = 30_000_000
CHUNK = 64 * 1024
PART_HEAD = (b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="f.csv"\r\n'
             b"Content-Type: text/csv\r\n\r\nname,email,role,years_in_profession\n")


class Server:
    """The enrolment API under uvicorn in a thread, as `yrkesresan serve` runs it."""

    def __init__(self, world: Seeded) -> None:
        self.port = 0  # the server binds a free one; read back once started
        config = uvicorn.Config(world.apis["enrolment"], host="127.0.0.1", port=0,
                                log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        self.port = bound_port(self.server)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def upload(port: int, headers: dict[str, str], chunked: bool) -> tuple[bytes, int]:
    """Send 30 MB to the CSV import, stopping as soon as the server answers or stops reading;
    returns what the server answered and how many body bytes went out."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall(f"POST /participants/import HTTP/1.1\r\nHost: test\r\n{head}\r\n".encode())
    sent, answer = 0, b""
    try:
        select.select([sock], [], [], 2)  # a refusal on the declared length comes at once
        chunk = (PART_HEAD + b"x" * CHUNK)[:CHUNK]  # one file part, 30 MB long
        while sent < THIRTY_MB and not select.select([sock], [], [], 0)[0]:
            sock.sendall(f"{CHUNK:x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk)
            sent += CHUNK
            chunk = b"x" * CHUNK
        while data := sock.recv(65536):
            answer += data
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        pass  # the server closed the connection instead of reading the rest
    finally:
        sock.close()
    return answer, sent


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_30_mb_upload_is_refused_and_the_service_stays_healthy(
    world: Seeded, chunked: bool,
) -> None:
    framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": THIRTY_MB}
    headers = {**world.headers("municipal_admin"), **framing,
               "Content-Type": "multipart/form-data; boundary=xyz"}
    before = world.events()
    with Server(world) as server:
        answer, sent = upload(server.port, headers, chunked)
        assert sent < THIRTY_MB  # the server stopped taking the body
        if not chunked:
            assert sent == 0 and answer.startswith(b"HTTP/1.1 413"), answer[:200]
        elif answer:  # or the connection was cut before the answer could be read
            assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        base = f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{base}/health").status_code == 200
        assert world.events() == before
        small = f"name,email,role,years_in_profession\nLiten Fil,liten{int(chunked)}@falun.se,x,1\n"
        imported = httpx.post(f"{base}/participants/import", data={"municipality_id": "falun"},
                              headers=world.headers("municipal_admin"),
                              files={"file": ("f.csv", small.encode(), "text/csv")})
        assert (imported.status_code, imported.json()["imported"]) == (200, 1), imported.text
