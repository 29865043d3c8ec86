"""The messages, in Swedish and in the domain's words, written from the facts when sent.

`compose` turns a due notice into a `Draft` (subject, text, calendar entries), or says why it
is not sent (`Skip`: it no longer applies) or not yet (`Wait`: a fact it needs has not
arrived). Nothing here knows an address; the greeting's name is filled in by the sender.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from services.notification.calendar import MODE_WORDS, Entry, location
from services.notification.domain import Course, Day, Facts, Plan
from services.notification.policies import SWEDEN, Kind, Notice

WEEKDAYS = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")
MONTHS = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti",
          "september", "oktober", "november", "december")
SIGNATURE = "Hälsningar\nYrkesresan"


@dataclass(frozen=True, slots=True)
class Holding:
    """The calendar entries of an occasion a participant holds, as last sent to them."""

    sequence: int
    days: tuple[Day, ...]
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class Links:
    certificate: str
    evaluation: str


@dataclass(frozen=True)
class Draft:
    subject: str
    body: str
    """The text after the greeting (`Hej {name}!`, filled in by the sender)."""
    entries: tuple[Entry, ...] = ()
    holding: Holding | None = None
    """What the participant's calendar holds once this is sent."""


@dataclass(frozen=True, slots=True)
class Skip:
    reason: str


@dataclass(frozen=True, slots=True)
class Wait:
    reason: str


Outcome = Draft | Skip | Wait


@dataclass
class Context:
    facts: Facts
    now: dt.datetime
    held: Callable[[str, str], Holding | None]
    links: Links
    today: dt.date = field(init=False)

    def __post_init__(self) -> None:
        self.today = self.now.astimezone(SWEDEN).date()


def swedish_date(day: dt.date) -> str:
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"


def day_line(day: Day, note: str = "") -> str:
    mode = MODE_WORDS.get(day.mode, day.mode)
    where = f", {location(day)}" if day.venue else ""
    return f"  Kursdag {day.day}: {swedish_date(day.date)}, {mode}{where}{note}"


def _days_text(days: tuple[Day, ...]) -> str:
    return "\n".join(day_line(d) for d in sorted(days, key=lambda d: d.day))


def _preparations_text(missing: list[str]) -> str:
    if not missing:
        return "Du har gjort alla obligatoriska förberedelser."
    items = "\n".join(f"  - {title}" for title in missing)
    return f"Obligatoriska förberedelser som du ännu inte har gjort:\n{items}"


def _entries(plan: Plan, title: str, days: tuple[Day, ...], cancel: bool = False
             ) -> tuple[Entry, ...]:
    return tuple(Entry(plan.occasion_id, title, d, plan.sequence, cancel)
                 for d in sorted(days, key=lambda d: d.day))


def _plan_and_course(ctx: Context, n: Notice) -> tuple[Plan, Course] | Outcome:
    """The occasion's plan and its course, for a participant not erased; or why not (yet)."""
    assert n.participant_id is not None and n.occasion_id is not None
    if n.participant_id in ctx.facts.erased:
        return Skip("deltagaren är raderad")
    plan = ctx.facts.plan(n.occasion_id)
    if plan is None:
        return Wait("kurstillfällets plan har inte kommit")
    course = ctx.facts.courses.get(plan.course_id)
    if course is None:
        return Wait("kursen har inte kommit")
    return plan, course


def _occasion(ctx: Context, n: Notice) -> tuple[Plan, Course] | Outcome:
    """The plan and course a participant's message is about, or why there is no message."""
    found = _plan_and_course(ctx, n)
    if not isinstance(found, tuple):
        return found
    plan = found[0]
    assert n.participant_id is not None and n.occasion_id is not None
    if n.kind is not Kind.CANCELLED:
        if n.occasion_id in ctx.facts.cancelled:
            return Skip("kurstillfället är inställt")
        if not ctx.facts.is_booked(n.occasion_id, n.participant_id):
            return Skip("deltagaren är inte bokad")
    if plan.last_day < ctx.today:
        return Skip("kurstillfället har redan ägt rum")
    return found


