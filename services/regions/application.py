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

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.regions.domain import FACTS, EnrolmentReady, RegionRouter, Routed, Unresolved, always
from shared.events import ALL_TOPICS, REGION_TOPIC, Envelope, parse_envelope
from shared.events.fields import field_of
from shared.platform import schema
from shared.platform.consumer import AppliedLog, ProjectionRunner, envelope_text
from shared.platform.db import Cursor, Database, utc_text
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
    """What `load` learns from, so the only envelopes the applied log keeps whole, for good
    (the rest by id, for the window: `AppliedLog.forget_ids`; an older one that comes again
    is refused by the log, which holds each event once per region): each envelope's JSON is
    in the regions' log already, and keeping every one twice was 781 MB of the applied log
    over 30,000 participants' 1,620,789 events."""

    def __init__(self, db: Database, enrolment_ready: EnrolmentReady = always) -> None:
        self.db = db
        self.enrolment_ready = enrolment_ready
        self.router = RegionRouter(enrolment_ready)
        self.next_position: dict[str, int] = {}
        self._unwritten: _Prepared | None = None
        """In a rebuild from scratch, the batch prepared last (`prepare_many`): its rows may
        still be on their way to the database."""
        self.applied: AppliedLog | None = None
        """Its runner's applied log, whose rows of a batch hold the id and JSON of each
        envelope it keeps (`FACTS`) as the region log's rows do (`AppliedLog.recorded_text`):
        made once, not twice."""

    def reset(self) -> None:
        self.router = RegionRouter(self.enrolment_ready)
        self.next_position = {}
        self._unwritten = None

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

    def prepare_many(self, envelopes: Iterable[Envelope]) -> _Prepared:
        """A batch of a rebuild from scratch (`ProjectionRunner._apply_ahead`): routed as
        `apply_many` routes it, its rows gathered to be written after (`write_prepared`).
        Nothing is looked up to skip an envelope logged before: a rebuild from scratch applies
        each id once, and the router sends each to a region once. What a move re-routes is
        found in the database and in the rows not written yet (this batch's and the last's)."""
        prepared = _Prepared()
        rows = _Rows()
        for env in envelopes:
            rows.add(self.router.apply(env), env)
            if env.type == "ParticipantMoved":
                self._place(rows, prepared)
                rows = _Rows()
                self._reroute_prepared(prepared, env)
        self._place(rows, prepared)
        self._unwritten = prepared
        return prepared

    def write_prepared(self, cur: Cursor, prepared: _Prepared) -> None:
        """The rows of a batch `prepare_many` routed, as `_flush` writes them (what each
        participant's row holds is new: none comes twice in a rebuild from scratch)."""
        cur.insert_rows("region_held", ("event_id", "envelope"), prepared.held,
                        key=("event_id",))
        cur.delete_keys("region_held", ("event_id",), [(e,) for e in prepared.released])
        cur.insert_rows("region_events", REGION_EVENT_COLUMNS, prepared.events)
        cur.insert_rows("region_participant_events", PARTICIPANT_COLUMNS,
                        prepared.participants)
        cur.insert_rows("region_heads", ("region_id", "position"),
                        sorted(prepared.heads.items()), key=("region_id",), update=("position",))

    def _reroute_prepared(self, prepared: _Prepared, move: Envelope) -> None:
        """`_reroute_after` for a batch being prepared: what was routed about the participant
        is in the database, or among the rows not written yet (looked at before the database
        is asked, so that a batch committed meanwhile is seen in one or the other)."""
        unwritten = [b for b in (self._unwritten, prepared) if b is not None]
        rows = _Rows()
        rows.add(self._rerouted(self.db, move, unwritten), None)
        self._place(rows, prepared, rerouted=True)

    def _reroute_after(self, cur: Cursor, move: Envelope) -> None:
        """What was routed about the participant and happened after the move goes to the
        regions it is now due to as well (it arrived before the move: a backdated move). The
        region left keeps what it received; nothing can be taken back from a stream."""
        self._write(cur, self._rerouted(cur, move, ()), None)

    def _rerouted(self, db: Cursor | Database, move: Envelope,
                  unwritten: Sequence[_Prepared]) -> Routed:
        """What a move sends on: the participant's events after it, in the order they
        happened, to each region they are due to now and are not logged in (as `db` and the
        rows not written yet hold them)."""
        participant = getattr(move.data, "participant_id", "")
        after = utc_text(move.occurred_at)
        later = {str(e): str(at) for e, at in db.execute(
            "SELECT event_id, occurred_at FROM region_participant_events"
            " WHERE participant_id = %s AND occurred_at > %s", (participant, after))}
        for batch in unwritten:
            later.update((e, at) for e, at in batch.concerning(participant) if at > after)
        ids = sorted(later, key=lambda e: (later[e], e))
        logged: dict[str, set[str]] = {e: set() for e in ids}
        bodies: dict[str, str] = {}
        for batch in unwritten:
            for event_id in ids:
                for region, body in batch.logged_as(event_id):
                    logged[event_id].add(region)
                    bodies.setdefault(event_id, body)
        for event_id, region, body in db.execute_among(
                "SELECT event_id, region_id, envelope FROM region_events WHERE event_id {among}",
                (), ids):
            logged[str(event_id)].add(str(region))
            bodies.setdefault(str(event_id), str(body))
        routed = Routed()
        for event_id in ids:
            env = parse_envelope(bodies[event_id])
            try:
                due = self.router.regions_of(env)
            except Unresolved:
                continue
            for region in sorted(due - logged[event_id]):
                self.router.emit(region, env, routed)
        return routed

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
        placed = _Prepared()
        placed.logged = {(str(r), str(e)) for r, e in cur.execute_among(
            "SELECT region_id, event_id FROM region_events WHERE event_id {among}", (),
            list(dict.fromkeys(str(out.id) for _, out in rows.out)))}
        self._place(rows, placed)
        cur.insert_rows("region_events", REGION_EVENT_COLUMNS, placed.events)
        cur.insert_rows("region_participant_events", PARTICIPANT_COLUMNS, placed.participants,
                        key=("participant_id", "event_id"))
        # the publisher polls these, not the log; one statement (a statement per region was
        # a round of psycopg's pipeline each, every batch and every move)
        cur.insert_rows("region_heads", ("region_id", "position"), sorted(placed.heads.items()),
                        key=("region_id",), update=("position",))

    def _place(self, rows: _Rows, into: _Prepared, *, rerouted: bool = False) -> None:
        """Give what was routed its rows: each region's new envelopes at its next positions
        (one `into.logged` already, delivered again, takes none), who each concerns (but for what
        a move re-routed, whose rows are there already), and the regions' heads; the held and
        released."""
        into.held += rows.held
        into.released += rows.released
        # each envelope's id and JSON as text, made once (it may go to several regions, and
        # the applied log's rows of the batch hold them already)
        texts: dict[int, tuple[str, str]] = {}
        made = self.applied.recorded_text if self.applied is not None else envelope_text
        for _, out in rows.out:
            if id(out) not in texts:
                texts[id(out)] = made(out)
        for region, out in rows.out:
            event_id, body = texts[id(out)]
            if (region, event_id) not in into.logged:
                into.logged.add((region, event_id))
                position = self.next_position.get(region, 1)
                into.events.append((region, position, event_id, out.key(), body))
                self.next_position[region] = position + 1
                into.heads[region] = position
            if rerouted:
                continue
            if (participant := field_of(out.data, "participant_id")) \
                    and (participant, event_id) not in into.concerned:
                into.concerned.add((participant, event_id))
                into.participants.append((participant, event_id, utc_text(out.occurred_at)))


