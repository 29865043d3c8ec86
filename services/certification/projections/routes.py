"""A participant's route (resväg): the stops of their journey and level, each a course, with
what is done and what is missing before the next one.

Done means completed by the completion rule (`Completions`); what is missing is what that rule
still lacks for an occasion the participant is booked on (`Completions.left`). The courses of
a journey and level are those published on the bus (`CoursePublished`). Certificates are not
part of this document: the API adds them from the certificates table, which follows the
certification service's own store.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.certification.projections.facts import CertificationFacts
from shared.events.models import Level
from shared.platform import asof
from shared.projections.levels import is_higher, levels_reached


def route(facts: CertificationFacts, participant_id: str) -> dict[str, Any] | None:
    person = facts.people.get(participant_id)
    if person is None:
        return None
    level = facts.levels.get(participant_id) or ""
    done = facts.completions.of_participant(participant_id)  # occasion -> course
    stops = [_stop(facts, participant_id, course, done)
             for course in _courses(facts, person.journey, level)]
    return {
        "participant_id": participant_id,
        "municipality_id": facts.memberships.current(participant_id),
        "journey": person.journey,
        "level": level,
        "role": person.role,
        "years_in_profession": person.years_in_profession,
        "registered_at": person.registered_at.isoformat(),
        "stops": stops,
        "stops_done": sum(1 for s in stops if s["done"]),
        "completed": [{"course_id": c, "occasion_id": o} for o, c in sorted(done.items())],
        "bookings": _bookings(facts, participant_id),
    }


def _courses(facts: CertificationFacts, journey: str, level: str) -> list[Any]:
    return sorted((c for _, c in facts.courses.items()
                   if c.journey == journey and c.level == level), key=lambda c: c.course_id)


def _stop(facts: CertificationFacts, participant_id: str, course: Any,
          done: dict[str, str]) -> dict[str, Any]:
    occasions = sorted(o for o, c in done.items() if c == course.course_id)
    upcoming = [o for o in sorted(facts.occasions_of.get(participant_id, ()))
                if facts.is_booked(participant_id, o) and o not in occasions
                and (plan := facts.completions.plan(o)) is not None
                and plan.course_id == course.course_id]
    titles = {p.item_id: p.title for p in course.preparations}
    stop: dict[str, Any] = {"course_id": course.course_id, "title": course.title,
                            "done": bool(occasions), "completed_on_occasions": occasions,
                            "booked_occasions": upcoming}
    if not occasions:
        next_occasion = upcoming[0] if upcoming else None
        days, items = ([], []) if next_occasion is None else facts.completions.left(
            participant_id, next_occasion)
        if next_occasion is None:  # not booked: every mandatory preparation is still ahead
            items = sorted(p.item_id for p in course.preparations if p.mandatory and
                           p.item_id not in facts.prepared_items(participant_id, course.course_id))
        stop["missing"] = {
            "occasion_id": next_occasion,
            "days": [_day(facts, next_occasion, d) for d in days] if next_occasion else [],
            "preparations": [{"item_id": i, "title": titles.get(i, i)} for i in items],
        }
    return stop


def _day(facts: CertificationFacts, occasion_id: str, day: int) -> dict[str, Any]:
    plan = facts.completions.plan(occasion_id)
    date = plan.dates.get(day) if plan else None
    return {"day": day, "date": str(date) if date else None}


def _bookings(facts: CertificationFacts, participant_id: str) -> list[dict[str, Any]]:
    rows = []
    for occasion_id in sorted(facts.occasions_of.get(participant_id, ())):
        if not facts.is_booked(participant_id, occasion_id):
            continue
        plan = facts.completions.plan(occasion_id)
        rows.append({"occasion_id": occasion_id,
                     "course_id": plan.course_id if plan else None,
                     "region_id": plan.region_id if plan else None,
                     "dates": [str(d) for _, d in sorted(plan.dates.items())] if plan else []})
    return rows


def level_up_due(doc: dict[str, Any], today: dt.date | None = None) -> str | None:
    """The level the years since registration have reached by `today`, if above the recorded
    one (`shared/projections/levels.py`, the rule enrolment records by): an administrator then
    levels the person up. Read at request time: it changes with the date, not with events."""
    level = doc.get("level")
    if level not in {lv.value for lv in Level}:
        return None
    registered_at = dt.datetime.fromisoformat(doc["registered_at"])
    reached = levels_reached(doc["role"], doc["years_in_profession"], registered_at,
                             today or asof.today())
    higher = [lv for lv, _ in reached if is_higher(lv, Level(level))]
    return higher[-1].value if higher else None
