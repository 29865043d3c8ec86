"""How much one request may carry, enforced before any of it is held in memory.

An ASGI middleware in front of every service's API (`service_api`): a request whose
`Content-Length` is over the limit is answered 413 before the application sees it; a body
without one (chunked) is counted as it arrives and refused as soon as it passes the limit, so a
30 MB upload is never read whole. Uploads (`multipart/form-data`, the CSV imports) have their
own, larger limit. A refused request never reaches an endpoint, so it records nothing.

Starlette has a body limit of its own, but it answers in English and, for an endpoint that
reads no body, only after the endpoint has run; here nothing runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.platform.settings import Settings, current_settings


@dataclass(frozen=True)
class Limits:
    json_bytes: int
    upload_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Limits:
        s = settings or current_settings()
        return cls(json_bytes=s.max_json_bytes, upload_bytes=s.max_upload_bytes)

    def for_content_type(self, content_type: str) -> int:
        is_upload = content_type.lower().startswith("multipart/form-data")
        return self.upload_bytes if is_upload else self.json_bytes


def megabytes(n: int) -> str:
    """`10 MB`, `1,5 MB`: as a Swedish reader writes it."""
    return f"{n / 1_000_000:.1f}".replace(".0", "").replace(".", ",") + " MB"


class BodyTooLarge(HTTPException):
    """An HTTPException, so that FastAPI's own body reading passes it on untouched."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Förfrågan är för stor: högst {megabytes(limit)} "
                              f"({limit} byte) tas emot.")


class BodyLimit:
    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self.limits.for_content_type(headers.get("content-type", ""))
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await _refuse(scope, send, 400, "Ogiltig Content-Length.")
                return
            if int(declared) > limit:
                await _refuse(scope, send, 413, BodyTooLarge(limit).detail)
                return
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge as too_large:
            if started:
                raise
            await _refuse(scope, send, 413, too_large.detail)


async def _refuse(scope: Scope, send: Send, status: int, detail: str) -> None:
    """Answer without reading the body; the server closes the connection after it."""
    response = JSONResponse({"detail": detail}, status_code=status,
                            headers={"Connection": "close"})
    await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}
