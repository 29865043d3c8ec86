"""`yrkesresan replay`: fold a log file through one projection and print the contract's document.

The folds are the ones the live consumers run (`shared.projections`); this module only reads
lines, validates each as a contract envelope and hands it on. A line that is not a valid event
stops the replay with its line number: a partial result would look like a complete one. A
well-formed envelope of an event type this code does not know is skipped and counted, as every
consumer does (CONTRACT.md): a log written by a later minor version still replays.
"""

from __future__ import annotations

import gc
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Any, Protocol

import orjson
import typer

from services.dashboard.figures import Figures
from shared.events import ContractError, Envelope, UnknownEventType
from shared.events.fast import DECODE_ERRORS, decode_envelope, fast_decoder
from shared.projections import Evaluations, Invoices, Pot, Progression

PROGRESS_FROM_BYTES = 8 * 1024 * 1024  # smaller logs replay before a bar would be read
FREEZE_FROM_BYTES = 8 * 1024 * 1024  # smaller logs leave too little for the collector to walk


class Projection(StrEnum):
    POT = "pot"
    INVOICES = "invoices"
    PROGRESSION = "progression"
    EVALUATIONS = "evaluations"
    DASHBOARD = "dashboard"


PER_REGION_AND_YEAR = frozenset({Projection.POT, Projection.INVOICES})


class ReplayError(ValueError):
    """A line of the log is not a valid event; `line` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


class ReplayUsageError(ValueError):
    """The options do not fit the projection (e.g. `pot` without `--region`)."""


class _Fold(Protocol):
    @property
    def appliers(self) -> dict[str, Callable[[Envelope], object]]:
        """Per event type the fold reads, what applies it (see `Progression.appliers`)."""


def _fold(projection: Projection) -> Any:
    folds: dict[Projection, type[Any]] = {
        Projection.POT: Pot,
        Projection.INVOICES: Invoices,
        Projection.PROGRESSION: Progression,
        Projection.EVALUATIONS: Evaluations,
        Projection.DASHBOARD: Figures,
    }
    return folds[projection]()


def check_options(projection: str, region: str | None, year: int | None) -> Projection:
    """The projection, if the options suit it; else a ReplayUsageError saying what to give."""
    try:
        chosen = Projection(projection)
    except ValueError:
        names = ", ".join(p.value for p in Projection)
        raise ReplayUsageError(
            f"unknown projection {projection!r}; choose one of {names}"
        ) from None
    if chosen in PER_REGION_AND_YEAR and (region is None or year is None):
        raise ReplayUsageError(f"{chosen.value} is per region and year: give --region and --year")
    if chosen not in PER_REGION_AND_YEAR and (region is not None or year is not None):
        raise ReplayUsageError(
            f"{chosen.value} covers every region: --region and --year do not apply"
        )
    return chosen


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a replay: the folds build large acyclic state
    (dicts, sets, tuples) that the collector would otherwise re-scan again and again while
    the log is folded and again while the result is built, which costs a long replay a good
    tenth of its time and frees nothing."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def fold_lines(fold: _Fold, lines: Iterable[bytes], skipped: Counter[str] | None = None) -> int:
    """Validate and apply every line; the number of lines. The hot loop of a replay.
    Envelopes of unknown types are counted per type in `skipped`.

    Each line is decoded into the contract's msgspec Structs (`shared.events.fast`), which
    the folds read as they read pydantic envelopes. A line msgspec rejects goes to
    `decode_envelope`, which either accepts it after a second look or raises ContractError
    in the words the live consumers use.
    """
    appliers, decode = fold.appliers, fast_decoder()
    number = 0
    with collector_paused():
        try:
            for number, line in enumerate(lines, 1):  # noqa: B007 (number is read after the loop)
                try:
                    env = decode(line)
                except DECODE_ERRORS:
                    try:
                        env = decode_envelope(line)
                    except UnknownEventType as unknown:
                        if skipped is not None:
                            skipped[unknown.type_name] += 1
                        continue
                apply = appliers.get(env.type)  # every line is validated; the fold's types applied
                if apply is not None:
                    apply(env)
        except ContractError as e:
            raise ReplayError(number, str(e)) from None
    return number


def replay(
    projection: str, lines: Iterable[bytes], region: str | None = None, year: int | None = None,
    skipped: Counter[str] | None = None,
) -> dict[str, Any]:
    """Fold `lines` (one JSON envelope each) through `projection`: the contract's document."""
    chosen = check_options(projection, region, year)
    fold = _fold(chosen)
    with collector_paused():
        fold_lines(fold, lines, skipped)
        if chosen in PER_REGION_AND_YEAR:
            return fold.result(region, year)  # type: ignore[no-any-return]
        return fold.result()  # type: ignore[no-any-return]


def render(document: dict[str, Any]) -> bytes:
    """The document as printed: indented JSON, keys in the contract's order, one final newline."""
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def _with_progress(log: IO[bytes], size: int) -> Iterator[bytes]:
    """The log's lines, advancing a progress bar on standard error as bytes are read."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("replay"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("replay", total=size)
        done = 0
        for number, line in enumerate(log, 1):
            done += len(line)
            if not number & 0xFFFF:
                progress.update(task, completed=done)
            yield line


def _lines(log: IO[bytes], size: int) -> Iterable[bytes]:
    if size >= PROGRESS_FROM_BYTES and sys.stderr.isatty():
        return _with_progress(log, size)
    return log


def replay_command(
    projection: Annotated[
        str, typer.Argument(help="pot, invoices, progression, evaluations or dashboard")
    ],
    log: Annotated[
        Path,
        typer.Option("--log", exists=True, dir_okay=False, readable=True, help="JSON Lines log"),
    ],
    region: Annotated[
        str | None, typer.Option("--region", help="region_id (pot, invoices)")
    ] = None,
    year: Annotated[int | None, typer.Option("--year", help="YYYY (pot, invoices)")] = None,
) -> None:
    """Fold a log file through one projection and print its JSON document."""
    try:
        check_options(projection, region, year)
        size = log.stat().st_size
        skipped: Counter[str] = Counter()
        with collector_paused(), log.open("rb") as f:
            document = replay(projection, _lines(f, size), region, year, skipped)
            if size >= FREEZE_FROM_BYTES:
                # The command ends here, and what the fold built is garbage that exit frees
                # anyway. Frozen, the collector leaves it alone: else the first collection
                # after the pause and the last one at exit each walk millions of objects.
                gc.freeze()
    except ReplayUsageError as e:
        typer.echo(f"yrkesresan replay: {e}", err=True)
        raise typer.Exit(2) from None
    except ReplayError as e:
        typer.echo(f"yrkesresan replay: {log}: {e}", err=True)
        raise typer.Exit(1) from None
    for type_name, count in sorted(skipped.items()):
        typer.echo(f"yrkesresan replay: skipped {count} event(s) of unknown type {type_name!r}",
                   err=True)
    out = typer.get_binary_stream("stdout")
    out.write(render(document))
    out.flush()


def register(app: typer.Typer) -> None:
    app.command("replay")(replay_command)
