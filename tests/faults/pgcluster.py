"""A PostgreSQL cluster of the drills' own: the restart drill must not restart the server at
127.0.0.1:5432, which other test runs share. initdb into a temporary folder, a port drawn at
random (another is drawn when it is taken), removed afterwards."""

from __future__ import annotations

import glob
import os
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg


def _bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(
        f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise FileNotFoundError(f"{name} not found: install PostgreSQL's server package")
    return found


class PrivateCluster:
    def __init__(self) -> None:
        # Directly under /tmp: the server's user must reach it (pytest's folders are private).
        self.root = Path(tempfile.mkdtemp(prefix="yr-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120)

    def start(self, attempts: int = 5) -> PrivateCluster:
        if self._as:
            shutil.chown(self.root, "postgres", "postgres")
        done = self._run(_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                         "-E", "UTF8", "--no-sync")
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr}")
        for _ in range(attempts):
            # Below the kernel's range for outgoing connections (32768 up), so only a server
            # can hold it; if one does, postgres refuses to start and another port is drawn.
            self.port = random.randint(20000, 32000)
            if self._pg_ctl("start").returncode == 0:
                return self
        raise RuntimeError(f"postgres did not start: {(self.root / 'log').read_text()[-2000:]}")

    def _pg_ctl(self, action: str, *extra: str) -> subprocess.CompletedProcess[str]:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=300")
        return self._run(_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
                         "-w", "-t", "60", "-o", options, action, *extra)

    def restart(self) -> None:
        done = self._pg_ctl("restart", "-m", "fast")
        if done.returncode:
            raise RuntimeError(f"pg_ctl restart failed: {done.stderr}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.port:
            self._pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)
