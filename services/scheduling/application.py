"""Scheduling's commands and their handlers, and `bootstrap()` that wires the service.

Commands are validated at the edge (pydantic); a handler either records all its events in one
transaction or raises a `CommandRejected` and records nothing. Commands on an occasion load it,
let the caller's `authorize` look at it (scope rules that depend on the occasion: its region, its
course leader, who is booked; and on the participant as scheduling's copy knows them), decide,
and save.

Who participants and trainers are, where they belong and which regions exist, scheduling learns
from the bus into its own copy (`projections/registry.py`); an id the copy does not know (yet)
is refused, never booked or assigned. When someone else saved the same occasion in
between, the library refuses the save and the command is decided again on the new state, a few
times, before it is answered 409; so a rush of bookings for the last places queues instead of
failing, and a day's attendance registered twice at once is recorded once.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from pydantic import (
    AfterValidator,
    AwareDatetime,
    Field,
    PositiveFloat,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from services.scheduling.catalogue import SHIPPED
from services.scheduling.domain import (
    SWEDEN,
    AttendanceRecorded,
    Course,
    CourseFormat,
    Occasion,
    TeamMember,
    course_key,
    dates_out_of_order,
    occasion_key,
)
from services.scheduling.planning import (
    CourseDemand,
    CourseNeeds,
    Estimate,
    demand,
    estimate,
    estimate_from_bus,
    side_by_side,
)
from services.scheduling.projections.registry import PREFIX, registry
from services.scheduling.projections.schedule import ScheduleView
from shared.events import models as contract
from shared.events.models import DayMode, DeliveryRole, Level, TrainerRole
from shared.platform import asof, schema
from shared.platform.access import hidden
from shared.platform.commands import Code, Command, Text, printable
from shared.platform.copies import CopyRunner, Known, KnownParticipant
from shared.platform.db import Database
from shared.platform.errors import (
    CommandRejected,
    Conflict,
    NotFound,
    swedish_message,
    swedish_reason,
)
from shared.platform.settings import Settings
from shared.platform.store import Aggregate, ServiceApplication, utcnow

# A course day's number, as the contract bounds it.
Day = Annotated[int, Field(ge=1, le=50)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]
T = TypeVar("T")
Pairs = set[tuple[str, str]]

# Occasions are planned with dates from the programme's start (Yrkesresan began in 2017; older
# occasions can still be registered after the fact) to three years ahead (the furthest a
# region plans); anything outside is a typing error, not a plan.
EARLIEST_DATE = dt.date(2017, 1, 1)
YEARS_AHEAD = 3
MAX_DAYS = 50  # day numbers of the contract
NOT_YET = ("Schemaläggningen känner deltagare, utbildare och regioner när registreringen nått "
           "den via händelserna; en nyss registrerad syns här inom några sekunder.")


def latest_date(today: dt.date | None = None) -> dt.date:
    today = today or asof.today()
    try:
        return today.replace(year=today.year + YEARS_AHEAD)
    except ValueError:  # 29 February
        return today.replace(year=today.year + YEARS_AHEAD, day=28)


def not_known(field: str, id: str) -> NotFound:
    """Unknown to scheduling's copy, or outside the caller's scope: one answer for both."""
    return hidden(field, id, note=NOT_YET)


# --- the catalogue ----------------------------------------------------------------------------


class PreparationIn(Command):
    item_id: Code
    title: Text
    mandatory: bool = True


class DeepeningTaskIn(Command):
    task_id: Code
    title: Text


class QuestionIn(Command):
    question_id: Code
    text: Text


class PublishCourse(Command):
    """A course of the catalogue with its preparations, deepening tasks and format."""

    course_id: Code
    journey: Code = "barn_och_unga"
    level: Level
    title: Text
    days: int = Field(ge=1, le=50)
    parts: tuple[PositiveFloat, ...] = ()
    day_modes: tuple[Annotated[tuple[DayMode, ...], Field(min_length=1)], ...] = ()
    team_size: int = Field(default=4, ge=1, le=50)
    capacity: int = Field(default=24, ge=1, le=1000)
    preparations: tuple[PreparationIn, ...] = ()
    deepening_tasks: tuple[DeepeningTaskIn, ...] = ()
    questions: tuple[QuestionIn, ...] = ()

    @field_validator("parts")
    @classmethod
    def _parts_add_up(cls, parts: tuple[float, ...], info: ValidationInfo) -> tuple[float, ...]:
        days = info.data.get("days")
        if parts and days is not None and abs(sum(parts) - days) > 1e-9:
            raise ValueError(f"delarna ska tillsammans bli {days} dagar")
        return parts

    @field_validator("day_modes")
    @classmethod
    def _mode_per_day(cls, modes: tuple[Any, ...], info: ValidationInfo) -> tuple[Any, ...]:
        days = info.data.get("days")
        if modes and days is not None and len(modes) != days:
            raise ValueError(f"ange sätt för var och en av kursens {days} dagar")
        return modes

    @field_validator("preparations", "deepening_tasks", "questions")
    @classmethod
    def _unique_ids(cls, items: tuple[Any, ...]) -> tuple[Any, ...]:
        ids = [getattr(i, "item_id", None) or getattr(i, "task_id", None)
               or getattr(i, "question_id", None) for i in items]
        if len(set(ids)) != len(ids):
            raise ValueError("varje id får förekomma en gång")
        return items

    def contract_data(self) -> contract.CoursePublished:
        return contract.CoursePublished.model_validate(self.model_dump(
            include={"course_id", "journey", "level", "title", "preparations",
                     "deepening_tasks", "questions"}))

    def format(self) -> CourseFormat:
        return CourseFormat.model_validate(self.model_dump(
            include=set(CourseFormat.model_fields)))


def shipped_catalogue() -> list[PublishCourse]:
    return [PublishCourse.model_validate(course) for course in SHIPPED]


# --- occasions --------------------------------------------------------------------------------


class DayPlan(Command):
    """A course day's date, mode and venue (a day on site has one, a digital day none)."""

    date: dt.date
    mode: DayMode
    venue: Text | None = Field(default=None, validate_default=True)

    @field_validator("date")
    @classmethod
    def _sane_date(cls, date: dt.date) -> dt.date:
        if not EARLIEST_DATE <= date <= latest_date():
            raise ValueError(f"datumet ska ligga mellan {EARLIEST_DATE} och {latest_date()}")
        return date

    @field_validator("venue")
    @classmethod
    def _venue_for_on_site(cls, venue: str | None, info: ValidationInfo) -> str | None:
        mode = info.data.get("mode")
        if mode == DayMode.ON_SITE and not venue:
            raise ValueError("en dag på plats behöver en lokal")
        if mode == DayMode.DIGITAL and venue:
            raise ValueError("en digital dag har ingen lokal")
        return venue


