"""`yrkesresan demo-log`: a realistic contract log for `make run`, the benchmarks and the tests.

One region (RSS Dalarna) with its fifteen municipalities runs Barn och unga Ny from the course
catalogue that ships with the system (`services/scheduling/catalogue.py`: the same course ids,
journey, preparations, questions, day modes and team sizes as the services publish): occasions
with on-site and digital days, trainer teams with a course leader, trainers and a reserve
(each trainer registered before their first assignment), bookings and the odd cancellation,
preparations, attendance with absences, deepening tasks, evaluations, participants who move
or level up. Participants come in cohorts of 24; each cohort takes the six courses in turn over
about four months, and cohorts start week after week over `--years` years.

The v1.1 events happen about as often as in a region's year: an occasion re-planned now and
then (a block moved a week, a day's mode changed), the odd occasion cancelled (before it starts
or after its first block, and given again a month later), a trainer taken off a team and
replaced, a day reported by mistake and withdrawn, an attendance reported late (some after the
year was closed: the next year's invoice basis adjusts for it). Years are closed every 20
January (`YearClosed`).

Participant, trainer, certificate and respondent ids are UUIDs minted from the seed, as the
services mint them. The facts are generated; the derived events (`CourseCompleted`,
`CertificateIssued`, `CertificateRevoked`, `PotDistributed`) are not: they come from the
projections' own folds, run over the log as it is written, as the certification and billing
services would emit them. Every event is built through the contract's models, so the log is
valid by construction. The log is in the order recorded: an event recorded late carries its
`recorded_at` and sits where it was recorded. The same arguments always give the same bytes.

Memory stays bounded however large the log: events are written as they fall due, each cohort's
completions are folded apart and dropped when the cohort is done, and each year's pot is folded
apart and dropped when the year is closed.
"""

from __future__ import annotations

import datetime as dt
import heapq
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import click
import typer

from shared.events import Envelope, new_envelope
from shared.events.models import (
    AttendanceWithdrawn,
    BookingCancelled,
    CertificateIssued,
    CertificateRevoked,
    CourseCompleted,
    CourseDay,
    CourseDayAttended,
    CourseOccasionCancelled,
    CourseOccasionPlanned,
    CourseOccasionRescheduled,
    CoursePublished,
    DayMode,
    DeepeningSubmitted,
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
    PreparationCompleted,
    PriceComponents,
    PriceListSet,
    RegionRegistered,
    TrainerAssigned,
    TrainerDayDelivered,
    TrainerRegistered,
    TrainerRole,
    TrainerUnassigned,
    YearClosed,
)
from shared.projections import Completions
from shared.projections.billing import BillingFacts
from shared.projections.pot import distribute

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
COHORT = 24  # participants who take the route together
FIRST_START = dt.date(2024, 1, 15)  # a Monday
WEEKS_PER_YEAR = 50  # cohorts start over the years given, week after week
CLOSING_DAY = (1, 20)  # a region closes its year on 20 January of the next

# How often the v1.1 events happen (per occasion, per participant-day)
RESCHEDULED = 0.08  # an occasion re-planned before it starts
CANCELLED = 0.015  # an occasion cancelled (and given again a month later)
UNASSIGNED = 0.05  # a trainer taken off an occasion's team and replaced
ABSENT = 0.035  # a participant misses a day
REPORTED_BY_MISTAKE = 0.08  # of the absences: reported anyway, and withdrawn later
REPORTED_LATE = 0.01  # an attendance recorded days to weeks after the day

WITHDRAWAL_REASON = "Rapporterad av misstag: deltagaren var frånvarande"
CANCEL_REASONS = ("För få anmälda deltagare", "Kursledaren är sjuk och ingen ersättare finns")
REVOKE_REASON = "En kursdag har återkallats: kursen är inte längre genomförd"


@dataclass(frozen=True)
class CourseSpec:
    """A course of the shipped catalogue as the demo plans it."""

    course_id: str
    title: str
    published: CoursePublished
    blocks: tuple[int, ...]  # whole course days per block ("2+2"); half days make one day
    day_modes: tuple[tuple[str, ...], ...]  # the modes each day may have
    team_size: int  # course leader included
    capacity: int

    @property
    def teams(self) -> int:
        """Trainer teams sharing the days: two for the 4-day course's eight, else one."""
        return 2 if self.team_size >= 8 else 1

    @property
    def mandatory(self) -> tuple[str, ...]:
        return tuple(p.item_id for p in self.published.preparations if p.mandatory)


