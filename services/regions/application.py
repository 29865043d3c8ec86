"""The regions' streams: wiring of the router, its region log and the publisher.

The router (`domain.RegionRouter`) decides; this keeps what it decided in the component's own
database, in the same transaction as the applied envelope's id (`ProjectionRunner`): the
*region log*, per region an ordered list of envelopes with a position of its own. The log is
what `yrkesresan.region.<region_id>.v1` is published from (`adapters.publisher`, at least once,
each envelope with its own id) and what the HTTP feed serves from a position
(`adapters.http`). A redelivered or re-published event is recorded once; an event held for a
missing fact is kept in the database too, so a restart neither loses nor repeats it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.regions.domain import FACTS, EnrolmentReady, RegionRouter, Routed, Unresolved, always
from shared.events import ALL_TOPICS, REGION_TOPIC, Envelope, parse_envelope
from shared.events.fields import field_of
from shared.platform import schema
from shared.platform.consumer import AppliedLog, ProjectionRunner, envelope_text
from shared.platform.db import Cursor, Database
from shared.platform.settings import Settings

NAME = "regions"
GROUP_ID = "yrkesresan.regions"

# Kafka topic names allow these characters; a region id outside them gets no topic (its feed
# still works), and the publisher says so.
_TOPIC_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


def region_topic(region_id: str) -> str | None:
    """`yrkesresan.region.<region_id>.v1`, or None where the id cannot name a topic."""
    return REGION_TOPIC.format(region_id=region_id) if _TOPIC_SAFE.match(region_id) else None


class RegionLog:
    """The projector: routes each envelope and appends it to its regions' logs."""

    name = NAME
    topics: Sequence[str] = ALL_TOPICS
    tables: Sequence[str] = ("region_events", "region_held", "region_published",
                             "region_participant_events", "region_heads")
    loaded_from = FACTS
    """What `load` learns from, so the only envelopes the applied log keeps whole (the rest
    by id): each envelope's JSON is in the regions' log already, and keeping every one twice
    was 781 MB of the applied log over 30,000 participants' 1,620,789 events."""

    def __init__(self, db: Database, enrolment_ready: EnrolmentReady = always) -> None:
        self.db = db
        self.enrolment_ready = enrolment_ready
        self.router = RegionRouter(enrolment_ready)
        self.next_position: dict[str, int] = {}
        self.applied: AppliedLog | None = None
        """Its runner's applied log, whose rows of a batch hold the id and JSON of each
        envelope it keeps (`FACTS`) as the region log's rows do (`AppliedLog.recorded_text`):
        made once, not twice."""

    def reset(self) -> None:
        self.router = RegionRouter(self.enrolment_ready)
        self.next_position = {}

    def load(self, envelopes: Iterable[Envelope]) -> None:
        """The facts from every envelope applied before; the held ones and the logs' ends from
        the tables (what was routed stays routed)."""
        for env in envelopes:
            self.router.learn(env)
        for (raw,) in self.db.execute("SELECT envelope FROM region_held"):
            env = parse_envelope(raw)
            self.router.pending[str(env.id)] = env
        for region, last in self.db.execute("SELECT region_id, position FROM region_heads"):
            self.router.regions.add(region)
            self.next_position[region] = int(last) + 1

    def apply(self, cur: Cursor, env: Envelope) -> None:
        self.apply_many(cur, (env,))

    def apply_many(self, cur: Cursor, envelopes: Iterable[Envelope]) -> None:
        """Route a batch in order and write its rows, each statement once for all of them;
        what a move re-routes is read from the tables, so the rows before it are written
        first."""
        rows = _Rows()
        for env in envelopes:
            rows.add(self.router.apply(env), env)
            if env.type == "ParticipantMoved":
                self._flush(cur, rows)
                rows = _Rows()
                self._reroute_after(cur, env)
        self._flush(cur, rows)

    def _reroute_after(self, cur: Cursor, move: Envelope) -> None:
        """What was routed about the participant and happened after the move goes to the
        regions it is now due to as well (it arrived before the move: a backdated move). The
        region left keeps what it received; nothing can be taken back from a stream."""
        participant = getattr(move.data, "participant_id", "")
        later = cur.execute(
            "SELECT event_id FROM region_participant_events WHERE participant_id = %s"
            " AND occurred_at > %s ORDER BY occurred_at, event_id",
            (participant, _utc(move.occurred_at)))
        routed = Routed()
        for (event_id,) in later:
            rows = cur.execute("SELECT region_id, envelope FROM region_events WHERE event_id = %s",
                               (event_id,))
            env = parse_envelope(rows[0][1])
            try:
                due = self.router.regions_of(env)
            except Unresolved:
                continue
            for region in sorted(due - {r for r, _ in rows}):
                self.router.emit(region, env, routed)
        self._write(cur, routed, None)

    def release(self) -> int:
        """Route and record what is held and can be routed now; how many were released."""
        if not self.router.pending:
            return 0
        try:
            with self.db.transaction() as cur:
                routed = self.router.release()
                self._write(cur, routed, None)
        except Exception:
            self.reset()  # the fold may hold what the database rolled back
            self.load(AppliedLog(self.db, self.name).envelopes())
            raise
        return len(routed.released)

    def _write(self, cur: Cursor, routed: Routed, env: Envelope | None) -> None:
        rows = _Rows()
        rows.add(routed, env)
        self._flush(cur, rows)

    def _flush(self, cur: Cursor, rows: _Rows) -> None:
        """Write what was routed: the held envelopes (before the releases, which may name
        them), each region's new envelopes at its next positions (one already in a region's
        log, delivered again, takes none), who each concerns, and the regions' heads."""
        cur.insert_rows("region_held", ("event_id", "envelope"), rows.held, key=("event_id",))
        cur.delete_keys("region_held", ("event_id",), [(event_id,) for event_id in rows.released])
        # each envelope's id and JSON as text, made once (it may go to several regions, and
        # the applied log's rows of the batch hold them already)
        texts: dict[int, tuple[str, str]] = {}
        made = self.applied.recorded_text if self.applied is not None else envelope_text
        for _, out in rows.out:
            if id(out) not in texts:
                texts[id(out)] = made(out)
        logged = {(str(r), str(e)) for r, e in cur.execute_among(
            "SELECT region_id, event_id FROM region_events WHERE event_id {among}", (),
            list(dict.fromkeys(text for text, _ in texts.values())))}
        events, participants, heads = [], [], {}
        for region, out in rows.out:
            event_id, body = texts[id(out)]
            if (region, event_id) not in logged:
                logged.add((region, event_id))
                position = self.next_position.get(region, 1)
                events.append((region, position, event_id, out.key(), body))
                self.next_position[region] = position + 1
                heads[region] = position
            if participant := field_of(out.data, "participant_id"):
                participants.append((participant, event_id, _utc(out.occurred_at)))
        cur.insert_rows("region_events",
                        ("region_id", "position", "event_id", "event_key", "envelope"), events)
        cur.insert_rows("region_participant_events",
                        ("participant_id", "event_id", "occurred_at"), participants,
                        key=("participant_id", "event_id"))
        # the publisher polls these, not the log; one statement (a statement per region was
        # a round of psycopg's pipeline each, every batch and every move)
        cur.insert_rows("region_heads", ("region_id", "position"), sorted(heads.items()),
                        key=("region_id",), update=("position",))