class PlannedDay(DayPlan):
    day: Day

    def course_day(self) -> tuple[contract.CourseDay, str | None]:
        return contract.CourseDay(day=self.day, date=self.date, mode=self.mode), self.venue


class PlanOccasion(Command):
    occasion_id: Code | None = None
    course_id: Code
    region_id: Code
    capacity: int = Field(ge=1, le=1000)
    days: tuple[PlannedDay, ...] = Field(min_length=1, max_length=50)

    @field_validator("days")
    @classmethod
    def _days_in_order(cls, days: tuple[PlannedDay, ...]) -> tuple[PlannedDay, ...]:
        if [d.day for d in days] != list(range(1, len(days) + 1)):
            raise ValueError("dagarna ska numreras 1, 2, 3 … i ordning")
        reason = dates_out_of_order([d.course_day()[0] for d in days])
        if reason is not None:
            raise ValueError(reason)
        return days


class ReplanDays(Command):
    """The occasion's days as now planned. A day keeps its number (attendance names it): leave
    a day out to remove it, give a new number to add one; dates follow the numbers."""

    days: tuple[PlannedDay, ...] = Field(min_length=1, max_length=50)

    @field_validator("days")
    @classmethod
    def _a_plan(cls, days: tuple[PlannedDay, ...]) -> tuple[PlannedDay, ...]:
        reason = dates_out_of_order([d.course_day()[0] for d in days])
        if reason is not None:
            raise ValueError(reason)
        return days