def _blocks(days: int, parts: tuple[float, ...]) -> tuple[int, ...]:
    whole = tuple(int(p) for p in parts)
    return whole if parts and whole == parts and sum(whole) == days else (days,)


@cache
def courses() -> tuple[CourseSpec, ...]:
    """The shipped catalogue, as `yrkesresan scheduling publish-catalogue` publishes it."""
    from services.scheduling.application import shipped_catalogue

    return tuple(
        CourseSpec(
            course_id=c.course_id,
            title=c.title,
            published=c.contract_data(),
            blocks=_blocks(c.days, c.parts),
            day_modes=tuple(tuple(str(m) for m in modes) for modes in c.day_modes)
            or ((DayMode.ON_SITE,),) * c.days,
            team_size=c.team_size,
            capacity=c.capacity,
        )
        for c in shipped_catalogue()
    )


def journey() -> str:
    return courses()[0].published.journey


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL)


def working_day(day: dt.date, step: int = 1) -> dt.date:
    """`day` if it is a weekday, else the first weekday after it (`step` 1) or before it
    (`step` -1): course days are not on a Saturday or a Sunday."""
    while day.weekday() >= 5:
        day += dt.timedelta(days=step)
    return day


def minted(rng: random.Random) -> str:
    """A UUID (version 4) from the seeded generator: minted as the services mint ids."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


Pending = tuple[dt.datetime, int, int, type[EventData], tuple[Any, ...], dt.datetime | None]
"""An event waiting to be written: (recorded, cohort, sequence, its type, its field values,
occurred_at if it occurred before it was recorded); unique up to the type. A pending event is
held as its values, not as its model (a third of the memory): at national scale a few hundred
thousand wait at any time."""


@cache
def fields_of(cls: type[EventData]) -> tuple[str, ...]:
    return tuple(cls.model_fields)


def packed(data: EventData) -> tuple[type[EventData], tuple[Any, ...]]:
    cls, held = type(data), data.__dict__
    return cls, tuple(held[name] for name in fields_of(cls))


def unpacked(cls: type[EventData], values: tuple[Any, ...]) -> EventData:
    """The model again, from its values (validating is quicker than pydantic's model_construct,
    and nested parts pass as they are)."""
    return cls.model_validate(dict(zip(fields_of(cls), values, strict=True)))
Trainer = tuple[str, str]
"""(trainer_id, home municipality_id)"""


@dataclass(frozen=True)
class Region:
    """A region that runs the programme, with the municipalities that joined it."""

    region_id: str
    name: str
    municipalities: tuple[tuple[str, str], ...]  # (municipality_id, name)


def taking_part(count: int = 1) -> tuple[Region, ...]:
    """The first `count` of Sweden's 21 regions (`yrkesresan.regions`): RSS Dalarna, then the
    others in the order of their codes."""
    from yrkesresan.regions import REGIONS

    everyone = [Region(REGION_ID, REGION_NAME, MUNICIPALITIES)] + [
        Region(region_id, name, tuple((f"kommun-{code}", m) for code, m in municipalities))
        for region_id, name, municipalities in REGIONS if region_id != REGION_ID]
    return tuple(everyone[:count])


class Trainers:
    """A region's trainers, recruited from its municipalities; each registered once, before
    their first assignment."""

    def __init__(self, count: int, seed: int, region: Region) -> None:
        # RSS Dalarna keeps the trainers it had when it was the demo's only region
        tag = "" if region.region_id == REGION_ID else f":{region.region_id}"
        rng = random.Random(f"{seed}:trainers{tag}")
        self.ids = [minted(rng) for _ in range(count)]
        self.municipalities = region.municipalities
        self.registered: set[int] = set()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, n: int) -> Trainer:
        return self.ids[n], self.municipalities[n % len(self.municipalities)][0]


@dataclass
class Team:
    """A course leader who attends every day, teams who share the days, and a reserve."""

    leader: Trainer
    teams: list[list[Trainer]]
    reserve: Trainer

    def assignments(self) -> list[tuple[Trainer, TrainerRole]]:
        trainers = [(t, TrainerRole.TRAINER) for team in self.teams for t in team]
        return [(self.leader, TrainerRole.LEADER), *trainers, (self.reserve, TrainerRole.RESERVE)]

    def on(self, day: int, days: int) -> list[Trainer]:
        """The team that gives `day`: the days are split evenly between the teams."""
        return self.teams[(day - 1) * len(self.teams) // days]


@dataclass
class Occasion:
    occasion_id: str
    course: CourseSpec
    days: tuple[CourseDay, ...]


class Cohort:
    """The participants who take the six courses together, and everything they generate."""

    def __init__(self, index: int, of: int, size: int, seed: int, weeks: int,
                 trainers: Trainers, region: Region) -> None:
        self.index = index
        self.size = size
        self.trainers = trainers
        self.region = region
        self.rng = random.Random(f"{seed}:cohort:{index}")
        self.start = FIRST_START + dt.timedelta(weeks=index * weeks // of)
        self.events: list[Pending] = []
        self.years: set[int] = set()  # the years its course days fall in
        # its occasions are planned ten weeks before the start; trainers new to the region
        # are registered the day before, its first event
        self.planned_at = local(self.start - dt.timedelta(weeks=10), 9)
        self.first_at = self.planned_at - dt.timedelta(days=1)

    def course_start(self, k: int) -> dt.date:
        return working_day(self.start + dt.timedelta(weeks=3 * k, days=k % 3))

    def last_day(self) -> dt.date:
        return self.course_start(len(courses()) - 1) + dt.timedelta(weeks=2)

    def generate(self) -> list[Pending]:
        participants = [self._participant() for _ in range(self.size)]
        for k, course in enumerate(courses()):
            self._course(k, course, participants)
        return self.events

    def _add(self, at: dt.datetime, data: EventData, recorded: dt.datetime | None = None) -> None:
        """An event that occurred `at`; recorded then, or at `recorded` (later)."""
        cls, values = packed(data)
        if recorded is None or recorded <= at:
            self.events.append((at, self.index, len(self.events), cls, values, None))
        else:
            self.events.append((recorded, self.index, len(self.events), cls, values, at))

    # --- participants ---------------------------------------------------------------------

    def _participant(self) -> tuple[str, dt.datetime]:
        rng = self.rng
        participant_id = minted(rng)
        registered = self.planned_at + dt.timedelta(
            weeks=4, days=rng.randrange(14), hours=rng.randrange(8)
        )
        roles = ("socialsekreterare", "familjehemssekreterare", "arbetsledare")
        years = round(rng.uniform(0, 2), 1)
        municipality = rng.choice(self.region.municipalities)[0]
        self._add(
            registered,
            ParticipantRegistered(
                participant_id=participant_id,
                municipality_id=municipality,
                journey=journey(),
                role=rng.choices(roles, (80, 12, 8))[0],
                level=Level.NY,
                years_in_profession=years,
            ),
        )
        others = [m for m, _ in self.region.municipalities if m != municipality]
        if rng.random() < 0.04 and others:  # changes workplace; the history goes along
            moved = registered + dt.timedelta(days=rng.randrange(1, 140))
            to = rng.choice(others)
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

    def _course(
        self, k: int, course: CourseSpec, participants: list[tuple[str, dt.datetime]]
    ) -> None:
        """One stop of the route: its occasion, and another if that one is cancelled."""
        rng = self.rng
        first = self.course_start(k)
        occasion = self._occasion(course, first, self.planned_at)
        team = self._team(occasion, self.planned_at)
        if rng.random() < RESCHEDULED:
            occasion = self._rescheduled(occasion)
        if rng.random() < UNASSIGNED:
            self._unassign(occasion, team, first)
        cancelled_after = None
        if rng.random() < CANCELLED:
            # cancelled before it starts, or after its first block when it has two
            cancelled_after = rng.choice((0, 0, occasion.course.blocks[0]))
            if len(occasion.course.blocks) < 2:
                cancelled_after = 0
        given = occasion.days[:cancelled_after] if cancelled_after is not None else occasion.days
        for day in given:
            self._delivered(occasion, day, team)
        bookings = [(p, self._booked(occasion, p, registered)) for p, registered in participants]
        prepared = {p: self._prepare(course, first, p) for p, booked in bookings if booked}
        if given:
            for participant_id, is_prepared in prepared.items():
                self._attend(occasion, participant_id, given, is_prepared,
                             complete=cancelled_after is None)
        if cancelled_after is None:
            return
        if cancelled_after:
            cancelled = local(occasion.days[cancelled_after - 1].date, 18)
        else:
            cancelled = local(occasion.days[0].date - dt.timedelta(weeks=2), 10)
        reason = CANCEL_REASONS[1 if cancelled_after else 0]
        self._add(cancelled, CourseOccasionCancelled(occasion_id=occasion.occasion_id,
                                                     reason=reason))
        # given again a month later, for everyone still booked
        replanned = cancelled + dt.timedelta(days=1)
        again = self._occasion(course, working_day(first + dt.timedelta(weeks=5)),
                               replanned)
        team = self._team(again, replanned)
        for day in again.days:
            self._delivered(again, day, team)
        for participant_id, is_prepared in prepared.items():
            at = replanned + dt.timedelta(hours=rng.randrange(1, 8))
            self._add(at, ParticipantBooked(occasion_id=again.occasion_id,
                                            participant_id=participant_id))
            self._attend(again, participant_id, again.days, is_prepared, complete=True)

    def _occasion(self, course: CourseSpec, first: dt.date, planned: dt.datetime) -> Occasion:
        occasion = Occasion(minted(self.rng), course, self._days(course, first))
        self._add(
            planned,
            CourseOccasionPlanned(
                occasion_id=occasion.occasion_id,
                course_id=course.course_id,
                region_id=self.region.region_id,
                capacity=course.capacity,
                days=occasion.days,
            ),
        )
        self.years |= {d.date.year for d in occasion.days}
        return occasion

    def _days(self, course: CourseSpec, first: dt.date) -> tuple[CourseDay, ...]:
        """Blocks a fortnight apart; each day's mode from what the catalogue allows: where a
        first day may be either, the region gives it digitally about a third of the time; on
        the later days it chooses digital about half the time."""
        first_digital = self.rng.random() < 0.3
        later_digital = self.rng.random() < 0.5
        days: list[CourseDay] = []
        for b, block in enumerate(course.blocks):
            block_start = working_day(first + dt.timedelta(weeks=2 * b))
            for i in range(block):
                number = len(days) + 1
                allowed = course.day_modes[number - 1]
                either_digital = later_digital if number > 1 else first_digital
                digital = DayMode.DIGITAL in allowed and (
                    DayMode.ON_SITE not in allowed or either_digital)
                mode = DayMode.DIGITAL if digital else DayMode.ON_SITE
                date = working_day(block_start + dt.timedelta(days=i))
                days.append(CourseDay(day=number, date=date, mode=mode))
        return tuple(days)

    def _rescheduled(self, occasion: Occasion) -> Occasion:
        """Re-planned four weeks before: its last block moves a week later, or a day that may
        be either changes mode."""
        days = list(occasion.days)
        if self.rng.random() < 0.5:
            last_block = occasion.course.blocks[-1]
            for i in range(len(days) - last_block, len(days)):
                moved = working_day(days[i].date + dt.timedelta(weeks=1))
                days[i] = CourseDay(day=days[i].day, date=moved, mode=days[i].mode)
        else:
            either = [i for i, d in enumerate(days)
                      if len(occasion.course.day_modes[d.day - 1]) > 1]
            if either:
                i = self.rng.choice(either)
                other = DayMode.DIGITAL if days[i].mode == DayMode.ON_SITE else DayMode.ON_SITE
                days[i] = CourseDay(day=days[i].day, date=days[i].date, mode=other)
        at = local(occasion.days[0].date - dt.timedelta(weeks=4), 11)
        self._add(at, CourseOccasionRescheduled(occasion_id=occasion.occasion_id,
                                                days=tuple(days)))
        self.years |= {d.date.year for d in days}
        return Occasion(occasion.occasion_id, occasion.course, tuple(days))

    def _team(self, occasion: Occasion, planned: dt.datetime) -> Team:
        course = occasion.course
        wanted = min(course.team_size + 1, len(self.trainers))  # and a reserve
        chosen = self._choose(wanted, set())
        members = [self.trainers[n] for n in chosen]
        crew, size = members[: course.team_size], -(-course.team_size // course.teams)
        teams = [crew[i : i + size] for i in range(0, len(crew), size)]
        teams[0] = teams[0][1:]  # the leader delivers every day, as leader
        team = Team(members[0], [t for t in teams if t] or [[members[0]]], members[-1])
        assigned = planned + dt.timedelta(days=self.rng.randrange(1, 8))
        for (trainer_id, municipality_id), role in team.assignments():
            self._add(assigned, TrainerAssigned(occasion_id=occasion.occasion_id,
                                                trainer_id=trainer_id,
                                                municipality_id=municipality_id, role=role))
        return team

    def _choose(self, wanted: int, taken: set[str]) -> list[int]:
        """Trainers for a team; those new to the region are registered first."""
        chosen: dict[int, None] = {}
        while len(chosen) < wanted:
            n = self.rng.randrange(len(self.trainers))
            if self.trainers[n][0] not in taken:
                chosen[n] = None
        for n in chosen:
            if n not in self.trainers.registered:
                self.trainers.registered.add(n)
                trainer_id, municipality_id = self.trainers[n]
                self._add(self.first_at, TrainerRegistered(trainer_id=trainer_id,
                                                            municipality_id=municipality_id))
        return list(chosen)

    def _unassign(self, occasion: Occasion, team: Team, first: dt.date) -> None:
        """A trainer leaves the team two weeks before; another takes their place."""
        candidates = [(i, j) for i, members in enumerate(team.teams)
                      for j in range(len(members))]
        if not candidates:
            return
        i, j = self.rng.choice(candidates)
        leaving = team.teams[i][j]
        in_team = {team.leader[0], team.reserve[0], *(t[0] for m in team.teams for t in m)}
        at = local(first - dt.timedelta(weeks=2), 13)
        self._add(at, TrainerUnassigned(occasion_id=occasion.occasion_id, trainer_id=leaving[0]))
        newcomer = self.trainers[self._choose(1, in_team)[0]]
        self._add(at + dt.timedelta(hours=1), TrainerAssigned(
            occasion_id=occasion.occasion_id, trainer_id=newcomer[0],
            municipality_id=newcomer[1], role=TrainerRole.TRAINER))
        team.teams[i][j] = newcomer

    def _delivered(self, occasion: Occasion, day: CourseDay, team: Team) -> None:
        at = local(day.date, 16, 30)
        days = len(occasion.days)
        on_team = team.on(day.day, days)
        on_duty = self.rng.sample(on_team, min(2, len(on_team)))
        if on_duty and self.rng.random() < 0.08:  # one drops out: the reserve is called in
            on_duty[-1] = team.reserve
        for trainer, role in [(team.leader, DeliveryRole.LEADER)] + [
            (t, DeliveryRole.TRAINER) for t in on_duty
        ]:
            self._add(
                at,
                TrainerDayDelivered(
                    occasion_id=occasion.occasion_id,
                    day=day.day,
                    trainer_id=trainer[0],
                    municipality_id=trainer[1],
                    role=role,
                ),
            )

    # --- participants on an occasion ------------------------------------------------------

    def _booked(self, occasion: Occasion, participant_id: str, registered: dt.datetime) -> bool:
        """Booked after registering; True unless the booking is cancelled."""
        rng = self.rng
        booked = registered + dt.timedelta(days=rng.randrange(1, 10))
        self._add(booked, ParticipantBooked(occasion_id=occasion.occasion_id,
                                            participant_id=participant_id))
        if rng.random() < 0.02:
            cancelled = booked + dt.timedelta(days=rng.randrange(1, 20))
            self._add(cancelled, BookingCancelled(occasion_id=occasion.occasion_id,
                                                  participant_id=participant_id))
            return False
        return True

    def _attend(self, occasion: Occasion, participant_id: str, days: tuple[CourseDay, ...],
                prepared: bool, complete: bool) -> None:
        """The days given, deepening and the survey for one participant."""
        rng = self.rng
        course = occasion.course
        present, last_recorded = self._present(occasion, days, participant_id)
        if not complete:
            return
        last = days[-1].date
        for task in course.published.deepening_tasks:
            if rng.random() < 0.3:
                at = local(last + dt.timedelta(days=rng.randrange(2, 30)), 13)
                self._add(at, DeepeningSubmitted(participant_id=participant_id,
                                                 course_id=course.course_id,
                                                 task_id=task.task_id))
        if prepared and present and rng.random() < 0.6:  # the survey is voluntary
            base = rng.choice((3, 4, 4, 5))
            questions = [q.question_id for q in course.published.questions]
            answers = {q: min(5, max(1, base + rng.choice((-1, 0, 0, 1)))) for q in questions}
            at = max(local(last + dt.timedelta(days=rng.randrange(1, 14)), 19),
                     last_recorded + dt.timedelta(hours=2))
            self._add(at, EvaluationSubmitted(occasion_id=occasion.occasion_id,
                                              course_id=course.course_id,
                                              respondent_id=minted(rng), answers=answers))

    def _prepare(self, course: CourseSpec, first: dt.date, participant_id: str) -> bool:
        """Preparations in the days before the course; True when every mandatory one is done."""
        rng = self.rng
        all_mandatory = True
        for item in course.published.preparations:
            done = rng.random() < (0.985 if item.mandatory else 0.4)
            all_mandatory = all_mandatory and (done or not item.mandatory)
            if done:
                day = first - dt.timedelta(days=rng.randrange(1, 10))
                at = local(day, rng.randrange(8, 17), rng.randrange(60))
                self._add(at, PreparationCompleted(participant_id=participant_id,
                                                   course_id=course.course_id,
                                                   item_id=item.item_id))
        return all_mandatory

    def _present(self, occasion: Occasion, days: tuple[CourseDay, ...],
                 participant_id: str) -> tuple[bool, dt.datetime]:
        """Attendance, with the odd absence (now and then reported by mistake and withdrawn)
        and the odd report recorded late; True when present every day, and when the last
        report was recorded."""
        rng = self.rng
        every_day, last_recorded = True, local(days[-1].date, 16)
        for day in days:
            attended = CourseDayAttended(participant_id=participant_id,
                                         occasion_id=occasion.occasion_id, day=day.day)
            at = local(day.date, 16)
            if rng.random() < ABSENT:
                every_day = False
                if rng.random() < REPORTED_BY_MISTAKE:
                    self._add(at, attended)
                    withdrawn = local(day.date + dt.timedelta(days=rng.randrange(1, 21)), 10)
                    self._add(withdrawn, AttendanceWithdrawn(
                        participant_id=participant_id, occasion_id=occasion.occasion_id,
                        day=day.day, reason=WITHDRAWAL_REASON))
                continue
            recorded = None
            if rng.random() < REPORTED_LATE:
                recorded = local(day.date + dt.timedelta(days=rng.randrange(3, 60)), 9)
                last_recorded = max(last_recorded, recorded)
            self._add(at, attended, recorded)
        return every_day, last_recorded


def cohorts(participants: int, seed: int, years: int, among: tuple[Region, ...] | None = None
            ) -> Iterator[Cohort]:
    """Cohorts of 24, starting week after week over the years given, in start order; each in
    a region drawn in proportion to the municipalities that joined it."""
    among = among or taking_part()
    count = -(-participants // COHORT)
    weights = [len(r.municipalities) for r in among]
    rng = random.Random(f"{seed}:regions")
    placed = [rng.choices(range(len(among)), weights)[0] if len(among) > 1 else 0
              for _ in range(count)]
    sizes = [min(COHORT, participants - c * COHORT) for c in range(count)]
    trainers = [Trainers(max(12, sum(n for n, at in zip(sizes, placed, strict=True) if at == r)
                             // 10), seed, region)
                for r, region in enumerate(among)]
    weeks = WEEKS_PER_YEAR * years
    for c in range(count):
        r = placed[c]
        yield Cohort(c, count, sizes[c], seed, weeks, trainers[r], among[r])


def last_start(participants: int, years: int) -> dt.date:
    count = -(-participants // COHORT)
    weeks = WEEKS_PER_YEAR * years
    return FIRST_START + dt.timedelta(weeks=(count - 1) * weeks // count if count else 0)


def reference_data(among: tuple[Region, ...] | None = None) -> list[EventData]:
    """What the regions set up before their first course: themselves, their municipalities,
    the courses, prices."""
    among = among or taking_part()
    events: list[EventData] = []
    for region in among:
        events.append(RegionRegistered(region_id=region.region_id, name=region.name))
        events += [MunicipalityJoined(municipality_id=m, name=name, region_id=region.region_id)
                   for m, name in region.municipalities]
    events += [c.published for c in courses()]
    # 2024 with GR's model written out; later years fall back to the same model by default.
    events += [PriceListSet(region_id=region.region_id, year=FIRST_START.year,
                            components=PriceComponents(), points=Points())
               for region in among]
    return events


AFTER_ALL = 1 << 62  # the cohort index a year's close is queued under
ON_A_DAY = frozenset({CourseDayAttended, AttendanceWithdrawn, TrainerDayDelivered})
"""Facts about one course day: they belong to the year of the day's date."""


