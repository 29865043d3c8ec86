"""A process a test starts on a port drawn at random is started again on another when the port
drawn is taken, and is counted up only on its own answer, not another server's on that port."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shared.platform.observability import serve_ops
from tests import ports
from tests.ports import own_ops_health, process_on_a_port

ROOT = str(Path(__file__).resolve().parents[2])
OPS = ("import sys, time; from shared.platform.observability import serve_ops; "
       "serve_ops('127.0.0.1', int(sys.argv[1]), lambda: {'ok': True}); time.sleep(120)")


def test_a_process_whose_port_is_taken_is_started_again_on_another(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    taken = serve_ops("127.0.0.1", 0, lambda: {"ok": True})  # another server, answering /health
    held = int(taken.server_address[1])
    free = ports.random_ports(1)[0]
    drawn = iter([held, free])
    monkeypatch.setattr(ports.random, "randint", lambda low, high: next(drawn))
    # the port looked free when drawn and was taken before the process bound it
    monkeypatch.setattr(ports, "port_open", lambda host, port: False)
    started: list[subprocess.Popen[bytes]] = []
    try:
        with (tmp_path / "ops.log").open("wb") as log:
            proc, port = process_on_a_port(
                lambda port: [sys.executable, "-c", OPS, str(port)], env={"PYTHONPATH": ROOT},
                log=log, ready=own_ops_health, seconds=60, started=started)
        assert port == free
        assert len(started) == 2 and started[0].returncode not in (None, 0)  # could not bind
        assert proc is started[1] and proc.poll() is None
        assert not own_ops_health(held, proc)  # the other server's answer is not this one's
    finally:
        for p in started:
            p.kill()
            p.wait(10)
        taken.shutdown()
        taken.server_close()