class MoveDay(Command):
    """One day's new date, mode or venue; what is left out stays as it is (a day moved to
    digital loses its venue)."""

    date: dt.date | None = None
    mode: DayMode | None = None
    venue: Text | None = None

    @model_validator(mode="after")
    def _something(self) -> MoveDay:
        if not self.model_fields_set:
            raise ValueError("ange date, mode eller venue")
        return self

    def applied_to(self, day: contract.CourseDay, venue: str | None) -> DayPlan:
        """The day as moved, checked as any planned day (the window, a venue on site)."""
        given = self.model_dump(exclude_unset=True)
        if given.get("mode") == DayMode.DIGITAL and "venue" not in given:
            venue = None
        merged = {"date": day.date, "mode": day.mode, "venue": venue, **given}
        try:
            return DayPlan.model_validate(merged)
        except ValidationError as e:
            error = e.errors(include_url=False)[0]
            where = ".".join(str(p) for p in error["loc"]) or "date"
            raise CommandRejected(swedish_message(where, swedish_reason(error)),
                                  field=where) from None


class CancelOccasion(Command):
    """Why, as those booked will read it (the contract carries it: no names in it)."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=500), AfterValidator(printable)]


class BookParticipant(Command):
    """The participant's municipality is scheduling's knowledge (its copy), not the caller's."""

    participant_id: Code
    waitlist: bool = True


class AssignTrainer(Command):
    """The trainer's home municipality is scheduling's knowledge (its copy)."""

    trainer_id: Code
    role: TrainerRole


class UnassignTrainer(Command):
    """Taking the course leader off the team names the new one (from the team or outside)."""

    new_leader_id: Code | None = None


class CallInReserve(Command):
    reserve_id: Code
    replaces_trainer_id: Code


class Delivery(Command):
    trainer_id: Code
    role: DeliveryRole


class RegisterAttendance(Command):
    """One course day: everyone present, and who delivered it."""

    present: tuple[Code, ...] = Field(max_length=1000)
    delivered_by: tuple[Delivery, ...] = Field(min_length=1, max_length=100)
    occurred_at: AwareDatetime | None = None


class WithdrawAttendance(Command):
    """A participant-day reported by mistake, and why (the contract carries the reason: no
    names in it)."""

    participant_id: Code
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=500), AfterValidator(printable)]


# --- planning ---------------------------------------------------------------------------------


class DemandFromBus(Command):
    """A region's year as the bus tells it: who still needs each course of the journey."""

    region_id: Code
    year: contract.Year
    journey: Code = "barn_och_unga"
    occasions_per_team: int = Field(default=1, ge=1, le=20)
    reserves_per_team: int = Field(default=1, ge=0, le=10)


class EstimateNeeds(DemandFromBus):
    """The survey of a region's municipalities: participants per level still to take its
    courses; optionally per course how many already completed it, and overrides of places per
    occasion and team size."""

    participants_per_level: dict[Level, Count]
    completed: dict[Code, Count] = {}
    capacity: dict[Code, Annotated[int, Field(ge=1, le=1000)]] = {}
    team_size: dict[Code, Annotated[int, Field(ge=1, le=50)]] = {}


# --- the service ------------------------------------------------------------------------------


class SchedulingApplication(ServiceApplication):
    service = "scheduling"
    name = "scheduling"
    # Occasions kept folded in the process (the library's aggregate cache, brought up to date
    # from the store at every load): an attendance request then reads only the events others
    # saved since, not the whole occasion again. Nothing is stored, published or exported.
    env = {**ServiceApplication.env, "AGGREGATE_CACHE_MAXSIZE": "1000"}


