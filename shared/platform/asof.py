""""As of" a moment: the last instant a date or timestamp given by a person means.

A date is the whole day in Swedish time (an auditor asking "as of 31 December" means the end of
that day where the programme runs); a timestamp without an offset is Swedish time too. What is
in the view is decided by recording time (CONTRACT.md, closed years).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def cutoff(as_of: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(as_of, dt.datetime):
        return as_of if as_of.tzinfo else as_of.replace(tzinfo=STOCKHOLM)
    return dt.datetime.combine(as_of, dt.time.max, STOCKHOLM)


def parse(text: str) -> dt.datetime:
    """`YYYY-MM-DD` or an ISO 8601 / RFC 3339 timestamp, as a cutoff; ValueError otherwise."""
    text = text.strip()
    if len(text) == 10:
        return cutoff(dt.date.fromisoformat(text))
    return cutoff(dt.datetime.fromisoformat(text))


def today() -> dt.date:
    """The programme's date: today in Swedish time, whatever zone the machine is set to (a
    server in UTC would otherwise be a day behind from midnight to 01:00 or 02:00)."""
    return dt.datetime.now(STOCKHOLM).date()
