"""What the certification consumer keeps in memory, fed each contract event once.

The rules come from `shared/projections`: `Completions` decides who completed what (and what
they still miss), `Evaluations` gives the statistics. Beside them this module keeps only
facts, no rule: the published courses (with their questionnaires), who is registered where
and at which level, who is booked on which occasion, and the event ids behind each completion
(the evidence a certificate lists: ids and dates, never names).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from sys import intern
from typing import Any, cast

from services.certification.projections.regional import RegionalEvaluations
from shared.events import Envelope
from shared.events import models as contract
from shared.projections.completions import NO_CHANGES, CompletionChanges, Completions
from shared.projections.evaluations import Evaluations
from shared.projections.memberships import Memberships
from shared.projections.versions import LatestBy, add_once, packed_stamp, stamp_of

_DATE_BITS = 22  # a date's ordinal (`date.toordinal`) is below 2**22
_ID_MASK = (1 << 128) - 1


def evidence_stamp(env: Envelope) -> int:
    """An event's stamp (`packed_stamp`: `occurred_at`, then id; the earliest report is the
    smallest) with the date it occurred on (in its own offset, as `occurred_at.date()`
    gives it) below it: what a certificate's evidence lists of it, as one int."""
    return packed_stamp(env) << _DATE_BITS | env.occurred_at.toordinal()


def _event_of(stamp: int) -> uuid.UUID:
    return uuid.UUID(int=stamp >> _DATE_BITS & _ID_MASK)


def _date_of(stamp: int) -> dt.date:
    return dt.date.fromordinal(stamp & ((1 << _DATE_BITS) - 1))


@dataclass
class Person:
    """A participant as the bus tells it (no personal data is ever on the bus)."""

    participant_id: str
    journey: str
    role: str
    years_in_profession: float
    registered_at: dt.datetime
    erased: bool = False


@dataclass(slots=True)
class Touched:
    """What one event changed: completions for the certificate policy, and the read rows."""

    changes: CompletionChanges = NO_CHANGES
    participants: set[str] = field(default_factory=set)
    courses: set[str] = field(default_factory=set)
    regions: set[str] = field(default_factory=set)
    evaluation_regions: set[str] = field(default_factory=set)
    # Which time each completion of `changes` is gained (`gains`, as `changes.added`) or lost
    # (`losses`, as `changes.removed`) in the history: 1 the first time, 2 the second...
    gains: tuple[int, ...] = ()
    losses: tuple[int, ...] = ()


