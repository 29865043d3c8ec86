"""Which messages are due: reactions to the bus (`when_<event>_<action>`) and to time.

A `Notice` is a message that is due, named by a key that makes it once: the event's id, or
what the message is about (an occasion and a participant, a municipality and a week). Notices
hold ids only; the text is written when the message is sent (`messages.py`), from the facts as
they are then, so a booking that arrived before its occasion's plan waits for the plan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, cast
from zoneinfo import ZoneInfo

import orjson

from services.notification.domain import Facts
from shared.events import Envelope
from shared.events import models as m

SWEDEN = ZoneInfo("Europe/Stockholm")
SUMMARY_TIME = dt.time(7, 0)
"""Weekly summaries of the week before go out on Monday from this time, Swedish time."""


class Kind(StrEnum):
    BOOKED = "booked"  # booking confirmed, or a place from the waitlist
    UNBOOKED = "unbooked"  # a booking cancelled, the occasion going ahead
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    WAITLIST_CLEARED = "waitlist_cleared"  # the occasion cancelled while waiting for a seat
    REMINDER = "reminder"
    EVALUATION = "evaluation"
    CERTIFICATE = "certificate"
    SUMMARY = "summary"


@dataclass(frozen=True, slots=True)
class Notice:
    key: str
    kind: Kind
    participant_id: str | None = None
    municipality_id: str | None = None
    occasion_id: str | None = None
    course_id: str | None = None
    certificate_id: str | None = None
    stream_id: str | None = None
    position: int | None = None
    on: str | None = None
    """A date the notice is about: day 1 of a reminder, the Monday of a summary's week."""
    reason: str | None = None

    def to_json(self) -> str:
        return orjson.dumps({k: v for k, v in asdict(self).items() if v is not None}).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> Notice:
        data: dict[str, Any] = orjson.loads(text)
        data["kind"] = Kind(data["kind"])
        return cls(**data)


Policy = Callable[[Facts, Envelope], list[Notice]]


def when_participant_booked_confirm(facts: Facts, env: Envelope) -> list[Notice]:
    d = cast(m.ParticipantBooked, env.data)
    return [Notice(f"booked:{env.id}", Kind.BOOKED, participant_id=d.participant_id,
                   occasion_id=d.occasion_id, stream_id=env.stream_id, position=env.position)]


def when_booking_cancelled_clear_the_calendar(facts: Facts, env: Envelope) -> list[Notice]:
    """A booking released by its occasion's cancellation (its `causation_id` names the
    `CourseOccasionCancelled`) calls for the occasion's message, under the key the
    cancellation's own policy uses, so that it is one message whichever of the two events
    arrives first (they travel in different partitions); any other cancelled booking for
    "Avbokad"."""
    d = cast(m.BookingCancelled, env.data)
    if env.causation_id is not None:
        return [_told_of_cancellation(d.occasion_id, d.participant_id)]
    return [Notice(f"unbooked:{env.id}", Kind.UNBOOKED, participant_id=d.participant_id,
                   occasion_id=d.occasion_id)]


def when_occasion_rescheduled_update_calendars(facts: Facts, env: Envelope) -> list[Notice]:
    d = cast(m.CourseOccasionRescheduled, env.data)
    if not facts.plan_in_force_is(d.occasion_id, env):
        return []  # an older plan arriving late changes nothing
    return [Notice(f"rescheduled:{env.id}:{p}", Kind.RESCHEDULED, participant_id=p,
                   occasion_id=d.occasion_id) for p in facts.booked_on(d.occasion_id)]


def when_occasion_cancelled_tell_the_booked(facts: Facts, env: Envelope) -> list[Notice]:
    """The booked, those whose release by this cancellation arrived before it, and those it
    took off the waitlist."""
    d = cast(m.CourseOccasionCancelled, env.data)
    told = set(facts.booked_on(d.occasion_id)) | set(
        facts.released_by_cancellation(d.occasion_id))
    return [_told_of_cancellation(d.occasion_id, p) for p in sorted(told)] + [
        Notice(f"waitlist-cleared:{d.occasion_id}:{p}", Kind.WAITLIST_CLEARED,
               participant_id=p, occasion_id=d.occasion_id)
        for p in sorted(set(d.waitlisted) - told)]


