"""A CSV file's row limit, and a file the csv module cannot read: refused with a reason in
Swedish, never a crash."""

from __future__ import annotations

import pytest

from services.enrolment.csv_import import REGION_COLUMNS, read_rows
from shared.platform.errors import TooLarge


def regions(n: int, blank_lines: int = 0) -> str:
    return "region_id,name\n" + "\n" * blank_lines + "".join(f"r{i},Region {i}\n"
                                                             for i in range(n))


def test_a_file_at_the_row_limit_is_read() -> None:
    rows, errors = read_rows(regions(3, blank_lines=2), REGION_COLUMNS, max_rows=3)
    assert (len(rows), errors) == (3, [])


def test_a_file_over_the_row_limit_is_refused_naming_the_limit() -> None:
    with pytest.raises(TooLarge) as refused:
        read_rows(regions(4), REGION_COLUMNS, max_rows=3)
    assert refused.value.status == 413
    assert "högst 3 rader" in refused.value.message


def test_the_default_limit_comes_from_the_settings() -> None:
    with pytest.raises(TooLarge, match="högst 20 000 rader"):
        read_rows(regions(20_001), REGION_COLUMNS)


def test_a_field_the_csv_module_cannot_read_is_a_row_error() -> None:
    rows, errors = read_rows("region_id,name\nr1," + "x" * 200_000 + "\n", REGION_COLUMNS)
    assert rows == []
    assert [(e.line, e.field) for e in errors] == [(2, None)]
    assert "kan inte läsas som CSV" in errors[0].reason
