"""Building contract logs in tests: a small builder for hand-written cases, and hypothesis
strategies that generate whole logs over a small world (few ids, few timestamps, dates across
a year boundary) so that collisions, ties and late dependencies happen often.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from hypothesis import strategies as st

from shared.events import DERIVED_TYPES, Envelope, EventData, new_envelope
from shared.events.models import (
    AttendanceWithdrawn,
    BookingCancelled,
    CertificateIssued,
    CourseCompleted,
    CourseDay,
    CourseDayAttended,
    CourseOccasionCancelled,
    CourseOccasionPlanned,
    CourseOccasionRescheduled,
    CoursePublished,
    EvaluationSubmitted,
    ParticipantBooked,
    ParticipantErased,
    ParticipantLevelChanged,
    ParticipantMoved,
    ParticipantRegistered,
    Points,
    PotDistributed,
    PotShare,
    Preparation,
    PreparationCompleted,
    PriceComponents,
    PriceListSet,
    TrainerAssigned,
    TrainerDayDelivered,
    TrainerUnassigned,
    YearClosed,
)
from shared.projections import Completions, Evaluations, Invoices, Pot, Progression

UTC = dt.UTC
BASE = dt.datetime(2024, 12, 1, 8, tzinfo=UTC)


class LogBuilder:
    """Envelopes with predictable ids (1, 2, 3, ...) for hand-written cases."""

    def __init__(self) -> None:
        self.events: list[Envelope] = []

    def add(
        self, data: EventData, when: dt.datetime = BASE, id: int | None = None,
        recorded: dt.datetime | None = None,
    ) -> Envelope:
        """`recorded`: the `recorded_at` (none by default: recorded when it occurred)."""
        n = id if id is not None else len(self.events) + 1
        env = new_envelope(data, occurred_at=when, id=uuid.UUID(int=n), recorded_at=recorded)
        self.events.append(env)
        return env

    def lines(self) -> list[bytes]:
        return [e.to_json() + b"\n" for e in self.events]


def fold(cls: type[Any], events: Iterable[Envelope]) -> Any:
    folded = cls()
    for env in events:
        folded.apply(env)
    return folded


# --- a small world --------------------------------------------------------------------------

REGIONS = ("r1", "r2")
YEARS = (2024, 2025)
MUNICIPALITIES = ("m1", "m2", "m3")
COURSES = ("c1", "c2")
ITEMS = ("i1", "i2", "i3")
OCCASIONS = ("o1", "o2", "o3")
PARTICIPANTS = ("p1", "p2", "p3", "p4")
TRAINERS = ("t1", "t2", "t3")
QUESTIONS = ("q1", "q2")
DATES = (dt.date(2024, 12, 30), dt.date(2024, 12, 31), dt.date(2025, 1, 2), dt.date(2025, 1, 3))
TIMES = tuple(BASE + dt.timedelta(hours=6 * k) for k in range(5))  # few: ties are common
LEVELS = ("ny", "van", "erfaren", "chef")

times = st.sampled_from(TIMES)
municipalities = st.sampled_from(MUNICIPALITIES)
participants = st.sampled_from(PARTICIPANTS)
occasions = st.sampled_from(OCCASIONS)
courses = st.sampled_from(COURSES)
days = st.integers(1, 4)


def published_for(course_id: str) -> st.SearchStrategy[CoursePublished]:
    """Each of the items is mandatory, optional or absent."""
    return st.lists(st.sampled_from((True, False, None)), min_size=3, max_size=3).map(
        lambda flags: CoursePublished(
            course_id=course_id,
            journey="bou",
            level="ny",
            title=f"Kurs {course_id}",
            preparations=tuple(
                Preparation(item_id=i, title=i, mandatory=m)
                for i, m in zip(ITEMS, flags, strict=True)
                if m is not None
            ),
        )
    )


def planned_for(occasion_id: str) -> st.SearchStrategy[CourseOccasionPlanned]:
    """One to three days, on dates either side of a new year."""
    return st.builds(
        lambda c, r, dates, digital: CourseOccasionPlanned(
            occasion_id=occasion_id,
            course_id=c,
            region_id=r,
            capacity=20,
            days=tuple(
                CourseDay(day=n, date=d, mode="digital" if digital else "on_site")
                for n, d in enumerate(dates, 1)
            ),
        ),
        courses,
        st.sampled_from(REGIONS),
        st.lists(st.sampled_from(DATES), min_size=1, max_size=3),
        st.booleans(),
    )


def registered_for(participant_id: str) -> st.SearchStrategy[ParticipantRegistered]:
    return st.builds(
        lambda m, level: ParticipantRegistered(
            participant_id=participant_id,
            municipality_id=m,
            journey="bou",
            role="socialsekreterare",
            level=level,
            years_in_profession=1,
        ),
        municipalities,
        st.sampled_from(LEVELS),
    )


def rescheduled_for(occasion_id: str) -> st.SearchStrategy[CourseOccasionRescheduled]:
    """One to three days again, their dates and modes drawn anew."""
    return st.builds(
        lambda dates, modes: CourseOccasionRescheduled(
            occasion_id=occasion_id,
            days=tuple(
                CourseDay(day=n, date=d, mode=m)
                for n, (d, m) in enumerate(zip(dates, modes, strict=False), 1)
            ),
        ),
        st.lists(st.sampled_from(DATES), min_size=1, max_size=3),
        st.lists(st.sampled_from(("on_site", "digital")), min_size=3, max_size=3),
    )


published = courses.flatmap(published_for)
planned = occasions.flatmap(planned_for)
registered = participants.flatmap(registered_for)
moved = st.builds(
    lambda p, m: ParticipantMoved(participant_id=p, to_municipality_id=m),
    participants,
    municipalities,
)
level_changed = st.builds(
    lambda p, lv: ParticipantLevelChanged(participant_id=p, level=lv),
    participants,
    st.sampled_from(LEVELS),
)
prepared = st.builds(
    lambda p, c, i: PreparationCompleted(participant_id=p, course_id=c, item_id=i),
    participants,
    courses,
    st.sampled_from(ITEMS),
)
attended = st.builds(
    lambda p, o, d: CourseDayAttended(participant_id=p, occasion_id=o, day=d),
    participants,
    occasions,
    days,
)
delivered = st.builds(
    lambda o, d, t, m, role: TrainerDayDelivered(
        occasion_id=o, day=d, trainer_id=t, municipality_id=m, role=role
    ),
    occasions,
    days,
    st.sampled_from(TRAINERS),
    municipalities,
    st.sampled_from(("leader", "trainer")),
)
price_list = st.builds(
    lambda r, y, pot, admin, leader, trainer: PriceListSet(
        region_id=r,
        year=y,
        components=PriceComponents(trainer_pot=pot, administration=admin),
        points=Points(leader=leader, trainer=trainer),
    ),
    st.sampled_from(REGIONS),
    st.sampled_from(YEARS),
    st.sampled_from((0, 7, 400, 401)),
    st.sampled_from((0, 400)),
    st.sampled_from((0.0, 0.5, 1.5, 2.0)),
    st.sampled_from((0.0, 1.0, 1.25)),
)
evaluated = st.builds(
    lambda o, c, p, answers: EvaluationSubmitted(
        occasion_id=o, course_id=c, respondent_id=p, answers=answers
    ),
    occasions,
    courses,
    participants,
    st.dictionaries(st.sampled_from(QUESTIONS), st.integers(1, 5), max_size=2),
)
withdrawn = st.builds(
    lambda p, o, d: AttendanceWithdrawn(participant_id=p, occasion_id=o, day=d, reason="misstag"),
    participants,
    occasions,
    days,
)
rescheduled = occasions.flatmap(rescheduled_for)
cancelled = st.builds(
    lambda o: CourseOccasionCancelled(occasion_id=o, reason="inställt"), occasions
)
year_closed = st.builds(
    lambda r, y: YearClosed(region_id=r, year=y), st.sampled_from(REGIONS), st.sampled_from(YEARS)
)
noise = st.one_of(
    st.builds(
        lambda o, p: ParticipantBooked(occasion_id=o, participant_id=p), occasions, participants
    ),
    st.builds(
        lambda o, p: BookingCancelled(occasion_id=o, participant_id=p), occasions, participants
    ),
    st.builds(lambda p: ParticipantErased(participant_id=p), participants),
    st.builds(
        lambda o, t: TrainerUnassigned(occasion_id=o, trainer_id=t),
        occasions,
        st.sampled_from(TRAINERS),
    ),
    st.builds(
        lambda o, t, m: TrainerAssigned(
            occasion_id=o, trainer_id=t, municipality_id=m, role="reserve"
        ),
        occasions,
        st.sampled_from(TRAINERS),
        municipalities,
    ),
)


fact = st.one_of(
    published,
    planned,
    registered,
    moved,
    level_changed,
    prepared,
    attended,
    delivered,
    price_list,
    evaluated,
    withdrawn,
    rescheduled,
    cancelled,
    year_closed,
    noise,
)
mostly = st.integers(0, 9).map(lambda n: n < 8)  # a reference fact is usually there, not always


def _taking_part(p: str, o: str, plan: CourseOccasionPlanned | None) -> list[EventData]:
    """Every day of an occasion and every preparation of its course: completions happen."""
    course_id = plan.course_id if plan is not None else "c1"
    facts: list[EventData] = [
        CourseDayAttended(participant_id=p, occasion_id=o, day=d) for d in (1, 2, 3)
    ]
    facts += [PreparationCompleted(participant_id=p, course_id=course_id, item_id=i) for i in ITEMS]
    return facts


@st.composite
def fact_logs(draw: st.DrawFn, max_facts: int = 30) -> list[Envelope]:
    """A log of facts only: no derived events. Ids are unique; times collide often. About
    one event in three carries a `recorded_at` (any of the times, before or after it occurred),
    so that closed years' views cut the log in many places.

    Courses, occasions and participants are usually set up, so that completions, pots and
    invoices are common; sometimes one is missing, so that waiting for it is exercised too.
    """
    facts: list[EventData] = []
    for c in COURSES:
        if draw(mostly):
            facts.append(draw(published_for(c)))
    plans: dict[str, CourseOccasionPlanned] = {}
    for o in OCCASIONS:
        if draw(mostly):
            plans[o] = draw(planned_for(o))
            facts.append(plans[o])
    for p in PARTICIPANTS:
        if draw(mostly):
            facts.append(draw(registered_for(p)))
    for p, o in draw(st.lists(st.tuples(participants, occasions), max_size=4)):
        facts += _taking_part(p, o, plans.get(o))
    facts += draw(st.lists(delivered, max_size=6))
    facts += draw(st.lists(fact, max_size=max_facts))
    ids = draw(st.permutations(range(1, len(facts) + 1)))
    stamps = draw(st.lists(times, min_size=len(facts), max_size=len(facts)))
    recorded = draw(st.lists(st.one_of(st.none(), st.none(), times), min_size=len(facts),
                             max_size=len(facts)))
    return [
        new_envelope(data, occurred_at=when, id=uuid.UUID(int=n << 64 | n), recorded_at=rec)
        for data, when, n, rec in zip(facts, stamps, ids, recorded, strict=True)
    ]


# --- derived events, as the services would emit them -----------------------------------------


def derived_events(events: list[Envelope]) -> list[Envelope]:
    """CourseCompleted/CertificateIssued for every completion, PotDistributed for every pot."""
    completions = fold(Completions, events)
    pot = fold(Pot, events)
    out: list[Envelope] = []
    for n, (p, c, o) in enumerate(sorted(completions.completed)):
        out.append(
            new_envelope(
                CourseCompleted(participant_id=p, course_id=c, occasion_id=o), occurred_at=TIMES[-1]
            )
        )
        out.append(
            new_envelope(
                CertificateIssued(
                    certificate_id=f"cert-{n}", participant_id=p, course_id=c, occasion_id=o
                ),
                occurred_at=TIMES[-1],
            )
        )
    for region in REGIONS:
        for year in YEARS:
            d = pot.distribution(region, year)
            shares = tuple(
                PotShare(
                    trainer_id=s.trainer_id,
                    municipality_id=s.municipality_id,
                    points=float(s.points),
                    amount_sek=s.amount_sek,
                )
                for s in d.trainers
            )
            out.append(
                new_envelope(
                    PotDistributed(
                        region_id=region,
                        year=year,
                        pot_sek=d.pot_sek,
                        total_points=float(d.total_points),
                        trainers=shares,
                    ),
                    occurred_at=TIMES[-1],
                )
            )
    return out


bogus_derived = st.lists(
    st.one_of(
        st.builds(
            lambda p, c, o: CourseCompleted(participant_id=p, course_id=c, occasion_id=o),
            participants,
            courses,
            occasions,
        ),
        st.builds(
            lambda p, c, o: CertificateIssued(
                certificate_id="x", participant_id=p, course_id=c, occasion_id=o
            ),
            participants,
            courses,
            occasions,
        ),
        st.builds(
            lambda r, y: PotDistributed(region_id=r, year=y, pot_sek=1, total_points=1),
            st.sampled_from(REGIONS),
            st.sampled_from(YEARS),
        ),
    ),
    max_size=5,
).map(lambda ds: [new_envelope(d, occurred_at=TIMES[0]) for d in ds])


def facts_only(events: Iterable[Envelope]) -> list[Envelope]:
    return [e for e in events if e.type not in DERIVED_TYPES]


def all_results(events: list[Envelope]) -> dict[str, Any]:
    """Every projection's document for every region and year of the small world."""
    out: dict[str, Any] = {
        "progression": fold(Progression, events).result(),
        "evaluations": fold(Evaluations, events).result(),
        "completions": sorted(fold(Completions, events).completed),
    }
    pot, invoices = fold(Pot, events), fold(Invoices, events)
    for region in REGIONS:
        for year in YEARS:
            out[f"pot/{region}/{year}"] = pot.result(region, year)
            out[f"invoices/{region}/{year}"] = invoices.result(region, year)
    return out
