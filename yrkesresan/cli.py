"""`yrkesresan`: the command line of the whole system."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from shared.platform.ports import SERVICE_PORTS


def operational_errors() -> tuple[type[BaseException], ...]:
    """Errors of the world a command runs in (a database that is down or not migrated, a
    broker that does not answer, a file that cannot be read), not of the code: reported in
    one line, without a traceback, unless `--debug` is given."""
    import sqlite3

    import psycopg
    from eventsourcing.persistence import PersistenceError
    from kafka.errors import KafkaError
    from sqlalchemy.exc import OperationalError as MigrationConnectionError

    from shared.platform.schema import SchemaNotReady

    return (SchemaNotReady, psycopg.OperationalError, sqlite3.OperationalError,
            MigrationConnectionError, PersistenceError, KafkaError, OSError)


def _one_line(e: BaseException) -> str:
    e = getattr(e, "orig", None) or e  # SQLAlchemy's wrapper: the driver's own error
    return " ".join(str(e).split()) or type(e).__name__


class _Commands(typer.Typer):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as e:
            if _debug() or not isinstance(e, operational_errors()):
                raise
            print(f"yrkesresan: {_one_line(e)} (--debug visar hela felet)", file=sys.stderr)
            raise SystemExit(1) from None


def _debug() -> bool:
    return "--debug" in sys.argv[1:2] or os.environ.get("YRKESRESAN_DEBUG", "") not in ("", "0")


app = _Commands(no_args_is_help=True, add_completion=False, help="Yrkesresan backend.")
SERVICE_NAMES = tuple(SERVICE_PORTS)


def _service(name: str) -> str:
    if name not in SERVICE_NAMES:
        choices = ", ".join(SERVICE_NAMES)
        raise typer.BadParameter(f"unknown service {name!r}; choose one of {choices}")
    return name


Service = Annotated[
    str, typer.Argument(callback=_service, help="enrolment, scheduling, certification or billing")
]
ROLES = ("participant, municipal_admin, regional_coordinator, trainer, national_analyst, auditor, "
         "system, name_reader, address_reader, region_reader (a region's own system, with "
         "--region)")


@app.callback()
def main(debug: Annotated[bool, typer.Option(
        "--debug", help="show the whole error (a traceback) where a command fails")] = False,
         ) -> None:
    """Yrkesresan: services, relays, projections and tools."""


@app.command()
def migrate(
    service: Annotated[list[str] | None, typer.Option("--service", "-s")] = None,
) -> None:
    """Bring every service's database to this code's schema version (run before the services;
    they refuse a database at another version)."""
    from yrkesresan import processes

    everything = [*SERVICE_NAMES, "notification", "dashboard", "regions"]
    if service and (unknown := set(service) - set(everything)):
        raise typer.BadParameter(f"unknown {sorted(unknown)}; choose from {everything}")
    names = list(service) if service else everything
    processes.migrate(names)
    typer.echo(f"migrated: {', '.join(names)}")


@app.command()
def serve(
    service: Service,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, help="worker processes (one per core; default YRKESRESAN_<SERVICE>_WORKERS, "
                    "else YRKESRESAN_API_WORKERS, else 1)")] = None,
) -> None:
    """Run one service's HTTP API."""
    import os

    from yrkesresan import processes

    if workers is None:
        workers = int(os.environ.get(f"YRKESRESAN_{service.upper()}_WORKERS")
                      or os.environ.get("YRKESRESAN_API_WORKERS") or 1)
    processes.serve(service, port, workers)


@app.command()
def relay(service: Service, ops_port: Annotated[int | None, typer.Option()] = None) -> None:
    """Run one service's outbox relay (store → Kafka)."""
    from yrkesresan import processes

    processes.relay(service, ops_port)


