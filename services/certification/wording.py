"""How the certificate's facts read in Swedish, on the intyg, its verification page and its
credential alike: dates as a person writes them, the course occasion as its region and days."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

MONTHS = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti",
          "september", "oktober", "november", "december")


def swedish_date(value: str | dt.date) -> str:
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def swedish_dates(values: Iterable[str | dt.date]) -> str:
    """Days as a person writes them: "9 och 23 november 2026", "28 oktober och 4 november
    2026", "15 december 2026 och 12 januari 2027" (a month and a year said once)."""
    days = sorted({v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)[:10])
                   for v in values})
    words = []
    for day, after in zip(days, [*days[1:], None], strict=True):
        word = str(day.day)
        if after is None or (after.year, after.month) != (day.year, day.month):
            word += f" {MONTHS[day.month - 1]}"
        if after is None or after.year != day.year:
            word += f" {day.year}"
        words.append(word)
    return words[-1] if len(words) < 2 else f"{', '.join(words[:-1])} och {words[-1]}"


def course_dates(certificate: dict[str, Any]) -> list[str]:
    return sorted({row["date"] for row in certificate["evidence"]
                   if row["type"] == "CourseDayAttended"})


def occasion_text(region_name: str, dates: list[str]) -> str:
    """The course occasion as the person knows it: the region that gave it, and its days."""
    return f"{region_name}, {swedish_dates(dates)}" if dates else region_name
