"""`yrkesresan audit`: hold the services' event stores to their history.

`verify` walks each store's hash chain (ADR 0008) and names the first event that was changed,
removed or inserted; it exits non-zero when any store's chain is broken.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shared.platform.chain import Verdict, verify
from shared.platform.ports import SERVICE_PORTS

audit = typer.Typer(no_args_is_help=True, help="Audit the event stores and their history.")


def verify_services(names: list[str]) -> list[Verdict]:
    """The verdict on each named service's store, read with the service's own settings."""
    from yrkesresan import processes

    specs = processes.services()
    verdicts = []
    for name in names:
        app = specs[name].store()
        try:
            verdicts.append(verify(name, app.chain))
        finally:
            app.close()
    return verdicts


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
) -> None:
    """Walk each store's hash chain; name the first event changed, removed or inserted."""
    if service is not None and service not in SERVICE_PORTS:
        raise typer.BadParameter(
            f"unknown service {service!r}; choose one of {', '.join(SERVICE_PORTS)}")
    verdicts = verify_services([service] if service else list(SERVICE_PORTS))
    for verdict in verdicts:
        typer.echo(describe(verdict))
    if not all(v.intact for v in verdicts):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(audit, name="audit")