class DemoLog:
    """Writes the log in the order recorded and adds what the services would derive from it.

    Derived events come from the folds: a `Completions` fold per cohort (its participants and
    occasions are its own), dropped when the cohort's last event is written, and a pot fold
    (`BillingFacts`) per year, fed what that year's days depend on, dropped once the year is
    closed and its pot distributed. Both are fed each event once, so they keep no set of ids.
    """

    def __init__(self, participants: int, seed: int, years: int = 2, regions: int = 1) -> None:
        self.rng = random.Random(f"{seed}:ids")
        self.participants, self.seed, self.years = participants, seed, years
        self.regions = taking_part(regions)
        self.reference: list[Envelope] = []
        self.completions: dict[int, Completions] = {}  # cohort -> its fold
        self.completion_handlers: dict[int, dict[str, Callable[[Envelope], Any]]] = {}
        self.certificates: dict[int, dict[tuple[str, str, str], str]] = {}
        self.left: dict[int, int] = {}  # cohort -> events still to write
        self.cohort_years: dict[int, set[int]] = {}
        self.pots: dict[int, BillingFacts] = {}  # open year -> its billing facts
        self.pot_handlers: dict[int, dict[str, Callable[[Envelope], object]]] = {}
        self.closed: set[int] = set()  # years every region has closed
        self.closing: dict[int, int] = {}  # year -> regions that have closed it

    def closing_years(self) -> list[int]:
        if not self.participants:
            return []
        last = last_start(self.participants, self.years) + dt.timedelta(weeks=30)
        return list(range(FIRST_START.year, last.year))

    def envelopes(self) -> Iterator[Envelope]:
        start = local(FIRST_START - dt.timedelta(weeks=12), 8)
        for n, data in enumerate(reference_data(self.regions)):
            yield from self._emit(start + dt.timedelta(minutes=n), data, -1)
        # a close sorts after whatever else is recorded at the same moment: the closed view
        # holds what was recorded not after it
        pending: list[Pending] = [
            (local(dt.date(year + 1, *CLOSING_DAY), 9), AFTER_ALL, r,
             *packed(YearClosed(region_id=region.region_id, year=year)), None)
            for year in self.closing_years() for r, region in enumerate(self.regions)
        ]
        heapq.heapify(pending)
        waiting = cohorts(self.participants, self.seed, self.years, self.regions)
        cohort = next(waiting, None)
        while pending or cohort is not None:
            if cohort is not None and (not pending or cohort.first_at <= pending[0][0]):
                self._begin(cohort)
                for event in cohort.generate():
                    heapq.heappush(pending, event)
                self.left[cohort.index] = len(cohort.events)
                self.cohort_years[cohort.index] = cohort.years
                cohort.events = []
                cohort = next(waiting, None)
                continue
            recorded, index, _, cls, values, occurred = heapq.heappop(pending)
            data = unpacked(cls, values)
            cohort_of = -1 if index == AFTER_ALL else index
            if occurred is None:
                yield from self._emit(recorded, data, cohort_of)
            else:
                yield from self._emit(occurred, data, cohort_of, recorded)
            if cohort_of >= 0:
                self.left[index] -= 1
                if not self.left[index]:
                    self._end(index)

    def _begin(self, cohort: Cohort) -> None:
        completions = self.completions[cohort.index] = Completions()
        appliers = self.completion_handlers[cohort.index] = completions.fact_handlers
        for env in self.reference:
            if env.type in appliers:
                appliers[env.type](env)
        self.certificates[cohort.index] = {}

    def _end(self, index: int) -> None:
        del self.completions[index], self.certificates[index], self.left[index]
        del self.completion_handlers[index]
        del self.cohort_years[index]

    def _pot(self, year: int) -> BillingFacts | None:
        """The billing facts of an open year (made when first needed, fed the price lists)."""
        if year in self.closed:
            return None
        facts = self.pots.get(year)
        if facts is None:
            facts = self.pots[year] = BillingFacts()
            self.pot_handlers[year] = facts.fact_handlers
            for env in self.reference:
                if env.type == "PriceListSet":
                    facts.apply(env)
        return facts

    def _id(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def _emit(self, at: dt.datetime, data: EventData, cohort: int,
              recorded: dt.datetime | None = None) -> Iterator[Envelope]:
        provenance: dict[str, Any] = {} if recorded is None else {"recorded_at": recorded}
        env = new_envelope(data, occurred_at=at, id=self._id(), **provenance)
        yield env
        logged = recorded or at
        if cohort < 0:
            self.reference.append(env)
            if isinstance(data, YearClosed):
                yield from self._closed(data, logged)
            return
        self._bill(env, cohort)
        handler = self.completion_handlers[cohort].get(env.type)
        if handler is not None:
            changes = handler(env)
            if changes.added or changes.removed:
                yield from self._certified(changes.added, changes.removed, cohort, logged)

    def _bill(self, env: Envelope, cohort: int) -> None:
        """Feed the pot folds what the event bears on: a day to its year's, a plan, a
        registration or a move to every year the cohort's days fall in."""
        data = env.data
        if type(data) in ON_A_DAY:
            occasion_id, day = data.occasion_id, data.day  # type: ignore[attr-defined]
            plan = self.completions[cohort].plan(occasion_id)
            years = {plan.dates[day].year} if plan is not None and day in plan.dates else set()
        else:
            years = self.cohort_years[cohort]
        for year in years:
            if self._pot(year) is not None:
                handler = self.pot_handlers[year].get(env.type)
                if handler is not None:
                    handler(env)

    def _certified(self, added: tuple[tuple[str, str, str], ...],
                   removed: tuple[tuple[str, str, str], ...], cohort: int,
                   at: dt.datetime) -> Iterator[Envelope]:
        certificates = self.certificates[cohort]
        certified = at + dt.timedelta(minutes=5)
        for completion in removed:
            certificate_id = certificates.pop(completion)
            yield new_envelope(
                CertificateRevoked(certificate_id=certificate_id, reason=REVOKE_REASON,
                                   participant_id=completion[0]),
                occurred_at=certified, id=self._id())
        for participant_id, course_id, occasion_id in added:
            yield new_envelope(
                CourseCompleted(
                    participant_id=participant_id, course_id=course_id, occasion_id=occasion_id
                ),
                occurred_at=certified,
                id=self._id(),
            )
            certificate_id = certificates[participant_id, course_id, occasion_id] = str(self._id())
            yield new_envelope(
                CertificateIssued(
                    certificate_id=certificate_id,
                    participant_id=participant_id,
                    course_id=course_id,
                    occasion_id=occasion_id,
                ),
                occurred_at=certified,
                id=self._id(),
            )

    def _closed(self, closed: YearClosed, at: dt.datetime) -> Iterator[Envelope]:
        facts = self._pot(closed.year)
        assert facts is not None
        facts.apply(self.reference[-1])
        pot = distribute(facts, closed.region_id, closed.year)
        self.closing[closed.year] = self.closing.get(closed.year, 0) + 1
        if self.closing[closed.year] == len(self.regions):  # the year is closed everywhere
            self.closed.add(closed.year)
            del self.pots[closed.year], self.pot_handlers[closed.year]
        yield new_envelope(
            PotDistributed(
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
            ),
            occurred_at=at + dt.timedelta(hours=1),
            id=self._id(),
        )


def demo_envelopes(participants: int, seed: int = 1, years: int = 2, regions: int = 1
                   ) -> Iterator[Envelope]:
    """The demo log as envelopes, in the order written."""
    return DemoLog(participants, seed, years, regions).envelopes()


def demo_log(participants: int, seed: int = 1, years: int = 2, regions: int = 1
             ) -> Iterator[bytes]:
    """The demo log as JSON Lines, one envelope per line."""
    for env in demo_envelopes(participants, seed, years, regions):
        yield env.to_json() + b"\n"


def write(lines: Iterator[bytes], write: Callable[[bytes], object], chunk: int = 4096) -> int:
    """Write lines in chunks; the number of lines."""
    held: list[bytes] = []
    count = 0
    for line in lines:
        held.append(line)
        count += 1
        if len(held) >= chunk:
            write(b"".join(held))
            held.clear()
    write(b"".join(held))
    return count


def register(app: typer.Typer) -> None:
    @app.command("demo-log")
    def demo_log_command(
        participants: Annotated[
            int, typer.Option("--participants", min=0, help="how many participants")
        ] = 500,
        years: Annotated[
            int, typer.Option("--years", min=1, max=50, help="over how many years cohorts start")
        ] = 2,
        seed: Annotated[int, typer.Option("--seed", help="the same seed gives the same log")] = 1,
        regions: Annotated[int, typer.Option(
            "--regions", min=1, max=21, help="how many of the 21 regions run the programme: 1 is "
            "RSS Dalarna, 21 the whole country (participants drawn to each in proportion to "
            "its municipalities)")] = 1,
    ) -> None:
        """Write a realistic contract log (JSON Lines) to standard output, as it is made."""
        out = click.get_binary_stream("stdout")
        write(demo_log(participants, seed, years, regions), out.write)
        out.flush()
