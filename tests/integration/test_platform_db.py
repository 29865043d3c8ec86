"""Our own SQL's connections on PostgreSQL come from a pool (`shared/platform/db.py`): many
threads share a bounded number of connections, and a connection the server dropped is replaced
on the next use. Every list an API answers is paged."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from shared.platform import db as db_module
from shared.platform.db import Database
from tests.integration.apis import Seeded, seeded

pytestmark = pytest.mark.integration


def test_threads_share_a_bounded_pool(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YRKESRESAN_DB_POOL_SIZE", "3")
    db = Database(pg_url)
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY)")
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(20):
                with db.transaction() as cur:
                    cur.execute("INSERT INTO t (k) VALUES (%s)", (i * 100 + j,))
                db.execute("SELECT count(*) FROM t")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert db.execute("SELECT count(*) FROM t") == [(240,)]
    assert db.pool.get_stats()["pool_size"] <= 3
    db.close()


def test_a_connection_the_server_dropped_is_replaced(pg_url: str) -> None:
    db = Database(pg_url)
    pids = {db.execute("SELECT pg_backend_pid()")[0][0]}
    with psycopg.connect(pg_url, autocommit=True) as admin:
        for pid in pids:  # and wait up to 5 s until it has gone, as after a restart
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
    assert db.execute("SELECT 1") == [(1,)]
    assert db.execute("SELECT pg_backend_pid()")[0][0] not in pids
    db.close()


def test_a_quiet_connection_is_handed_out_without_a_round_trip(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The empty statement that checks a connection is sent only for one the server has
    spoken on (it is going away) or that is closed or broken, not at every checkout."""
    checks: list[object] = []
    check = db_module.ConnectionPool.check_connection

    def counted(conn: psycopg.Connection[object]) -> None:
        checks.append(conn)
        check(conn)

    monkeypatch.setattr(db_module.ConnectionPool, "check_connection", staticmethod(counted))
    db = Database(pg_url)
    for _ in range(5):
        db.execute("SELECT 1")
        with db.transaction() as cur:
            cur.execute("SELECT 1")
    assert checks == []
    pid = db.execute("SELECT pg_backend_pid()")[0][0]
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
    assert db.execute("SELECT 1") == [(1,)]
    assert len(checks) == 1
    db.close()



def test_the_quiet_check_reads_a_socket_numbered_past_select_s_limit() -> None:
    """An API worker with many clients' sockets open can hold its database connections at
    descriptors of 1024 and above, which select() refuses (ValueError at every checkout)."""
    import os
    import socket

    ours, theirs = socket.socketpair()
    high = os.dup2(ours.fileno(), 1500)  # the soft limit here is 20,000 (ulimit -n)
    try:
        assert not db_module._readable(high)
        theirs.sendall(b"E")  # what a server going away sends first
        assert db_module._readable(high)
    finally:
        os.close(high)
        ours.close()
        theirs.close()

@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    yield from seeded(f"sqlite:///{tmp_path_factory.mktemp('paging') / 'store.sqlite'}")


PAGED_DOCUMENTS = {  # answers that are objects holding a list: the list is the page
    ("enrolment", "/regions"), ("enrolment", "/municipalities"), ("enrolment", "/courses"),
    ("certification", "/participants/{participant_id}/certificates"),
    ("certification", "/stationen/{municipality_id}/staff"),
    ("certification", "/stationen/{municipality_id}/level-ups"),
    ("certification", "/stationen/{municipality_id}/manager-courses"),
}


def test_every_list_endpoint_takes_a_bounded_page(world: Seeded, tmp_path: Path) -> None:
    unpaged = []
    for service, api in world.apis.items():
        for path, operations in api.openapi()["paths"].items():
            get = operations.get("get")
            if get is None:
                continue
            answer = get["responses"].get("200", {}).get("content", {})
            schema = answer.get("application/json", {}).get("schema", {})
            if schema.get("type") != "array" and (service, path) not in PAGED_DOCUMENTS:
                continue
            params = {p["name"]: p for p in get.get("parameters", [])}
            limit = params.get("limit", {}).get("schema", {})
            if "offset" not in params or limit.get("maximum") is None:
                unpaged.append(f"{service} GET {path}")
    assert unpaged == []


