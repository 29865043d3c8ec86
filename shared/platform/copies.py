"""A service's own copy of facts that other services publish, learned from the bus.

A service that must check what another service knows (is this participant registered, in which
municipality; does this region exist; which preparations does this course have) does not call
that service: it keeps a copy in its own database, fed by a consumer
(`shared.platform.consumer`), and answers from it. Each row is written in the same transaction
as the id of the envelope that caused it (`ProjectionRunner`), so a redelivery changes nothing.
Types the copy does not keep are recorded as applied and otherwise skipped; types this code does
not know at all are skipped by the consumer before they get here.

A copy is a list of `Fact`s: a function per event type that writes one kind of fact into its
tables (several facts may write from the same event type). Adding a fact (billing's closed
years, say) is one more `Fact` here, its name in the service's list, and a revision of the
service's migrations that creates its tables. Where the contract says the latest
`occurred_at` wins (a participant's municipality, a course's revision), a row keeps the stamp
of the event it came from and an older event never overwrites a newer one, whatever order the
bus delivers them in.

The tables carry the service's prefix (`scheduling_copy_participants`): services may share one
database. A copy is a cache of the bus, never an authority: an id it does not know (yet) is
refused by the service with a reason that says so, and the caller may try again later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import orjson

from shared.events import Envelope, topic_name
from shared.events import models as contract
from shared.platform.consumer import ProjectionRunner, Projector
from shared.platform.db import Cursor, Database

Write = Callable[[Cursor, str, Envelope], None]  # (cursor, table prefix, envelope)


def stamp(env: Envelope) -> str:
    """`occurred_at` then the id, as text that sorts in the contract's order (the same order
    as `shared.projections.versions.stamp_of`)."""
    at = env.occurred_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return f"{at}|{env.id.int:039d}"


@dataclass(frozen=True)
class Fact:
    """One kind of fact a copy can keep: its writers per event type (`{p}` in their SQL is the
    copy's table prefix; the tables come from the service's migrations)."""

    name: str
    topic: str
    tables: tuple[str, ...]
    writers: dict[str, Write] = field(default_factory=dict)


# --- regions and municipalities ---------------------------------------------------------------


def _region(cur: Cursor, p: str, env: Envelope) -> None:
    data: Any = env.data
    cur.execute(f"INSERT INTO {p}_regions (region_id, name) VALUES (%s, %s) "
                "ON CONFLICT (region_id) DO UPDATE SET name = excluded.name",
                (data.region_id, data.name))


REGIONS = Fact(
    "regions", topic_name("reference"),
    ("{p}_regions",),
    {"RegionRegistered": _region},
)


def _municipality_name(cur: Cursor, p: str, env: Envelope) -> None:
    data: Any = env.data
    cur.execute(f"INSERT INTO {p}_municipality_names (municipality_id, name) VALUES (%s, %s) "
                "ON CONFLICT (municipality_id) DO UPDATE SET name = excluded.name",
                (data.municipality_id, data.name))


MUNICIPALITY_NAMES = Fact(
    "municipality_names", topic_name("reference"),
    ("{p}_municipality_names",),
    {"MunicipalityJoined": _municipality_name},
)
"""A municipality's name, for documents people file (billing's invoice basis)."""


def _municipality(cur: Cursor, p: str, env: Envelope) -> None:
    data: Any = env.data
    cur.execute(f"INSERT INTO {p}_municipalities (municipality_id, region_id) VALUES (%s, %s) "
                "ON CONFLICT (municipality_id) DO UPDATE SET region_id = excluded.region_id",
                (data.municipality_id, data.region_id))


MUNICIPALITIES = Fact(
    "municipalities", topic_name("reference"),
    ("{p}_municipalities",),
    {"MunicipalityJoined": _municipality},
)


# --- participants and trainers ----------------------------------------------------------------

def _newer(p: str, table: str, column: str) -> str:
    """SQL: the incoming value where the incoming event is newer, else the value held."""
    return (f"CASE WHEN {p}_{table}.stamp < excluded.stamp THEN excluded.{column} "
            f"ELSE {p}_{table}.{column} END")


def _membership(cur: Cursor, p: str, env: Envelope, municipality_id: str,
                registered: int) -> None:
    data: Any = env.data
    cur.execute(
        f"INSERT INTO {p}_participants (participant_id, municipality_id, stamp, registered, "
        "erased) VALUES (%s, %s, %s, %s, 0) ON CONFLICT (participant_id) DO UPDATE SET "
        f"registered = CASE WHEN excluded.registered = 1 THEN 1 "
        f"ELSE {p}_participants.registered END, "
        f"municipality_id = {_newer(p, 'participants', 'municipality_id')}, "
        f"stamp = {_newer(p, 'participants', 'stamp')}",
        (data.participant_id, municipality_id, stamp(env), registered))


def _participant_registered(cur: Cursor, p: str, env: Envelope) -> None:
    data: Any = env.data
    _membership(cur, p, env, data.municipality_id, 1)


def _participant_moved(cur: Cursor, p: str, env: Envelope) -> None:
    data: Any = env.data
    _membership(cur, p, env, data.to_municipality_id, 0)


def _participant_erased(cur: Cursor, p: str, env: Envelope) -> None:
    data: Any = env.data
    cur.execute(
        f"INSERT INTO {p}_participants (participant_id, municipality_id, stamp, registered, "
        "erased) VALUES (%s, NULL, '', 0, 1) "
        "ON CONFLICT (participant_id) DO UPDATE SET erased = 1", (data.participant_id,))


PARTICIPANTS = Fact(
    "participants", topic_name("enrolment"),
    ("{p}_participants",),
    {"ParticipantRegistered": _participant_registered, "ParticipantMoved": _participant_moved,
     "ParticipantErased": _participant_erased},
)


def _trainer(cur: Cursor, p: str, env: Envelope) -> None:
    data: Any = env.data
    cur.execute(f"INSERT INTO {p}_trainers (trainer_id, municipality_id) VALUES (%s, %s) "
                "ON CONFLICT (trainer_id) DO UPDATE SET municipality_id = excluded.municipality_id",
                (data.trainer_id, data.municipality_id))


TRAINERS = Fact(
    "trainers", topic_name("enrolment"),
    ("{p}_trainers",),
    {"TrainerRegistered": _trainer},
)


def _level(cur: Cursor, p: str, env: Envelope, journey: str | None) -> None:
    data: Any = env.data
    cur.execute(
        f"INSERT INTO {p}_levels (participant_id, journey, level, stamp) VALUES (%s, %s, %s, %s) "
        f"ON CONFLICT (participant_id) DO UPDATE SET "
        f"journey = COALESCE(excluded.journey, {p}_levels.journey), "
        f"level = {_newer(p, 'levels', 'level')}, stamp = {_newer(p, 'levels', 'stamp')}",
        (data.participant_id, journey, data.level, stamp(env)))


def _level_registered(cur: Cursor, p: str, env: Envelope) -> None:
    _level(cur, p, env, cast(contract.ParticipantRegistered, env.data).journey)


def _level_changed(cur: Cursor, p: str, env: Envelope) -> None:
    _level(cur, p, env, None)


LEVELS = Fact(
    "levels", topic_name("enrolment"),
    ("{p}_levels",),
    {"ParticipantRegistered": _level_registered, "ParticipantLevelChanged": _level_changed},
)
"""Each participant's journey and current level (the latest `occurred_at` wins), beside
`PARTICIPANTS`, for planning: who still needs a level's courses."""


