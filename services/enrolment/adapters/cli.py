"""`yrkesresan enrolment ...`: administrators' tools, run on a host with access to the
service's database (the same settings as the service: `YRKESRESAN_ENROLMENT_DATABASE_URL`, else
`YRKESRESAN_DATABASE_URL`, else SQLite under `var/`).

Progress bars go to standard error, results to standard output, errors to standard error with
a non-zero exit. Bad rows are reported as `rad N: fält: orsak` and nothing is imported.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from shared.platform.errors import CommandRejected

if TYPE_CHECKING:  # the service itself is imported when a command runs: `yrkesresan` starts fast
    from services.enrolment.application import Enrolment, LevelUpReport
    from services.enrolment.csv_import import ImportReport

ACTOR = "cli"  # no person's name: the actor travels with the events

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Enrolment: import accounts and reference data, level up participants.")
err = Console(stderr=True)

T = TypeVar("T")
ExistingFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]


@contextmanager
def progress_bars(console: Console = err) -> Iterator[Callable[[str, int, int], None]]:
    """A progress callback `(phase, done, total)` drawing one bar per phase."""
    bars = Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False)
    tasks: dict[str, TaskID] = {}

    def update(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bars.add_task(phase, total=total)
        bars.update(tasks[phase], completed=done, total=total)

    with bars:
        yield update


def import_file(enrolment: Enrolment, path: Path, municipality_id: str,
                console: Console = err) -> ImportReport:
    """The participant import as the CLI runs it (the benchmark runs exactly this)."""
    from services.enrolment.csv_import import import_participants

    with progress_bars(console) as progress:
        return import_participants(enrolment, municipality_id, path.read_bytes(), ACTOR,
                                   progress)


def _run(action: Callable[[Enrolment], T]) -> T:
    from services.enrolment.application import bootstrap
    from services.enrolment.csv_import import ImportRejected

    enrolment = bootstrap()
    try:
        return action(enrolment)
    except ImportRejected as e:
        err.print(f"[red]{e.message}[/red]", highlight=False)
        for row in e.errors:
            err.print(str(row), highlight=False, markup=False)
        raise typer.Exit(1) from None
    except CommandRejected as e:
        err.print(f"[red]{e.message}[/red]", highlight=False)
        raise typer.Exit(1) from None
    finally:
        enrolment.close()


def _summary(report: ImportReport) -> None:
    typer.echo(f"importerade: {len(report.imported)}, fanns redan: {len(report.skipped)}")


@app.command("import-csv")
def import_csv(
    file: ExistingFile,
    municipality: Annotated[str, typer.Option("--municipality", "-m",
                                              help="the municipality the accounts belong to")],
) -> None:
    """Create participant accounts from a CSV file (name, email, role, years_in_profession,
    optionally area_of_work and journey). A file with any bad row imports nothing."""
    _summary(_run(lambda e: import_file(e, file, municipality)))


@app.command("import-regions")
def import_regions_cmd(file: ExistingFile) -> None:
    """Register regions (RSS) from a CSV file with columns region_id,name."""
    from services.enrolment.csv_import import import_regions

    def action(e: Enrolment) -> ImportReport:
        with progress_bars() as progress:
            return import_regions(e, file.read_bytes(), ACTOR, progress)

    _summary(_run(action))


@app.command("import-municipalities")
def import_municipalities_cmd(file: ExistingFile) -> None:
    """Join municipalities to their regions from a CSV file (municipality_id,name,region_id)."""
    from services.enrolment.csv_import import import_municipalities

    def action(e: Enrolment) -> ImportReport:
        with progress_bars() as progress:
            return import_municipalities(e, file.read_bytes(), ACTOR, progress=progress)

    _summary(_run(action))


@app.command("level-up")
def level_up(
    as_of: Annotated[dt.datetime | None, typer.Option(
        "--as-of", formats=["%Y-%m-%d"], help="the date to compute levels for (default today)",
    )] = None,
) -> None:
    """Recompute every active participant's level from years in the profession and the time
    since registration; record ParticipantLevelChanged where it rose. Safe to run again."""
    def action(e: Enrolment) -> LevelUpReport:
        with progress_bars() as progress:
            return e.level_up_all(as_of.date() if as_of else None, ACTOR, progress)

    report = _run(action)
    typer.echo(f"per {report.as_of.isoformat()}: {report.checked} konton kontrollerade, "
               f"{len(report.changed)} fick ny nivå")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="enrolment")
