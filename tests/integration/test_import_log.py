"""`yrkesresan import-log` is the inverse of `yrkesresan export`, on SQLite and PostgreSQL: a
log from elsewhere (the demo log: no stream ids, ids of its own) comes back out of the
exporter with its ids, times and data; an export imported into empty stores exports the same
again (but for `position`, each store's own numbering); importing twice writes nothing twice;
the stores' hash chains hold; a bad line is refused by its number before anything is written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from yrkesresan.demo import demo_log

pytestmark = pytest.mark.integration


def environment(database_url: str, var: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YRKESRESAN_")}
    env["YRKESRESAN_VAR_DIR"] = str(var)
    if not database_url.startswith("sqlite"):
        env["YRKESRESAN_DATABASE_URL"] = database_url
    return env


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "yrkesresan", *args], env=env,
                            capture_output=True, text=True, timeout=600)
    return result


def read(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def test_a_log_imported_comes_back_out_of_export(database_url: str, tmp_path: Path) -> None:
    given = tmp_path / "given.jsonl"
    given.write_bytes(b"".join(line.rstrip(b"\n") + b"\n" for line in demo_log(30, seed=4)))
    env = environment(database_url, tmp_path / "var")
    assert cli(env, "migrate").returncode == 0

    first = cli(env, "import-log", "--log", str(given))
    assert first.returncode == 0, first.stderr
    entered = read(given)
    assert f"importerade: {len(entered)}, fanns redan: 0" in first.stderr
    again = cli(env, "import-log", "--log", str(given))
    assert f"importerade: 0, fanns redan: {len(entered)}" in again.stderr

    exported = tmp_path / "exported.jsonl"
    assert cli(env, "export", "--log", str(exported)).returncode == 0
    out = {e["id"]: e for e in read(exported)}
    assert len(out) == len(entered)
    for env_in in entered:
        assert {k: out[env_in["id"]].get(k) for k in env_in} == env_in

    verified = cli(env, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # An export of ours, into empty stores: the same export again (each store numbers anew).
    env2 = environment(database_url, tmp_path / "var2") if database_url.startswith("sqlite") \
        else None
    if env2 is None:
        return  # one PostgreSQL database per test: the SQLite run covers the round trip
    assert cli(env2, "migrate").returncode == 0
    assert cli(env2, "import-log", "--log", str(exported)).returncode == 0
    round_trip = tmp_path / "round-trip.jsonl"
    assert cli(env2, "export", "--log", str(round_trip)).returncode == 0

    def without_position(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in e.items() if k != "position"} for e in events]

    assert without_position(read(round_trip)) == without_position(read(exported))


def test_a_bad_line_is_refused_before_anything_is_written(sqlite_url: str, tmp_path: Path) -> None:
    given = tmp_path / "given.jsonl"
    lines = list(demo_log(3, seed=2))
    lines.insert(5, b'{"id": "not-a-uuid", "type": "RegionRegistered"}')
    given.write_bytes(b"".join(line.rstrip(b"\n") + b"\n" for line in lines))
    env = environment(sqlite_url, tmp_path / "var")
    assert cli(env, "migrate").returncode == 0
    result = cli(env, "import-log", "--log", str(given))
    assert result.returncode == 1
    assert "line 6" in result.stderr
    exported = tmp_path / "exported.jsonl"
    assert cli(env, "export", "--log", str(exported)).returncode == 0
    assert exported.read_bytes() == b""
