"""`yrkesresan import-log` is the inverse of `yrkesresan export`, on SQLite and PostgreSQL: a
log from elsewhere (the demo log: no stream ids, ids of its own) comes back out of the
exporter with its ids, times and data; an export imported into empty stores exports the same
again (but for `position`, each store's own numbering); importing twice writes nothing twice;
the stores' hash chains hold; a bad line is refused by its number before anything is written.

The commands run in the test's process (`cli`) but where the process is what is checked: the
exit code and message of a refused log, the import killed and the run that completes it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.commands import Command, environment, in_a_process
from yrkesresan.demo import demo_log

pytestmark = pytest.mark.integration


def read(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def test_a_log_imported_comes_back_out_of_export(database_url: str, tmp_path: Path,
                                                 cli: Command) -> None:
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


def test_a_certificate_revoked_in_an_imported_history_is_not_acted_on_again_by_a_rebuild(
        database_url: str, tmp_path: Path, cli: Command) -> None:
    """A history imported and then rebuilt is the history: certification's rebuild of it
    issues and revokes nothing that the log did not (the national demo log's rebuild revoked
    all 6,169 of its revoked certificates again: the import put a revocation on an aggregate
    of its own, and the policy decided against a completion's state now, not as of the event
    re-applied)."""
    given = tmp_path / "given.jsonl"
    given.write_bytes(b"".join(line.rstrip(b"\n") + b"\n" for line in demo_log(150, seed=4)))
    revoked = [e["data"]["certificate_id"] for e in read(given)
               if e["type"] == "CertificateRevoked"]
    assert revoked  # the demo log revokes some certificates (withdrawn attendance)
    env = environment(database_url, tmp_path / "var")
    assert cli(env, "migrate").returncode == 0
    assert cli(env, "import-log", "--log", str(given)).returncode == 0
    rebuilt = cli(env, "rebuild", "certification")
    assert rebuilt.returncode == 0, rebuilt.stderr

    exported = tmp_path / "exported.jsonl"
    assert cli(env, "export", "--log", str(exported)).returncode == 0
    out = read(exported)
    assert sorted(e["data"]["certificate_id"] for e in out
                  if e["type"] == "CertificateRevoked") == sorted(revoked)
    assert len(out) == len(read(given))  # nothing issued or revoked by the rebuild

@pytest.mark.parametrize("processes", ["1", "2"])
def test_an_envelope_twice_in_the_log_is_written_once(database_url: str, tmp_path: Path,
                                                      cli: Command, processes: str) -> None:
    """Into empty stores the import remembers only the ids that its validation found more than
    once in the log: envelopes of three stores given again, right after and far after the
    first, are each written once and counted present; ids that share the keys' low bits but
    are not the same are all written."""
    lines = [line.rstrip(b"\n") for line in demo_log(30, seed=4)]
    entered = [orjson.loads(line) for line in lines]
    by_store = {"ParticipantRegistered": None, "ParticipantBooked": None,
                "CourseCompleted": None}
    for number, env_in in enumerate(entered):
        if env_in["type"] in by_store and by_store[env_in["type"]] is None:
            by_store[env_in["type"]] = number
    again = sorted(n for n in by_store.values() if n is not None)
    assert len(again) == 3
    given_lines = list(lines)
    given_lines.insert(again[0] + 1, lines[again[0]])  # right after
    given_lines += [lines[n] for n in again]  # at the end, the first of them a third time
    # ids ending as others end (the survey's arrays are by an id's low 16 bits), not the same
    twin = dict(entered[-1], id=entered[-2]["id"][:-4] + entered[-1]["id"][-4:])
    given_lines.append(orjson.dumps(twin))
    given = tmp_path / "given.jsonl"
    given.write_bytes(b"".join(line + b"\n" for line in given_lines))
    env = environment(database_url, tmp_path / "var")
    assert cli(env, "migrate").returncode == 0

    first = cli(env, "import-log", "--log", str(given), "--processes", processes)
    assert first.returncode == 0, first.stderr
    assert f"importerade: {len(lines) + 1}, fanns redan: 4" in first.stderr
    exported = tmp_path / "exported.jsonl"
    assert cli(env, "export", "--log", str(exported)).returncode == 0
    out = read(exported)
    assert sorted(e["id"] for e in out) == sorted([e["id"] for e in entered] + [twin["id"]])
    second = cli(env, "import-log", "--log", str(given), "--processes", processes)
    assert f"importerade: 0, fanns redan: {len(given_lines)}" in second.stderr
    verified = cli(env, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_bad_line_is_refused_before_anything_is_written(sqlite_url: str, tmp_path: Path,
                                                          cli: Command) -> None:
    given = tmp_path / "given.jsonl"
    lines = list(demo_log(3, seed=2))
    lines.insert(5, b'{"id": "not-a-uuid", "type": "RegionRegistered"}')
    given.write_bytes(b"".join(line.rstrip(b"\n") + b"\n" for line in lines))
    env = environment(sqlite_url, tmp_path / "var")
    assert cli(env, "migrate").returncode == 0
    result = in_a_process(env, "import-log", "--log", str(given))
    assert result.returncode == 1
    assert "line 6" in result.stderr
    exported = tmp_path / "exported.jsonl"
    assert cli(env, "export", "--log", str(exported)).returncode == 0
    assert exported.read_bytes() == b""


def test_a_run_killed_mid_import_is_completed_by_the_next_and_rebuild_agrees_with_replay(
        pg_url: str, tmp_path: Path, cli: Command) -> None:
    """kill -9 of an import in a process per store (`--processes 4`) whose earlier batches are
    committed and whose certification process waits at its store's lock (which the test
    holds) with its batch open: every process of it dies with it, the next run writes
    exactly what is missing, and the stores then rebuild into the progression that
    `yrkesresan replay` folds from the log. (One process: the other tests.)"""
    import psycopg

    from tests.integration.helpers import wait_for

    given = tmp_path / "given.jsonl"
    given.write_bytes(b"".join(line.rstrip(b"\n") + b"\n" for line in demo_log(60, seed=9)))
    entered = read(given)
    env = environment(pg_url, tmp_path / "var")
    assert cli(env, "migrate").returncode == 0

    def stored() -> int:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            return sum(conn.execute(f"SELECT count(*) FROM {service}_events").fetchone()[0]
                       for service in ("enrolment", "scheduling", "certification", "billing"))

    def waiting_for_the_lock() -> bool:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            return bool(conn.execute(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = 'certification_events' AND NOT l.granted").fetchone()[0])

    holder = psycopg.connect(pg_url)
    holder.execute("LOCK TABLE certification_events IN EXCLUSIVE MODE")  # reads go on
    # the store gives up on a lock after 10 s; the killed import waits as long as it takes
    waiting = {**env, "CERTIFICATION_POSTGRES_LOCK_TIMEOUT": "600"}
    batch = ("--batch", "300", "--processes", "4")
    importing = subprocess.Popen(
        [sys.executable, "-m", "yrkesresan", "import-log", "--log", str(given), *batch],
        env=waiting, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        # The certification process stops at its first event (a completion, after its
        # earlier batches) until the lock is free; the others go on or are done. Under load
        # it can wait there before any other store has committed a batch: wait for one too.
        wait_for(lambda: (waiting_for_the_lock() and stored() > 0) or importing.poll() is not None,
                 timeout=120, what="the import to wait for the certification store's lock "
                 "with a batch of another store committed")
        assert importing.poll() is None, importing.stderr.read() if importing.stderr else ""
        importing.kill()  # SIGKILL: nothing of the open batch is committed by the client
        importing.wait(timeout=60)
        wait_for(lambda: not running_in_group(importing.pid), timeout=60,
                 what="every process of the killed import to end")
    finally:
        if importing.poll() is None:
            importing.kill()
        holder.rollback()
        holder.close()
    held = stored()
    assert 0 < held < len(entered)  # earlier batches committed, the open one rolled back

    resumed = in_a_process(env, "import-log", "--log", str(given), *batch)
    assert resumed.returncode == 0, resumed.stderr
    assert f"importerade: {len(entered) - held}, fanns redan: {held}" in resumed.stderr
    assert stored() == len(entered)

    exported = tmp_path / "exported.jsonl"
    assert cli(env, "export", "--log", str(exported)).returncode == 0
    assert sorted(e["id"] for e in read(exported)) == sorted(e["id"] for e in entered)
    verified = cli(env, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr

    assert cli(env, "rebuild", "progression").returncode == 0
    replayed = cli(env, "replay", "progression", "--log", str(given))
    assert replayed.returncode == 0, replayed.stderr
    participants = orjson.loads(replayed.stdout)["participants"]
    assert len(participants) == 60
    from services.certification import application as certification

    cert = certification.bootstrap()  # the environment is still `env`: see `cli`
    try:
        rows = cert.progression.list(cert.db, limit=10**6)
        assert orjson.loads(orjson.dumps(rows)) == participants  # as JSON, like the replay
    finally:
        cert.close()


def running_in_group(group: int) -> list[int]:
    """The processes of a process group that are still running (zombies left aside: nothing
    here may reap the orphans of a killed parent)."""
    running = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except OSError:
            continue  # ended meanwhile
        if int(pgrp) == group and state != "Z":
            running.append(int(stat.parent.name))
    return running


def test_aggregates_dropped_from_the_cache_are_read_again_from_the_store(
        database_url: str, tmp_path: Path, cli: Command) -> None:
    """With room for two ids per store in memory, the import drops aggregates it has written and
    reads them back from the store when they return (their versions and ids): the result is the
    same as with room for everything, and a second run finds every envelope present."""
    from yrkesresan import processes
    from yrkesresan.import_log import SERVICES, Importer, lines_of

    given = tmp_path / "given.jsonl"
    given.write_bytes(b"".join(line.rstrip(b"\n") + b"\n" for line in demo_log(30, seed=4)))
    entered = read(given)
    env = environment(database_url, tmp_path / "var")
    assert cli(env, "migrate").returncode == 0  # and the environment is `env` from here on

    def run() -> tuple[int, int, int]:
        stores = {name: processes.services()[name].store() for name in SERVICES}
        try:
            importer = Importer(stores, budget=8)
            report = importer.run(lines_of(given), chunk=150, commit=450)
            return report.imported, report.present, sum(
                not s.complete for s in importer.stores.values())
        finally:
            for app in stores.values():
                app.close()

    imported, present, incomplete = run()
    assert (imported, present) == (len(entered), 0)
    assert incomplete == len(SERVICES)  # every store dropped aggregates and read some back
    assert run()[:2] == (0, len(entered))

    exported = tmp_path / "exported.jsonl"
    assert cli(env, "export", "--log", str(exported)).returncode == 0
    out = {e["id"]: e for e in read(exported)}
    assert len(out) == len(read(exported)) == len(entered)
    for env_in in entered:
        assert {k: out[env_in["id"]].get(k) for k in env_in} == env_in
    verified = cli(env, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
