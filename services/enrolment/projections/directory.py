"""Enrolment's own read model: the lists an event store cannot answer by key.

Regions, municipalities, participants and trainers per municipality and the e-mail claims,
kept by following the service's notification log. The rows and the log position are written in
one transaction; the position row is locked while catching up, so two processes
never apply the same stretch of the log at once. Readers call `catch_up()` first and so read
their own writes. Nothing personal is kept here: participants appear by id and pseudonymous
facts, e-mail claims by the keyed hash that is their aggregate id.

It is a cache of the store, never the authority: commands that need a guarantee (an address
is unclaimed, an account is new) still get it from the store's optimistic concurrency.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from eventsourcing.persistence import Notification

from services.enrolment import domain
from shared.platform.db import Cursor, Database
from shared.platform.store import PydanticMapper, ServiceApplication

NAME = "enrolment-directory"
PAGE = 2000

_UPSERT_REGION = (
    "INSERT INTO enrolment_regions (region_id, name) VALUES (%s, %s) "
    "ON CONFLICT (region_id) DO UPDATE SET name = excluded.name"
)
_UPSERT_MUNICIPALITY = (
    "INSERT INTO enrolment_municipalities (municipality_id, name, region_id) VALUES (%s, %s, %s) "
    "ON CONFLICT (municipality_id) DO UPDATE SET name = excluded.name, "
    "region_id = excluded.region_id"
)
_UPSERT_PARTICIPANT = (
    "INSERT INTO enrolment_participants (participant_id, municipality_id, journey, role, level, "
    "years_in_profession, registered_at, erased) VALUES (%s, %s, %s, %s, %s, %s, %s, 0) "
    "ON CONFLICT (participant_id) DO UPDATE SET municipality_id = excluded.municipality_id, "
    "journey = excluded.journey, role = excluded.role, level = excluded.level, "
    "years_in_profession = excluded.years_in_profession, registered_at = excluded.registered_at"
)
_MOVE = "UPDATE enrolment_participants SET municipality_id = %s WHERE participant_id = %s"
_LEVEL = "UPDATE enrolment_participants SET level = %s WHERE participant_id = %s"
_ERASE = "UPDATE enrolment_participants SET erased = 1 WHERE participant_id = %s"
_UPSERT_TRAINER = (
    "INSERT INTO enrolment_trainers (trainer_id, municipality_id, registered_at) "
    "VALUES (%s, %s, %s) ON CONFLICT (trainer_id) DO UPDATE SET "
    "municipality_id = excluded.municipality_id"
)
_UPSERT_CLAIM = (
    "INSERT INTO enrolment_claims (claim_id, participant_id) VALUES (%s, %s) "
    "ON CONFLICT (claim_id) DO UPDATE SET participant_id = excluded.participant_id"
)

# Which table each statement writes: statements on different tables commute, so a page of the
# log is applied as one ordered list per table, in runs of the same statement (executemany).
_TABLE = {
    _UPSERT_REGION: "regions", _UPSERT_MUNICIPALITY: "municipalities",
    _UPSERT_TRAINER: "trainers",
    _UPSERT_PARTICIPANT: "participants", _MOVE: "participants", _LEVEL: "participants",
    _ERASE: "participants", _UPSERT_CLAIM: "claims",
}

Statement = tuple[str, tuple[Any, ...]]


def _statements(event: Any) -> list[Statement]:
    """The directory's change for one stored event (none for the events it does not list)."""
    match event:
        case domain.RegionRegistered():
            return [(_UPSERT_REGION, (event.region_id, event.name))]
        case domain.MunicipalityJoined():
            return [(_UPSERT_MUNICIPALITY, (event.municipality_id, event.name, event.region_id))]
        case domain.TrainerRegistered():
            return [(_UPSERT_TRAINER, (event.trainer_id, event.municipality_id,
                                       event.occurred_at.isoformat()))]
        case domain.ParticipantRegistered():
            return [(_UPSERT_PARTICIPANT, (
                event.participant_id, event.municipality_id, event.journey, event.role,
                event.level, event.years_in_profession, event.occurred_at.isoformat()))]
        case domain.ParticipantMoved():
            return [(_MOVE, (event.to_municipality_id, event.participant_id))]
        case domain.ParticipantLevelChanged():
            return [(_LEVEL, (event.level, event.participant_id))]
        case domain.ParticipantErased():
            return [(_ERASE, (event.participant_id,))]
        case domain.EmailClaimed():
            return [(_UPSERT_CLAIM, (str(event.originator_id), event.participant_id))]
        case domain.EmailReleased():
            return [(_UPSERT_CLAIM, (str(event.originator_id), None))]
    return []


_LISTED = {
    f"{cls.__module__}:{cls.__qualname__}"
    for cls in (domain.RegionRegistered, domain.MunicipalityJoined, domain.TrainerRegistered,
                domain.ParticipantRegistered, domain.ParticipantMoved,
                domain.ParticipantLevelChanged, domain.ParticipantErased, domain.EmailClaimed,
                domain.EmailReleased)
}