@pytest.mark.parametrize("bulk_from", [1, 10_000])  # by COPY on PostgreSQL, and statement-wise
def test_insert_rows_leaves_what_an_insert_per_row_would(
        database_url: str, bulk_from: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_module, "BULK_ROWS", bulk_from)
    db = Database(database_url)
    db.execute("CREATE TABLE kept (k TEXT, n INTEGER, body TEXT NOT NULL, "
               "at TEXT NOT NULL DEFAULT 'now', PRIMARY KEY (k, n))")
    db.execute("CREATE TABLE logged (body TEXT)")
    db.execute("INSERT INTO kept (k, n, body) VALUES ('a', 1, 'stored')")
    with db.transaction() as cur:
        cur.insert_rows("kept", ("k", "n", "body"),
                        [("a", 1, "again"), ("b", 1, "first"), ("b", 1, "second")],
                        key=("k", "n"))
        cur.insert_rows("logged", ("body",), [("x",), ("y",), ("z",)])
    assert db.execute("SELECT k, n, body, at FROM kept ORDER BY k") == [
        ("a", 1, "stored", "now"), ("b", 1, "first", "now")]
    assert db.execute("SELECT body FROM logged") == [("x",), ("y",), ("z",)]
    # upserts, twice in one transaction
    with db.transaction() as cur:
        cur.insert_rows("kept", ("k", "n", "body"), [("a", 1, "new"), ("c", 2, "c")],
                        key=("k", "n"), update=("body",))
        cur.insert_rows("kept", ("k", "n", "body"), [("b", 1, "one"), ("b", 1, "two")],
                        key=("k", "n"), update=("body",))
    assert db.execute("SELECT k, body FROM kept ORDER BY k") == [
        ("a", "new"), ("b", "two"), ("c", "c")]
    db.close()


def test_delete_keys_deletes_the_rows_of_those_keys_only(database_url: str) -> None:
    db = Database(database_url)
    db.execute("CREATE TABLE viewed (kind TEXT, key TEXT, body TEXT, PRIMARY KEY (kind, key))")
    with db.transaction() as cur:
        cur.insert_rows("viewed", ("kind", "key", "body"),
                        [(k, str(i), "x") for k in ("route", "course") for i in range(3)])
        cur.delete_keys("viewed", ("kind", "key"),
                        [("route", "1"), ("course", "2"), ("route", "absent"), ("nobody", "0")])
        cur.delete_keys("viewed", ("kind", "key"), [])
    assert db.execute("SELECT kind, key FROM viewed ORDER BY kind, key") == [
        ("course", "0"), ("course", "1"), ("route", "0"), ("route", "2")]
    db.close()


def test_a_binary_read_gives_the_same_values(database_url: str) -> None:
    """`execute(..., binary=True)` (a snapshot's bytes, not their hex text, on PostgreSQL)
    reads what a text read does, on either engine."""
    db = Database(database_url)
    blob = bytes(range(256)) * 1000
    db.execute("CREATE TABLE blobs (name TEXT, n BIGINT, body BYTEA)")
    db.execute("INSERT INTO blobs (name, n, body) VALUES (%s, %s, %s)", ("a", 7, blob))
    query = "SELECT name, n, body FROM blobs WHERE name = %s"
    as_text = [(str(a), int(b), bytes(c)) for a, b, c in db.execute(query, ("a",))]
    as_binary = [(str(a), int(b), bytes(c)) for a, b, c in db.execute(query, ("a",),
                                                                        binary=True)]
    assert as_binary == as_text == [("a", 7, blob)]
    db.close()


def test_execute_among_finds_rows_by_many_values_in_and_out_of_a_transaction(
        database_url: str) -> None:
    db = Database(database_url)
    db.execute("CREATE TABLE ids (owner TEXT, id TEXT)")
    with db.transaction() as cur:
        cur.insert_rows("ids", ("owner", "id"), [("a", str(i)) for i in range(1200)])
        wanted = [str(i) for i in range(0, 2400, 2)]  # more than one IN list of 500
        found = cur.execute_among("SELECT id FROM ids WHERE owner = %s AND id {among}",
                                  ("a",), wanted)
    assert sorted(int(r[0]) for r in found) == list(range(0, 1200, 2))
    assert db.execute_among("SELECT id FROM ids WHERE owner = %s AND id {among}",
                            ("b",), wanted) == []
    db.close()
