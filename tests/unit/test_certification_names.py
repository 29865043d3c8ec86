"""Certification's names from enrolment: one pooled client per process, with timeouts, closed
when the API stops (a fresh client per look-up opened a new connection each time)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest
from fastapi.testclient import TestClient

from services.certification import application as certification
from services.certification.adapters.enrolment import UNAVAILABLE, EnrolmentNames
from services.certification.adapters.http import create_api


class Enrolment(BaseHTTPRequestHandler):
    """Answers a name, and notes the connection (client port) each request came on."""

    protocol_version = "HTTP/1.1"  # keep-alive
    seen: list[int] = []

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        self.seen.append(self.client_address[1])
        if self.path.startswith("/participants/slow"):
            time.sleep(1)
        body = orjson.dumps({"name": "Sara Socionom"})
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on a slow answer: what the timeout is for

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def enrolment() -> Iterator[str]:
    Enrolment.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Enrolment)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_look_ups_share_one_connection_and_a_slow_answer_times_out(enrolment: str) -> None:
    names = EnrolmentNames(enrolment, timeout=0.3)
    try:
        assert [names.name_of(p) for p in ("p1", "p2", "p3")] == ["Sara Socionom"] * 3
        assert len(Enrolment.seen) == 3 and len(set(Enrolment.seen)) == 1
        started = time.monotonic()
        assert names.name_of("slow") == UNAVAILABLE
        assert time.monotonic() - started < 0.9
    finally:
        names.close()
    assert names.http.is_closed


def test_the_api_closes_its_client_when_it_stops(tmp_path, enrolment: str) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'certification.sqlite'}"
    certification.migrate(url)
    cert = certification.bootstrap(url)
    names = EnrolmentNames(enrolment)
    try:
        with TestClient(create_api(cert, names)) as client:
            assert client.get("/health").status_code == 200
            assert not names.http.is_closed
        assert names.http.is_closed
    finally:
        cert.close()
