"""Participant-days: the facts behind completions, the trainer pot and the invoices.

Each (participant, occasion, day) counts once however often it is reported. When it is
reported more than once, the earliest `occurred_at` is the time of the attendance: a later
report repeats the fact, it does not move it (and so does not move the charge to another
municipality).

Billing needs that time (`Attendance`); the completion rule needs only which days
(`AttendedDays`, a bit per day: the contract's day numbers are 1 to 50, and on a log of a
million events a small int per participant and occasion is a fraction of a dict's memory).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

DaysAttended = dict[int, dt.datetime]
"""day number -> earliest reported `occurred_at` of that day's attendance."""


class Attendance:
    """Who attended which day of which occasion, indexed by occasion."""

    __slots__ = ("_by_occasion",)

    def __init__(self) -> None:
        self._by_occasion: dict[str, dict[str, DaysAttended]] = {}

    def attended(
        self, participant_id: str, occasion_id: str, day: int, at: dt.datetime
    ) -> DaysAttended | None:
        """Record one report; the days attended when this day is new, else None."""
        by_participant = self._by_occasion.get(occasion_id)
        if by_participant is None:
            by_participant = self._by_occasion[occasion_id] = {}
        days = by_participant.get(participant_id)
        if days is None:
            days = by_participant[participant_id] = {day: at}
            return days
        seen = days.get(day)
        if seen is None:
            days[day] = at
            return days
        if at < seen:
            days[day] = at
        return None

    def days(self, participant_id: str, occasion_id: str) -> DaysAttended:
        return self._by_occasion.get(occasion_id, _NOBODY).get(participant_id, _NO_DAYS)

    def participants(self, occasion_id: str) -> Iterator[tuple[str, DaysAttended]]:
        yield from self._by_occasion.get(occasion_id, _NOBODY).items()


_NOBODY: dict[str, DaysAttended] = {}  # read-only, shared
_NO_DAYS: DaysAttended = {}  # read-only, shared


def day_bits(days: Iterable[int]) -> int:
    """A set of day numbers as `AttendedDays` keeps them: bit `day` set for each day."""
    bits = 0
    for day in days:
        bits |= 1 << day
    return bits


class AttendedDays:
    """Which days of which occasion each participant attended, as bits, indexed by occasion."""

    __slots__ = ("_by_occasion",)

    def __init__(self) -> None:
        self._by_occasion: dict[str, dict[str, int]] = {}

    def attended(self, participant_id: str, occasion_id: str, day: int) -> tuple[int, int]:
        """Record one report; the days (bits) attended before it and with it, equal when
        the day was already known."""
        by_participant = self._by_occasion.get(occasion_id)
        if by_participant is None:
            by_participant = self._by_occasion[occasion_id] = {}
        before = by_participant.get(participant_id, 0)
        after = before | 1 << day
        if after != before:
            by_participant[participant_id] = after
        return before, after

    def days(self, participant_id: str, occasion_id: str) -> int:
        return self._by_occasion.get(occasion_id, _NOBODY_BITS).get(participant_id, 0)

    def participants(self, occasion_id: str) -> Iterator[str]:
        yield from self._by_occasion.get(occasion_id, _NOBODY_BITS)


_NOBODY_BITS: dict[str, int] = {}  # read-only, shared
