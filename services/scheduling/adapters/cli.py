"""`yrkesresan scheduling ...`: tools for administrators, writing to the service's store directly
(as `yrkesresan migrate` does), with the same commands and rules as the HTTP API. The relay
publishes what they record like anything else."""

from __future__ import annotations

import csv
import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from shared.platform.errors import CommandRejected, Conflict, swedish_message, swedish_reason

if TYPE_CHECKING:  # the service itself is imported when a command runs: `yrkesresan` starts fast
    from services.scheduling.application import EstimateNeeds, PlanOccasion, Scheduling
    from services.scheduling.planning import Estimate

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
    return " ".join(swedish_message(".".join(str(p) for p in x["loc"]) or None,
                                    swedish_reason(x)) for x in e.errors(include_url=False))


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


Region = Annotated[str, typer.Option(help="region_id")]
Year = Annotated[int, typer.Option()]
Ny = Annotated[int, typer.Option(help="participants at level Ny still to take its courses")]
Level = Annotated[int, typer.Option()]
PerTeam = Annotated[int, typer.Option(help="occasions one team gives a year")]
COLUMNS = ("course_id", "participants", "occasions", "course_days", "trainers",
           "course_leaders", "reserves")


def _survey(region: str, year: int, levels: dict[str, int],
            occasions_per_team: int) -> EstimateNeeds:
    from services.scheduling.application import EstimateNeeds

    try:
        return EstimateNeeds.model_validate({
            "region_id": region, "year": year, "occasions_per_team": occasions_per_team,
            "participants_per_level": levels})
    except ValidationError as e:
        raise typer.BadParameter(_reason(e)) from None


def _json(document: dict[str, Any]) -> None:
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2))


def _print_estimate(result: Estimate, title: str, extra: dict[str, dict[str, int]]) -> None:
    """One row per course (with the `extra` columns of each, if any), and the totals."""
    more = list(next(iter(extra.values()), {}))
    table = Table(*COLUMNS[:1], *more, *COLUMNS[1:], title=title)
    for plan in result.courses:
        counts = extra.get(plan.course_id, {})
        table.add_row(plan.course_id, *(str(counts.get(k, "")) for k in more),
                      *(str(getattr(plan, c)) for c in COLUMNS[1:]))
    table.add_row("totalt", *([""] * len(more)), "",
                  *(str(result.totals[c]) for c in COLUMNS[2:]))
    out.print(table)
    if result.levels_without_courses:
        out.print(f"nivåer utan publicerade kurser: {', '.join(result.levels_without_courses)}")


@sub.command("estimate")
def estimate(region: Region, year: Year, ny: Ny = 0, van: Level = 0, erfaren: Level = 0,
             chef: Level = 0, occasions_per_team: PerTeam = 1,
             database_url: DatabaseUrl = None) -> None:
    """How many occasions and trainers the year needs, from the region's survey numbers."""
    cmd = _survey(region, year, {"ny": ny, "van": van, "erfaren": erfaren, "chef": chef},
                  occasions_per_team)
    with _scheduling(database_url) as scheduling:
        result = scheduling.estimate(cmd)
    _print_estimate(result, f"{region} {year}", {})


AsJson = Annotated[bool, typer.Option("--json", help="the API's JSON document instead")]


@sub.command("demand")
def demand(region: Region, year: Year, journey: str = "barn_och_unga",
           occasions_per_team: PerTeam = 1, as_json: AsJson = False,
           database_url: DatabaseUrl = None) -> None:
    """The same from the bus: who is registered in the region at each level, less those who
    completed a course or are booked on an occasion of it still to come."""
    from services.scheduling.application import DemandFromBus

    try:
        cmd = DemandFromBus.model_validate({"region_id": region, "year": year,
                                            "journey": journey,
                                            "occasions_per_team": occasions_per_team})
    except ValidationError as e:
        raise typer.BadParameter(_reason(e)) from None
    with _scheduling(database_url) as scheduling:
        bus, needs = scheduling.demand(cmd)
    if as_json:
        from services.scheduling.planning import with_counts

        _json({"region_id": region, "year": year, **with_counts(bus, needs)})
        return
    counts = {d.course_id: {"registered": d.registered, "completed": d.completed,
                            "booked": d.booked, "waitlisted": d.waitlisted} for d in needs}
    _print_estimate(bus, f"{region} {year}, från händelserna", counts)


@sub.command("compare")
def compare(region: Region, year: Year, ny: Ny = 0, van: Level = 0, erfaren: Level = 0,
            chef: Level = 0, occasions_per_team: PerTeam = 1, as_json: AsJson = False,
            database_url: DatabaseUrl = None) -> None:
    """The survey's estimate and the bus's side by side, per course and in total."""
    cmd = _survey(region, year, {"ny": ny, "van": van, "erfaren": erfaren, "chef": chef},
                  occasions_per_team)
    with _scheduling(database_url) as scheduling:
        both = scheduling.compare(cmd)
    if as_json:
        _json({"region_id": region, "year": year, **both})
        return
    figures = ("participants", "occasions", "trainers")
    table = Table("course_id", *(f"{f} ({side})" for f in figures
                                 for side in ("enkät", "händelser", "skillnad")),
                  title=f"{region} {year}: enkäten och händelserna")
    for course in both["courses"]:
        table.add_row(course["course_id"], *(str(course[side][f]) for f in figures
                                             for side in ("survey", "bus", "difference")))
    totals = both["totals"]
    table.add_row("totalt", "", "", "", *(str(totals[side][f]) for f in figures[1:]
                                          for side in ("survey", "bus", "difference")))
    out.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(sub, name="scheduling")
