"""`yrkesresan replay` as the contract specifies it: one JSON document on standard output, or a
message naming the bad line on standard error, a non-zero exit and nothing on standard output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.unit.test_seed_example import REGION, seed_log
from yrkesresan import replay as replay_module
from yrkesresan.replay import ReplayError, ReplayUsageError, replay

app = typer.Typer()
replay_module.register(app)


@app.callback()
def _group() -> None:
    """Keeps `replay` a subcommand, as in the real CLI."""


runner = CliRunner()
YRKESRESAN = str(Path(sys.executable).parent / "yrkesresan")  # the installed entry point


def write_log(tmp_path: Path, lines: list[bytes]) -> Path:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"".join(lines))
    return path


def test_prints_the_same_document_replay_returns(tmp_path: Path) -> None:
    log = write_log(tmp_path, seed_log())
    result = runner.invoke(
        app, ["replay", "pot", "--log", str(log), "--region", REGION, "--year", "2024"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == replay("pot", seed_log(), REGION, 2024)
    assert result.stderr == ""  # no progress bar when standard error is not a terminal


@pytest.mark.parametrize("projection", ["progression", "evaluations"])
def test_projections_over_every_region_take_no_options(tmp_path: Path, projection: str) -> None:
    log = write_log(tmp_path, seed_log())
    result = runner.invoke(app, ["replay", projection, "--log", str(log)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == replay(projection, seed_log())


def test_a_malformed_line_names_its_number_and_what_is_wrong(tmp_path: Path) -> None:
    lines = seed_log()
    bad = next(i for i, line in enumerate(lines) if b"CourseDayAttended" in line)
    lines[bad] = lines[bad].replace(b'"day":1', b'"day":0')
    log = write_log(tmp_path, lines)
    result = runner.invoke(app, ["replay", "progression", "--log", str(log)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"line {bad + 1}:" in result.stderr
    assert "data.day" in result.stderr and "greater than or equal to 1" in result.stderr


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (b"{not json\n", "Invalid JSON"),
        (b"\n", "Invalid JSON"),
        (b'{"id": "x", "type": "CourseDayAttended"}\n', "id"),
        (
            b'{"id":"00000000-0000-0000-0000-000000000001","type":"Nope","schema_version":2,'
            b'"occurred_at":"2024-01-01T00:00:00Z","data":{}}\n',
            "Nope",
        ),
    ],
)
def test_replay_raises_with_the_one_based_line_number(line: bytes, says: str) -> None:
    lines = seed_log()[:3] + [line] + seed_log()[3:]
    with pytest.raises(ReplayError) as raised:
        replay("pot", lines, REGION, 2024)
    assert raised.value.line == 4
    assert says in raised.value.message


def test_pot_and_invoices_need_region_and_year(tmp_path: Path) -> None:
    log = write_log(tmp_path, seed_log())
    for args in (["pot"], ["invoices", "--region", REGION], ["pot", "--year", "2024"]):
        result = runner.invoke(app, ["replay", *args, "--log", str(log)])
        assert result.exit_code == 2 and result.stdout == ""
        assert "--region and --year" in result.stderr
    with pytest.raises(ReplayUsageError):
        replay("invoices", seed_log(), None, 2024)


def test_unknown_projections_and_misplaced_options_are_refused(tmp_path: Path) -> None:
    log = write_log(tmp_path, seed_log())
    unknown = runner.invoke(app, ["replay", "payroll", "--log", str(log)])
    assert unknown.exit_code == 2 and "choose one of pot, invoices" in unknown.stderr
    misplaced = runner.invoke(app, ["replay", "progression", "--log", str(log), "--year", "2024"])
    assert misplaced.exit_code == 2 and "do not apply" in misplaced.stderr


def test_the_progress_bar_passes_every_line_through(tmp_path: Path) -> None:
    log = write_log(tmp_path, seed_log())
    with log.open("rb") as f:
        lines = list(replay_module._with_progress(f, log.stat().st_size))
    assert lines == seed_log()


def test_the_installed_command_keeps_stdout_clean_on_error(tmp_path: Path) -> None:
    lines = seed_log()
    lines.insert(6, b'{"truncated": \n')
    log = write_log(tmp_path, lines)
    done = subprocess.run(
        [YRKESRESAN, "replay", "pot", "--log", str(log), "--region", REGION, "--year", "2024"],
        capture_output=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == b""
    assert b"line 7:" in done.stderr


@pytest.mark.parametrize("projection", ["pot", "invoices", "progression", "evaluations"])
def test_replay_applies_what_the_live_fold_applies(projection: str) -> None:
    """Replay calls each fold's `appliers` (no change report); the live consumers call `apply`.
    Over a demo log with moves, re-planning, absences and duplicates both give one document."""
    from shared.events import parse_envelope
    from yrkesresan.demo import REGION_ID, demo_log

    lines = list(demo_log(60, 7))
    lines += lines[::9]  # redelivered, same ids
    args = (REGION_ID, 2024) if projection in ("pot", "invoices") else (None, None)
    fold = replay_module._fold(replay_module.Projection(projection))
    for line in lines:
        fold.apply(parse_envelope(line))
    live = fold.result(*args) if args[0] else fold.result()
    assert replay(projection, lines, *args) == live
    assert live != replay(projection, [], *args)  # the log is not empty of what it counts


UNKNOWN_TYPE = (
    b'{"id":"00000000-0000-0000-0000-0000000000aa","type":"CourseRenamedInV1_2",'
    b'"schema_version":1,"occurred_at":"2024-01-01T00:00:00Z","data":{"course_id":"x"}}\n'
)


def test_an_unknown_event_type_is_skipped_and_counted(tmp_path: Path) -> None:
    """CONTRACT.md: a consumer skips a type it does not know; replay is one."""
    lines = seed_log()[:3] + [UNKNOWN_TYPE, UNKNOWN_TYPE] + seed_log()[3:]
    log = write_log(tmp_path, lines)
    result = runner.invoke(
        app, ["replay", "pot", "--log", str(log), "--region", REGION, "--year", "2024"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == replay("pot", seed_log(), REGION, 2024)
    assert "skipped 2 event(s) of unknown type 'CourseRenamedInV1_2'" in result.stderr
