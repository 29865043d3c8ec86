"""Who may do what in scheduling, per role and scope; one function per decision.

System may do everything. Otherwise:

| what | who |
| --- | --- |
| publish the catalogue or a course | nobody else (the national owner publishes through the system) |
| read the catalogue | every role |
| list occasions, read one occasion's public part | every role; a trainer only the occasions they are on |
| plan an occasion | the regional coordinator of its region |
| book, cancel | the participant themself; a municipal administrator for participants registered in their own municipality; the coordinator of the occasion's region, for participants of municipalities in their region (cancel: any booking on their occasion) |
| assign trainers | the coordinator of the occasion's region (any registered trainer: regions borrow trainers) |
| re-plan an occasion's days, cancel it, take a trainer off its team | the coordinator of the occasion's region |
| call in a reserve (and undo it), register attendance | the occasion's course leader, the coordinator of its region |
| register attendance for a day of a year the region has closed (a late report) | the coordinator of the occasion's region |
| withdraw a participant-day reported by mistake (`AttendanceWithdrawn`) | the coordinator of the occasion's region |
| an occasion's roster | the coordinator of its region, trainers on its team, a municipal administrator (only the participants registered in their municipality) |
| a participant's bookings | the participant; the administrator of their municipality; the coordinator of their municipality's region |
| a trainer's assignments | the trainer; the coordinator of their home municipality's region |
| the planning estimate | the coordinator of the region, the national analyst |

The national analyst sees aggregates (the catalogue, occasions and their counts, estimates),
never individuals (rosters, bookings, assignments).

A role that may never do a thing gets 403, decided before any id is looked up. A role that may,
naming an id outside its scope, gets the same 404 as for an id that does not exist (see
`shared.platform.access`), so ids cannot be probed; nothing is written either way. Which
municipality a participant belongs to, and a municipality's region, come from scheduling's copy
(`projections/registry.py`), never from the request.
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Callable, Iterable

from services.scheduling.application import not_known
from services.scheduling.domain import Occasion
from shared.platform.access import hidden
from shared.platform.auth import Principal, Role, forbid, require
from shared.platform.copies import KnownParticipant, KnownTrainer

SYSTEM, PARTICIPANT, ADMIN, COORDINATOR, TRAINER, ANALYST = (
    Role.SYSTEM, Role.PARTICIPANT, Role.MUNICIPAL_ADMIN, Role.REGIONAL_COORDINATOR,
    Role.TRAINER, Role.NATIONAL_ANALYST)


def publish(who: Principal) -> None:
    require(who, SYSTEM)


def plan_in(who: Principal, region_id: str) -> None:
    """System, or the coordinator of this region (another region: as if it did not exist)."""
    require(who, COORDINATOR)
    if who.role is COORDINATOR and who.region_id != region_id:
        raise not_known("region_id", region_id)


def estimate(who: Principal, region_id: str) -> None:
    require(who, COORDINATOR, ANALYST)
    if who.role is COORDINATOR and who.region_id != region_id:
        raise not_known("region_id", region_id)


def only_trainers_own(who: Principal) -> str | None:
    """For lists of occasions: the trainer whose occasions alone are shown, or None (all)."""
    return (who.trainer_id or "") if who.role is TRAINER else None


# Decisions that depend on what an id names are made in two steps: the role is checked when
# the endpoint calls the function (before anything is looked up), and the function returns
# the check of the scope, which the handler calls with what it loaded.

OccasionCheck = Callable[[Occasion], None]
BookingCheck = Callable[[Occasion, KnownParticipant | None], None]


def _coordinator_of(who: Principal, occasion: Occasion) -> None:
    if who.role is COORDINATOR and who.region_id != occasion.region_id:
        raise hidden("occasion_id", occasion.occasion_id)


def _on_team(who: Principal, occasion: Occasion) -> None:
    if who.role is TRAINER and who.trainer_id not in occasion.team:
        raise hidden("occasion_id", occasion.occasion_id)


def occasion(who: Principal) -> OccasionCheck:
    """The public part of an occasion: everyone; a trainer only the occasions they are on."""
    return lambda o: _on_team(who, o)


def coordinate(who: Principal) -> OccasionCheck:
    """System, or the coordinator of the occasion's region (the team, re-planning,
    cancelling)."""
    require(who, COORDINATOR)
    return lambda o: _coordinator_of(who, o)


def lead(who: Principal) -> OccasionCheck:
    """The occasion's course leader, its region's coordinator, or system (attendance,
    reserves called in and undone)."""
    require(who, TRAINER, COORDINATOR)

    def check(o: Occasion) -> None:
        _coordinator_of(who, o)
        _on_team(who, o)
        leader = o.leader
        if who.role is TRAINER and (leader is None or who.trainer_id != leader.trainer_id):
            raise forbid("Bara kurstillfällets kursledare får registrera detta.")

    return check


def reports_late(who: Principal) -> bool:
    """Whether the caller may report attendance for a year its region has closed: the
    region's coordinator (whose scope `lead` checks) or system; the course leader may not."""
    return who.role in (SYSTEM, COORDINATOR)