Authorize = Callable[[Occasion], None]
AuthorizeFor = Callable[[Occasion, KnownParticipant | None], None]


@dataclass
class Scheduling:
    """The service's entry point: its store, its read view and the command handlers."""

    app: SchedulingApplication
    view: ScheduleView
    known: Known
    clock: Callable[[], dt.datetime] = field(default=utcnow)
    attempts: int = 5
    # Commands on occasions being decided at once in this process (loaded, authorized,
    # decided): more only share the GIL and stretch every request. Measured with
    # bench/attendance.py: p99 about 50-70 ms with 2-3, 110-350 ms unbounded. Their saves
    # wait outside it, for the store's table lock and the commit's flush, which the saves
    # of several commands share (`GroupCommit`): a command holding its place while its save
    # waited kept the others from deciding, and the saves went one flush at a time.
    writers: threading.Semaphore = field(default_factory=lambda: threading.BoundedSemaphore(2))
    _occasions_lock: threading.Lock = field(default_factory=threading.Lock)
    _occasion_locks: dict[str, list[Any]] = field(default_factory=dict)

    # -- helpers ----------------------------------------------------------------------------

    def _save(self, *aggregates: Aggregate, conflict: str) -> None:
        try:
            self.app.save(*aggregates)
        except IntegrityError:
            raise Conflict(conflict) from None

    def _change(self, occasion_id: str, act: Callable[[Occasion], T],
                authorize: Authorize | None = None) -> T:
        """Load, authorize, decide and save; decided again if someone saved in between."""
        with self._one_at_a_time(occasion_id):
            for _ in range(self.attempts):
                with self.writers:
                    occasion = self.occasion(occasion_id)
                    if authorize is not None:
                        authorize(occasion)
                    loaded = occasion.version
                    result = act(occasion)
                if occasion.version == loaded:
                    return result
                try:
                    self.app.save(occasion)  # the store counts what it stored
                except IntegrityError:
                    continue
                return result
        raise Conflict(f"Kurstillfället {occasion_id} ändrades samtidigt av andra; försök igen.")

    @contextmanager
    def _one_at_a_time(self, occasion_id: str) -> Iterator[None]:
        """One command at a time per occasion in this process, from its load to its save:
        a second one decided while the first's save waited would decide on the version
        before it, conflict and, in a group of saves, make the group be written again save
        by save (another process's command still conflicts, and is decided again)."""
        with self._occasions_lock:
            held = self._occasion_locks.get(occasion_id)
            if held is None:
                held = self._occasion_locks[occasion_id] = [threading.Lock(), 0]
            held[1] += 1
        try:
            with held[0]:
                yield
        finally:
            with self._occasions_lock:
                held[1] -= 1
                if not held[1]:
                    del self._occasion_locks[occasion_id]

    def course(self, course_id: str) -> Course:
        try:
            return self.app.load(Course, course_key(course_id))
        except AggregateNotFoundError:
            raise NotFound(f"Kursen {course_id} finns inte.", field="course_id") from None

    def occasion(self, occasion_id: str) -> Occasion:
        try:
            return self.app.load(Occasion, occasion_key(occasion_id))
        except AggregateNotFoundError:
            raise hidden("occasion_id", occasion_id) from None

    # -- the catalogue ----------------------------------------------------------------------

    def publish_course(self, cmd: PublishCourse, actor: str | None = None) -> str:
        """`published`, `revised` (a changed course is published again, projections follow the
        latest) or `unchanged` (publishing the same course again records nothing)."""
        key = course_key(cmd.course_id)
        course = self.app.load(Course, key) if self.app.exists(key) else Course(key)
        new = course.version == 0
        if not course.publish(cmd.contract_data(), cmd.format(), actor=actor):
            return "unchanged"
        self._save(course, conflict=f"Kursen {cmd.course_id} publicerades samtidigt av andra.")
        return "published" if new else "revised"

    def publish_catalogue(
        self, actor: str | None = None, progress: Callable[[str, str], None] | None = None
    ) -> dict[str, str]:
        outcome = {}
        for cmd in shipped_catalogue():
            outcome[cmd.course_id] = self.publish_course(cmd, actor)
            if progress:
                progress(cmd.course_id, outcome[cmd.course_id])
        return outcome

    def courses(self) -> list[dict[str, Any]]:
        return self.view.read(  # type: ignore[no-any-return]
            lambda v: [row.to_dict() for _, row in sorted(v.courses.items())])

    # -- occasions --------------------------------------------------------------------------

    def plan_occasion(self, cmd: PlanOccasion, actor: str | None = None) -> str:
        occasion_id = cmd.occasion_id or str(uuid.uuid4())
        conflict = f"Kurstillfället {occasion_id} finns redan."
        if self.app.exists(occasion_key(occasion_id)):
            raise Conflict(conflict, field="occasion_id")
        if not self.known.region_exists(cmd.region_id):
            raise not_known("region_id", cmd.region_id)
        course = self.course(cmd.course_id)
        days = [(contract.CourseDay(day=d.day, date=d.date, mode=d.mode), d.venue)
                for d in cmd.days]
        occasion = Occasion.plan(occasion_id, course, cmd.region_id, cmd.capacity, days,
                                 actor=actor)
        self._save(occasion, conflict=conflict)
        return occasion_id

    def occasions(self, region_id: str | None = None, course_id: str | None = None,
                  trainer_id: str | None = None) -> list[dict[str, Any]]:
        """Filtered by region, course, and (when given) the trainer's own occasions."""
        def query(v: ScheduleView) -> list[dict[str, Any]]:
            own = None if trainer_id is None else v.assignments.get(trainer_id, {})
            rows = [o for o in v.occasions.values()
                    if region_id in (None, o.region_id) and course_id in (None, o.course_id)
                    and (own is None or o.occasion_id in own)]
            rows.sort(key=lambda o: (o.days[0].date, o.occasion_id))
            return [o.to_dict() for o in rows]

        return self.view.read(query)  # type: ignore[no-any-return]

    def _for(self, participant_id: str,
             authorize: AuthorizeFor | None) -> tuple[KnownParticipant | None, Authorize]:
        """The participant as the copy knows them, and `authorize` with them bound."""
        known = self.known.participant(participant_id)

        def check(occasion: Occasion) -> None:
            if authorize is not None:
                authorize(occasion, known)

        return known, check

    def book(self, occasion_id: str, cmd: BookParticipant, actor: str | None = None,
             authorize: AuthorizeFor | None = None) -> tuple[str, bool]:
        """Only a participant the copy knows, not erased; booked for their municipality."""
        known, check = self._for(cmd.participant_id, authorize)

        def act(occasion: Occasion) -> tuple[str, bool]:
            if known is None or known.municipality_id is None:
                raise not_known("participant_id", cmd.participant_id)
            if known.erased:
                raise Conflict(f"Deltagaren {cmd.participant_id} är raderad och kan inte "
                               "bokas.", field="participant_id")
            return occasion.book(cmd.participant_id, known.municipality_id,
                                 waitlist=cmd.waitlist, actor=actor)

        return self._change(occasion_id, act, check)

    def cancel(self, occasion_id: str, participant_id: str, actor: str | None = None,
               authorize: AuthorizeFor | None = None) -> str | None:
        _, check = self._for(participant_id, authorize)
        return self._change(occasion_id, lambda o: o.cancel(participant_id, actor=actor), check)

    def bookings_of(self, participant_id: str) -> list[dict[str, Any]]:
        def query(v: ScheduleView) -> list[dict[str, Any]]:
            rows = v.bookings.get(participant_id, {}).values()
            return [{"occasion_id": r.occasion_id, "municipality_id": r.municipality_id,
                     "status": r.status, "region_id": v.occasions[r.occasion_id].region_id,
                     "course_id": v.occasions[r.occasion_id].course_id} for r in rows]

        return self.view.read(query)  # type: ignore[no-any-return]

    # -- trainer teams ----------------------------------------------------------------------

    def assign_trainer(self, occasion_id: str, cmd: AssignTrainer, actor: str | None = None,
                       authorize: Authorize | None = None) -> bool:
        """Only a trainer the copy knows, with their home municipality from it."""
        def act(occasion: Occasion) -> bool:
            trainer = self.known.trainer(cmd.trainer_id)
            if trainer is None:
                raise not_known("trainer_id", cmd.trainer_id)
            return occasion.assign(cmd.trainer_id, trainer.municipality_id, cmd.role,
                                   actor=actor)

        return self._change(occasion_id, act, authorize)

    def call_in_reserve(self, occasion_id: str, day: int, cmd: CallInReserve,
                        actor: str | None = None, authorize: Authorize | None = None) -> bool:
        return self._change(occasion_id, lambda o: o.call_in(
            day, cmd.reserve_id, cmd.replaces_trainer_id, actor=actor), authorize)

    def unassign_trainer(self, occasion_id: str, trainer_id: str, cmd: UnassignTrainer,
                         actor: str | None = None, authorize: Authorize | None = None) -> None:
        """`TrainerUnassigned`; a new course leader from the team, or a trainer the copy
        knows (their home municipality from it)."""
        def act(occasion: Occasion) -> None:
            new_leader = None
            if cmd.new_leader_id is not None:
                new_leader = occasion.team.get(cmd.new_leader_id) or self._trainer(
                    cmd.new_leader_id, "new_leader_id")
            occasion.unassign(trainer_id, new_leader, actor=actor)

        self._change(occasion_id, act, authorize)

    def _trainer(self, trainer_id: str, field: str) -> TeamMember:
        trainer = self.known.trainer(trainer_id)
        if trainer is None:
            raise hidden("trainer_id", trainer_id, at=field, note=NOT_YET)
        return TeamMember(trainer_id, trainer.municipality_id, TrainerRole.LEADER.value)

    def undo_call_in(self, occasion_id: str, day: int, reserve_id: str,
                     actor: str | None = None, authorize: Authorize | None = None) -> None:
        self._change(occasion_id, lambda o: o.undo_call_in(day, reserve_id, actor=actor),
                     authorize)

    def assignments_of(self, trainer_id: str) -> list[dict[str, Any]]:
        def query(v: ScheduleView) -> list[dict[str, Any]]:
            return [{"role": role, **v.occasions[o].to_dict()}
                    for o, role in sorted(v.assignments.get(trainer_id, {}).items())]

        return self.view.read(query)  # type: ignore[no-any-return]

    # -- re-planning and cancelling ---------------------------------------------------------

    def replan(self, occasion_id: str, cmd: ReplanDays, actor: str | None = None,
               authorize: Authorize | None = None) -> tuple[bool, Occasion]:
        """The whole plan at once: (changed, the occasion as now planned)."""
        return self._replan(occasion_id, lambda o: [d.course_day() for d in cmd.days],
                            actor, authorize)

    def move_day(self, occasion_id: str, day: int, cmd: MoveDay, actor: str | None = None,
                 authorize: Authorize | None = None) -> tuple[bool, Occasion]:
        def days(o: Occasion) -> list[tuple[contract.CourseDay, str | None]]:
            moved = cmd.applied_to(o.day(day), o.venues.get(day))
            return [(contract.CourseDay(day=d, date=moved.date, mode=moved.mode), moved.venue)
                    if d == day else (o.days[d], o.venues.get(d)) for d in sorted(o.days)]

        return self._replan(occasion_id, days, actor, authorize)

    def add_day(self, occasion_id: str, cmd: DayPlan, actor: str | None = None,
                authorize: Authorize | None = None) -> tuple[bool, Occasion]:
        """A day after the last, numbered after the highest number the plan has."""
        def days(o: Occasion) -> list[tuple[contract.CourseDay, str | None]]:
            number = max(o.days) + 1
            if number > MAX_DAYS:
                raise CommandRejected(f"Ett kurstillfälle har högst {MAX_DAYS} dagar.",
                                      field="days")
            new = contract.CourseDay(day=number, date=cmd.date, mode=cmd.mode)
            return [*((o.days[d], o.venues.get(d)) for d in sorted(o.days)), (new, cmd.venue)]

        return self._replan(occasion_id, days, actor, authorize)

    def remove_day(self, occasion_id: str, day: int, actor: str | None = None,
                   authorize: Authorize | None = None) -> tuple[bool, Occasion]:
        def days(o: Occasion) -> list[tuple[contract.CourseDay, str | None]]:
            o.day(day)
            return [(o.days[d], o.venues.get(d)) for d in sorted(o.days) if d != day]

        return self._replan(occasion_id, days, actor, authorize)

    def _replan(self, occasion_id: str,
                days: Callable[[Occasion], list[tuple[contract.CourseDay, str | None]]],
                actor: str | None, authorize: Authorize | None) -> tuple[bool, Occasion]:
        today = self.clock().astimezone(SWEDEN).date()

        def act(occasion: Occasion) -> tuple[bool, Occasion]:
            new_days = days(occasion)
            course = self.course(occasion.course_id)
            return occasion.replan(course, new_days, today=today, actor=actor), occasion

        return self._change(occasion_id, act, authorize)

    def cancel_occasion(self, occasion_id: str, cmd: CancelOccasion, actor: str | None = None,
                        authorize: Authorize | None = None) -> list[str] | None:
        """The participants whose bookings were released; None when cancelled already."""
        return self._change(occasion_id, lambda o: o.cancel_occasion(cmd.reason, actor=actor),
                            authorize)

    # -- attendance -------------------------------------------------------------------------

    def register_attendance(self, occasion_id: str, day: int, cmd: RegisterAttendance,
                            actor: str | None = None, authorize: Authorize | None = None,
                            late: bool = False) -> AttendanceRecorded:
        """All of the day's `CourseDayAttended` and `TrainerDayDelivered` in one transaction.
        A day of a year its region has closed (`YearClosed`, from the bus) is refused, unless
        `late`: the coordinator's late report, which billing carries to the next year."""
        now = self.clock()
        delivered = [(d.trainer_id, d.role.value) for d in cmd.delivered_by]

        def act(o: Occasion) -> AttendanceRecorded:
            if not late:
                self._check_year_open(o, day)
            return o.register_attendance(day, cmd.present, delivered,
                                         occurred_at=cmd.occurred_at, now=now, actor=actor)

        return self._change(occasion_id, act, authorize)

    def _check_year_open(self, occasion: Occasion, day: int) -> None:
        date = occasion.day(day).date
        if self.known.year_closed(occasion.region_id, date.year):
            raise Conflict(
                f"Året {date.year} är stängt för fakturering i {occasion.region_id}, så närvaro "
                f"för dag {day} ({date}) tas inte emot här. Regionens samordnare kan rapportera "
                f"den i efterhand; den kommer då med som justering på fakturaunderlaget för "
                f"{date.year + 1}.", field="day")

    def withdraw_attendance(self, occasion_id: str, day: int, cmd: WithdrawAttendance,
                            actor: str | None = None,
                            authorize: Authorize | None = None) -> bool:
        """`AttendanceWithdrawn` for a participant-day reported by mistake; False when it was
        withdrawn already (nothing recorded)."""
        return self._change(occasion_id, lambda o: o.withdraw(
            day, cmd.participant_id, cmd.reason, actor=actor), authorize)

    # -- planning ---------------------------------------------------------------------------

    def estimate(self, cmd: EstimateNeeds) -> Estimate:
        """The survey's numbers against the published courses of the journey, for a region
        scheduling knows."""
        return estimate(
            {str(level): n for level, n in cmd.participants_per_level.items()},
            self._courses_to_plan(cmd), completed=cmd.completed,
            occasions_per_team=cmd.occasions_per_team, reserves_per_team=cmd.reserves_per_team)

    def demand(self, cmd: DemandFromBus) -> tuple[Estimate, tuple[CourseDemand, ...]]:
        """The estimate from the bus: who is registered in the region at which level (the
        registry copy), who completed what (certification's completions, in the copy) and who
        is booked on an occasion still to come (scheduling's own store)."""
        courses = self._courses_to_plan(cmd)
        levels = self.known.at_levels_in(cmd.region_id, cmd.journey)
        booked, queued = self._bookings_to_come(levels)
        needs = demand(levels, courses, completed=self.known.completed_in(cmd.region_id),
                       booked=booked, waitlisted=queued)
        return estimate_from_bus(levels, courses, needs,
                                 occasions_per_team=cmd.occasions_per_team,
                                 reserves_per_team=cmd.reserves_per_team), needs

    def compare(self, cmd: EstimateNeeds) -> dict[str, Any]:
        """The survey's estimate and the bus's side by side (the survey's overrides of places
        and team size apply to both)."""
        bus, needs = self.demand(cmd)
        return side_by_side(self.estimate(cmd), bus, needs)

    def _courses_to_plan(self, cmd: DemandFromBus) -> list[CourseNeeds]:
        """The journey's published courses, for a region scheduling knows."""
        if not self.known.region_exists(cmd.region_id):
            raise not_known("region_id", cmd.region_id)
        capacity = getattr(cmd, "capacity", {})
        team_size = getattr(cmd, "team_size", {})

        def needs(v: ScheduleView) -> list[CourseNeeds]:
            out = []
            for course_id, row in sorted(v.courses.items()):
                if row.data.journey != cmd.journey or row.format is None:
                    continue
                out.append(CourseNeeds(
                    course_id=course_id, title=row.data.title, level=str(row.data.level),
                    days=row.format.days,
                    capacity=capacity.get(course_id, row.format.capacity),
                    team_size=team_size.get(course_id, row.format.team_size)))
            return out

        return self.view.read(needs)  # type: ignore[no-any-return]

    def _bookings_to_come(self, participants: Collection[str]) -> tuple[Pairs, Pairs]:
        """(participant, course) booked, and waitlisted, on an occasion not cancelled whose
        last day is today or later."""
        today = self.clock().astimezone(SWEDEN).date()

        def query(v: ScheduleView) -> tuple[Pairs, Pairs]:
            booked: Pairs = set()
            queued: Pairs = set()
            for p in participants:
                for occasion_id, row in v.bookings.get(p, {}).items():
                    occasion = v.occasions[occasion_id]
                    if occasion.cancelled is not None or occasion.last_date < today:
                        continue
                    if row.status == "booked":
                        booked.add((p, occasion.course_id))
                    elif row.status == "waitlisted":
                        queued.add((p, occasion.course_id))
            return booked, queued

        return self.view.read(query)  # type: ignore[no-any-return]

    def runner(self) -> CopyRunner:
        """What the `scheduling-registry` consumer applies the bus's envelopes with."""
        return CopyRunner(registry(), self.known.db)

    def close(self) -> None:
        self.app.close()
        self.known.db.close()


def bootstrap(database_url: str | None = None) -> Scheduling:
    url = database_url or Settings().database_url_for("scheduling")
    schema.require("scheduling", url)
    app = SchedulingApplication(url)
    return Scheduling(app=app, view=ScheduleView(app), known=Known(Database(url), PREFIX))


def migrate(database_url: str | None = None) -> None:
    """Bring the service's database to this code's schema (`services/scheduling/migrations`)."""
    schema.upgrade("scheduling", database_url or Settings().database_url_for("scheduling"))