REGION_EVENT_COLUMNS = ("region_id", "position", "event_id", "event_key", "envelope")
PARTICIPANT_COLUMNS = ("participant_id", "event_id", "occurred_at")


class _Prepared:
    """The rows of what was routed, to be written (`RegionLog._place`)."""

    def __init__(self) -> None:
        self.held: list[tuple[str, str]] = []
        self.released: list[str] = []
        self.events: list[tuple[str, int, str, str, str]] = []
        self.participants: list[tuple[str, str, str]] = []
        self.concerned: set[tuple[str, str]] = set()  # the participants' rows' keys
        self.heads: dict[str, int] = {}
        self.logged: set[tuple[str, str]] = set()  # (region, event) logged: these rows' and,
        # where `_flush` asked, the database's
        # what a move asks of the rows, indexed up to where it last asked
        self._by_participant: dict[str, list[tuple[str, str]]] = {}
        self._by_event: dict[str, list[tuple[str, str]]] = {}
        self._indexed = (0, 0)

    def concerning(self, participant: str) -> list[tuple[str, str]]:
        """(event id, occurred_at) of the participants' rows of this participant."""
        self._index()
        return self._by_participant.get(participant, [])

    def logged_as(self, event_id: str) -> list[tuple[str, str]]:
        """(region, envelope) of the region logs' rows of this event."""
        self._index()
        return self._by_event.get(event_id, [])

    def _index(self) -> None:
        people, events = self._indexed
        for participant, event_id, at in self.participants[people:]:
            self._by_participant.setdefault(participant, []).append((event_id, at))
        for region, _, event_id, _, body in self.events[events:]:
            self._by_event.setdefault(event_id, []).append((region, body))
        self._indexed = (len(self.participants), len(self.events))


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
