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

_last_user: list[str] = []  # the node id of the last collected test that uses `system`


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    users = [item.nodeid for item in items if "system" in getattr(item, "fixturenames", ())]
    _last_user[:] = users[-1:]


def pytest_runtest_teardown(item: pytest.Item) -> None:
    """The last test on the shared system stops it. The folder is no package (no
    `__init__.py`), so the fixture lives to the session's end, and the idle system would run
    through the rest of the suite beside the tests that measure and kill."""
    if _last_user and item.nodeid == _last_user[0] and "system" in getattr(item, "funcargs", {}):
        _stop(item.funcargs["system"])  # type: ignore[attr-defined]


def _stop(system: System) -> None:
    if system.supervisor is None:  # stopped already
        return
    log = system.log_dir / "supervisord.log"
    system.stop()
    # Every process stopped on SIGTERM within its stop wait: none was killed by supervisord.
    killed = [line for line in log.read_text().splitlines() if "with SIGKILL" in line]
    assert not killed, "\n".join(killed)


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
        _stop(system)