@app.command()
def consume(
    projection: Annotated[str, typer.Argument(
        help="a projection (progression, certification, ...) or regions (the region streams)")],
    ops_port: Annotated[int | None, typer.Option()] = None,
    group_id: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Run a projection's Kafka consumer (Kafka → read model)."""
    from yrkesresan import processes

    if projection not in processes.projections() and projection != "regions":
        raise typer.BadParameter(f"unknown projection {projection!r}")
    processes.consume(projection, ops_port, group_id)


@app.command("region-feed")
def region_feed(port: Annotated[int | None, typer.Option(help="default 8006")] = None) -> None:
    """Run the region feed: a region's events over HTTP (server-sent events, resumable)."""
    from yrkesresan import processes

    processes.region_feed(port)


@app.command()
def notify(
    ops_port: Annotated[int | None, typer.Option(help="/health and /metrics (default 8300)")]
    = None,
    group_id: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Run the notification process (Kafka → e-mail over SMTP, reminders, summaries)."""
    from yrkesresan import processes

    processes.notify(ops_port, group_id)


@app.command()
def mailcatcher(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    smtp_port: Annotated[int, typer.Option()] = 1025,
    http_port: Annotated[int, typer.Option()] = 8025,
) -> None:
    """Run a local mail catcher: an SMTP server and a page listing what it received."""
    from yrkesresan import processes

    processes.mailcatcher(host, smtp_port, http_port)


@app.command()
def broker(port: Annotated[int, typer.Option()] = 9092) -> None:
    """Run the local Kafka-protocol broker (tansu, in memory) in the foreground."""
    from shared.platform.broker import LocalBroker, ensure_topics

    b = LocalBroker(port).start()
    ensure_topics(b.bootstrap)
    typer.echo(f"broker on {b.bootstrap} (in memory: its data is gone when it stops)")
    try:
        while b.process and b.process.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        b.stop()


@app.command()
def token(
    role: Annotated[str, typer.Option(help=ROLES)],
    subject: Annotated[str, typer.Option()] = "dev",
    municipality: Annotated[str | None, typer.Option()] = None,
    region: Annotated[str | None, typer.Option()] = None,
    participant: Annotated[str | None, typer.Option()] = None,
    trainer: Annotated[str | None, typer.Option()] = None,
    hours: Annotated[float, typer.Option()] = 12,
) -> None:
    """Print a bearer token signed with the local development key (for curl and for local
    testing; the APIs accept it unless they are configured for an identity provider)."""
    from shared.platform.auth import Principal, Role, issue_token
    from shared.platform.settings import Settings

    if Settings().production:
        typer.echo("yrkesresan token: not in production; tokens come from the identity "
                   "provider", err=True)
        raise typer.Exit(2)

    principal = Principal(subject=subject, role=Role(role), municipality_id=municipality,
                          region_id=region, participant_id=participant, trainer_id=trainer)
    typer.echo(issue_token(principal, ttl_hours=hours))


@app.command()
def export(
    log: Annotated[Path, typer.Option("--log", help="file to write (JSON Lines)")],
) -> None:
    """Export every service's published events as one contract log (no personal data)."""
    from yrkesresan import processes, stores

    apps = [spec.store() for spec in processes.services().values()]
    with log.open("wb") as out:
        count = stores.export_log(apps, out)
    typer.echo(f"{count} events written to {log}", err=True)


@app.command("import-log")
def import_log(
    log: Annotated[Path, typer.Option("--log", exists=True, dir_okay=False, readable=True,
                                      help="a contract log (JSON Lines), e.g. an export")],
    batch: Annotated[int, typer.Option(
        "--batch", min=1, help="envelopes per transaction of each store: what an interrupted "
        "import loses and a re-run writes again")] = 200_000,
    processes: Annotated[int | None, typer.Option(
        "--processes", min=1, max=4, help="processes to share the four stores out to, each "
        "reading the whole log (default: one per core from 100,000 envelopes, else 1)")] = None,
) -> None:
    """Write a contract log into the services' stores (the inverse of `export`): idempotent
    and resumable, with a progress bar; the consumers then rebuild or follow the relays."""
    from yrkesresan.import_log import LogLineError, import_command

    try:
        report = import_command(log, batch, processes)
    except LogLineError as e:
        typer.echo(f"yrkesresan import-log: {log}: {e}", err=True)
        raise typer.Exit(1) from None
    unknown = "".join(f", {n} av okänd typ {t}" for t, n in sorted(report.unknown.items()))
    typer.echo(f"importerade: {report.imported}, fanns redan: {report.present}{unknown}",
               err=True)


@app.command()
def rebuild(projection: Annotated[str | None, typer.Argument(
        help="one consumer's projection (default: every one)")] = None) -> None:
    """Bring the consumers' read models and copies up to date from the event stores, without
    the broker."""
    from yrkesresan import processes, stores

    registry = processes.rebuildable()
    if projection is not None and projection not in registry:
        raise typer.BadParameter(
            f"unknown projection {projection!r}; choose one of {', '.join(registry)}")
    began = time.monotonic()
    with _RebuildShown() as shown:
        for name, applied in stores.rebuild_projections([projection] if projection else None,
                                                        progress=shown):
            shown.say(f"{applied} new events applied to {name}")
    typer.echo(f"återuppbyggnaden tog {_duration(time.monotonic() - began)}", err=True)


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{hours} h"] if hours else []
    if hours or minutes:
        parts.append(f"{minutes} min")
    return " ".join([*parts, f"{rest} s"])


class _RebuildShown:
    """How far `yrkesresan rebuild` has come, on standard error (`stores.RebuildProgress`): a
    bar for each pass at a terminal; elsewhere (a job's log) a line every minute and at each
    pass's end of reading, so a national rebuild (half an hour, in passes of minutes) is not
    silent between its lines of what was applied."""

    EVERY = 60.0

    def __init__(self) -> None:
        from yrkesresan.progress import events_bar

        self.bar = events_bar("{task.description}")
        self.task: Any = None
        self.names = ""
        self.total = self.done = 0
        self.began = self.told = 0.0

    def __enter__(self) -> _RebuildShown:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)  # type: ignore[arg-type]

    def say(self, line: str) -> None:
        if self.bar.disable:
            typer.echo(line, err=True)
        else:
            self.bar.console.print(line, highlight=False, markup=False)

    def begun(self, names: list[str], total: int) -> None:
        self.names, self.total, self.done = ", ".join(names), total, 0
        self.began = self.told = time.monotonic()
        self.task = self.bar.add_task(f"återuppbygger {self.names}", total=total)

    def read(self, count: int) -> None:
        self.done += count
        self.bar.advance(self.task, count)
        now = time.monotonic()
        if self.bar.disable and now - self.told >= self.EVERY:
            self.told = now
            share = f" ({100 * self.done // self.total} %)" if self.total else ""
            self.say(f"återuppbygger {self.names}: {self.done} av högst {self.total} "
                     f"händelser lästa{share}, {_duration(now - self.began)}")

    def ending(self, name: str) -> None:
        if self.task is not None:  # the pass's reading is done: said once, at its first end
            seconds = time.monotonic() - self.began
            self.bar.update(self.task, total=self.done, completed=self.done,
                            description=f"skriver slutet: {self.names}")
            rate = f" ({self.done / seconds:.0f} per sekund)" if seconds > 0 else ""
            self.say(f"{self.names}: {self.done} händelser lästa på {_duration(seconds)}"
                     f"{rate}; slutet skrivs")
            self.task = None


@app.command()
def run(
    demo: Annotated[bool, typer.Option(help="load demo data")] = True,
    broker_port: Annotated[int, typer.Option(
        envvar="YRKESRESAN_BROKER_PORT",
        help="the local broker's port (so `make run` can be given one beside other systems)",
    )] = 9092,
) -> None:
    """Start the whole system on embedded defaults (SQLite, local broker) with demo data."""
    from yrkesresan.launcher import run_system

    run_system(demo=demo, broker_port=broker_port)


from yrkesresan import contract_cmd  # noqa: E402

contract_cmd.register(app)

from yrkesresan import demo, replay  # noqa: E402

replay.register(app)
demo.register(app)

from yrkesresan import audit  # noqa: E402

audit.register(app)

from services.enrolment.adapters import cli as enrolment_cli  # noqa: E402

enrolment_cli.register(app)

from services.scheduling.adapters import cli as scheduling_cli  # noqa: E402

scheduling_cli.register(app)

from services.notification.adapters import cli as notification_cli  # noqa: E402

notification_cli.register(app)

from services.dashboard.adapters import cli as dashboard_cli  # noqa: E402

dashboard_cli.register(app)

from yrkesresan import keys_cmd  # noqa: E402

keys_cmd.register(app)

from yrkesresan import idp_cmd  # noqa: E402

idp_cmd.register(app)