def booked(ctx: Context, n: Notice) -> Outcome:
    found = _occasion(ctx, n)
    if not isinstance(found, tuple):
        return found
    plan, course = found
    assert n.participant_id is not None
    if ctx.facts.freed_a_seat_before(n.stream_id, n.position):
        subject = f"Du har fått en plats: {course.title}"
        opening = (f"Du stod på väntelistan till kurstillfället {course.title} och har nu "
                   "fått en plats. Din bokning är bekräftad.")
    else:
        subject = f"Bokningsbekräftelse: {course.title}"
        opening = f"Din bokning till kurstillfället {course.title} är bekräftad."
    missing = ctx.facts.missing_preparations(n.participant_id, course.course_id)
    body = (f"{opening}\n\nKursdagar:\n{_days_text(plan.days)}\n\n"
            f"{_preparations_text(missing)}\n\n"
            "Till varje kursdag hör en kalenderinbjudan (bifogad fil).")
    return Draft(subject, body, _entries(plan, course.title, plan.days),
                 Holding(plan.sequence, plan.days))


def unbooked(ctx: Context, n: Notice) -> Outcome:
    """A booking cancelled (by the participant's administrator, or the coordinator) while the
    occasion goes ahead: the calendar entries sent with the confirmation are taken back."""
    found = _plan_and_course(ctx, n)
    if not isinstance(found, tuple):
        return found
    plan, course = found
    assert n.participant_id is not None and n.occasion_id is not None
    if ctx.facts.is_booked(n.occasion_id, n.participant_id):
        return Skip("deltagaren är bokad igen")
    if plan.last_day < ctx.today:
        return Skip("kurstillfället har redan ägt rum")
    held = ctx.held(n.occasion_id, n.participant_id)
    if held is None:
        return Skip("ingen kalenderinbjudan skickad")
    if held.cancelled:
        return Skip("redan meddelad")
    body = (f"Din bokning till kurstillfället {course.title} är avbokad.\n\n"
            f"Kursdagar som tas bort ur din kalender:\n{_days_text(held.days)}\n\n"
            "De bifogade kalenderfilerna tar bort kursdagarna ur din kalender. Tala med din "
            "arbetsledare om du vill boka ett annat kurstillfälle.")
    return Draft(f"Avbokad: {course.title}", body,
                 _entries(plan, course.title, held.days, cancel=True),
                 Holding(plan.sequence, held.days, cancelled=True))


def rescheduled(ctx: Context, n: Notice) -> Outcome:
    found = _occasion(ctx, n)
    if not isinstance(found, tuple):
        return found
    plan, course = found
    assert n.participant_id is not None and n.occasion_id is not None
    held = ctx.held(n.occasion_id, n.participant_id)
    if held is None:
        return Skip("ingen kalenderinbjudan skickad än: bekräftelsen får den nya planen")
    if held.sequence >= plan.sequence:
        return Skip("deltagaren har redan den senaste planen")
    before = {d.day: d for d in held.days}
    now = {d.day: d for d in plan.days}
    changed = tuple(d for d in plan.days if before.get(d.day) != d)
    removed = tuple(d for d in held.days if d.day not in now)
    lines = [day_line(d, "" if before.get(d.day) == d else
                      " (ny)" if d.day not in before else " (ändrad)")
             for d in sorted(plan.days, key=lambda d: d.day)]
    lines += [f"  Kursdag {d.day} ({swedish_date(d.date)}) är struken." for d in removed]
    body = (f"Kurstillfället {course.title} har planerats om. Så här ser kursdagarna ut nu:\n"
            + "\n".join(lines)
            + "\n\nDe bifogade kalenderfilerna uppdaterar dina kalenderposter.")
    entries = _entries(plan, course.title, changed) + _entries(plan, course.title, removed, True)
    return Draft(f"Ändrade kursdagar: {course.title}", body, entries,
                 Holding(plan.sequence, plan.days))


def _reason_line(ctx: Context, occasion_id: str, told: str | None = None) -> str:
    """The cancellation's reason as the message's own line, or nothing: the reason recorded
    with the cancellation, else the one the notice carries."""
    reason = ctx.facts.reasons.get(occasion_id) or told
    return f"\nSkäl: {reason}" if reason else ""


