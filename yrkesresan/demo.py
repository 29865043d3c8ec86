"""`yrkesresan demo-log`: a realistic contract log for `make run`, the benchmarks and the tests.

One region (RSS Dalarna) with its fifteen municipalities runs Barn och unga Ny: the six courses
with their real titles and day counts, occasions with on-site and digital days, trainer teams
with a course leader, trainers and a reserve, bookings and the odd cancellation, preparations,
attendance with absences, deepening tasks, evaluations, participants who move or level up.
Participants come in cohorts of one occasion's capacity; each cohort takes the six courses in
turn over about four months, and cohorts start week after week over two years.

The facts are generated; the derived events (`CourseCompleted`, `CertificateIssued`,
`PotDistributed`) are not: they come from the projections' own folds, run over the log as it is
written, as the certification and billing services would emit them. Every event is built
through the contract's models, so the log is valid by construction. The same participants and
seed always give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import heapq
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated
from zoneinfo import ZoneInfo

import click
import typer

from shared.events import Envelope, new_envelope
from shared.events.models import (
    BookingCancelled,
    CertificateIssued,
    CourseCompleted,
    CourseDay,
    CourseDayAttended,
    CourseOccasionPlanned,
    CoursePublished,
    DayMode,
    DeepeningSubmitted,
    DeepeningTask,
    DeliveryRole,
    EvaluationSubmitted,
    EventData,
    Level,
    MunicipalityJoined,
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
    RegionRegistered,
    TrainerAssigned,
    TrainerDayDelivered,
    TrainerRole,
    YearClosed,
)
from shared.projections import Completions, Pot

LOCAL = ZoneInfo("Europe/Stockholm")
REGION_ID, REGION_NAME = "rss-dalarna", "RSS Dalarna"
MUNICIPALITIES = (
    ("kommun-2021", "Vansbro"),
    ("kommun-2023", "Malung-Sälen"),
    ("kommun-2026", "Gagnef"),
    ("kommun-2029", "Leksand"),
    ("kommun-2031", "Rättvik"),
    ("kommun-2034", "Orsa"),
    ("kommun-2039", "Älvdalen"),
    ("kommun-2061", "Smedjebacken"),
    ("kommun-2062", "Mora"),
    ("kommun-2080", "Falun"),
    ("kommun-2081", "Borlänge"),
    ("kommun-2082", "Säter"),
    ("kommun-2083", "Hedemora"),
    ("kommun-2084", "Avesta"),
    ("kommun-2085", "Ludvika"),
)
JOURNEY = "barn-och-unga"
CAPACITY = 24
FIRST_START = dt.date(2024, 1, 15)  # a Monday
START_WEEKS = 100  # cohorts start over about two years
QUESTIONS = ("helhet", "relevans", "utbildarna", "materialet", "upplagget")


@dataclass(frozen=True)
class CourseSpec:
    """One stop on the Ny route: its blocks of days ("2+2"), modes and team."""

    course_id: str
    title: str
    blocks: tuple[int, ...]
    digital: bool  # given digitally (Verktyg i vardagen)
    teams: int  # trainer teams sharing the days; the course leader attends every day
    team_size: int
    films: bool  # a mandatory film among the preparations


COURSES = (
    CourseSpec(
        "bou-ny-handlaggning", "Handläggning med barnet i centrum", (2, 2), False, 2, 4, True
    ),
    CourseSpec("bou-ny-samtal", "Samtal och delaktighet", (1, 1), False, 1, 3, True),
    CourseSpec("bou-ny-vald", "Våld och utsatthet", (1, 1), False, 1, 3, True),
    CourseSpec("bou-ny-unga", "Unga lagöverträdare", (1,), False, 1, 2, False),
    CourseSpec("bou-ny-familjehem", "Arbeta med familjehem", (1,), False, 1, 2, False),
    # Given as two digital half days (webinar or recorded); the contract has no half days, so
    # the two halves are one digital course day.
    CourseSpec("bou-ny-verktyg", "Verktyg i vardagen", (1,), True, 1, 2, False),
)


def preparations(course: CourseSpec) -> tuple[Preparation, ...]:
    items = [
        Preparation(
            item_id=f"{course.course_id}-handbok", title="Läs handbokens kapitel", mandatory=True
        ),
        Preparation(item_id=f"{course.course_id}-podd", title="Lyssna på podden", mandatory=True),
        Preparation(
            item_id=f"{course.course_id}-fordjupning", title="Läs artikeln", mandatory=False
        ),
    ]
    if course.films:
        items.append(
            Preparation(item_id=f"{course.course_id}-film", title="Se filmen", mandatory=True)
        )
    return tuple(items)


def deepening_tasks(course: CourseSpec) -> tuple[DeepeningTask, ...]:
    return (
        DeepeningTask(task_id=f"{course.course_id}-checklista", title="Gå igenom checklistan"),
        DeepeningTask(task_id=f"{course.course_id}-reflektion", title="Reflektera med en kollega"),
    )


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL)


def weekday_on_or_after(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


Pending = tuple[dt.datetime, int, int, EventData]
"""An event waiting to be written: (occurred_at, cohort, sequence, data); unique up to data."""
Trainer = tuple[str, str]
"""(trainer_id, home municipality_id)"""


@dataclass(frozen=True)
class Team:
    """A course leader who attends every day, teams who share the days, and a reserve."""

    leader: Trainer
    teams: tuple[tuple[Trainer, ...], ...]
    reserve: Trainer

    def assignments(self) -> list[tuple[Trainer, TrainerRole]]:
        trainers = [(t, TrainerRole.TRAINER) for team in self.teams for t in team]
        return [(self.leader, TrainerRole.LEADER), *trainers, (self.reserve, TrainerRole.RESERVE)]

    def on(self, day: int, days: int) -> tuple[Trainer, ...]:
        """The team that gives `day`: the days are split evenly between the teams."""
        return self.teams[(day - 1) * len(self.teams) // days]


class Cohort:
    """The participants who take the six courses together, and everything they generate."""

    def __init__(self, index: int, of: int, size: int, seed: int, trainers: int) -> None:
        self.index = index
        self.first_participant = index * CAPACITY
        self.size = size
        self.trainers = trainers
        self.rng = random.Random(f"{seed}:cohort:{index}")
        self.start = FIRST_START + dt.timedelta(weeks=index * START_WEEKS // of)
        self.events: list[Pending] = []

    @property
    def planned_at(self) -> dt.datetime:
        """The cohort's first event: its occasions are planned ten weeks before the start."""
        return local(self.start - dt.timedelta(weeks=10), 9)

    def course_start(self, k: int) -> dt.date:
        return weekday_on_or_after(self.start + dt.timedelta(weeks=3 * k, days=k % 3))

    def last_day(self) -> dt.date:
        return self.course_start(len(COURSES) - 1) + dt.timedelta(weeks=2)

    def generate(self) -> list[Pending]:
        participants = [self._participant(n) for n in range(self.size)]
        for k, course in enumerate(COURSES):
            self._occasion(k, course, participants)
        return self.events

    def _add(self, at: dt.datetime, data: EventData) -> None:
        self.events.append((at, self.index, len(self.events), data))

    # --- participants ---------------------------------------------------------------------

    def _participant(self, n: int) -> tuple[str, dt.datetime]:
        rng = self.rng
        participant_id = f"dlt-{self.first_participant + n:06d}"
        registered = self.planned_at + dt.timedelta(
            weeks=4, days=rng.randrange(14), hours=rng.randrange(8)
        )
        roles = ("socialsekreterare", "familjehemssekreterare", "arbetsledare")
        years = round(rng.uniform(0, 2), 1)
        municipality = rng.choice(MUNICIPALITIES)[0]
        self._add(
            registered,
            ParticipantRegistered(
                participant_id=participant_id,
                municipality_id=municipality,
                journey=JOURNEY,
                role=rng.choices(roles, (80, 12, 8))[0],
                level=Level.NY,
                years_in_profession=years,
            ),
        )
        if rng.random() < 0.04:  # changes workplace; the history goes along
            moved = registered + dt.timedelta(days=rng.randrange(1, 140))
            to = rng.choice([m for m, _ in MUNICIPALITIES if m != municipality])
            self._add(moved, ParticipantMoved(participant_id=participant_id, to_municipality_id=to))
        if years >= 1.6:  # two years in the profession by the end: Van
            leveled = local(self.last_day() + dt.timedelta(weeks=4), 10)
            self._add(
                leveled, ParticipantLevelChanged(participant_id=participant_id, level=Level.VAN)
            )
        if rng.random() < 0.003:
            erased = local(self.last_day() + dt.timedelta(weeks=8), 11)
            self._add(erased, ParticipantErased(participant_id=participant_id))
        return participant_id, registered

    # --- occasions ------------------------------------------------------------------------

    def _occasion(
        self, k: int, course: CourseSpec, participants: list[tuple[str, dt.datetime]]
    ) -> None:
        occasion_id = f"tillf-{self.index:05d}-{k + 1}"
        days = self._days(k, course)
        planned = CourseOccasionPlanned(
            occasion_id=occasion_id,
            course_id=course.course_id,
            region_id=REGION_ID,
            capacity=CAPACITY,
            days=days,
        )
        self._add(self.planned_at, planned)
        team = self._team(course)
        assigned = self.planned_at + dt.timedelta(days=self.rng.randrange(1, 8))
        for (trainer_id, municipality_id), role in team.assignments():
            self._add(
                assigned,
                TrainerAssigned(
                    occasion_id=occasion_id,
                    trainer_id=trainer_id,
                    municipality_id=municipality_id,
                    role=role,
                ),
            )
        for day in days:
            self._delivered(occasion_id, day, len(days), team)
        for participant_id, registered in participants:
            self._attend(occasion_id, course, days, participant_id, registered)

    def _days(self, k: int, course: CourseSpec) -> tuple[CourseDay, ...]:
        """Blocks a fortnight apart; day 1 on site, later days on site or digital."""
        first = self.course_start(k)
        later_digital = self.rng.random() < 0.5
        days: list[CourseDay] = []
        for b, block in enumerate(course.blocks):
            block_start = weekday_on_or_after(first + dt.timedelta(weeks=2 * b))
            for i in range(block):
                number = len(days) + 1
                digital = course.digital or (number > 1 and later_digital)
                mode = DayMode.DIGITAL if digital else DayMode.ON_SITE
                date = block_start + dt.timedelta(days=i)
                days.append(CourseDay(day=number, date=date, mode=mode))
        return tuple(days)

    def _team(self, course: CourseSpec) -> Team:
        wanted = min(course.teams * course.team_size + 1, self.trainers)
        chosen: dict[str, str] = {}
        while len(chosen) < wanted:
            n = self.rng.randrange(self.trainers)
            chosen[f"utb-{n:04d}"] = trainer_home(n)
        members = list(chosen.items())
        crew, size = members[:-1], course.team_size
        teams = [tuple(crew[i : i + size]) for i in range(0, len(crew), size)]
        teams[0] = teams[0][1:]  # the leader delivers every day, as leader
        return Team(members[0], tuple(teams), members[-1])

    def _delivered(self, occasion_id: str, day: CourseDay, days: int, team: Team) -> None:
        at = local(day.date, 16, 30)
        on_duty = self.rng.sample(team.on(day.day, days), min(2, len(team.on(day.day, days))))
        if on_duty and self.rng.random() < 0.08:  # one drops out: the reserve is called in
            on_duty[-1] = team.reserve
        for trainer, role in [(team.leader, DeliveryRole.LEADER)] + [
            (t, DeliveryRole.TRAINER) for t in on_duty
        ]:
            self._add(
                at,
                TrainerDayDelivered(
                    occasion_id=occasion_id,
                    day=day.day,
                    trainer_id=trainer[0],
                    municipality_id=trainer[1],
                    role=role,
                ),
            )

    def _attend(
        self,
        occasion_id: str,
        course: CourseSpec,
        days: tuple[CourseDay, ...],
        participant_id: str,
        registered: dt.datetime,
    ) -> None:
        rng = self.rng
        booked = registered + dt.timedelta(days=rng.randrange(1, 10))
        self._add(booked, ParticipantBooked(occasion_id=occasion_id, participant_id=participant_id))
        if rng.random() < 0.02:
            cancelled = booked + dt.timedelta(days=rng.randrange(1, 20))
            self._add(
                cancelled,
                BookingCancelled(occasion_id=occasion_id, participant_id=participant_id),
            )
            return
        prepared = self._prepare(course, days[0].date, participant_id)
        present = self._present(occasion_id, days, participant_id)
        last = days[-1].date
        for task in deepening_tasks(course):
            if rng.random() < 0.3:
                at = local(last + dt.timedelta(days=rng.randrange(2, 30)), 13)
                self._add(
                    at,
                    DeepeningSubmitted(
                        participant_id=participant_id,
                        course_id=course.course_id,
                        task_id=task.task_id,
                    ),
                )
        if prepared and present and rng.random() < 0.6:  # the survey is voluntary
            base = rng.choice((3, 4, 4, 5))
            answers = {q: min(5, max(1, base + rng.choice((-1, 0, 0, 1)))) for q in QUESTIONS}
            at = local(last + dt.timedelta(days=rng.randrange(1, 14)), 19)
            self._add(
                at,
                EvaluationSubmitted(
                    occasion_id=occasion_id,
                    course_id=course.course_id,
                    respondent_id=participant_id,
                    answers=answers,
                ),
            )

    def _prepare(self, course: CourseSpec, first: dt.date, participant_id: str) -> bool:
        """Preparations in the days before the course; True when every mandatory one is done."""
        rng = self.rng
        all_mandatory = True
        for item in preparations(course):
            done = rng.random() < (0.985 if item.mandatory else 0.4)
            all_mandatory = all_mandatory and (done or not item.mandatory)
            if done:
                day = first - dt.timedelta(days=rng.randrange(1, 10))
                at = local(day, rng.randrange(8, 17), rng.randrange(60))
                self._add(
                    at,
                    PreparationCompleted(
                        participant_id=participant_id,
                        course_id=course.course_id,
                        item_id=item.item_id,
                    ),
                )
        return all_mandatory

    def _present(self, occasion_id: str, days: tuple[CourseDay, ...], participant_id: str) -> bool:
        """Attendance, with the odd absence; True when present every day."""
        every_day = True
        for day in days:
            if self.rng.random() < 0.035:
                every_day = False
                continue
            attended = CourseDayAttended(
                participant_id=participant_id, occasion_id=occasion_id, day=day.day
            )
            self._add(local(day.date, 16), attended)
        return every_day