class _Rows:
    """What a batch routed, gathered to be written a statement at a time."""

    def __init__(self) -> None:
        self.held: list[tuple[str, str]] = []
        self.released: list[str] = []
        self.out: list[tuple[str, Envelope]] = []

    def add(self, routed: Routed, env: Envelope | None) -> None:
        if env is not None and routed.held:
            self.held.append((str(env.id), env.to_json().decode()))
        self.released += routed.released
        self.out += routed.out


def _utc(when: dt.datetime) -> str:
    """A time as text that sorts as the time does."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


@dataclass(frozen=True)
class LoggedEvent:
    position: int
    event_id: str
    key: str
    envelope: str


def read_log(db: Database, region_id: str, after: int = 0, limit: int = 500) -> list[LoggedEvent]:
    """A region's log after a position, in order."""
    rows = db.execute(
        "SELECT position, event_id, event_key, envelope FROM region_events "
        "WHERE region_id = %s AND position > %s ORDER BY position LIMIT %s",
        (region_id, after, limit))
    return [LoggedEvent(int(p), e, k, v) for p, e, k, v in rows]


def known_region(db: Database, region_id: str) -> bool:
    return bool(db.execute("SELECT 1 FROM region_events WHERE region_id = %s LIMIT 1",
                           (region_id,)))


@dataclass
class Regions:
    db: Database
    log: RegionLog

    def runner(self) -> ProjectionRunner:
        runner = ProjectionRunner(self.log, self.db)
        self.log.applied = runner.applied  # the texts of what it records, for the log's rows
        return runner

    def close(self) -> None:
        self.db.close()


def database_url(url: str | None = None) -> str:
    return url or Settings().database_url_for(NAME)


def bootstrap(url: str | None = None) -> Regions:
    schema.require(NAME, database_url(url))
    db = Database(database_url(url))
    return Regions(db, RegionLog(db))


def migrate(url: str | None = None) -> None:
    """Bring the process's database to this code's schema (`services/regions/migrations`)."""
    schema.upgrade(NAME, database_url(url))
