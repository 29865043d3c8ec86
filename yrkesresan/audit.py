"""`yrkesresan audit`: hold the services' event stores to their history, and read it as it stood.

`verify` walks each store's hash chain (ADR 0008) and names the first event that was changed,
removed or inserted; with `--against-bus` it also holds each store to the chain heads its relay
published (which catches a rewritten or cut-off history). It exits non-zero when any store's
chain is broken.

`as-of` folds every service's store, cut at a moment by recording time (`recorded_at`, as
CONTRACT.md's closed years define it), through one of `yrkesresan replay`'s projections: a
region's pot or invoice basis, or a participant's progression, as they stood then.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

import orjson
import typer
from pydantic import ValidationError

from shared.platform import asof
from shared.platform.chain import AUDIT_TOPIC, PublishedHead, Verdict, hold_to, verify
from shared.platform.ports import SERVICE_PORTS

log = logging.getLogger(__name__)

audit = typer.Typer(no_args_is_help=True, help="Audit the event stores and their history.")


def verify_services(names: list[str],
                    heads: Iterable[PublishedHead] | None = None) -> list[Verdict]:
    """The verdict on each named service's store, read with the service's own settings, held
    to the published `heads` where given."""
    from yrkesresan import processes

    specs = processes.services()
    held = list(heads or ())
    verdicts = []
    for name in names:
        app = specs[name].store()
        try:
            verdict = verify(name, app.chain)
            if verdict.intact:
                broken = hold_to(app.chain, [h for h in held if h.service == name])
                verdict = dataclasses.replace(verdict, broken=broken)
            verdicts.append(verdict)
        finally:
            app.close()
    return verdicts


def published_heads(bootstrap: str, quiet_s: float = 2.0, timeout_s: float = 60.0
                    ) -> list[PublishedHead]:
    """Every chain head on the audit topic, read from the beginning until it stays quiet
    (end offsets cannot be trusted on the local broker). Messages that are not heads are
    skipped and logged."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    heads: list[PublishedHead] = []
    try:
        parts = [TopicPartition(AUDIT_TOPIC, p)
                 for p in sorted(consumer.partitions_for_topic(AUDIT_TOPIC) or ())]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        deadline, quiet_since = time.monotonic() + timeout_s, time.monotonic()
        while time.monotonic() - quiet_since < quiet_s and time.monotonic() < deadline:
            records = [r for batch in consumer.poll(timeout_ms=300).values() for r in batch]
            if records:
                quiet_since = time.monotonic()
            for record in records:
                try:
                    heads.append(PublishedHead.model_validate_json(record.value or b""))
                except ValidationError as e:
                    log.warning("not a chain head", extra={"offset": record.offset,
                                                           "error": str(e)})
        return heads
    finally:
        consumer.close()


def describe(verdict: Verdict) -> str:
    if verdict.broken is not None:
        return verdict.broken.describe()
    if verdict.head is None:
        return f"{verdict.service}: intact (no events)"
    head = verdict.head
    return (f"{verdict.service}: intact, {verdict.events} events; head at notification "
            f"{head.notification_id}, chain position {head.seq}, hash {head.hash.hex()}")


@audit.command("verify")
def verify_command(
    service: Annotated[str | None, typer.Argument(
        help="enrolment, scheduling, certification or billing (default: every service)")] = None,
    against_bus: Annotated[bool, typer.Option(
        "--against-bus", help="also hold each store to the chain heads on the audit topic")
    ] = False,
) -> None:
    """Walk each store's hash chain; name the first event changed, removed or inserted."""
    from shared.platform.settings import Settings

    if service is not None and service not in SERVICE_PORTS:
        raise typer.BadParameter(
            f"unknown service {service!r}; choose one of {', '.join(SERVICE_PORTS)}")
    heads = published_heads(Settings().kafka_bootstrap) if against_bus else None
    if heads is not None:
        typer.echo(f"{len(heads)} published chain heads read from {AUDIT_TOPIC}")
    verdicts = verify_services([service] if service else list(SERVICE_PORTS), heads)
    for verdict in verdicts:
        typer.echo(describe(verdict))
    if not all(v.intact for v in verdicts):
        raise typer.Exit(1)


def recorded_by(apps: list[Any], until: dt.datetime) -> Iterator[bytes]:
    """Every store's envelopes recorded not after `until` (merged by recording time)."""
    from yrkesresan import stores

    for raw in stores.merged_envelopes(apps):
        if dt.datetime.fromisoformat(orjson.loads(raw)["recorded_at"]) > until:
            return  # merged in recording order: nothing later is in the view
        yield raw


@audit.command("as-of")
def as_of_command(
    projection: Annotated[str, typer.Argument(help="pot, invoices, progression or evaluations")],
    at: Annotated[str, typer.Option("--at", help="YYYY-MM-DD (the whole day, Swedish time) "
                                                 "or an ISO 8601 timestamp")],
    region: Annotated[str | None, typer.Option(help="region_id (pot, invoices)")] = None,
    year: Annotated[int | None, typer.Option(help="YYYY (pot, invoices)")] = None,
    participant: Annotated[str | None, typer.Option(
        help="progression: only this participant's row")] = None,
) -> None:
    """Print a projection as it stood at a moment, from the stores (by recording time)."""
    from yrkesresan import processes
    from yrkesresan.replay import ReplayUsageError, check_options, render, replay

    try:
        until = asof.parse(at)
        check_options(projection, region, year)
    except (ValueError, ReplayUsageError) as e:
        raise typer.BadParameter(str(e)) from None
    apps = [spec.store() for spec in processes.services().values()]
    try:
        document = replay(projection, recorded_by(apps, until), region, year)
    finally:
        for app in apps:
            app.close()
    if participant is not None:
        rows = [r for r in document.get("participants", ())
                if r["participant_id"] == participant]
        document = {"participant": rows[0] if rows else None}
    typer.get_binary_stream("stdout").write(render({"as_of": until.isoformat(), **document}))


def register(app: typer.Typer) -> None:
    app.add_typer(audit, name="audit")
