"""The running system the end-to-end tests share: starting every process and the broker takes
the better part of a minute on a loaded machine, so the tests that only add to a system (each
with ids of its own) use one. Tests that stop or replace what a system holds start their
own (the make-run test); the audit test puts back the row it edits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ports import start_system
from yrkesresan.launcher import System


@pytest.fixture(scope="package")
def system(package_pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """Every process and the broker under the supervisor, on ports drawn at random (started
    again on others if one is taken: tests/ports.py)."""
    log_dir: Path = tmp_path_factory.mktemp("system") / "logs"
    system = start_system({"YRKESRESAN_DATABASE_URL": package_pg_url,
                           "YRKESRESAN_LOG_LEVEL": "INFO"}, log_dir)
    try:
        yield system
    finally:
        system.stop()
    # Every process stopped on SIGTERM within its stop wait: none was killed by supervisord.
    killed = [line for line in (log_dir / "supervisord.log").read_text().splitlines()
              if "with SIGKILL" in line]
    assert not killed, "\n".join(killed)