def _turns(turns: dict[Any, int], completions: Iterable[Any], gained: bool) -> tuple[int, ...]:
    """Count one more turn of each completion, gained (`gained`) or lost, and say which gain
    or loss it is: the n-th (turn n*2-1 is the n-th gain, turn n*2 the n-th loss).

    A completion gained once and never lost (turn 1, nearly all of them) is not kept: a gain
    comes after an even turn, 0 when none is held, and a loss after an odd one, 1 when none is
    held. Over 1,620,789 events, 160,454 entries (14.8 MiB) became the 642 lost or regained."""
    counted = []
    for completion in completions:
        turn = turns.get(completion, 0 if gained else 1) + 1
        if turn > 1:
            turns[completion] = turn
        counted.append((turn + 1) // 2)
    return tuple(counted)


class CertificationFacts:
    def __init__(self) -> None:
        self.evaluations = Evaluations()
        self.completions: Completions = self.evaluations.completions  # one fold of the rule
        self.regional = RegionalEvaluations(self.evaluations)
        self.memberships = Memberships()
        self.courses: LatestBy[str, contract.CoursePublished] = LatestBy()
        self.people: dict[str, Person] = {}
        self.regions: LatestBy[str, str] = LatestBy()  # region -> name
        self.levels: LatestBy[str, str] = LatestBy()
        # (participant, occasion) -> the latest booking or cancellation: its `packed_stamp`,
        # shifted, and 1 when booked (one int in one dict, where a `LatestBy` kept two dicts)
        self.bookings: dict[tuple[str, str], int] = {}
        # Ids each once, as tuples (a set of a few takes 216-728 bytes, a tuple 48 and 8 an id).
        self.booked_on: dict[str, tuple[str, ...]] = {}  # occasion -> participants ever booked
        self.occasions_of: dict[str, tuple[str, ...]] = {}  # participant -> occasions ever booked
        # The evidence: per day attended, the stamp of its earliest report; per preparation,
        # of its earliest report (`evidence_stamp`: one int each, not an envelope or a tuple:
        # a fold of the national history holds millions of them), each kept flat as (day,
        # stamp, day, stamp, ...) and (item, stamp, ...) in the order first reported (`_earliest`):
        # a dict of a few took 232 bytes or more, the tuple 40 and 16 an entry.
        self.attended: dict[tuple[str, str], tuple[int, ...]] = {}  # (participant, occasion)
        self.prepared: dict[tuple[str, str], tuple[str | int, ...]] = {}  # (participant, course)
        # Per completion, how often it has been gained or lost (gained first, then in turn):
        # the policy acts on the n-th gain only if its store holds fewer than n certificates
        # issued for it, and so a rebuild over the history acts on nothing acted on before.
        # Only the completions lost at least once (`_turns`).
        self.turns: dict[tuple[str, str, str], int] = {}

    # -- the fold ---------------------------------------------------------------------------

    def apply(self, env: Envelope) -> Touched:
        """Apply one new event (the caller applies each id once)."""
        evaluated, changes = self.evaluations.changes(env)
        touched = Touched(changes, changes.participants() if changes is not NO_CHANGES
                          else set(), set(evaluated), set(),
                          self.regional.apply(env, evaluated, changes))
        if changes is not NO_CHANGES:
            # losses first, as the changes happened: a completion's gains are its odd turns,
            # its losses its even ones
            touched.losses = _turns(self.turns, changes.removed, False)
            touched.gains = _turns(self.turns, changes.added, True)
        handler = _HANDLERS.get(env.type)
        if handler is not None:
            handler(self, env, touched)
        return touched

    def _on_RegionRegistered(self, env: Envelope, t: Touched) -> None:  # noqa: N802
        data = cast(contract.RegionRegistered, env.data)
        if self.regions.offer(data.region_id, stamp_of(env), data.name):
            t.regions.add(data.region_id)

    def _on_CoursePublished(self, env: Envelope, t: Touched) -> None:  # noqa: N802
        data = cast(contract.CoursePublished, env.data)
        if self.courses.offer(data.course_id, stamp_of(env), data):
            t.courses.add(data.course_id)
            t.participants |= {p for p, person in self.people.items()
                               if person.journey == data.journey}

    def _on_ParticipantRegistered(self, env: Envelope, t: Touched) -> None:  # noqa: N802
        data = cast(contract.ParticipantRegistered, env.data)
        pid = intern(data.participant_id)
        held = self.people.get(pid)
        if held is None or (env.occurred_at, env.id.int) > (held.registered_at, 0):
            self.people[pid] = Person(
                pid, intern(data.journey), intern(data.role), data.years_in_profession,
                env.occurred_at, held.erased if held else False)
        self.memberships.registered(env)
        self.levels.offer(pid, packed_stamp(env), intern(data.level))
        t.participants.add(pid)

    def _on_ParticipantMoved(self, env: Envelope, t: Touched) -> None:  # noqa: N802
        self.memberships.moved(env)
        t.participants.add(cast(contract.ParticipantMoved, env.data).participant_id)

    def _on_ParticipantLevelChanged(self, env: Envelope, t: Touched) -> None:  # noqa: N802
        data = cast(contract.ParticipantLevelChanged, env.data)
        pid = intern(data.participant_id)
        self.levels.offer(pid, packed_stamp(env), intern(data.level))
        t.participants.add(pid)

    def _on_ParticipantErased(self, env: Envelope, t: Touched) -> None:  # noqa: N802
        pid = cast(contract.ParticipantErased, env.data).participant_id
        if pid in self.people:
            self.people[pid].erased = True
        t.participants.add(pid)

    def _on_ParticipantBooked(self, env: Envelope, t: Touched) -> None:  # noqa: N802
        self._booking(env, True, t)

    def _on_BookingCancelled(self, env: Envelope, t: Touched) -> None:  # noqa: N802
        self._booking(env, False, t)

    def _booking(self, env: Envelope, booked: bool, t: Touched) -> None:
        data: contract.ParticipantBooked = env.data  # type: ignore[assignment]
        pid, oid = intern(data.participant_id), intern(data.occasion_id)
        key, stamp = (pid, oid), packed_stamp(env)
        held = self.bookings.get(key)
        if held is None or held >> 1 < stamp:  # the greatest stamp wins, as `LatestBy`
            self.bookings[key] = stamp << 1 | booked
        add_once(self.booked_on, oid, pid)
        add_once(self.occasions_of, pid, oid)
        t.participants.add(pid)

    def _on_CourseDayAttended(self, env: Envelope, t: Touched) -> None:  # noqa: N802
        data: contract.CourseDayAttended = env.data  # type: ignore[assignment]
        pid, oid = intern(data.participant_id), intern(data.occasion_id)
        days = _earliest(self.attended.get((pid, oid), ()), data.day, evidence_stamp(env))
        if days is not None:
            self.attended[pid, oid] = days
        add_once(self.occasions_of, pid, oid)
        t.participants.add(pid)

    def _on_PreparationCompleted(self, env: Envelope, t: Touched) -> None:  # noqa: N802
        data: contract.PreparationCompleted = env.data  # type: ignore[assignment]
        pid, course_id = intern(data.participant_id), intern(data.course_id)
        items = _earliest(self.prepared.get((pid, course_id), ()), intern(data.item_id),
                          evidence_stamp(env))
        if items is not None:
            self.prepared[pid, course_id] = items
        t.participants.add(pid)

    def _on_plan(self, env: Envelope, t: Touched) -> None:
        occasion_id = cast(contract.CourseOccasionCancelled, env.data).occasion_id
        t.participants.update(self.booked_on.get(occasion_id, ()))

    _on_CourseOccasionPlanned = _on_plan  # noqa: N815
    _on_CourseOccasionRescheduled = _on_plan  # noqa: N815
    _on_CourseOccasionCancelled = _on_plan  # noqa: N815

    def _on_AttendanceWithdrawn(self, env: Envelope, t: Touched) -> None:  # noqa: N802
        t.participants.add(cast(contract.AttendanceWithdrawn, env.data).participant_id)

    # -- reading ----------------------------------------------------------------------------

    def is_booked(self, participant_id: str, occasion_id: str) -> bool:
        return bool(self.bookings.get((participant_id, occasion_id), 0) & 1)

    def evidence(self, participant_id: str, course_id: str,
                 occasion_id: str) -> tuple[dict[str, Any], ...]:
        """The events behind a completion: each planned day's first attendance report, and
        each preparation of the course; ids and dates only."""
        plan = self.completions.plan(occasion_id)
        dates = plan.dates if plan else {}
        days = self.attended.get((participant_id, occasion_id), ())
        rows: list[dict[str, Any]] = [
            {"event_id": str(_event_of(stamp)), "type": "CourseDayAttended", "day": day,
             "date": str(dates[day])}
            for day, stamp in sorted(zip(days[::2], days[1::2], strict=True)) if day in dates]
        items = self.prepared.get((participant_id, course_id), ())
        rows += [{"event_id": str(_event_of(cast(int, stamp))), "type": "PreparationCompleted",
                  "item_id": item, "date": str(_date_of(cast(int, stamp)))}
                 for item, stamp in sorted(zip(items[::2], items[1::2], strict=True),
                                           key=lambda pair: pair[0])]
        return tuple(rows)

    def prepared_items(self, participant_id: str, course_id: str) -> tuple[str, ...]:
        """The preparations of a course the participant completed."""
        return cast(tuple[str, ...], self.prepared.get((participant_id, course_id), ())[::2])

    def participants_of(self, municipality_id: str | None) -> Iterable[str]:
        for pid in self.people:
            if municipality_id is None or self.memberships.current(pid) == municipality_id:
                yield pid


Flat = tuple[Any, ...]


def _earliest(held: Flat, key: Any, stamp: int) -> Flat | None:
    """`held` (key, stamp, key, stamp, ...) with `stamp` for `key` if it is the key's first or
    smaller than the one held; None when it changes nothing."""
    for i in range(0, len(held), 2):
        if held[i] == key:
            if stamp < held[i + 1]:
                return (*held[:i + 1], stamp, *held[i + 2:])
            return None
    return (*held, key, stamp)


_HANDLERS: dict[str, Callable[[CertificationFacts, Envelope, Touched], None]] = {
    name.removeprefix("_on_"): handler for name, handler in vars(CertificationFacts).items()
    if name.startswith("_on_") and name != "_on_plan"}
"""Per event type, the facts' own handler (beside the shared folds')."""
