"""The system's processes under supervisord (the `supervisor` package, docs/decisions/0015).

supervisord starts each process in a process group of its own, restarts one that dies (at
once after a long run; one that dies within `startsecs` of its start waits 1, 2, 3, ... s,
and after `startretries` such failures is given up as FATAL), logs each exit and restart in
`supervisord.log`, and on shutdown stops the `app` group (every yrkesresan process, at once)
before the `infra` group (the local broker), sending SIGKILL to a whole process group that has
not exited after `stopwaitsecs`. It runs in a session of its own and receives SIGTERM when the
process that started it dies (PR_SET_PDEATHSIG), so nothing outlives `yrkesresan run`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

INFRA, APP = "infra", "app"
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Supervised:
    """One process as supervisord runs it."""

    name: str
    argv: Sequence[str]
    group: str = APP
    env: dict[str, str] = field(default_factory=dict)
    stopwaitsecs: int = 10


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the parent dies, whatever way it dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _quote(arg: str) -> str:
    """One argument for supervisord's command line (shlex-split, %-interpolated)."""
    import shlex

    return shlex.quote(arg).replace("%", "%%")


class Supervisor:
    """A supervisord for a set of processes; `start` returns once it answers."""

    def __init__(self, programs: Sequence[Supervised], log_dir: Path, env: dict[str, str],
                 *, startsecs: int = 5, startretries: int = 10) -> None:
        self.programs = {p.name: p for p in programs}
        self.log_dir = log_dir
        self.env = env
        self.startsecs = startsecs
        self.startretries = startretries
        # A short path: a unix socket's path is limited to about 100 bytes.
        self.run_dir = Path(tempfile.mkdtemp(prefix="yr-sv-"))
        self.socket = self.run_dir / "sock"
        self.process: subprocess.Popen[bytes] | None = None
        self._pids: dict[str, int] = {}

    @property
    def log_file(self) -> Path:
        return self.log_dir / "supervisord.log"

    def config(self) -> str:
        lines = [
            "[unix_http_server]", f"file={self.socket}", "chmod=0700",
            "[supervisord]", "nodaemon=true", "silent=true", f"logfile={self.log_file}",
            "logfile_maxbytes=10MB", "logfile_backups=2", f"pidfile={self.run_dir / 'pid'}",
            f"childlogdir={self.log_dir}", "loglevel=info",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "[supervisorctl]", f"serverurl=unix://{self.socket}",
        ]
        groups: dict[str, list[str]] = {INFRA: [], APP: []}
        for p in self.programs.values():
            groups[p.group].append(p.name)
            lines += [
                f"[program:{p.name}]",
                "command=" + " ".join(_quote(a) for a in p.argv),
                f"autostart={'true' if p.group == INFRA else 'false'}",
                "autorestart=true", f"startsecs={self.startsecs}",
                f"startretries={self.startretries}", "stopsignal=TERM",
                f"stopwaitsecs={p.stopwaitsecs}", "stopasgroup=true", "killasgroup=true",
                f"stdout_logfile={self.log_dir / (p.name + '.log')}", "redirect_stderr=true",
                "stdout_logfile_maxbytes=50MB", "stdout_logfile_backups=2",
            ]
            if p.env:
                lines.append("environment=" + ",".join(
                    f'{k}="{v.replace("%", "%%")}"' for k, v in p.env.items()))
        for priority, (group, names) in enumerate(groups.items(), start=1):
            if names:
                lines += [f"[group:{group}]", f"programs={','.join(names)}",
                          f"priority={priority * 100}"]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 30) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        conf = self.run_dir / "supervisord.conf"
        conf.write_text(self.config())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=open(  # noqa: SIM115
                self.log_dir / "supervisord.err", "ab"),
            start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"supervisord exited with {self.process.returncode}; see "
                                   f"{self.log_dir / 'supervisord.err'}")
            with contextlib.suppress(OSError, xmlrpc.client.Fault):
                if self.rpc().getState()["statename"] == "RUNNING":
                    return
            if time.monotonic() > deadline:
                raise TimeoutError("supervisord did not answer in time")
            time.sleep(0.1)

    def rpc(self) -> Any:
        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def start_group(self, group: str = APP) -> None:
        self.rpc().startProcessGroup(group, False)

    def info(self) -> dict[str, dict[str, Any]]:
        """Each process's state as supervisord reports it (`statename`, `pid`, ...)."""
        infos = {i["name"]: i for i in self.rpc().getAllProcessInfo()}
        self._pids.update({n: i["pid"] for n, i in infos.items() if i["pid"]})
        return infos

    def pid(self, name: str) -> int:
        """The process's current pid (0 while it is not running)."""
        return int(self.info()[name]["pid"])

    def stop(self, timeout: float = 28) -> None:
        """Stop every process and supervisord; whatever is left after `timeout` is killed,
        process group by process group."""
        if self.process is None:
            return
        with contextlib.suppress(Exception):
            self.info()  # the latest pids, for the fallback below
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                # supervisord did not finish: its children lead process groups of their own.
                for pid in self._pids.values():
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pid, signal.SIGKILL)
        self.process = None
        shutil.rmtree(self.run_dir, ignore_errors=True)