# --- certification's completions --------------------------------------------------------------

def _completed(cur: Cursor, p: str, env: Envelope) -> None:
    data = cast(contract.CourseCompleted, env.data)
    cur.execute(f"INSERT INTO {p}_completions (participant_id, course_id, occasion_id) "
                "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (data.participant_id, data.course_id, data.occasion_id))


def _issued(cur: Cursor, p: str, env: Envelope) -> None:
    data = cast(contract.CertificateIssued, env.data)
    cur.execute(
        f"INSERT INTO {p}_certificates (certificate_id, participant_id, course_id, occasion_id, "
        "revoked) VALUES (%s, %s, %s, %s, 0) ON CONFLICT (certificate_id) DO UPDATE SET "
        "participant_id = excluded.participant_id, course_id = excluded.course_id, "
        "occasion_id = excluded.occasion_id",
        (data.certificate_id, data.participant_id, data.course_id, data.occasion_id))


def _revoked(cur: Cursor, p: str, env: Envelope) -> None:
    data = cast(contract.CertificateRevoked, env.data)
    cur.execute(f"INSERT INTO {p}_certificates (certificate_id, revoked) VALUES (%s, 1) "
                "ON CONFLICT (certificate_id) DO UPDATE SET revoked = 1",
                (data.certificate_id,))


COMPLETIONS = Fact(
    "completions", topic_name("certification"),
    ("{p}_completions", "{p}_certificates"),
    {"CourseCompleted": _completed, "CertificateIssued": _issued,
     "CertificateRevoked": _revoked},
)
"""Completions as certification decided them (`CourseCompleted` on its topic). A completion
stands while one of its certificates does: certification revokes the certificate of a
completion that is lost (a withdrawn day, a re-planned or cancelled occasion) and issues a new
one when it is gained again; until its certificate is known, a completion stands."""


# --- the course catalogue ---------------------------------------------------------------------

def _course(cur: Cursor, p: str, env: Envelope) -> None:
    data: Any = env.data
    body = orjson.dumps(data.model_dump(mode="json")).decode()
    cur.execute(
        f"INSERT INTO {p}_courses (course_id, body, stamp) VALUES (%s, %s, %s) "
        f"ON CONFLICT (course_id) DO UPDATE SET body = {_newer(p, 'courses', 'body')}, "
        f"stamp = {_newer(p, 'courses', 'stamp')}",
        (data.course_id, body, stamp(env)))


COURSES = Fact(
    "courses", topic_name("reference"),
    ("{p}_courses",),
    {"CoursePublished": _course},
)


# --- billing's closed years and the trainers' teams -------------------------------------------

def _year_closed(cur: Cursor, p: str, env: Envelope) -> None:
    data = cast(contract.YearClosed, env.data)
    cur.execute(f"INSERT INTO {p}_closed_years (region_id, year) VALUES (%s, %s) "
                "ON CONFLICT DO NOTHING", (data.region_id, data.year))


CLOSED_YEARS = Fact(
    "closed_years", topic_name("billing"),
    ("{p}_closed_years",),
    {"YearClosed": _year_closed},
)
"""The years a region has closed (`YearClosed`, billing's): attendance for them is late."""


def _assignment(cur: Cursor, p: str, env: Envelope, role: str | None) -> None:
    data: Any = env.data
    cur.execute(
        f"INSERT INTO {p}_assignments (occasion_id, trainer_id, role, stamp) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT (occasion_id, trainer_id) DO UPDATE SET "
        f"role = {_newer(p, 'assignments', 'role')}, "
        f"stamp = {_newer(p, 'assignments', 'stamp')}",
        (data.occasion_id, data.trainer_id, role, stamp(env)))


def _assigned(cur: Cursor, p: str, env: Envelope) -> None:
    _assignment(cur, p, env, str(cast(contract.TrainerAssigned, env.data).role))


def _unassigned(cur: Cursor, p: str, env: Envelope) -> None:
    _assignment(cur, p, env, None)


ASSIGNMENTS = Fact(
    "assignments", topic_name("scheduling"),
    ("{p}_assignments",),
    {"TrainerAssigned": _assigned, "TrainerUnassigned": _unassigned},
)
"""Who is on which occasion's team, in which role (`TrainerAssigned`; the latest `occurred_at`
wins against `TrainerUnassigned`, which leaves the role empty)."""


# --- the projector and its runner -------------------------------------------------------------


class Copy:
    """A projector (`shared.platform.consumer.Projector`) whose whole state is its tables."""

    def __init__(self, name: str, prefix: str, facts: Sequence[Fact]) -> None:
        self.name = name
        self.prefix = prefix
        self.facts = tuple(facts)
        self.topics: Sequence[str] = tuple(sorted({f.topic for f in self.facts}))
        self.tables: Sequence[str] = tuple(
            t.format(p=prefix) for f in self.facts for t in f.tables)
        self._writers: dict[str, list[Write]] = {}
        for fact in self.facts:
            for event_type, write in fact.writers.items():
                self._writers.setdefault(event_type, []).append(write)

    def reset(self) -> None:
        """Nothing in memory: the tables are the state."""

    def load(self, envelopes: Iterable[Envelope]) -> None:
        """Nothing to fold: the tables already hold what was applied."""

    def apply(self, cur: Cursor, env: Envelope) -> None:
        for write in self._writers.get(env.type, ()):
            write(cur, self.prefix, env)

    def apply_many(self, cur: Cursor, envelopes: Iterable[Envelope]) -> None:
        """A batch's writes, each statement run for all its rows at once (`executemany`).
        Statements are grouped by their text, which reorders them across statements: the
        copies' writes do not depend on order (latest `occurred_at` wins, by the stamps),
        as the bus gives none across partitions."""
        batch = _Batch()
        for env in envelopes:
            for write in self._writers.get(env.type, ()):
                write(batch, self.prefix, env)  # type: ignore[arg-type]
        for sql, rows in batch.statements.items():
            cur.executemany(sql, rows)


class Alongside:
    """A projector and a copy fed by the same consumer, in the same transaction per batch,
    under the projector's name (for a read model whose readers are scoped by facts the
    model itself does not hold, such as a municipality's region)."""

    def __init__(self, main: Projector, copy: Copy) -> None:
        self.main = main
        self.copy = copy
        self.name = main.name
        self.topics: Sequence[str] = tuple(sorted({*main.topics, *copy.topics}))
        self.tables: Sequence[str] = (*main.tables, *copy.tables)
        if hasattr(main, "snapshot_state"):  # the main projector's fold is the state to keep
            kept: Any = main
            self.snapshot_state = kept.snapshot_state
            self.restore_state = kept.restore_state
            self.fold_source = getattr(main, "fold_source", type(main).__module__)
        if hasattr(main, "defer_writes"):  # the copy writes each batch as it comes
            deferring: Any = main
            self.defer_writes = deferring.defer_writes
            self.write_deferred = deferring.write_deferred

    def reset(self) -> None:
        self.main.reset()

    def apply_many(self, cur: Cursor, envelopes: Sequence[Envelope]) -> None:
        main_many = getattr(self.main, "apply_many", None)
        if main_many is not None:
            main_many(cur, envelopes)
        else:
            for env in envelopes:
                self.main.apply(cur, env)
        self.copy.apply_many(cur, envelopes)

    def load(self, envelopes: Iterable[Envelope]) -> None:
        self.main.load(envelopes)

    def apply(self, cur: Cursor, env: Envelope) -> None:
        self.main.apply(cur, env)
        self.copy.apply(cur, env)


class _Batch:
    """Stands in for a cursor to gather a batch's writes, by statement, in order."""

    def __init__(self) -> None:
        self.statements: dict[str, list[Sequence[Any]]] = {}

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.statements.setdefault(sql, []).append(params)
        return []


class CopyRunner(ProjectionRunner):
    """The consumers' runner for a projector whose whole state is its tables: nothing in
    memory to restore, so no envelope is kept, only the window of ids (ADR 0020)."""

    keeps_envelopes = False


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KnownParticipant:
    participant_id: str
    municipality_id: str | None
    region_id: str | None  # of the municipality, where the copy keeps municipalities
    erased: bool


@dataclass(frozen=True, slots=True)
class KnownTrainer:
    trainer_id: str
    municipality_id: str
    region_id: str | None


class Known:
    """What a copy knows, read from its tables (each read is one query). Participants and
    trainers come with their municipality's region, so a copy that keeps them keeps
    municipalities too."""

    def __init__(self, db: Database, prefix: str) -> None:
        self.db = db
        self.p = prefix

    def region_exists(self, region_id: str) -> bool:
        return bool(self.db.execute(
            f"SELECT 1 FROM {self.p}_regions WHERE region_id = %s", (region_id,)))

    def name_of_region(self, region_id: str) -> str | None:
        rows = self.db.execute(f"SELECT name FROM {self.p}_regions WHERE region_id = %s",
                               (region_id,))
        return str(rows[0][0]) if rows else None

    def name_of_municipality(self, municipality_id: str) -> str | None:
        """Its name (a copy that keeps `MUNICIPALITY_NAMES`)."""
        rows = self.db.execute(
            f"SELECT name FROM {self.p}_municipality_names WHERE municipality_id = %s",
            (municipality_id,))
        return str(rows[0][0]) if rows else None

    def region_of(self, municipality_id: str | None) -> str | None:
        if municipality_id is None:
            return None
        rows = self.db.execute(
            f"SELECT region_id FROM {self.p}_municipalities WHERE municipality_id = %s",
            (municipality_id,))
        return str(rows[0][0]) if rows else None

    def municipalities_in(self, region_id: str) -> list[str]:
        rows = self.db.execute(
            f"SELECT municipality_id FROM {self.p}_municipalities WHERE region_id = %s "
            "ORDER BY municipality_id", (region_id,))
        return [str(r[0]) for r in rows]

    def participant(self, participant_id: str) -> KnownParticipant | None:
        """A registered participant (erased ones too); None if not registered (yet)."""
        return self.participants([participant_id]).get(participant_id)

    def participants(self, participant_ids: Iterable[str]) -> dict[str, KnownParticipant]:
        found: dict[str, KnownParticipant] = {}
        ids = list(dict.fromkeys(participant_ids))
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ", ".join(["%s"] * len(chunk))
            rows = self.db.execute(
                f"SELECT p.participant_id, p.municipality_id, m.region_id, p.erased "
                f"FROM {self.p}_participants p LEFT JOIN {self.p}_municipalities m "
                "ON m.municipality_id = p.municipality_id "
                f"WHERE p.registered = 1 AND p.participant_id IN ({marks})", chunk)
            found.update((r[0], KnownParticipant(r[0], r[1], r[2], bool(r[3]))) for r in rows)
        return found

    def trainer(self, trainer_id: str) -> KnownTrainer | None:
        """A registered trainer, with their home municipality; None if not registered (yet)."""
        rows = self.db.execute(
            f"SELECT t.trainer_id, t.municipality_id, m.region_id FROM {self.p}_trainers t "
            f"LEFT JOIN {self.p}_municipalities m ON m.municipality_id = t.municipality_id "
            "WHERE t.trainer_id = %s", (trainer_id,))
        return KnownTrainer(rows[0][0], rows[0][1], rows[0][2]) if rows else None

    def at_levels_in(self, region_id: str, journey: str) -> dict[str, str]:
        """participant -> level, for the participants of a journey whose municipality is in
        the region now, not erased (a copy that keeps `LEVELS`)."""
        rows = self.db.execute(
            f"SELECT p.participant_id, l.level FROM {self.p}_participants p "
            f"JOIN {self.p}_municipalities m ON m.municipality_id = p.municipality_id "
            f"JOIN {self.p}_levels l ON l.participant_id = p.participant_id "
            "WHERE p.registered = 1 AND p.erased = 0 AND m.region_id = %s AND l.journey = %s",
            (region_id, journey))
        return {str(r[0]): str(r[1]) for r in rows}

    def completed_in(self, region_id: str) -> set[tuple[str, str]]:
        """(participant, course) for every completion that stands, of the participants whose
        municipality is in the region now (a copy that keeps `COMPLETIONS`)."""
        rows = self.db.execute(
            f"SELECT DISTINCT c.participant_id, c.course_id FROM {self.p}_completions c "
            f"JOIN {self.p}_participants p ON p.participant_id = c.participant_id "
            f"JOIN {self.p}_municipalities m ON m.municipality_id = p.municipality_id "
            "WHERE m.region_id = %s AND ("
            f"NOT EXISTS (SELECT 1 FROM {self.p}_certificates k WHERE k.revoked = 1 "
            "AND k.participant_id = c.participant_id AND k.course_id = c.course_id "
            "AND k.occasion_id = c.occasion_id) "
            f"OR EXISTS (SELECT 1 FROM {self.p}_certificates k WHERE k.revoked = 0 "
            "AND k.participant_id = c.participant_id AND k.course_id = c.course_id "
            "AND k.occasion_id = c.occasion_id))", (region_id,))
        return {(str(r[0]), str(r[1])) for r in rows}

    def year_closed(self, region_id: str, year: int) -> bool:
        """Whether the region has closed the year (a copy that keeps `CLOSED_YEARS`)."""
        return bool(self.db.execute(
            f"SELECT 1 FROM {self.p}_closed_years WHERE region_id = %s AND year = %s",
            (region_id, year)))

    def assignments_of(self, trainer_id: str) -> dict[str, str]:
        """occasion -> role, for the teams the trainer is on now (a copy that keeps
        `ASSIGNMENTS`)."""
        rows = self.db.execute(
            f"SELECT occasion_id, role FROM {self.p}_assignments WHERE trainer_id = %s "
            "AND role IS NOT NULL ORDER BY occasion_id", (trainer_id,))
        return {str(r[0]): str(r[1]) for r in rows}

    def course(self, course_id: str) -> contract.CoursePublished | None:
        rows = self.db.execute(f"SELECT body FROM {self.p}_courses WHERE course_id = %s",
                               (course_id,))
        return contract.CoursePublished.model_validate_json(rows[0][0]) if rows else None

    def courses(self) -> list[dict[str, Any]]:
        rows = self.db.execute(f"SELECT body FROM {self.p}_courses ORDER BY course_id")
        return [orjson.loads(r[0]) for r in rows]
