"""Who may do what in scheduling, per role and scope; one function per decision.

System may do everything. Otherwise:

- publish courses: nobody else (the national owner publishes through the system);
- read the catalogue, the occasions and one occasion's public part: every role;
- plan an occasion, assign trainers: the regional coordinator of its region;
- book: the participant themself, a municipal administrator for their own municipality, the
  coordinator of the occasion's region;
- cancel: the participant themself, the administrator of the municipality the booking was made
  for, the coordinator of the occasion's region;
- call in a reserve, register attendance: the occasion's course leader, the coordinator of its
  region;
- an occasion's roster: the national analyst, the coordinator of its region, trainers on its
  team, and a municipal administrator for the participants booked for their municipality only;
- a participant's bookings: the participant, the national analyst; a coordinator sees those in
  their region, a municipal administrator those made for their municipality;
- a trainer's assignments: the trainer, the national analyst; a coordinator sees those in their
  region;
- the planning estimate: the coordinator of the region, the national analyst.

Outside these, 403 and nothing is written. A reader whose scope holds none of what a filtered
read would show (an administrator reading the roster of an occasion with nobody from their
municipality, a coordinator reading the bookings of a participant who has none in their region)
is answered 403, not an empty list.

A municipal administrator books for a municipality named in the command: which municipality a
participant belongs to is enrolment's knowledge, so scheduling records the municipality the
booking was made for and scopes cancellations by it.
"""

from __future__ import annotations

from typing import Any

from services.scheduling.application import BookParticipant
from services.scheduling.domain import Occasion
from shared.platform.auth import Principal, Role, forbid, require

OWN_REGION = "Du kan bara planera och administrera kurstillfällen i din egen region."


def coordinator_of(who: Principal, region_id: str) -> None:
    """System, or the coordinator of this region."""
    require(who, Role.REGIONAL_COORDINATOR)
    if who.role is Role.REGIONAL_COORDINATOR and who.region_id != region_id:
        raise forbid(OWN_REGION)


def may_book(who: Principal, occasion: Occasion, cmd: BookParticipant) -> None:
    require(who, Role.PARTICIPANT, Role.MUNICIPAL_ADMIN, Role.REGIONAL_COORDINATOR)
    if who.role is Role.PARTICIPANT and (
        who.participant_id != cmd.participant_id
        or who.municipality_id not in (None, cmd.municipality_id)
    ):
        raise forbid("Du kan bara boka dig själv.")
    if who.role is Role.MUNICIPAL_ADMIN and who.municipality_id != cmd.municipality_id:
        raise forbid("Du kan bara boka deltagare i din egen kommun.")
    if who.role is Role.REGIONAL_COORDINATOR:
        coordinator_of(who, occasion.region_id)


def may_cancel(who: Principal, occasion: Occasion, participant_id: str) -> None:
    require(who, Role.PARTICIPANT, Role.MUNICIPAL_ADMIN, Role.REGIONAL_COORDINATOR)
    if who.role is Role.PARTICIPANT and who.participant_id != participant_id:
        raise forbid("Du kan bara avboka dig själv.")
    if who.role is Role.MUNICIPAL_ADMIN and (
        occasion.municipality_of.get(participant_id) != who.municipality_id
    ):
        raise forbid("Du kan bara avboka bokningar gjorda för din egen kommun.")
    if who.role is Role.REGIONAL_COORDINATOR:
        coordinator_of(who, occasion.region_id)


def leader_or_coordinator(who: Principal, occasion: Occasion) -> None:
    """The occasion's course leader, its region's coordinator, or system."""
    require(who, Role.TRAINER, Role.REGIONAL_COORDINATOR)
    if who.role is Role.TRAINER:
        leader = occasion.leader
        if leader is None or who.trainer_id != leader.trainer_id:
            raise forbid("Bara kurstillfällets kursledare får registrera detta.")
    if who.role is Role.REGIONAL_COORDINATOR:
        coordinator_of(who, occasion.region_id)


def roster_scope(who: Principal, occasion: Occasion) -> str | None:
    """None: the whole roster; a municipality id: only that municipality's participants."""
    require(who, Role.NATIONAL_ANALYST, Role.REGIONAL_COORDINATOR, Role.TRAINER,
            Role.MUNICIPAL_ADMIN)
    if who.role is Role.REGIONAL_COORDINATOR:
        coordinator_of(who, occasion.region_id)
    if who.role is Role.TRAINER and who.trainer_id not in occasion.team:
        raise forbid("Du är inte med i kurstillfällets utbildarteam.")
    if who.role is Role.MUNICIPAL_ADMIN:
        if who.municipality_id not in occasion.municipality_of.values():
            raise forbid("Ingen från din kommun är bokad på kurstillfället.")
        return who.municipality_id
    return None


def _within(who: Principal, rows: list[dict[str, Any]], reason: str) -> list[dict[str, Any]]:
    """The rows in the reader's scope; 403 when there are rows and none is."""
    if who.role is Role.MUNICIPAL_ADMIN:
        visible = [r for r in rows if r["municipality_id"] == who.municipality_id]
    elif who.role is Role.REGIONAL_COORDINATOR:
        visible = [r for r in rows if r["region_id"] == who.region_id]
    else:
        visible = rows
    if rows and not visible:
        raise forbid(reason)
    return visible


def bookings_of(who: Principal, participant_id: str,
                rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A participant's bookings: their own, or those within the reader's scope."""
    require(who, Role.PARTICIPANT, Role.MUNICIPAL_ADMIN, Role.REGIONAL_COORDINATOR,
            Role.NATIONAL_ANALYST)
    if who.role is Role.PARTICIPANT and who.participant_id != participant_id:
        raise forbid("Du kan bara se dina egna bokningar.")
    return _within(who, rows, "Deltagaren har inga bokningar inom ditt område.")


def assignments_of(who: Principal, trainer_id: str,
                   rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A trainer's assignments: their own, or those within the reader's region."""
    require(who, Role.TRAINER, Role.REGIONAL_COORDINATOR, Role.NATIONAL_ANALYST)
    if who.role is Role.TRAINER and who.trainer_id != trainer_id:
        raise forbid("Du kan bara se dina egna uppdrag.")
    return _within(who, rows, "Utbildaren har inga uppdrag i din region.")


def may_estimate(who: Principal, region_id: str) -> None:
    require(who, Role.REGIONAL_COORDINATOR, Role.NATIONAL_ANALYST)
    if who.role is Role.REGIONAL_COORDINATOR:
        coordinator_of(who, region_id)
