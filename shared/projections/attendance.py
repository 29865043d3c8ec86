"""Participant-days: the facts behind completions, the trainer pot and the invoices.

Each (participant, occasion, day) counts once however often it is reported. When it is
reported more than once, the earliest `occurred_at` is the time of the attendance: a later
report repeats the fact, it does not move it (and so does not move the charge to another
municipality).

Withdrawn days (CONTRACT.md v1.1): a participant-day with an `AttendanceWithdrawn` no longer
counts anywhere, whatever the order of the events; the withdrawal is final, and a later report
of the same day does not bring it back.

Billing needs the time of each attendance and, for a closed year's view (the log as recorded by
the close), the recording time of each report and each withdrawal (`Attendance`: each time as
an int, microseconds since 1970 UTC, for only the instant is read; a datetime as pydantic
parses it is two objects, with its tzinfo, and about 90 bytes, pickled with a reduce each); the
completion rule needs only which days count (`AttendedDays`, a bit per day: the contract's day
numbers are 1 to 50, and on a log of a million events a small int per participant and occasion
is a fraction of a dict's memory).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from shared.projections.versions import from_instant, instant

Reports = int | tuple[int, ...]
"""The reports of one participant-day as (occurred_at, recorded) pairs, flattened: the
earliest `occurred_at` among the reports recorded by any cutoff is read from them (each time
as `versions.instant` keeps it). A report
that another both preceded (occurred no later) and was recorded no later than is dropped, so
one pair is the common case; and one report recorded when it occurred (no `recorded_at`, the
common case of all) is kept as its bare `occurred_at`, with no tuple to make."""
DaysAttended = tuple[int | Reports, ...]
"""The days of one participant on one occasion, each once in the order first reported, with
its reports: (day, reports, day, reports, ...). A dict of a few days took 232 bytes or more,
the tuple 40 and 16 a day (a participant-occasion is a fact per handful of events)."""


def _pairs(reports: Reports) -> tuple[int, ...]:
    return (reports, reports) if type(reports) is int else reports  # type: ignore[return-value]


def _with_report(held: Reports, at: int, recorded: int) -> Reports | None:
    """`held` with one more report, or None when it changes nothing any view reads."""
    reports = _pairs(held)
    kept: list[int] = []
    for i in range(0, len(reports), 2):
        held_at, held_recorded = reports[i], reports[i + 1]
        if held_at <= at and held_recorded <= recorded:
            return None
        if not (at <= held_at and recorded <= held_recorded):
            kept += (held_at, held_recorded)
    if not kept and at == recorded:
        return at
    return (*kept, at, recorded)


def attended_at(reports: Reports, cutoff: int | None = None) -> int | None:
    """The time of the attendance: the earliest `occurred_at` of its reports (recorded by
    `cutoff`, if given); None when none was recorded by then. Times as `versions.instant`
    keeps them."""
    if type(reports) is int:
        return reports if cutoff is None or reports <= cutoff else None
    assert isinstance(reports, tuple)
    if cutoff is None and len(reports) == 2:
        return reports[0]
    best: int | None = None
    for i in range(0, len(reports), 2):
        if (cutoff is None or reports[i + 1] <= cutoff) and (best is None or reports[i] < best):
            best = reports[i]
    return best


class Attendance:
    """Who attended which day of which occasion, and which days were withdrawn, indexed by
    occasion."""

    __slots__ = ("_by_occasion", "_withdrawn")

    def __init__(self) -> None:
        self._by_occasion: dict[str, dict[str, DaysAttended]] = {}
        # occasion -> participant -> day -> the earliest recording time of a withdrawal
        self._withdrawn: dict[str, dict[str, dict[int, int]]] = {}

    def attended(
        self, participant_id: str, occasion_id: str, day: int, at: dt.datetime,
        recorded: dt.datetime | None = None,
    ) -> None:
        """Record one report (`recorded` None: recorded when it occurred)."""
        when = instant(at)
        written = when if recorded is None else instant(recorded)
        report: Reports = when if written == when else (when, written)
        by_participant = self._by_occasion.get(occasion_id)
        if by_participant is None:
            by_participant = self._by_occasion[occasion_id] = {}
        days = by_participant.get(participant_id)
        if days is None:
            by_participant[participant_id] = (day, report)
            return
        for i in range(0, len(days), 2):
            if days[i] == day:
                reports = _with_report(days[i + 1], when, written)  # type: ignore[arg-type]
                if reports is not None:
                    by_participant[participant_id] = (*days[:i + 1], reports, *days[i + 2:])
                return
        by_participant[participant_id] = (*days, day, report)

    def withdrawn(
        self, participant_id: str, occasion_id: str, day: int, recorded: dt.datetime
    ) -> None:
        """Record one withdrawal of a participant-day, recorded at `recorded`."""
        days = self._withdrawn.setdefault(occasion_id, {}).setdefault(participant_id, {})
        held, written = days.get(day), instant(recorded)
        if held is None or written < held:
            days[day] = written

    def counted(
        self, occasion_id: str, cutoff: dt.datetime | None = None,
        participant_id: str | None = None,
    ) -> Iterator[tuple[str, int, dt.datetime]]:
        """The participant-days of an occasion that count, as (participant_id, day, time of
        the attendance): in the whole log, or (with a `cutoff`) in the log as recorded by
        then; of every participant, or of one. Withdrawn days are left out."""
        limit = None if cutoff is None else instant(cutoff)
        withdrawn = self._withdrawn.get(occasion_id, _NO_WITHDRAWALS)
        attendees = self._by_occasion.get(occasion_id, _NOBODY)
        if participant_id is not None:
            one = attendees.get(participant_id)
            attendees = _NOBODY if one is None else {participant_id: one}
        for participant_id, days in attendees.items():
            gone = withdrawn.get(participant_id, _NO_WITHDRAWN_DAYS)
            for i in range(0, len(days), 2):
                day, reports = days[i], days[i + 1]
                assert type(day) is int
                if gone:
                    withdrawn_at = gone.get(day)
                    if withdrawn_at is not None and (limit is None or withdrawn_at <= limit):
                        continue
                at = attended_at(reports, limit)  # type: ignore[arg-type]
                if at is not None:
                    yield participant_id, day, from_instant(at)


_NOBODY: dict[str, DaysAttended] = {}  # read-only, shared
_NO_WITHDRAWALS: dict[str, dict[int, int]] = {}  # read-only, shared
_NO_WITHDRAWN_DAYS: dict[int, int] = {}  # read-only, shared


def day_bits(days: Iterable[int]) -> int:
    """A set of day numbers as `AttendedDays` keeps them: bit `day` set for each day."""
    bits = 0
    for day in days:
        bits |= 1 << day
    return bits


class AttendedDays:
    """Which days of which occasion count for each participant, as bits, indexed by occasion:
    the days reported and not withdrawn."""

    __slots__ = ("_by_occasion", "_withdrawn")

    def __init__(self) -> None:
        self._by_occasion: dict[str, dict[str, int]] = {}
        self._withdrawn: dict[tuple[str, str], int] = {}  # (participant, occasion) -> bits

    def attended(self, participant_id: str, occasion_id: str, day: int) -> tuple[int, int]:
        """Record one report; the days (bits) that count before it and with it, equal when
        the day was already known or was withdrawn."""
        by_participant = self._by_occasion.get(occasion_id)
        if by_participant is None:
            by_participant = self._by_occasion[occasion_id] = {}
        before = by_participant.get(participant_id, 0)
        after = before | 1 << day
        if after != before:
            if self._withdrawn and self._withdrawn.get((participant_id, occasion_id), 0) >> day & 1:
                by_participant.setdefault(participant_id, before)
                return before, before
            by_participant[participant_id] = after
        return before, after

    def withdrawn(self, participant_id: str, occasion_id: str, day: int) -> tuple[int, int]:
        """Record one withdrawal; the days (bits) that count before it and after it."""
        key = (participant_id, occasion_id)
        self._withdrawn[key] = self._withdrawn.get(key, 0) | 1 << day
        by_participant = self._by_occasion.setdefault(occasion_id, {})
        before = by_participant.get(participant_id, 0)
        after = before & ~(1 << day)
        by_participant[participant_id] = after
        return before, after

    def days(self, participant_id: str, occasion_id: str) -> int:
        return self._by_occasion.get(occasion_id, _NOBODY_BITS).get(participant_id, 0)

    def participants(self, occasion_id: str) -> Iterator[str]:
        yield from self._by_occasion.get(occasion_id, _NOBODY_BITS)


_NOBODY_BITS: dict[str, int] = {}  # read-only, shared