def withdraw(who: Principal) -> OccasionCheck:
    """A participant-day reported by mistake is withdrawn by the region's coordinator."""
    return coordinate(who)


def _participant_in_scope(who: Principal, participant_id: str,
                          known: KnownParticipant | None) -> None:
    """The participant is the caller, or registered within the caller's municipality or
    region; else as if unknown."""
    if known is None or (
        (who.role is PARTICIPANT and who.participant_id != participant_id)
        or (who.role is ADMIN and who.municipality_id != known.municipality_id)
        or (who.role is COORDINATOR and who.region_id != known.region_id)
    ):
        raise not_known("participant_id", participant_id)


def book(who: Principal, participant_id: str) -> BookingCheck:
    require(who, PARTICIPANT, ADMIN, COORDINATOR)

    def check(o: Occasion, known: KnownParticipant | None) -> None:
        _coordinator_of(who, o)
        _participant_in_scope(who, participant_id, known)

    return check


def cancel(who: Principal, participant_id: str) -> BookingCheck:
    """As booking; the coordinator of the occasion's region cancels any booking on it."""
    require(who, PARTICIPANT, ADMIN, COORDINATOR)

    def check(o: Occasion, known: KnownParticipant | None) -> None:
        _coordinator_of(who, o)
        if who.role not in (SYSTEM, COORDINATOR):
            _participant_in_scope(who, participant_id, known)

    return check


RosterCheck = Callable[[Occasion], str | None]


def roster(who: Principal) -> RosterCheck:
    """The check returns None (the whole roster) or the municipality whose registered
    participants alone are shown (a municipal administrator's)."""
    require(who, COORDINATOR, TRAINER, ADMIN)

    def check(o: Occasion) -> str | None:
        _coordinator_of(who, o)
        _on_team(who, o)
        return (who.municipality_id or "") if who.role is ADMIN else None

    return check


def visible_in_roster(municipality_id: str | None,
                      known: dict[str, KnownParticipant]) -> set[str] | None:
    """The participants of a roster that a reader limited to `municipality_id` may see."""
    if municipality_id is None:
        return None
    return {p for p, k in known.items() if k.municipality_id == municipality_id}


def roster_ids(o: Occasion) -> Iterable[str]:
    """Everyone a roster may name: booked, waitlisted, or marked present on some day."""
    yield from o.booked
    yield from o.waitlist
    for present in o.attended.values():
        yield from present


def bookings_of(who: Principal, participant_id: str) -> Callable[[KnownParticipant | None],
                                                                 None]:
    require(who, PARTICIPANT, ADMIN, COORDINATOR)
    return lambda known: _participant_in_scope(who, participant_id, known)


def assignments_of(who: Principal, trainer_id: str) -> Callable[[KnownTrainer | None], None]:
    require(who, TRAINER, COORDINATOR)

    def check(known: KnownTrainer | None) -> None:
        if known is None or (
            (who.role is TRAINER and who.trainer_id != trainer_id)
            or (who.role is COORDINATOR and who.region_id != known.region_id)
        ):
            raise not_known("trainer_id", trainer_id)

    return check
