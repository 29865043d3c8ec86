"""The chain head on the bus (ADR 0008): each relay publishes its store's head as far as it has
relayed, every N seconds or events, and `audit verify --against-bus` holds the store to every
head published, which catches what the walk alone cannot: history cut off at the end, or
rewritten with every hash computed anew."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.enrolment import application as enrolment
from services.enrolment.application import JoinMunicipality, RegisterRegion
from shared.platform.broker import LocalBroker
from shared.platform.chain import (
    AUDIT_TOPIC,
    GENESIS,
    PublishedHead,
    chained_rows,
    hold_to,
    link,
    verify,
)
from shared.platform.relay import Relay
from tests.integration.audit_helpers import (
    configure_services,
    notification_column,
    sql,
    url_of,
)
from tests.integration.helpers import read_topic
from yrkesresan.audit import published_heads
from yrkesresan.cli import app as cli

pytestmark = pytest.mark.integration


def seed(e: enrolment.Enrolment, regions: int) -> None:
    for i in range(regions):
        e.register_region(RegisterRegion(region_id=f"r{i}", name=f"RSS {i}"))


def test_the_relay_publishes_the_head_it_has_relayed_every_n_events(
    database_url: str, broker: LocalBroker
) -> None:
    enrolment.migrate(database_url)
    e = enrolment.bootstrap(database_url)
    seed(e, 6)
    relay = Relay(e.app, broker.bootstrap, head_every_events=5, head_every_s=3600)
    assert relay.run_once() == 6
    head = relay.publish_head()
    assert head is not None and (head.service, head.chain_seq) == ("enrolment", 6)
    assert head == PublishedHead.of("enrolment", e.app.chain.chain_head(relay.position),  # type: ignore[arg-type]
                                    head.published_at)
    values = read_topic(broker.bootstrap, AUDIT_TOPIC, 1)
    assert any(PublishedHead.model_validate_json(v) == head for v in values)

    e.register_region(RegisterRegion(region_id="late", name="RSS Sen"))
    assert relay.publish_head() is None  # stored, not relayed yet: never published
    relay.run_once()
    assert relay.publish_head() is None  # one event since: not due
    forced = relay.publish_head(force=True)
    assert forced is not None and forced.chain_seq == 7
    e.close()


def test_the_relay_publishes_the_head_every_n_seconds(
    database_url: str, broker: LocalBroker
) -> None:
    enrolment.migrate(database_url)
    e = enrolment.bootstrap(database_url)
    seed(e, 2)
    now = [1000.0]  # the relay's clock, in seconds: moved on by hand, never slept through
    relay = Relay(e.app, broker.bootstrap, head_every_events=10_000, head_every_s=0.2,
                  clock=lambda: now[0])
    relay.run_once()
    assert relay.publish_head() is not None  # the first head is due at once
    e.register_region(RegisterRegion(region_id="x", name="RSS X"))
    relay.run_once()
    assert relay.publish_head() is None
    now[0] += 0.3
    assert relay.publish_head() is not None
    e.close()


def published_store(database_url: str, broker: LocalBroker, monkeypatch: pytest.MonkeyPatch,
                    tmp_path: Path) -> tuple[enrolment.Enrolment, PublishedHead]:
    """The services configured for the CLI; five enrolment events relayed, their head
    published."""
    configure_services(database_url, monkeypatch, tmp_path)
    monkeypatch.setenv("KAFKA_BOOTSTRAP", broker.bootstrap)
    e = enrolment.bootstrap(url_of("enrolment"))
    seed(e, 4)
    e.join_municipality(JoinMunicipality(municipality_id="m1", name="Testby", region_id="r1"))
    relay = Relay(e.app, broker.bootstrap)
    relay.run_once()
    published = relay.publish_head(force=True)
    assert published is not None and published.chain_seq == 5
    assert published_heads(broker.bootstrap, quiet_s=1) == [published]
    return e, published


def test_published_heads_catch_a_history_cut_off_at_its_end(
    database_url: str, own_broker: LocalBroker, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    e, published = published_store(database_url, own_broker, monkeypatch, tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["audit", "verify", "enrolment", "--against-bus"])
    assert result.exit_code == 0, result.output
    assert "1 published chain heads read" in result.output

    url, table = url_of("enrolment"), e.app.recorder.events_table_name  # type: ignore[attr-defined]
    sql(url, f"DELETE FROM {table} WHERE {notification_column(url)} = %s",
        (published.notification_id,))
    assert verify("enrolment", e.app.chain).intact  # a shorter chain, intact in itself
    result = runner.invoke(cli, ["audit", "verify", "enrolment", "--against-bus"])
    assert result.exit_code == 1
    assert (f"enrolment: chain broken at notification {published.notification_id} "
            "(the event is gone): removed") in result.output
    e.close()


def test_published_heads_catch_a_history_rewritten_with_new_hashes(
    database_url: str, own_broker: LocalBroker, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    e, published = published_store(database_url, own_broker, monkeypatch, tmp_path)
    url, table = url_of("enrolment"), e.app.recorder.events_table_name  # type: ignore[attr-defined]
    prev = GENESIS
    for row in chained_rows(e.app.chain):  # as someone who knows the formula would
        assert row.state is not None and row.topic is not None and row.chain_seq is not None
        state = row.state.replace(b"RSS 1", b"RSS X")
        prev = link(prev, row.chain_seq, row.originator_id, row.originator_version, row.topic,
                    state)
        sql(url, f"UPDATE {table} SET state = %s, chain_hash = %s "
            f"WHERE {notification_column(url)} = %s", (state, prev, row.notification_id))
    assert verify("enrolment", e.app.chain).intact  # the walk alone cannot tell
    result = CliRunner().invoke(cli, ["audit", "verify", "enrolment", "--against-bus"])
    assert result.exit_code == 1
    assert f"chain broken at notification {published.notification_id}" in result.output
    assert "changed: the chain up to here differs from the head" in result.output
    assert hold_to(e.app.chain, []) is None
    e.close()
