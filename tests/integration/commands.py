"""`yrkesresan` commands as the tests run them: in a process of their own where the process is
the point (its exit code, its one-line error, a kill), else in the test's own process through
typer's runner, which spares each command the seconds of imports a new interpreter pays."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.certification.keys import certification_settings
from shared.platform.auth import verifier
from shared.platform.keyring import current_keyring
from shared.platform.settings import current_settings
from yrkesresan.cli import app

Command = Callable[..., subprocess.CompletedProcess[str]]


def environment(database_url: str, var: Path) -> dict[str, str]:
    """The environment of a user whose stores are `database_url` (on SQLite: a file per service
    under `var`), without any other YRKESRESAN_ setting of the test run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("YRKESRESAN_")}
    env["YRKESRESAN_VAR_DIR"] = str(var)
    if not database_url.startswith("sqlite"):
        env["YRKESRESAN_DATABASE_URL"] = database_url
    return env


def in_a_process(env: dict[str, str], *args: str,
                 timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`python -m yrkesresan ARGS` in a new process, as a user would run it."""
    return subprocess.run([sys.executable, "-m", "yrkesresan", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def forget_the_environment() -> None:
    """Clear what a process reads from its environment once (settings, keyring, keys), as a
    new process would start without it."""
    for read_once in (current_settings, current_keyring, certification_settings, verifier):
        read_once.cache_clear()


def in_this_process(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                    *args: str) -> subprocess.CompletedProcess[str]:
    """The command run in the test's process with `env` as its whole environment (undone by
    `monkeypatch` after the test), answered like `in_a_process`. An exception the runner
    caught is put in `stderr`, so that a failed assertion shows it."""
    for name in [k for k in os.environ if k not in env]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        if os.environ.get(name) != value:
            monkeypatch.setenv(name, value)
    forget_the_environment()  # this "process" is new
    result = CliRunner().invoke(app, list(args))
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += f"{type(result.exception).__name__}: {result.exception}"
    return subprocess.CompletedProcess(["yrkesresan", *args], result.exit_code, result.stdout,
                                       stderr)
