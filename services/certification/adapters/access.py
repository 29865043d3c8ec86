"""Who may read what in certification, per role and scope; one function per decision.

System may do everything. Otherwise (403 for a role that may never, before any id is looked
up; out of scope answered exactly like unknown, 404, `shared.platform.access`):

| what | who |
| --- | --- |
| a participant's progression (`/progression/{id}`) and route (`/participants/{id}/route`), their certificates (`/participants/{id}/certificates`, `/certificates/{id}`) | the participant; the municipal administrator of their current municipality; the regional coordinator of that municipality's region |
| the progression list | an administrator their municipality's; a coordinator their region's (or one of its municipalities') |
| a certificate as the person shows it, with their name (`intyg.pdf`, `credential`) | the participant; the administrator of their current municipality |
| verifying a certificate (`/verify`, `/intyg/{code}`, keys, issuers) | anyone, without signing in (the QR code leads there) |
| the questionnaires and submitting an evaluation | the participant themself |
| evaluation statistics | the national analyst (every region); a regional coordinator (their region) |
| Stationen (staff routes, level-ups due, the CSV, manager courses) | the municipal administrators (supervisors, managers) of that municipality |
| a participant's audit trail (`/participants/{id}/history`, `.html`, "as of" a date) | the auditor (every participant); the participant themself; the municipal administrator of their current municipality |

The national analyst sees aggregates, never one person; trainers see no participant. The
history follows the person: a participant's municipality is where they are now (the latest
`occurred_at` wins), a municipality's region comes from certification's copy of
`MunicipalityJoined`.
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.platform.access import hidden
from shared.platform.auth import Principal, Role, require
from shared.platform.copies import Known
from shared.platform.errors import NotFound

PARTICIPANT, ADMIN, COORDINATOR, ANALYST, AUDITOR = (
    Role.PARTICIPANT, Role.MUNICIPAL_ADMIN, Role.REGIONAL_COORDINATOR, Role.NATIONAL_ANALYST,
    Role.AUDITOR)


def not_found(what: str) -> NotFound:
    """For what no role's scope decides (a key id, an issuer): plainly not there."""
    return NotFound(f"{what} finns inte.")


def certificate_hidden(certificate_id: str) -> NotFound:
    return NotFound(f"Intyget {certificate_id} finns inte, eller ligger utanför ditt område.",
                    field="certificate_id")


def _in_scope(who: Principal, participant_id: str, municipality_id: str | None,
              places: Known) -> bool:
    if who.role is Role.SYSTEM:
        return True
    if who.role is PARTICIPANT:
        return who.participant_id == participant_id and municipality_id is not None
    if who.role is ADMIN:
        return municipality_id is not None and who.municipality_id == municipality_id
    return (who.role is COORDINATOR and municipality_id is not None
            and who.region_id == places.region_of(municipality_id))


def read_participant(who: Principal, participant_id: str,
                     places: Known) -> Callable[[str | None], None]:
    """A participant's route and certificate list; the check takes the municipality the
    participant now belongs to (None: unknown here)."""
    require(who, PARTICIPANT, ADMIN, COORDINATOR)

    def check(municipality_id: str | None) -> None:
        if not _in_scope(who, participant_id, municipality_id, places):
            raise hidden("participant_id", participant_id)

    return check


def read_certificate(who: Principal, certificate_id: str, places: Known,
                     document: bool = False) -> Callable[[dict[str, Any] | None, str | None],
                                                         dict[str, Any]]:
    """One certificate: its row, or (`document`) the PDF or credential with the name, which
    the regional coordinator does not get. The check takes the row and the participant's
    municipality now."""
    if document:
        require(who, PARTICIPANT, ADMIN)
    else:
        require(who, PARTICIPANT, ADMIN, COORDINATOR)

    def check(row: dict[str, Any] | None, municipality_id: str | None) -> dict[str, Any]:
        if row is None or not _in_scope(who, row["participant_id"], municipality_id, places):
            raise certificate_hidden(certificate_id)
        return row

    return check


def read_history(who: Principal, participant_id: str) -> Callable[[str | None], None]:
    """A participant's audit trail: the check takes their municipality now (None: unknown).
    The auditor reads anyone's, as the system does; the coordinator does not (ADR 0010: 403)."""
    require(who, AUDITOR, PARTICIPANT, ADMIN)

    def check(municipality_id: str | None) -> None:
        if municipality_id is None:
            raise hidden("participant_id", participant_id)
        if who.role in (AUDITOR, Role.SYSTEM):
            return
        if not ((who.role is PARTICIPANT and who.participant_id == participant_id)
                or (who.role is ADMIN and who.municipality_id == municipality_id)):
            raise hidden("participant_id", participant_id)

    return check


def may_evaluate(who: Principal, participant_id: str) -> None:
    require(who, PARTICIPANT)
    if who.role is PARTICIPANT and who.participant_id != participant_id:
        raise hidden("participant_id", participant_id)


def statistics_scope(who: Principal, region_id: str | None) -> str | None:
    """The region the reader may see (None: every region)."""
    require(who, ANALYST, COORDINATOR)
    if who.role is COORDINATOR:
        if region_id not in (None, who.region_id):
            raise hidden("region_id", region_id or "")
        return who.region_id
    return region_id


def administers(who: Principal, municipality_id: str) -> None:
    require(who, ADMIN)
    if who.role is ADMIN and who.municipality_id != municipality_id:
        raise hidden("municipality_id", municipality_id)


# --- progression (403 by role first, then one 404 for out of scope and unknown) ------------

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
