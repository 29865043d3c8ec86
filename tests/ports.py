"""Ports for the processes a test starts, without binding a socket to find a free one and
passing its number on (another process can take it in between): ports are drawn at random below
the kernel's range for outgoing connections, so only a listening server can hold one, and a
system whose process finds its port taken is started again on other ports."""

from __future__ import annotations

import errno
import json
import random
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

from shared.platform.broker import LocalBroker, ensure_topics, port_open
from yrkesresan.launcher import PortConflict, System
from yrkesresan.processes import Program, registry

T = TypeVar("T")

LOW, HIGH = 20000, 32000  # Linux hands out 32768-60999 for outgoing connections


def random_ports(count: int) -> list[int]:
    return random.sample(range(LOW, HIGH), count)


def on_a_port(start: Callable[[int], T], attempts: int = 5) -> T:
    """`start(port)` on a port drawn at random, again on another while the port is taken
    (`start` raises OSError EADDRINUSE, or RuntimeError for a process that could not bind)."""
    for attempt in range(1, attempts + 1):
        port = random.randint(LOW, HIGH)
        if port_open("127.0.0.1", port):
            continue
        try:
            return start(port)
        except OSError as e:
            if e.errno != errno.EADDRINUSE or attempt == attempts:
                raise
        except RuntimeError:
            if attempt == attempts:
                raise
    raise RuntimeError("no free port found")


def process_on_a_port(argv: Callable[[int], Sequence[str]], *, env: Mapping[str, str],
                      log: IO[bytes], ready: Callable[[int, subprocess.Popen[bytes]], bool],
                      seconds: float, started: list[subprocess.Popen[bytes]] | None = None,
                      ) -> tuple[subprocess.Popen[bytes], int]:
    """A process started with a port drawn at random (`argv(port)`), counted up once
    `ready(port, process)`, and started again on another port when it exits before that (its
    port was taken: it cannot bind). Each process started is added to `started`, for the
    caller to stop; one not ready within `seconds` is killed and fails the test."""
    def start(port: int) -> tuple[subprocess.Popen[bytes], int]:
        proc = subprocess.Popen(list(argv(port)), env=dict(env), stdout=log,
                                stderr=subprocess.STDOUT)
        if started is not None:
            started.append(proc)
        deadline = time.monotonic() + seconds
        while not ready(port, proc):
            try:
                proc.wait(timeout=0.2)  # its exit, or a fifth of a second
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline:
                    proc.kill()
                    proc.wait(10)
                    raise AssertionError(f"{argv(port)} not ready in {seconds} s") from None
                continue
            raise RuntimeError(f"{argv(port)} exited ({proc.returncode}): port taken?")
        return proc, port
    return on_a_port(start)


def own_ops_health(port: int, proc: subprocess.Popen[bytes]) -> bool:
    """The ops server on `port` answers `/health` (200 or 503) as this very process: another
    process listening there (the port was taken) does not count."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as answer:
            body = answer.read()
    except urllib.error.HTTPError as e:
        body = e.read()
    except OSError:
        return False
    try:
        return bool(json.loads(body).get("pid") == proc.pid)
    except ValueError:
        return False


def start_broker() -> LocalBroker:
    """The local broker on a port of its own."""
    return on_a_port(lambda port: LocalBroker(port).start(timeout=30))


@contextmanager
def broker_with_topics() -> Iterator[LocalBroker]:
    """The local broker on a port of its own with the contract's topics, for the block."""
    b = start_broker()
    ensure_topics(b.bootstrap)
    try:
        yield b
    finally:
        b.stop()


def bound_port(server: Any) -> int:
    """The port a started uvicorn server (configured with port 0) listens on."""
    return int(server.servers[0].sockets[0].getsockname()[1])


@contextmanager
def refusing_port() -> Iterator[int]:
    """A port where nothing listens, for as long as the block runs: bound, never listening,
    so a connection is refused and no one else can take it meanwhile."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


def ports_env(programs: Sequence[Program]) -> tuple[dict[str, str], int]:
    """Every port variable of the programs, and one for the broker, each a port drawn anew."""
    variables = sorted({variable for p in programs for variable, _ in p.ports.values()})
    *ports, broker = random_ports(len(variables) + 1)
    return dict(zip(variables, map(str, ports), strict=True)), broker


def start_system(env: dict[str, str], log_dir: Path, *, extra: Sequence[Program] = (),
                 attempts: int = 3, broker: bool = True) -> System:
    """The system (and, unless told otherwise, its broker) under the supervisor, migrated,
    every process healthy; started again on other ports when one is taken."""
    programs = [*registry(), *extra]
    for attempt in range(1, attempts + 1):
        ports, broker_port = ports_env(programs)
        system = System({**env, **ports}, log_dir, broker_port=broker_port if broker else None,
                        programs=programs)
        try:
            system.migrate()
            system.start_all()
            system.wait_healthy(timeout=300)  # a bound: a busy machine starts slowly
            return system
        except PortConflict:
            system.stop()
            if attempt == attempts:
                raise
        except BaseException:
            system.stop()
            raise
    raise AssertionError("unreachable")
