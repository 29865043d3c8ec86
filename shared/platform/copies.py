"""A service's own copy of facts that other services publish, learned from the bus.

A service that must check what another service knows (is this participant registered, in which
municipality; does this region exist; which preparations does this course have) does not call
that service: it keeps a copy in its own database, fed by a consumer
(`shared.platform.consumer`), and answers from it. Each row is written in the same transaction
as the id of the envelope that caused it (`ProjectionRunner`), so a redelivery changes nothing.
Types the copy does not keep are recorded as applied and otherwise skipped; types this code does
not know at all are skipped by the consumer before they get here.

A copy is a list of `Fact`s: the tables one kind of fact needs and a function per event type
that writes them. Adding a fact (billing's closed years, say) is one more `Fact` here and its
name in the service's list; nothing else changes. Where the contract says the latest
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
from typing import Any

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
    """One kind of fact a copy can keep: its tables (`{p}` is the prefix) and its writers."""

    name: str
    topic: str
    ddl: tuple[str, ...]
    writers: dict[str, Write] = field(default_factory=dict)


# --- regions and municipalities ---------------------------------------------------------------


def _region(cur: Cursor, p: str, env: Envelope) -> None:
    data: Any = env.data
    cur.execute(f"INSERT INTO {p}_regions (region_id, name) VALUES (%s, %s) "
                "ON CONFLICT (region_id) DO UPDATE SET name = excluded.name",
                (data.region_id, data.name))


REGIONS = Fact(
    "regions", topic_name("reference"),
    ("CREATE TABLE IF NOT EXISTS {p}_regions (region_id TEXT PRIMARY KEY, "
     "name TEXT NOT NULL)",),
    {"RegionRegistered": _region},
)


def _municipality(cur: Cursor, p: str, env: Envelope) -> None:
    data: Any = env.data
    cur.execute(f"INSERT INTO {p}_municipalities (municipality_id, region_id) VALUES (%s, %s) "
                "ON CONFLICT (municipality_id) DO UPDATE SET region_id = excluded.region_id",
                (data.municipality_id, data.region_id))


MUNICIPALITIES = Fact(
    "municipalities", topic_name("reference"),
    ("CREATE TABLE IF NOT EXISTS {p}_municipalities (municipality_id TEXT PRIMARY KEY, "
     "region_id TEXT NOT NULL)",
     "CREATE INDEX IF NOT EXISTS {p}_municipalities_region "
     "ON {p}_municipalities (region_id)"),
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
    ("CREATE TABLE IF NOT EXISTS {p}_participants (participant_id TEXT PRIMARY KEY, "
     "municipality_id TEXT, stamp TEXT NOT NULL, registered INTEGER NOT NULL, "
     "erased INTEGER NOT NULL)",
     "CREATE INDEX IF NOT EXISTS {p}_participants_municipality "
     "ON {p}_participants (municipality_id)"),
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
    ("CREATE TABLE IF NOT EXISTS {p}_trainers (trainer_id TEXT PRIMARY KEY, "
     "municipality_id TEXT NOT NULL)",),
    {"TrainerRegistered": _trainer},
)


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
    ("CREATE TABLE IF NOT EXISTS {p}_courses (course_id TEXT PRIMARY KEY, body TEXT NOT NULL, "
     "stamp TEXT NOT NULL)",),
    {"CoursePublished": _course},
)


# --- the projector and its runner -------------------------------------------------------------


class Copy:
    """A projector (`shared.platform.consumer.Projector`) whose whole state is its tables."""

    def __init__(self, name: str, prefix: str, facts: Sequence[Fact]) -> None:
        self.name = name
        self.prefix = prefix
        self.facts = tuple(facts)
        self.topics: Sequence[str] = tuple(sorted({f.topic for f in self.facts}))
        self._writers = {t: w for f in self.facts for t, w in f.writers.items()}

    def migrate(self, cur: Cursor) -> None:
        for fact in self.facts:
            for ddl in fact.ddl:
                cur.execute(ddl.format(p=self.prefix))

    def reset(self) -> None:
        """Nothing in memory: the tables are the state."""

    def load(self, envelopes: Iterable[Envelope]) -> None:
        """Nothing to fold: the tables already hold what was applied."""

    def apply(self, cur: Cursor, env: Envelope) -> None:
        write = self._writers.get(env.type)
        if write is not None:
            write(cur, self.prefix, env)


class Alongside:
    """A projector and a copy fed by the same consumer, in the same transaction per batch,
    under the projector's name (for a read model whose readers are scoped by facts the
    model itself does not hold, such as a municipality's region)."""

    def __init__(self, main: Projector, copy: Copy) -> None:
        self.main = main
        self.copy = copy
        self.name = main.name
        self.topics: Sequence[str] = tuple(sorted({*main.topics, *copy.topics}))

    def migrate(self, cur: Cursor) -> None:
        self.main.migrate(cur)
        self.copy.migrate(cur)

    def reset(self) -> None:
        self.main.reset()

    def load(self, envelopes: Iterable[Envelope]) -> None:
        self.main.load(envelopes)

    def apply(self, cur: Cursor, env: Envelope) -> None:
        self.main.apply(cur, env)
        self.copy.apply(cur, env)


class CopyRunner(ProjectionRunner):
    """The consumers' runner, without reading every applied envelope back at start: a copy
    keeps nothing in memory to restore."""

    def restore(self) -> None:
        self.projector.reset()


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

    def course(self, course_id: str) -> contract.CoursePublished | None:
        rows = self.db.execute(f"SELECT body FROM {self.p}_courses WHERE course_id = %s",
                               (course_id,))
        return contract.CoursePublished.model_validate_json(rows[0][0]) if rows else None

    def courses(self) -> list[dict[str, Any]]:
        rows = self.db.execute(f"SELECT body FROM {self.p}_courses ORDER BY course_id")
        return [orjson.loads(r[0]) for r in rows]
