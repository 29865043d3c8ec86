"""Who may read what in certification, per role and scope; one function per decision.

System may do everything. Otherwise:

- a participant's progression (`/progression`): the participant themself; the municipal
  administrator of their current municipality; the regional coordinator of that
  municipality's region (a municipality's region from certification's copy of
  `MunicipalityJoined`, kept beside the progression). The list: an administrator their
  municipality's, a coordinator their region's (or one of its municipalities'). Not the
  national analyst, who sees aggregates, nor trainers;
- a participant's route and certificates (list, PDF, credential): the participant
  themself, and a municipal administrator of the municipality the participant now belongs to
  (the history follows the person); the national analyst sees routes and certificate rows but
  no PDF (the PDF carries the name);
- verifying a certificate: anyone, without signing in (the QR code leads there);
- submitting an evaluation: the participant themself;
- evaluation statistics: the national analyst (everything), a regional coordinator (their
  region);
- Stationen (staff routes, level-ups due, the workplace-meeting CSV): the municipal
  administrators (supervisors, managers) of that municipality.

Out of scope is answered exactly like unknown (404 with the same text), so that nobody learns
from the answer whether a participant or certificate exists elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, status

from shared.platform.access import hidden
from shared.platform.auth import Principal, Role, require
from shared.platform.copies import Known


def not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{what} finns inte.")


def sees_participant(who: Principal, participant_id: str, municipality_id: str | None,
                     what: str) -> None:
    """The participant, the administrators of their current municipality, the analyst."""
    if who.role in (Role.SYSTEM, Role.NATIONAL_ANALYST):
        return
    if who.role is Role.PARTICIPANT and who.participant_id == participant_id:
        return
    if (who.role is Role.MUNICIPAL_ADMIN and municipality_id is not None
            and who.municipality_id == municipality_id):
        return
    raise not_found(what)


def sees_document(who: Principal, participant_id: str, municipality_id: str | None,
                  what: str) -> None:
    """A certificate as the person shows it (with their name): not the analyst."""
    if who.role is Role.NATIONAL_ANALYST:
        raise not_found(what)
    sees_participant(who, participant_id, municipality_id, what)


def may_evaluate(who: Principal, participant_id: str) -> None:
    if who.role is Role.SYSTEM:
        return
    if who.role is not Role.PARTICIPANT or who.participant_id != participant_id:
        raise not_found(f"Deltagaren {participant_id}")


def statistics_scope(who: Principal, region_id: str | None) -> str | None:
    """The region the reader may see (None: every region)."""
    if who.role in (Role.SYSTEM, Role.NATIONAL_ANALYST):
        return region_id
    if who.role is Role.REGIONAL_COORDINATOR and who.region_id is not None and (
            region_id in (None, who.region_id)):
        return who.region_id
    raise not_found(f"Statistik för {region_id or 'alla regioner'}")


def administers(who: Principal, municipality_id: str) -> None:
    if who.role is Role.SYSTEM:
        return
    if who.role is Role.MUNICIPAL_ADMIN and who.municipality_id == municipality_id:
        return
    raise not_found(f"Kommunen {municipality_id}")


# --- progression (403 by role first, then one 404 for out of scope and unknown) ------------

PARTICIPANT, ADMIN, COORDINATOR = (
    Role.PARTICIPANT, Role.MUNICIPAL_ADMIN, Role.REGIONAL_COORDINATOR)


def read_progression(who: Principal, participant_id: str,
                     places: Known) -> Callable[[dict[str, Any] | None], dict[str, Any]]:
    require(who, PARTICIPANT, ADMIN, COORDINATOR)

    def check(row: dict[str, Any] | None) -> dict[str, Any]:
        if row is None or (
            (who.role is PARTICIPANT and who.participant_id != participant_id)
            or (who.role is ADMIN and who.municipality_id != row.get("municipality_id"))
            or (who.role is COORDINATOR
                and who.region_id != places.region_of(row.get("municipality_id")))
        ):
            raise hidden("participant_id", participant_id)
        return row

    return check


def list_progression(who: Principal, municipality_id: str | None,
                     places: Known) -> list[str] | None:
    """The municipalities whose participants are listed (None: every one)."""
    require(who, ADMIN, COORDINATOR)
    if who.role is ADMIN:
        if municipality_id not in (None, who.municipality_id):
            raise hidden("municipality_id", municipality_id or "")
        return [who.municipality_id or ""]
    if who.role is COORDINATOR:
        if municipality_id is None:
            return places.municipalities_in(who.region_id or "")
        if places.region_of(municipality_id) != who.region_id:
            raise hidden("municipality_id", municipality_id)
    return None if municipality_id is None else [municipality_id]
