"""Structured logs, Prometheus metrics and a health endpoint for every process.

Logs carry ids and counts only: names, e-mail addresses and identity numbers never reach a log
line, because no code path passes them here (they exist only inside the enrolment service's
encrypted personal records).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, generate_latest

EVENTS_STORED = Counter("yrkesresan_events_stored_total", "Events stored", ["service"])
EVENTS_RELAYED = Counter("yrkesresan_events_relayed_total", "Events published", ["service"])
EVENTS_APPLIED = Counter("yrkesresan_events_applied_total", "Events applied", ["consumer"])
EVENTS_DUPLICATE = Counter(
    "yrkesresan_events_duplicate_total", "Events seen again and skipped", ["consumer"]
)
EVENTS_DEADLETTERED = Counter(
    "yrkesresan_events_deadlettered_total", "Messages sent to the dead-letter topic", ["consumer"]
)
EVENTS_UNKNOWN_TYPE = Counter(
    "yrkesresan_events_unknown_type_total",
    "Envelopes of an event type this consumer does not know, skipped (not dead-lettered)",
    ["consumer", "type"],
)
RELAY_LAG = Gauge("yrkesresan_relay_lag_events", "Stored events not yet published", ["service"])
CONSUMER_LAG = Gauge(
    "yrkesresan_consumer_lag_messages", "Messages on the topic not yet applied", ["consumer"]
)

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None)))


class JsonFormatter(logging.Formatter):
    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "process": self.process,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key != "color_message":
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(process: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(process))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs a line per request with its address, and addresses name participants (the
    # certificate's and the notification's look-ups in enrolment): every process keeps it quiet.
    for noisy in ("kafka", "uvicorn.access", "aiokafka", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def serve_ops(host: str, port: int, health: Callable[[], dict[str, Any]]) -> ThreadingHTTPServer:
    """`/health` (200 when `health()` says ok, else 503; with the process's pid, so a test
    that started the process knows the answer is its own) and `/metrics`, on a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/metrics":
                body, ctype, status = generate_latest(), CONTENT_TYPE_LATEST, 200
            elif self.path == "/health":
                state = health() | {"pid": os.getpid()}
                body = json.dumps(state).encode()
                ctype, status = "application/json", 200 if state.get("ok") else 503
            else:
                body, ctype, status = b"not found", "text/plain", 404
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="ops-http").start()
    return server
