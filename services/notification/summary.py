"""The weekly summary to a municipality's administrators: their staff's bookings, gaps and
completions.

The week is Monday to Sunday, Swedish time. A booking or completion belongs to the
municipality the participant belonged to when it happened (the shared `Memberships` fold).
Gaps look ahead: staff booked on an occasion whose day 1 is within `GAP_HORIZON` and who have
not done every mandatory preparation of the course.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.notification.domain import Facts
from services.notification.messages import SIGNATURE, swedish_date
from services.notification.policies import SWEDEN

GAP_HORIZON = dt.timedelta(days=14)


@dataclass(frozen=True, slots=True)
class Line:
    participant_id: str
    course: str
    first_day: dt.date | None = None
    missing: tuple[str, ...] = ()


@dataclass
class WeekSummary:
    municipality_id: str
    municipality: str
    monday: dt.date
    bookings: list[Line] = field(default_factory=list)
    gaps: list[Line] = field(default_factory=list)
    completions: list[Line] = field(default_factory=list)

    def people(self) -> set[str]:
        return {x.participant_id for x in (*self.bookings, *self.gaps, *self.completions)}


def gather(facts: Facts, municipality_id: str, monday: dt.date, today: dt.date
           ) -> WeekSummary:
    start = dt.datetime.combine(monday, dt.time(), SWEDEN)
    end = start + dt.timedelta(days=7)
    name = facts.municipality_names.get(municipality_id) or municipality_id
    out = WeekSummary(municipality_id, name, monday)

    def title(course_id: str) -> str:
        course = facts.courses.get(course_id)
        return course.title if course else course_id

    for (occasion_id, pid), booking in facts.bookings.items():
        plan = facts.plan(occasion_id)
        if (booking.booked and plan is not None and start <= booking.at < end
                and facts.memberships.at(pid, booking.at) == municipality_id):
            out.bookings.append(Line(pid, title(plan.course_id), plan.first_day))
    for plan in facts.plans():
        if plan.occasion_id in facts.cancelled or not (
                today <= plan.first_day <= today + GAP_HORIZON):
            continue
        for pid in facts.booked_on(plan.occasion_id):
            missing = facts.missing_preparations(pid, plan.course_id)
            if missing and facts.municipality_of(pid) == municipality_id:
                out.gaps.append(Line(pid, title(plan.course_id), plan.first_day,
                                     tuple(missing)))
    for (pid, course_id, _occasion), at in facts.completions.items():
        if start <= at < end and facts.memberships.at(pid, at) == municipality_id:
            out.completions.append(Line(pid, title(course_id)))
    return out


def render(summary: WeekSummary, names: Mapping[str, str | None]) -> tuple[str, str]:
    """(subject, body); `names` maps participant ids to names (None: erased)."""

    def who(pid: str) -> str:
        return names.get(pid) or "(raderad deltagare)"

    def listed(lines: list[Line], text: str) -> str:
        if not lines:
            return f"{text}: inga.\n"
        rows = "\n".join(f"  - {text_of(x)}" for x in sorted(
            lines, key=lambda x: (x.first_day or dt.date.min, x.course, who(x.participant_id))))
        return f"{text} ({len(lines)}):\n{rows}\n"

    def text_of(x: Line) -> str:
        when = f", kursdag 1 {swedish_date(x.first_day)}" if x.first_day else ""
        missing = f"; saknar: {', '.join(x.missing)}" if x.missing else ""
        return f"{who(x.participant_id)}, {x.course}{when}{missing}"

    year, week, _ = summary.monday.isocalendar()
    subject = f"Veckosammanfattning för {summary.municipality}, vecka {week} {year}"
    body = "\n".join([
        f"Hej!\n\nHär är veckans sammanfattning för medarbetarna i {summary.municipality} "
        f"(vecka {week}, {swedish_date(summary.monday)} till "
        f"{swedish_date(summary.monday + dt.timedelta(days=6))}).\n",
        listed(summary.bookings, "Nya bokningar"),
        listed(summary.gaps, "Saknade förberedelser inför kursdagar de närmaste två veckorna"),
        listed(summary.completions, "Genomförda kurser"),
        SIGNATURE,
    ])
    return subject, body