def _told_of_cancellation(occasion_id: str, participant_id: str) -> Notice:
    """The reason is read from the facts when it is sent (`messages.cancelled`)."""
    return Notice(f"cancelled:{occasion_id}:{participant_id}", Kind.CANCELLED,
                  participant_id=participant_id, occasion_id=occasion_id)


def when_course_completed_invite_to_evaluation(facts: Facts, env: Envelope) -> list[Notice]:
    d = cast(m.CourseCompleted, env.data)
    return [Notice(f"evaluation:{d.occasion_id}:{d.course_id}:{d.participant_id}",
                   Kind.EVALUATION, participant_id=d.participant_id, course_id=d.course_id,
                   occasion_id=d.occasion_id)]


def when_certificate_issued_send_the_link(facts: Facts, env: Envelope) -> list[Notice]:
    d = cast(m.CertificateIssued, env.data)
    return [Notice(f"certificate:{d.certificate_id}", Kind.CERTIFICATE,
                   participant_id=d.participant_id, course_id=d.course_id,
                   occasion_id=d.occasion_id, certificate_id=d.certificate_id)]


POLICIES: dict[type, Policy] = {
    m.ParticipantBooked: when_participant_booked_confirm,
    m.BookingCancelled: when_booking_cancelled_clear_the_calendar,
    m.CourseOccasionRescheduled: when_occasion_rescheduled_update_calendars,
    m.CourseOccasionCancelled: when_occasion_cancelled_tell_the_booked,
    m.CourseCompleted: when_course_completed_invite_to_evaluation,
    m.CertificateIssued: when_certificate_issued_send_the_link,
}


def react(facts: Facts, env: Envelope, now: dt.datetime, max_age: dt.timedelta) -> list[Notice]:
    """The notices an event (already applied to `facts`) calls for. An event older than
    `max_age` calls for none: a process that starts on years of history tells nobody about
    bookings long past."""
    policy = POLICIES.get(type(env.data))
    if policy is None or env.occurred_at < now - max_age:
        return []
    return policy(facts, env)


def due_reminders(facts: Facts, now: dt.datetime, days_before: int) -> list[Notice]:
    """Reminders for booked participants of occasions whose day 1 is at most `days_before`
    days away (Swedish date), one per participant and day 1 (a moved day 1 is reminded
    again)."""
    today = now.astimezone(SWEDEN).date()
    out = []
    for plan in facts.plans():
        if plan.occasion_id in facts.cancelled:
            continue
        first = plan.first_day
        if not today < first <= today + dt.timedelta(days=days_before):
            continue
        out += [Notice(f"reminder:{plan.occasion_id}:{p}:{first}", Kind.REMINDER,
                       participant_id=p, occasion_id=plan.occasion_id, on=first.isoformat())
                for p in facts.booked_on(plan.occasion_id)]
    return out


def week_due(now: dt.datetime) -> dt.date:
    """The Monday of the latest week whose summary is due at `now`."""
    local = now.astimezone(SWEDEN)
    monday = local.date() - dt.timedelta(days=local.weekday())
    if local.time() < SUMMARY_TIME and local.weekday() == 0:
        monday -= dt.timedelta(days=7)
    return monday - dt.timedelta(days=7)


def due_summaries(municipalities: Iterable[str], now: dt.datetime) -> list[Notice]:
    week = week_due(now)
    year, number, _ = week.isocalendar()
    return [Notice(f"summary:{mid}:{year}-W{number:02d}", Kind.SUMMARY, municipality_id=mid,
                   on=week.isoformat()) for mid in sorted(municipalities)]
