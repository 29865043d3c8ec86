"""A local mail catcher for `make run` and the tests: a real SMTP server (`aiosmtpd`) that
keeps what it receives in memory, and a small web page and JSON API listing it.

    GET /                     the messages as a page (newest first)
    GET /messages             the same as JSON: id, from, to, subject, date, attachments
    GET /messages/{id}        one message as JSON, with its text and calendar files
    GET /messages/{id}.eml    one message as received
    DELETE /messages          forget every message

Local use only: it listens on loopback by default and accepts mail for anyone.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from aiosmtpd.controller import Controller

# aiosmtpd logs every SMTP command at INFO on `mail.log`, recipients' addresses among them:
# personal data in the logs. Its warnings and errors still come through.
SMTP_LOG = "mail.log"


@dataclass(frozen=True)
class Received:
    id: int
    received_at: dt.datetime
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes

    def message(self) -> EmailMessage:
        return cast(EmailMessage, message_from_bytes(self.raw, policy=policy.default))

    def text(self) -> str:
        part = self.message().get_body(preferencelist=("plain",))
        text = "" if part is None else str(cast(EmailMessage, part).get_content())
        return text.replace("\r\n", "\n")

    def calendars(self) -> list[dict[str, Any]]:
        out = []
        for part in self.message().iter_attachments():
            if part.get_content_type() == "text/calendar":
                payload = part.get_payload(decode=True)
                content = payload.decode() if isinstance(payload, bytes) else str(payload)
                out.append({"filename": part.get_filename(),
                            "method": part.get_param("method"), "content": content})
        return out

    def summary(self) -> dict[str, Any]:
        msg = self.message()
        return {"id": self.id, "received_at": self.received_at.isoformat(),
                "from": self.mail_from, "to": list(self.rcpt_tos),
                "subject": str(msg["Subject"] or ""),
                "attachments": [p.get_filename() for p in msg.iter_attachments()]}

    def detail(self) -> dict[str, Any]:
        return {**self.summary(), "text": self.text(), "calendars": self.calendars()}


class Mailbox:
    """The aiosmtpd handler: every message accepted is kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[Received] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self._lock:
            self._messages.append(Received(
                len(self._messages) + 1, dt.datetime.now(dt.UTC), str(envelope.mail_from),
                tuple(envelope.rcpt_tos), bytes(envelope.original_content or envelope.content)))
        return "250 Message accepted for delivery"

    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()


class MailCatcher:
    def __init__(self, host: str = "127.0.0.1", smtp_port: int = 1025,
                 http_port: int | None = 8025) -> None:
        self.host, self.smtp_port, self.http_port = host, smtp_port, http_port
        self.mailbox = Mailbox()
        self._smtp = Controller(self.mailbox, hostname=host, port=smtp_port)
        self._http: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    def start(self) -> MailCatcher:
        logger = logging.getLogger(SMTP_LOG)
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
        self._smtp.start()
        if self.http_port is not None:
            self._http = ThreadingHTTPServer((self.host, self.http_port),
                                             _handler(self.mailbox))
            threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._smtp.stop()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()


def _page(messages: list[Received]) -> str:
    rows = "".join(
        f"<tr><td>{m.id}</td><td>{m.received_at:%Y-%m-%d %H:%M:%S}</td>"
        f"<td>{html.escape(', '.join(m.rcpt_tos))}</td>"
        f"<td><a href='/messages/{m.id}'>{html.escape(m.summary()['subject'])}</a></td>"
        f"<td>{html.escape(', '.join(str(a) for a in m.summary()['attachments']))}</td></tr>"
        for m in reversed(messages))
    return ("<!doctype html><html lang='sv'><meta charset='utf-8'><title>Brevlåda</title>"
            "<h1>Lokal brevlåda (Yrkesresan)</h1><p>Meddelanden som skickats under "
            "<code>make run</code>. JSON: <a href='/messages'>/messages</a></p>"
            "<table border='1' cellpadding='4'><tr><th>#</th><th>mottaget (UTC)</th>"
            "<th>till</th><th>ämne</th><th>bilagor</th></tr>" + rows + "</table></html>")


def _handler(mailbox: Mailbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            messages = mailbox.messages()
            path = self.path.split("?")[0].rstrip("/")
            if path == "":
                return self._send(200, "text/html; charset=utf-8", _page(messages).encode())
            if path == "/messages":
                return self._json([m.summary() for m in messages])
            found = next((m for m in messages if path in (f"/messages/{m.id}",
                                                          f"/messages/{m.id}.eml")), None)
            if found is None:
                return self._json({"detail": "not found"}, 404)
            if path.endswith(".eml"):
                return self._send(200, "message/rfc822", found.raw)
            return self._json(found.detail())

        def do_DELETE(self) -> None:  # noqa: N802
            mailbox.clear()
            self._json({"deleted": True})

        def _json(self, body: Any, status: int = 200) -> None:
            self._send(status, "application/json; charset=utf-8",
                       json.dumps(body, ensure_ascii=False).encode())

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
