"""`yrkesresan scheduling ...`: tools for administrators, writing to the service's store directly
(as `yrkesresan migrate` does), with the same commands and rules as the HTTP API. The relay
publishes what they record like anything else."""

from __future__ import annotations

import csv
import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from shared.platform.errors import CommandRejected, Conflict

if TYPE_CHECKING:  # the service itself is imported when a command runs: `yrkesresan` starts fast
    from services.scheduling.application import PlanOccasion, Scheduling

sub = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Scheduling: course catalogue, course occasions, planning.")
out = Console()
err = Console(stderr=True)
DatabaseUrl = Annotated[str | None, typer.Option(
    help="The scheduling store (default: YRKESRESAN_SCHEDULING_DATABASE_URL, "
         "YRKESRESAN_DATABASE_URL or SQLite under var/).")]
CSV_COLUMNS = ("occasion_id", "course_id", "region_id", "capacity", "day", "date", "mode",
               "venue")


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@contextmanager
def _scheduling(database_url: str | None) -> Iterator[Scheduling]:
    from services.scheduling.application import bootstrap

    scheduling = bootstrap(database_url)
    try:
        yield scheduling
    finally:
        scheduling.close()


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=err)


@sub.command("publish-catalogue")
def publish_catalogue(database_url: DatabaseUrl = None) -> None:
    """Publish the six Barn och unga Ny courses.

    Courses already published unchanged are left as they are; a changed course is published
    again as a revision."""
    from services.scheduling.application import shipped_catalogue

    courses = shipped_catalogue()
    with _scheduling(database_url) as scheduling, _progress() as progress:
        task = progress.add_task("Publicerar kurser", total=len(courses))
        outcome = scheduling.publish_catalogue(
            _actor(), progress=lambda *_: progress.advance(task))
    table = Table("course_id", "title", "days", "outcome")
    for course in courses:
        table.add_row(course.course_id, course.title, str(course.days), outcome[course.course_id])
    out.print(table)


def _occasions_from_csv(path: Path) -> dict[str, list[dict[str, str]]]:
    """Rows grouped by occasion, one row per course day, in file order."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or ()) and c != "venue"]
        if missing:
            raise typer.BadParameter(f"{path}: columns missing: {', '.join(missing)}")
        grouped: dict[str, list[dict[str, str]]] = {}
        for row in reader:
            grouped.setdefault(row["occasion_id"].strip(), []).append(row)
    return grouped


def _command(occasion_id: str, rows: list[dict[str, str]]) -> PlanOccasion:
    from services.scheduling.application import PlanOccasion

    first = rows[0]
    return PlanOccasion.model_validate({
        "occasion_id": occasion_id, "course_id": first["course_id"],
        "region_id": first["region_id"], "capacity": first["capacity"],
        "days": [{"day": r["day"], "date": r["date"], "mode": r["mode"],
                  "venue": (r.get("venue") or "").strip() or None} for r in rows],
    })


def _reason(e: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in x['loc'])}: {x['msg']}"
                     for x in e.errors(include_url=False))


@sub.command("plan-occasions")
def plan_occasions(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help=(
        "CSV with a header and one row per course day: " + ",".join(CSV_COLUMNS)))],
    database_url: DatabaseUrl = None,
) -> None:
    """Plan course occasions from a CSV file, one row per course day.

    Occasions already planned are skipped; an invalid occasion is reported and the others are
    planned; the exit status is 1 if any failed."""
    grouped = _occasions_from_csv(file)
    planned, skipped, failed = [], [], []
    with _scheduling(database_url) as scheduling, _progress() as progress:
        task = progress.add_task("Planerar kurstillfällen", total=len(grouped))
        for occasion_id, rows in grouped.items():
            try:
                scheduling.plan_occasion(_command(occasion_id, rows), actor=_actor())
                planned.append(occasion_id)
            except ValidationError as e:
                failed.append((occasion_id, _reason(e)))
            except Conflict:
                skipped.append(occasion_id)
            except CommandRejected as e:
                failed.append((occasion_id, f"{e.field or ''}: {e.message}".lstrip(": ")))
            progress.advance(task)
    out.print(f"planerade: {len(planned)}, fanns redan: {len(skipped)}, fel: {len(failed)}")
    for occasion_id, reason in failed:
        out.print(f"  {occasion_id}: {reason}", markup=False)
    if failed:
        raise typer.Exit(1)


@sub.command("estimate")
def estimate(
    region: Annotated[str, typer.Option(help="region_id")],
    year: Annotated[int, typer.Option()],
    ny: Annotated[int, typer.Option(help="participants at level Ny still to take its courses")] = 0,
    van: Annotated[int, typer.Option()] = 0,
    erfaren: Annotated[int, typer.Option()] = 0,
    chef: Annotated[int, typer.Option()] = 0,
    occasions_per_team: Annotated[int, typer.Option(help="occasions one team gives a year")] = 1,
    database_url: DatabaseUrl = None,
) -> None:
    """How many occasions and trainers the year needs, from the region's survey numbers."""
    try:
        from services.scheduling.application import EstimateNeeds

        cmd = EstimateNeeds.model_validate({
            "region_id": region, "year": year, "occasions_per_team": occasions_per_team,
            "participants_per_level": {"ny": ny, "van": van, "erfaren": erfaren, "chef": chef}})
    except ValidationError as e:
        raise typer.BadParameter(_reason(e)) from None
    with _scheduling(database_url) as scheduling:
        result = scheduling.estimate(cmd)
    columns: tuple[str, ...] = ("course_id", "participants", "occasions", "course_days",
                                "trainers", "course_leaders", "reserves")
    table = Table(*columns, title=f"{region} {year}")
    for plan in result.courses:
        row: dict[str, Any] = {c: getattr(plan, c) for c in columns}
        table.add_row(*(str(row[c]) for c in columns))
    table.add_row("totalt", "", *(str(result.totals[c]) for c in columns[2:]))
    out.print(table)
    if result.levels_without_courses:
        out.print(f"nivåer utan publicerade kurser: {', '.join(result.levels_without_courses)}")


def register(app: typer.Typer) -> None:
    app.add_typer(sub, name="scheduling")