class Directory:
    def __init__(self, db: Database, app: ServiceApplication) -> None:
        self.db = db
        self.app = app
        assert isinstance(app.mapper, PydanticMapper)
        self.mapper = app.mapper

    # -- following the log ------------------------------------------------------------------

    def catch_up(self) -> int:
        """Apply what the store recorded since the last call; return how many stored events.
        A reader that finds the directory up to date takes no lock: only one that finds it
        behind locks the position row, so that two never apply the same stretch of the log."""
        if not self._behind():
            return 0
        done = 0
        while True:
            with self.db.transaction() as cur:
                lock = "" if self.db.is_sqlite else " FOR UPDATE"
                position = int(cur.execute(
                    f"SELECT position FROM enrolment_positions WHERE name = %s{lock}", (NAME,)
                )[0][0])
                notes = self.app.recorder.select_notifications(
                    start=position, limit=PAGE, inclusive_of_start=False)
                if not notes:
                    return done
                self._apply(cur, notes)
                cur.execute("UPDATE enrolment_positions SET position = %s WHERE name = %s",
                            (notes[-1].id, NAME))
            done += len(notes)

    def _behind(self) -> bool:
        rows = self.db.execute("SELECT position FROM enrolment_positions WHERE name = %s",
                               (NAME,))
        last = self.app.recorder.max_notification_id() or 0
        return not rows or int(rows[0][0]) < last

    def _apply(self, cur: Cursor, notes: Sequence[Notification]) -> None:
        per_table: dict[str, list[Statement]] = {}
        for note in notes:
            if note.topic in _LISTED:
                for sql, params in _statements(self.mapper.to_domain_event(note)):
                    per_table.setdefault(_TABLE[sql], []).append((sql, params))
        for statements in per_table.values():
            run: list[tuple[Any, ...]] = []
            for i, (sql, params) in enumerate(statements):
                run.append(params)
                if i + 1 == len(statements) or statements[i + 1][0] != sql:
                    cur.executemany(sql, run)
                    run = []

    # -- reading (callers catch up first) ---------------------------------------------------

    def regions(self) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT region_id, name FROM enrolment_regions ORDER BY region_id")
        return [{"region_id": r, "name": n} for r, n in rows]

    def municipalities(self, region_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT municipality_id, name, region_id FROM enrolment_municipalities"
        params: tuple[Any, ...] = ()
        if region_id is not None:
            sql, params = sql + " WHERE region_id = %s", (region_id,)
        rows = self.db.execute(sql + " ORDER BY municipality_id", params)
        return [{"municipality_id": m, "name": n, "region_id": r} for m, n, r in rows]

    def trainers(self, municipality_id: str, limit: int = 100,
                 offset: int = 0) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT trainer_id, municipality_id, registered_at FROM enrolment_trainers "
            "WHERE municipality_id = %s ORDER BY trainer_id LIMIT %s OFFSET %s",
            (municipality_id, limit, offset))
        return [{"trainer_id": t, "municipality_id": m, "registered_at": r} for t, m, r in rows]

    def participants(self, municipality_id: str, limit: int = 100,
                     offset: int = 0) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT participant_id, municipality_id, journey, role, level, years_in_profession, "
            "registered_at, erased FROM enrolment_participants WHERE municipality_id = %s "
            "ORDER BY participant_id LIMIT %s OFFSET %s", (municipality_id, limit, offset))
        return [_participant(r) for r in rows]

    def participants_where(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(list(ids)):
            marks = ", ".join(["%s"] * len(chunk))
            rows = self.db.execute(
                "SELECT participant_id, municipality_id, journey, role, level, "
                "years_in_profession, registered_at, erased FROM enrolment_participants "
                f"WHERE participant_id IN ({marks})", chunk)
            found.update((r[0], _participant(r)) for r in rows)
        return found

    def active_below(self, levels: Sequence[str]) -> Iterable[dict[str, Any]]:
        """Participants not erased whose level is one of `levels` (candidates to level up)."""
        marks = ", ".join(["%s"] * len(levels))
        rows = self.db.execute(
            "SELECT participant_id, municipality_id, journey, role, level, years_in_profession, "
            "registered_at, erased FROM enrolment_participants "
            f"WHERE erased = 0 AND level IN ({marks}) ORDER BY participant_id", tuple(levels))
        return (_participant(r) for r in rows)

    def claims(self, claim_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str | None]:
        """The known claims among `claim_ids`: the participant holding each, None if released."""
        found: dict[uuid.UUID, str | None] = {}
        for chunk in _chunks([str(c) for c in claim_ids]):
            marks = ", ".join(["%s"] * len(chunk))
            rows = self.db.execute(
                "SELECT claim_id, participant_id FROM enrolment_claims "
                f"WHERE claim_id IN ({marks})", chunk)
            found.update((uuid.UUID(c), p) for c, p in rows)
        return found

    def existing(self, table: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Regions or municipalities among `ids`, by id."""
        reader: Callable[[], list[dict[str, Any]]] = (
            self.regions if table == "regions" else self.municipalities)
        key = "region_id" if table == "regions" else "municipality_id"
        wanted = set(ids)
        return {row[key]: row for row in reader() if row[key] in wanted}


def _participant(row: Sequence[Any]) -> dict[str, Any]:
    pid, municipality_id, journey, role, level, years, registered_at, erased = row
    return {"participant_id": pid, "municipality_id": municipality_id, "journey": journey,
            "role": role, "level": level, "years_in_profession": float(years),
            "registered_at": dt.datetime.fromisoformat(registered_at), "erased": bool(erased)}


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
