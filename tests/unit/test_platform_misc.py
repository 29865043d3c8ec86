"""Settings, tokens, JSON logs and the dead-letter format."""

from __future__ import annotations

import io
import json
import logging
from types import SimpleNamespace

import pytest

from shared.platform.auth import Principal, Role
from shared.platform.consumer import deadletter_value
from shared.platform.keyring import Keyring
from shared.platform.observability import JsonFormatter, configure_logging
from shared.platform.settings import Settings, eventsourcing_env


def test_database_urls_map_to_the_library_environment(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pg = eventsourcing_env("postgresql://u:p%40ss@db.example:6543/yr")
    assert pg["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert (pg["POSTGRES_HOST"], pg["POSTGRES_PORT"], pg["POSTGRES_DBNAME"]) == (
        "db.example", "6543", "yr")
    assert (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["CREATE_TABLE"]) == ("u", "p@ss", "n")
    lite = eventsourcing_env(f"sqlite:///{tmp_path}/x/e.sqlite", create_table=True)  # absolute
    assert lite["SQLITE_DBNAME"] == f"{tmp_path}/x/e.sqlite" and lite["CREATE_TABLE"] == "y"
    with pytest.raises(ValueError, match="unsupported"):
        eventsourcing_env("mysql://x/y")
    monkeypatch.delenv("YRKESRESAN_DATABASE_URL", raising=False)
    monkeypatch.setenv("YRKESRESAN_BILLING_DATABASE_URL", "postgresql://h/billing")
    s = Settings(var_dir=tmp_path)
    assert s.database_url_for("billing") == "postgresql://h/billing"
    assert s.database_url_for("enrolment") == f"sqlite:///{tmp_path}/enrolment.sqlite"


def test_log_lines_are_json_with_their_extras() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test-process"))
    logger = logging.getLogger("test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.info("relay starting", extra={"position": 42})
    line = json.loads(stream.getvalue())
    assert line["msg"] == "relay starting" and line["position"] == 42
    assert line["process"] == "test-process" and line["level"] == "info"


def test_dead_letter_value_names_reason_and_source() -> None:
    record = SimpleNamespace(value=b"\xff\xfe not json", topic="t", partition=1, offset=7)
    value = json.loads(deadletter_value(record, "progression", "envelope: Invalid JSON"))
    assert value["reason"] == "envelope: Invalid JSON"
    assert value["source"] == {"topic": "t", "partition": 1, "offset": 7}
    assert value["value_encoding"] == "base64"


def test_actor_recorded_with_events_never_shows_the_subject() -> None:
    who = Principal(subject="anna.andersson@falun.se", role=Role.REGIONAL_COORDINATOR)
    ring = Keyring.generate()
    actor = who.actor(ring.actor)
    assert actor.startswith("regional_coordinator:actor-1:") and "anna" not in actor
    assert actor == who.actor(ring.actor)  # auditors holding the keyring can recompute it
    assert actor != who.actor(Keyring.generate().actor)
    rotated = ring.rotated("actor")
    assert who.actor(rotated.actor).startswith("regional_coordinator:actor-2:")


def test_make_run_takes_a_private_broker_port_from_the_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`make run` passes no options, so beside other systems on one machine the local broker's
    port comes from YRKESRESAN_BROKER_PORT, as every other port comes from its variable."""
    from typer.testing import CliRunner

    from yrkesresan import launcher
    from yrkesresan.cli import app

    started: list[dict[str, object]] = []
    monkeypatch.setattr(launcher, "run_system", lambda **options: started.append(options))
    runner = CliRunner()
    assert runner.invoke(app, ["run", "--no-demo"],
                         env={"YRKESRESAN_BROKER_PORT": "29092"}).exit_code == 0
    assert runner.invoke(app, ["run"], env={"YRKESRESAN_BROKER_PORT": ""}).exit_code == 0
    assert started == [{"demo": False, "broker_port": 29092}, {"demo": True, "broker_port": 9092}]


def test_no_process_logs_the_addresses_httpx_requests() -> None:
    """httpx logs each request's URL at INFO, and the look-ups in enrolment carry participant
    ids in theirs: every process's logging keeps httpx at warnings."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    httpx_level = logging.getLogger("httpx").level
    try:
        configure_logging("certification-api", "INFO")
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
        assert logging.getLogger("shared").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:], root.level = handlers, level
        logging.getLogger("httpx").setLevel(httpx_level)