def trainer_home(n: int) -> str:
    """Trainers are recruited from the municipalities: spread them evenly."""
    return MUNICIPALITIES[n % len(MUNICIPALITIES)][0]


def cohorts(participants: int, seed: int) -> list[Cohort]:
    """Cohorts of one occasion's capacity, starting week after week over two years."""
    count = -(-participants // CAPACITY)
    trainers = max(12, participants // 10)
    return [
        Cohort(c, count, min(CAPACITY, participants - c * CAPACITY), seed, trainers)
        for c in range(count)
    ]


def reference_data() -> list[EventData]:
    """What a region sets up before its first course: itself, municipalities, courses, prices."""
    events: list[EventData] = [RegionRegistered(region_id=REGION_ID, name=REGION_NAME)]
    events += [
        MunicipalityJoined(municipality_id=m, name=name, region_id=REGION_ID)
        for m, name in MUNICIPALITIES
    ]
    events += [
        CoursePublished(
            course_id=c.course_id,
            journey=JOURNEY,
            level=Level.NY,
            title=c.title,
            preparations=preparations(c),
            deepening_tasks=deepening_tasks(c),
        )
        for c in COURSES
    ]
    # 2024 with GR's model written out; later years fall back to the same model by default.
    events.append(
        PriceListSet(
            region_id=REGION_ID,
            year=FIRST_START.year,
            components=PriceComponents(),
            points=Points(),
        )
    )
    return events


class DemoLog:
    """Writes the log in time order and adds what the services would derive from it."""

    def __init__(self, participants: int, seed: int) -> None:
        self.rng = random.Random(f"{seed}:ids")
        self.completions = Completions()
        self.pot = Pot()
        self.cohorts = cohorts(participants, seed)
        self.closing_years = self._closing_years()

    def _closing_years(self) -> list[int]:
        if not self.cohorts:
            return []
        last = max(c.last_day() for c in self.cohorts)
        return list(range(FIRST_START.year, last.year))

    def envelopes(self) -> Iterator[Envelope]:
        start = local(FIRST_START - dt.timedelta(weeks=12), 8)
        for n, data in enumerate(reference_data()):
            yield from self._emit(start + dt.timedelta(minutes=n), data)
        pending: list[Pending] = [
            (local(dt.date(year + 1, 1, 20), 9), -1, 0, YearClosed(region_id=REGION_ID, year=year))
            for year in self.closing_years
        ]
        heapq.heapify(pending)
        waiting = iter(self.cohorts)
        cohort = next(waiting, None)
        while pending or cohort is not None:
            if cohort is not None and (not pending or cohort.planned_at <= pending[0][0]):
                for event in cohort.generate():
                    heapq.heappush(pending, event)
                cohort = next(waiting, None)
                continue
            at, _, _, data = heapq.heappop(pending)
            yield from self._emit(at, data)

    def _id(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def _emit(self, at: dt.datetime, data: EventData) -> Iterator[Envelope]:
        env = new_envelope(data, occurred_at=at, id=self._id())
        yield env
        self.pot.apply(env)
        for participant_id, course_id, occasion_id in self.completions.apply(env):
            certified = at + dt.timedelta(minutes=5)
            yield new_envelope(
                CourseCompleted(
                    participant_id=participant_id, course_id=course_id, occasion_id=occasion_id
                ),
                occurred_at=certified,
                id=self._id(),
            )
            yield new_envelope(
                CertificateIssued(
                    certificate_id=str(self._id()),
                    participant_id=participant_id,
                    course_id=course_id,
                    occasion_id=occasion_id,
                ),
                occurred_at=certified,
                id=self._id(),
            )
        if isinstance(data, YearClosed):
            yield new_envelope(
                self._distributed(data), occurred_at=at + dt.timedelta(hours=1), id=self._id()
            )

    def _distributed(self, closed: YearClosed) -> PotDistributed:
        pot = self.pot.distribution(closed.region_id, closed.year)
        return PotDistributed(
            region_id=pot.region_id,
            year=pot.year,
            pot_sek=pot.pot_sek,
            total_points=float(pot.total_points),
            trainers=tuple(
                PotShare(
                    trainer_id=s.trainer_id,
                    municipality_id=s.municipality_id,
                    points=float(s.points),
                    amount_sek=s.amount_sek,
                )
                for s in pot.trainers
            ),
        )


def demo_envelopes(participants: int, seed: int = 1) -> Iterator[Envelope]:
    """The demo log as envelopes, in the order written."""
    return DemoLog(participants, seed).envelopes()


def demo_log(participants: int, seed: int = 1) -> Iterator[bytes]:
    """The demo log as JSON Lines, one envelope per line."""
    for env in demo_envelopes(participants, seed):
        yield env.to_json() + b"\n"


def register(app: typer.Typer) -> None:
    @app.command("demo-log")
    def demo_log_command(
        participants: Annotated[
            int, typer.Option("--participants", min=0, help="how many participants")
        ] = 500,
        seed: Annotated[int, typer.Option("--seed", help="the same seed gives the same log")] = 1,
    ) -> None:
        """Write a realistic contract log (JSON Lines) to standard output."""
        out = click.get_binary_stream("stdout")
        chunk: list[bytes] = []
        for line in demo_log(participants, seed):
            chunk.append(line)
            if len(chunk) >= 4096:
                out.write(b"".join(chunk))
                chunk.clear()
        out.write(b"".join(chunk))
        out.flush()
