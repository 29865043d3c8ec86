"""The completion rule, written once.

A participant completes a course on an occasion when they have attended every day of that
occasion and completed every mandatory preparation of that course, in any order. Deepening
tasks are optional. Completions are derived from these facts only: `CourseCompleted` and
`CertificateIssued` in a log are ignored, so a log gives the same completions with or without
them.

v1.1: the occasion's days are those of its latest plan (`CourseOccasionPlanned` or
`CourseOccasionRescheduled`, the latest `occurred_at` wins), and completion needs every one of
them; nobody completes a cancelled occasion; a withdrawn day (`AttendanceWithdrawn`) no longer
counts, whatever the order of the events. A completion that loses a day is lost (reported in
`CompletionChanges.removed`: the certification service revokes its certificate).

A completion needs the occasion's plan and the course's publication. Until both have arrived
the completion waits (it would be wrong to certify against preparations not yet known); it is
reported by the `apply` of whichever event makes it true.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from sys import intern
from typing import NamedTuple, cast

from shared.events import Envelope
from shared.events.models import (
    AttendanceWithdrawn,
    CourseDayAttended,
    CourseOccasionPlanned,
    CoursePublished,
    PreparationCompleted,
)
from shared.projections.attendance import AttendedDays
from shared.projections.occasions import Occasions, Plan
from shared.projections.versions import LatestBy, packed_stamp

Completion = tuple[str, str, str]
"""(participant_id, course_id, occasion_id)"""


class CompletionChanges(NamedTuple):
    """What one event changed: completions gained, and completions lost.

    A completion is lost when a course is re-published with more mandatory preparations, an
    occasion is re-planned with more days or cancelled, or a day is withdrawn; the projection
    then follows the facts.
    """

    added: tuple[Completion, ...] = ()
    removed: tuple[Completion, ...] = ()

    def participants(self) -> set[str]:
        if not self.removed and len(self.added) == 1:
            return {self.added[0][0]}
        return {c[0] for c in self.added} | {c[0] for c in self.removed}


NO_CHANGES = CompletionChanges()
_NO_ITEMS: dict[str, int] = {}  # read-only, shared
_NO_OCCASIONS: dict[str, str] = {}  # read-only, shared

# The NamedTuple's own constructor is Python code; a completion is recorded for one event in
# ten, so `_record` builds its result with tuple's: `_changes(CompletionChanges, (added, removed))`.
_changes = tuple.__new__


class Completions:
    """The completion rule as a fold over contract events."""

    def __init__(self) -> None:
        self._occasions = Occasions()
        self._plans = self._occasions.plans
        self._attendance = AttendedDays()
        # Memory is what a fold's time goes to on a log of a million events (page faults,
        # cache misses), so preparations are kept as bits: each (course, item) seen gets one
        # (a catalogue has tens), a participant's preparations are one int, and a course's
        # mandatory preparations are the bits they must all have.
        self._item_bits: dict[str, dict[str, int]] = {}  # course -> item -> its bit
        self._mandatory: LatestBy[str, int] = LatestBy()  # course -> bits of its mandatory items
        self._prepared: dict[str, int] = {}  # participant -> bits of the items they completed
        # participant -> the occasions they attended, each with its course, flat: (course,
        # occasion, course, occasion, ...) in the order attended. A dict per participant and a
        # tuple per course took about 540 bytes a participant of 7 occasions, this 152.
        self._attending: dict[str, tuple[str, ...]] = {}
        self._bits_given = 0
        self._by_participant: dict[str, dict[str, str]] = {}
        self._wire()

    def _wire(self) -> None:
        """The handler per type: bound methods, made again after unpickling (a snapshot keeps
        the fold's facts, not its functions)."""
        self._handlers: dict[str, Callable[[Envelope], CompletionChanges]] = {
            "CourseDayAttended": self._attended,
            "PreparationCompleted": self._prepared_item,
            "CoursePublished": self._published,
            "CourseOccasionPlanned": self._planned,
            "CourseOccasionRescheduled": self._rescheduled,
            "CourseOccasionCancelled": self._cancelled,
            "AttendanceWithdrawn": self._withdrawn,
        }

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        del state["_handlers"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._wire()

    # --- the fold -------------------------------------------------------------------------

    def apply(self, env: Envelope) -> list[Completion]:
        """Apply one event; the completions it made true, each reported exactly once."""
        return list(self.changes(env).added)

    @property
    def appliers(self) -> dict[str, Callable[[Envelope], object]]:
        """Per event type this fold does anything with, the function that applies it, for a
        loop that needs no change report (replay): the same code as `apply`."""
        return dict.fromkeys(self._handlers, self.changes)

    def changes(self, env: Envelope) -> CompletionChanges:
        """Apply one event; completions gained and lost (empty for a redelivery: a fact the
        fold holds already changes nothing, see `shared.projections`)."""
        handler = self._handlers.get(env.type)
        if handler is None:
            return NO_CHANGES
        return handler(env)

    @property
    def fact_handlers(self) -> dict[str, Callable[[Envelope], CompletionChanges]]:
        """The handler per fact type: for a fold built on this one (progression,
        evaluations), so each event costs one lookup."""
        return dict(self._handlers)

    # --- reading --------------------------------------------------------------------------

    @property
    def completed(self) -> set[Completion]:
        return set(self._all())

    def of_participant(self, participant_id: str) -> dict[str, str]:
        """occasion_id -> course_id of every occasion the participant completed."""
        return self._by_participant.get(participant_id, {})

    def per_course(self, occasions: Iterable[str] | None = None,
                   courses: Collection[str] | None = None) -> Counter[str]:
        """Number of completions (participant, occasion) per course; of every occasion
        (None) or of these occasions (a completion's participant attended its occasion), of
        every course (None) or of these (a completion's course is its occasion's, as planned
        now: a new plan re-evaluates the occasion's completions)."""
        if occasions is None:
            if courses is None:
                return Counter(course for _, course, _ in self._all())
            occasions = [o for c in courses for o in self._occasions.of_course(c)]
        counts: Counter[str] = Counter()
        done = self._by_participant
        for occasion_id in occasions:
            for participant_id in self._attendance.participants(occasion_id):
                course_id = done.get(participant_id, _NO_OCCASIONS).get(occasion_id)
                if course_id is not None and (courses is None or course_id in courses):
                    counts[course_id] += 1
        return counts

    def result(self) -> dict[str, list[dict[str, str]]]:
        """Every completion, sorted: the facts the certification service certifies."""
        rows = sorted(self._all())
        return {
            "completions": [
                {"participant_id": p, "course_id": c, "occasion_id": o} for p, c, o in rows
            ]
        }

    def plan(self, occasion_id: str) -> Plan | None:
        """The occasion's plan in force (course, region, dates), or None if not yet known."""
        return self._plans.get(occasion_id)

    def left(self, participant_id: str, occasion_id: str) -> tuple[list[int], list[str]]:
        """What the rule still misses for this participant and occasion: the plan's days not
        attended, and the mandatory preparations of its course not done (item ids, sorted).
        For a participant's route; the rule itself is `_completed_with`."""
        plan = self._plans.get(occasion_id)
        if plan is None:
            return [], []
        attended = self._attendance.days(participant_id, occasion_id)
        days = [day for day in sorted(plan.dates) if not attended & (1 << day)]
        missing = (self._mandatory.values.get(plan.course_id) or 0) & ~self._prepared.get(
            participant_id, 0)
        items = self._item_bits.get(plan.course_id, _NO_ITEMS)
        return days, sorted(item for item, bit in items.items() if missing & bit)

    def _all(self) -> Iterator[Completion]:
        for participant_id, occasions in self._by_participant.items():
            for occasion_id, course_id in occasions.items():
                yield participant_id, course_id, occasion_id

    # --- handlers -------------------------------------------------------------------------

    # The two handlers below run for about half the events of a log, so they look their
    # state up once, in place, without helper calls. A participant's id is interned: the
    # fold's tables (and the certification consumer's beside them) then hold one string per
    # participant rather than the copy of whichever event came first to each, in memory and
    # in a snapshot (pickle writes an object once, not equal strings once).

    def _attended(self, env: Envelope) -> CompletionChanges:
        data: CourseDayAttended = env.data  # type: ignore[assignment]
        participant_id, occasion_id = intern(data.participant_id), intern(data.occasion_id)
        before, days = self._attendance.attended(participant_id, occasion_id, data.day)
        if days == before:
            return NO_CHANGES
        try:
            plan = self._plans[occasion_id]
        except KeyError:
            return NO_CHANGES  # indexed and evaluated when the plan arrives
        occasion_id = plan.occasion_id  # the one string kept for it, not this event's copy
        if not before:
            self._attend(participant_id, plan.course_id, occasion_id)
        wanted = plan.day_bits
        if days & wanted != wanted or before & wanted == wanted:
            return NO_CHANGES  # not every day yet; or every day already, decided then
        completed = self._completed_with(participant_id, plan, days)
        return self._record(participant_id, occasion_id, completed)

    def _prepared_item(self, env: Envelope) -> CompletionChanges:
        data: PreparationCompleted = env.data  # type: ignore[assignment]
        participant_id, course_id = intern(data.participant_id), data.course_id
        try:
            bit = self._item_bits[course_id][data.item_id]
        except KeyError:  # an item seen for the first time
            bit = self._new_bit(course_id, data.item_id)
        held = self._prepared.get(participant_id, 0)
        if held & bit:
            return NO_CHANGES
        self._prepared[participant_id] = held | bit
        attending = self._attending.get(participant_id)
        if attending is None or course_id not in attending:
            return NO_CHANGES
        return self._reevaluate([(participant_id, attending[i + 1])
                                 for i in range(0, len(attending), 2)
                                 if attending[i] == course_id])

    def _new_bit(self, course_id: str, item_id: str) -> int:
        """The bit of an item seen for the first time (bits are never reused)."""
        bit = 1 << self._bits_given
        self._bits_given += 1
        self._item_bits.setdefault(course_id, {})[item_id] = bit
        return bit

    def _bits_of(self, course_id: str, item_ids: Iterable[str]) -> int:
        items = self._item_bits.get(course_id, _NO_ITEMS)
        bits = 0
        for item_id in item_ids:
            bits |= items.get(item_id) or self._new_bit(course_id, item_id)
        return bits

    def _published(self, env: Envelope) -> CompletionChanges:
        data = cast(CoursePublished, env.data)
        mandatory = self._bits_of(
            data.course_id, (p.item_id for p in data.preparations if p.mandatory))
        if not self._mandatory.offer(data.course_id, packed_stamp(env), mandatory):
            return NO_CHANGES
        return self._reevaluate(
            (participant_id, occasion_id)
            for occasion_id in self._occasions.of_course(data.course_id)
            for participant_id in self._attendance.participants(occasion_id)
        )

    def _withdrawn(self, env: Envelope) -> CompletionChanges:
        data = cast(AttendanceWithdrawn, env.data)
        before, after = self._attendance.withdrawn(data.participant_id, data.occasion_id,
                                                   data.day)
        if before == after:
            return NO_CHANGES
        return self._reevaluate_one(data.participant_id, data.occasion_id)

    def _planned(self, env: Envelope) -> CompletionChanges:
        return self._replanned(env, self._occasions.planned)

    def _rescheduled(self, env: Envelope) -> CompletionChanges:
        return self._replanned(env, self._occasions.rescheduled)

    def _cancelled(self, env: Envelope) -> CompletionChanges:
        return self._replanned(env, self._occasions.cancelled)

    def _replanned(
        self, env: Envelope, apply: Callable[[Envelope], Plan | None]
    ) -> CompletionChanges:
        """Apply a plan event; re-evaluate everyone who attended when the plan in force
        changed (its course, days or cancellation)."""
        occasion_id = cast(CourseOccasionPlanned, env.data).occasion_id
        old = self._plans.get(occasion_id)
        plan = apply(env)
        if plan is None:
            return NO_CHANGES
        attendees = list(self._attendance.participants(occasion_id))
        for participant_id in attendees:
            if old is not None:
                self._leave(participant_id, old.course_id, occasion_id)
            self._attend(participant_id, plan.course_id, occasion_id)
        return self._reevaluate((participant_id, occasion_id) for participant_id in attendees)

    def _attend(self, participant_id: str, course_id: str, occasion_id: str) -> None:
        attending = self._attending.get(participant_id)
        if attending is None:
            self._attending[participant_id] = (course_id, occasion_id)
            return
        for i in range(1, len(attending), 2):
            if attending[i] == occasion_id and attending[i - 1] == course_id:
                return
        self._attending[participant_id] = (*attending, course_id, occasion_id)

    def _leave(self, participant_id: str, course_id: str, occasion_id: str) -> None:
        attending = self._attending.get(participant_id)
        if attending is None:
            return
        self._attending[participant_id] = tuple(
            item for i in range(0, len(attending), 2)
            if attending[i] != course_id or attending[i + 1] != occasion_id
            for item in attending[i:i + 2])

    # --- the rule -------------------------------------------------------------------------

    def _completed_course(self, participant_id: str, occasion_id: str) -> str | None:
        """The course completed on this occasion, or None: the completion rule itself."""
        plan = self._plans.get(occasion_id)
        if plan is None:
            return None
        return self._completed_with(
            participant_id, plan, self._attendance.days(participant_id, occasion_id)
        )

    def _completed_with(
        self, participant_id: str, plan: Plan, attended: int
    ) -> str | None:
        """The rule, given the occasion's plan and the days the participant attended of it
        (as `AttendedDays` keeps them)."""
        mandatory = self._mandatory.values.get(plan.course_id)
        if mandatory is None or plan.cancelled:
            return None
        if attended & plan.day_bits != plan.day_bits:
            return None
        if self._prepared.get(participant_id, 0) & mandatory != mandatory:
            return None
        return plan.course_id

    def _reevaluate(self, candidates: Iterable[tuple[str, str]]) -> CompletionChanges:
        added: list[Completion] = []
        removed: list[Completion] = []
        for participant_id, occasion_id in candidates:
            changes = self._reevaluate_one(participant_id, occasion_id)
            added += changes.added
            removed += changes.removed
        if not added and not removed:
            return NO_CHANGES
        return CompletionChanges(tuple(added), tuple(removed))

    def _reevaluate_one(self, participant_id: str, occasion_id: str) -> CompletionChanges:
        """Apply the rule to one participant and occasion; record and report any change."""
        return self._record(
            participant_id, occasion_id, self._completed_course(participant_id, occasion_id)
        )

    def _record(
        self, participant_id: str, occasion_id: str, after: str | None
    ) -> CompletionChanges:
        """Hold `after` (the course completed on the occasion, or None); report any change."""
        done = self._by_participant.get(participant_id)
        before = None if done is None else done.get(occasion_id)
        if before == after:
            return NO_CHANGES
        removed: tuple[Completion, ...] = ()
        if before is not None:
            removed = ((participant_id, before, occasion_id),)
            del self._by_participant[participant_id][occasion_id]
        if after is None:
            return CompletionChanges((), removed)
        if done is None:
            done = self._by_participant[participant_id] = {}
        done[occasion_id] = after
        return _changes(CompletionChanges, (((participant_id, after, occasion_id),), removed))