def cancelled(ctx: Context, n: Notice) -> Outcome:
    found = _occasion(ctx, n)
    if not isinstance(found, tuple):
        return found
    plan, course = found
    assert n.participant_id is not None and n.occasion_id is not None
    if n.occasion_id not in ctx.facts.cancelled:  # made due by a release arriving first
        return Wait("inställelsen av kurstillfället har inte kommit")
    held = ctx.held(n.occasion_id, n.participant_id)
    if held is not None and held.cancelled:
        return Skip("redan meddelad")
    days = held.days if held is not None else plan.days
    reason = _reason_line(ctx, n.occasion_id, n.reason)
    body = (f"Kurstillfället {course.title} är inställt.{reason}\n\n"
            f"Inställda kursdagar:\n{_days_text(days)}\n\n"
            "Din bokning är avbokad. De bifogade kalenderfilerna tar bort kursdagarna ur din "
            "kalender. Tala med din arbetsledare om att boka ett annat kurstillfälle.")
    return Draft(f"Inställt kurstillfälle: {course.title}", body,
                 _entries(plan, course.title, days, cancel=True),
                 Holding(plan.sequence, days, cancelled=True))


def waitlist_cleared(ctx: Context, n: Notice) -> Outcome:
    """The occasion cancelled while the participant waited for a seat: no calendar entries
    were sent to take back, only the news."""
    found = _plan_and_course(ctx, n)
    if not isinstance(found, tuple):
        return found
    plan, course = found
    assert n.occasion_id is not None
    if plan.last_day < ctx.today:
        return Skip("kurstillfället har redan ägt rum")
    reason = _reason_line(ctx, n.occasion_id)
    body = (f"Kurstillfället {course.title} är inställt.{reason}\n\n"
            "Du stod på väntelistan till kurstillfället. Väntelistan är borttagen, så du får "
            "ingen plats där. Tala med din arbetsledare om att boka ett annat kurstillfälle.")
    return Draft(f"Inställt kurstillfälle: {course.title}", body)


def reminder(ctx: Context, n: Notice) -> Outcome:
    found = _occasion(ctx, n)
    if not isinstance(found, tuple):
        return found
    plan, course = found
    assert n.participant_id is not None
    if n.on != plan.first_day.isoformat():
        return Skip("kursdag 1 är flyttad")
    if plan.first_day <= ctx.today:
        return Skip("kursen har börjat")
    missing = ctx.facts.missing_preparations(n.participant_id, course.course_id)
    days_left = (plan.first_day - ctx.today).days
    body = (f"Om {days_left} {'dag' if days_left == 1 else 'dagar'} börjar kurstillfället "
            f"{course.title}.\n\nKursdagar:\n{_days_text(plan.days)}\n\n"
            f"{_preparations_text(missing)}")
    return Draft(f"Påminnelse: {course.title} börjar {swedish_date(plan.first_day)}", body)


def _course_for(ctx: Context, n: Notice) -> Course | Outcome:
    if n.participant_id in ctx.facts.erased:
        return Skip("deltagaren är raderad")
    course = ctx.facts.courses.get(n.course_id or "")
    return course if course is not None else Wait("kursen har inte kommit")


def evaluation(ctx: Context, n: Notice) -> Outcome:
    course = _course_for(ctx, n)
    if not isinstance(course, Course):
        return course
    link = ctx.links.evaluation.format(occasion_id=n.occasion_id, course_id=n.course_id,
                                       participant_id=n.participant_id)
    body = (f"Grattis, du har genomfört kursen {course.title}!\n\n"
            "Vi vill gärna veta vad du tyckte. Utvärderingen är frivillig och tar några "
            f"minuter:\n  {link}")
    return Draft(f"Utvärdering av {course.title}", body)


def certificate(ctx: Context, n: Notice) -> Outcome:
    course = _course_for(ctx, n)
    if not isinstance(course, Course):
        return course
    if n.certificate_id in ctx.facts.revoked:
        return Skip("intyget är återkallat")
    link = ctx.links.certificate.format(certificate_id=n.certificate_id)
    body = (f"Ditt intyg för kursen {course.title} är utfärdat. Här hämtar du det, och där "
            f"kan vem som helst kontrollera att det är äkta:\n  {link}")
    return Draft(f"Ditt intyg: {course.title}", body)


COMPOSERS: dict[Kind, Callable[[Context, Notice], Outcome]] = {
    Kind.BOOKED: booked,
    Kind.UNBOOKED: unbooked,
    Kind.RESCHEDULED: rescheduled,
    Kind.CANCELLED: cancelled,
    Kind.WAITLIST_CLEARED: waitlist_cleared,
    Kind.REMINDER: reminder,
    Kind.EVALUATION: evaluation,
    Kind.CERTIFICATE: certificate,
}


def compose(ctx: Context, notice: Notice) -> Outcome:
    """A participant's message (summaries are written by `summary.py`)."""
    return COMPOSERS[notice.kind](ctx, notice)
