"""The body limit at the ASGI level: refused on the declared length before the application
runs, and a body without one counted as it arrives and refused at the limit, without pulling
the rest of it."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from pydantic import BaseModel

from shared.platform.limits import BodyLimit, Limits, megabytes

LIMITS = Limits(json_bytes=1000, upload_bytes=5000)
CHUNK = 100


class Recorder:
    """An application that reads the whole body, as an endpoint would, and notes that it ran."""

    def __init__(self) -> None:
        self.calls = 0
        self.body = b""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        more = True
        while more:
            message = await receive()
            self.body += message.get("body", b"")
            more = message.get("more_body", False)
        self.calls += 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def request(headers: dict[str, str], total: int) -> tuple[dict[str, Any], Any, list[int]]:
    """A scope, a receive that hands out `total` bytes in chunks, and how many it handed out."""
    scope = {"type": "http", "method": "POST", "path": "/",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    pulled = [0]

    async def receive() -> dict[str, Any]:
        size = min(CHUNK, total - pulled[0])
        pulled[0] += size
        return {"type": "http.request", "body": b"x" * size, "more_body": pulled[0] < total}

    return scope, receive, pulled


def call(headers: dict[str, str], total: int) -> tuple[int, dict[str, Any], Recorder, int]:
    app = Recorder()
    scope, receive, pulled = request(headers, total)
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(BodyLimit(app, LIMITS)(scope, receive, send))
    status = sent[0]["status"]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return status, orjson.loads(body) if status != 200 else {}, app, pulled[0]


def test_a_body_within_the_limit_reaches_the_application() -> None:
    status, _, app, pulled = call({"content-type": "application/json"}, 1000)
    assert (status, app.calls, len(app.body), pulled) == (200, 1, 1000, 1000)


def test_a_declared_length_over_the_limit_is_refused_before_the_application_runs() -> None:
    status, body, app, pulled = call({"content-type": "application/json",
                                      "content-length": "1001"}, 1001)
    assert (status, app.calls, pulled) == (413, 0, 0)
    assert "högst" in body["detail"] and "1000 byte" in body["detail"]


def test_a_body_without_a_length_is_cut_off_at_the_limit() -> None:
    status, body, app, pulled = call({"content-type": "application/json"}, 30_000_000)
    assert (status, app.calls) == (413, 0)
    assert pulled == 1000 + CHUNK  # the chunk that passed the limit, and not one more
    assert body["detail"].startswith("Förfrågan är för stor")


def test_uploads_have_their_own_limit() -> None:
    multipart = {"content-type": "multipart/form-data; boundary=x"}
    assert call(multipart, 5000)[0] == 200
    status, _, app, pulled = call(multipart, 30_000_000)
    assert (status, app.calls, pulled) == (413, 0, 5000 + CHUNK)


@pytest.mark.parametrize("length", ["abc", "-1", "1e3"])
def test_a_length_that_is_not_a_number_is_refused(length: str) -> None:
    status, body, app, _ = call({"content-length": length}, 10)
    assert (status, app.calls) == (400, 0)
    assert "Content-Length" in body["detail"]


def test_megabytes_as_a_swedish_reader_writes_them() -> None:
    assert [megabytes(n) for n in (1_000_000, 10_000_000, 1_500_000)] == \
        ["1 MB", "10 MB", "1,5 MB"]


class Body(BaseModel):
    name: str


def test_a_body_that_is_not_json_gets_a_swedish_400() -> None:
    from fastapi.testclient import TestClient

    from shared.platform.http import service_api

    api = service_api("t", "t", health=lambda: {"ok": True})

    @api.post("/x")
    def post(body: Body) -> dict[str, str]:
        return {"name": body.name}

    client = TestClient(api)
    r = client.post("/x", content=b'{"name": "Anna', headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json() == {"detail": "Begärans innehåll är inte giltig JSON (fel vid tecken 9).",
                        "reason": "är inte giltig JSON"}
    assert "Anna" not in r.text
    r = client.post("/x", json=["a"])  # JSON, but not an object: 422 naming why
    assert r.status_code == 422 and r.json()["reason"] == "måste vara ett objekt"
