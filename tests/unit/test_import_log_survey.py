"""import-log's validation of a large log in parts at once (`survey_log`): the same survey as
one pass over the file, and a bad line named by its number in the file, whichever part has it."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from yrkesresan.demo import demo_log
from yrkesresan.import_log import LogLineError, lines_of, survey, survey_log


def written(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line.rstrip(b"\n") + b"\n" for line in lines))
    return path


def test_a_log_surveyed_in_parts_is_surveyed_as_in_one_pass(tmp_path: Path) -> None:
    lines = list(demo_log(40, seed=3))
    lines[100:100] = [b"", b"   "]  # blank lines count in the numbering, not as envelopes
    lines += [lines[7], lines[500]]  # ids twice: the second near the first part's end
    log = written(tmp_path / "log.jsonl", lines)
    whole = survey(lines_of(log))
    assert len(whole.repeated) == 2 and whole.envelopes == len(lines) - 2
    for processes in (2, 3, 7):
        assert survey_log(log, processes, split_from=0) == whole


@pytest.mark.parametrize("where", [0.1, 0.5, 0.97])
def test_a_bad_line_is_named_by_its_number_in_the_file(tmp_path: Path, where: float) -> None:
    lines = list(demo_log(30, seed=5))
    bad = int(len(lines) * where)
    lines[bad] = orjson.dumps({**orjson.loads(lines[bad]), "id": "not-a-uuid"})
    lines[-1] = b"{"  # a later bad line does not hide the first
    log = written(tmp_path / "log.jsonl", lines)
    with pytest.raises(LogLineError) as serial:
        survey(lines_of(log))
    with pytest.raises(LogLineError) as parts:
        survey_log(log, 3, split_from=0)
    assert parts.value.line == serial.value.line == bad + 1
    assert str(parts.value) == str(serial.value)
