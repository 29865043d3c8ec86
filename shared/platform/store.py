"""Event store per service on the `eventsourcing` library, with pydantic domain events.

The library's 9.5.6 wheel has no pydantic integration, so this module supplies the mapper and
transcoder (the pattern of the library's `examples/aggregate7`, plus `class_version` upcasting).

A domain event that is also a fact of the public contract inherits from its contract model
(`class ParticipantRegistered(DomainEvent, events.ParticipantRegistered)`), so the fields are
declared once and the relay can publish it without a hand-written mapping. Events without a
contract base (personal data, internal bookkeeping) are stored but never relayed.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import hashlib
import struct
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self, TypeVar, cast

import orjson
from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    InterfaceError,
    Mapper,
    OperationalError,
    StoredEvent,
    Transcoder,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import get_topic, resolve_topic, retry
from psycopg.sql import SQL, Composable, Composed, Identifier
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events import EventData
from shared.platform.chain import GENESIS, LINK_FIXED, LINK_SQL, ChainedRow, Head, link
from shared.platform.observability import EVENTS_STORED
from shared.platform.settings import Settings, eventsourcing_env


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class DomainEvent(BaseModel):
    """A stored event. `timestamp` is when it was recorded, `occurred_at` when it happened."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=True)

    originator_id: uuid.UUID
    originator_version: int
    timestamp: AwareDatetime = Field(default_factory=utcnow)
    occurred_at: AwareDatetime = Field(default_factory=utcnow)
    actor: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    """The envelope id of the event this one follows from, where the service records one (a
    booking released by its occasion's cancellation names the `CourseOccasionCancelled`)."""
    event_id: str | None = None
    """The envelope id an imported event had in the log it came from (`yrkesresan
    import-log`); events the services record have none, their id derives from the stream."""

    class_version: ClassVar[int] = 1

    @classmethod
    def contract_type(cls) -> type[EventData] | None:
        return contract_type_of(cls)


PROVENANCE_FIELDS = frozenset(DomainEvent.model_fields)


@functools.cache
def contract_type_of(cls: type) -> type[EventData] | None:
    """The contract model a domain event class publishes as, found among its bases."""
    for base in cls.__mro__[1:]:
        if issubclass(base, EventData) and base is not EventData and "SERVICE" in vars(base):
            return base
    return None


class PydanticMapper(Mapper[uuid.UUID]):
    """Stores `model_dump(mode="json")`; rebuilds with the model class, upcasting old versions."""

    def to_stored_event(self, domain_event: DomainEventProtocol[uuid.UUID]) -> StoredEvent:
        event = cast(DomainEvent, domain_event)
        state = event.model_dump(mode="json", exclude={"originator_id", "originator_version"})
        if state.get("event_id") is None:
            state.pop("event_id", None)
        if type(event).class_version > 1:
            state["class_version"] = type(event).class_version
        stored = self.transcoder.encode(state)
        if self.compressor:
            stored = self.compressor.compress(stored)
        if self.cipher:
            stored = self.cipher.encrypt(stored)
        return StoredEvent(
            originator_id=event.originator_id,
            originator_version=event.originator_version,
            topic=get_topic(type(event)),
            state=stored,
        )

    def decode_state(self, stored_event: StoredEvent) -> dict[str, Any]:
        return self.decode(stored_event.topic, stored_event.state)

    def decode(self, topic: str, state: bytes) -> dict[str, Any]:
        """A stored event's state (its topic and bytes as stored), upcast to its class's
        version: what `decode_state` reads from a `StoredEvent`, for a row read directly."""
        if self.cipher:
            state = self.cipher.decrypt(state)
        if self.compressor:
            state = self.compressor.decompress(state)
        decoded: dict[str, Any] = self.transcoder.decode(state)
        cls = resolve_topic(topic)
        version = decoded.pop("class_version", 1)
        while version < cls.class_version:
            getattr(cls, f"upcast_v{version}_v{version + 1}")(decoded)
            version += 1
        return decoded

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[uuid.UUID]:
        state = self.decode_state(stored_event)
        cls = resolve_topic(stored_event.topic)
        return cast(
            DomainEventProtocol[uuid.UUID],
            cls(
                originator_id=stored_event.originator_id,
                originator_version=stored_event.originator_version,
                **state,
            ),
        )


class OrjsonTranscoder(Transcoder):
    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def decode(self, data: bytes) -> Any:
        return orjson.loads(data)


E = TypeVar("E", bound=DomainEvent)


class Aggregate:
    """A consistency boundary rebuilt by folding its events (`when` methods per event type)."""

    def __init__(self, id: uuid.UUID) -> None:
        self.id = id
        self.version = 0
        self._pending: list[DomainEvent] = []

    def trigger(self, event_cls: type[E], **fields: Any) -> E:
        """Record a new event: validated by its model, applied, and kept until saved."""
        event = event_cls(originator_id=self.id, originator_version=self.version + 1, **fields)
        self.apply(event)
        self._pending.append(event)
        return event

    def apply(self, event: DomainEvent) -> None:
        handler = getattr(self, f"when_{type(event).__name__}", None)
        if handler is not None:
            handler(event)
        self.version = event.originator_version

    def collect_events(self) -> list[DomainEvent]:
        pending, self._pending = self._pending, []
        return pending

    @property
    def unsaved(self) -> bool:
        """Whether it holds events that were triggered and not saved yet."""
        return bool(self._pending)

    @classmethod
    def project(cls, aggregate: Self | None, events: Iterable[DomainEvent]) -> Self | None:
        for event in events:
            if aggregate is None:
                aggregate = cls(event.originator_id)
            aggregate.apply(event)
        return aggregate


A = TypeVar("A", bound=Aggregate)


Statement = tuple[str, Sequence[Any]]
"""SQL with `%s` placeholders and its parameters."""

BulkRow = tuple[uuid.UUID, int, str, bytes]
"""A stored event for `insert_bulk`: originator id, originator version, topic, state."""


@dataclass(slots=True)
class _Save:
    """One caller's save waiting for `GroupCommit`: its events and statements, then what
    became of them (the notification ids, or the error), or that its caller writes next."""

    events: list[StoredEvent]
    statements: list[Statement]
    done: bool = False
    ids: list[int] = field(default_factory=list)
    error: BaseException | None = None
    leads: bool = False
    woken: threading.Event = field(default_factory=threading.Event)


class GroupCommit:
    """Saves made at once by a process's threads, written as one statement: a caller that
    finds nobody writing writes its save; those who come meanwhile wait, and when that write
    is done the first of them writes all that waits then, as one. Every save takes the
    store's table lock and waits for its commit to reach the disk while holding it
    (`PostgresRecorder`), so saves one by one cost a WAL flush each, in a row; a group costs
    one. A group that fails is written again save by save, so each caller gets its own
    outcome (a version conflict fails only the save that has it); a save alone is written as
    before. Each waiting caller is woken once, for its outcome or to write (waking them all
    at every write, under the GIL, took the API's threads from its requests)."""

    def __init__(self, write: Callable[[Sequence[_Save]], list[int]]) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._waiting: list[_Save] = []
        self._writing = False

    def save(self, save: _Save) -> list[int]:
        with self._lock:
            if self._writing:
                self._waiting.append(save)
            else:
                self._writing = save.leads = True
        if not save.leads:
            save.woken.wait()
        if not save.done:  # this caller writes: its save and all that wait now
            with self._lock:
                group, self._waiting = [save, *(s for s in self._waiting if s is not save)], []
            try:
                self._write_group(group)
            finally:
                self._hand_over()
        if save.error is not None:
            raise save.error
        return save.ids

    def _hand_over(self) -> None:
        """The next writer: the first caller that came during the write, if any."""
        with self._lock:
            if self._waiting:
                following = self._waiting[0]
                following.leads = True
                following.woken.set()
            else:
                self._writing = False

    def _write_group(self, group: list[_Save]) -> None:
        try:
            if len(group) > 1:
                try:
                    ids = self._write(group)
                except Exception:  # noqa: BLE001 - each save again alone: its own outcome
                    pass
                else:
                    at = 0
                    for save in group:
                        save.ids, at = ids[at:at + len(save.events)], at + len(save.events)
                        save.done = True
                    return
            for save in group:
                try:
                    save.ids = self._write([save])
                except BaseException as e:  # noqa: BLE001 - the caller's to raise
                    save.error = e
                save.done = True
        finally:
            for save in group:
                if not save.done:  # interrupted: the caller learns it was not written
                    save.error, save.done = RuntimeError("the group's write was cut short"), True
                save.woken.set()


class PostgresRecorder(PostgresApplicationRecorder):
    """The library's recorder, writing each save as one statement, with statements of our own
    in the same transaction (`app.save(..., statements=[(sql, params)])`, the way the library's
    process recorder adds its tracking record): for rows that must exist exactly when the
    events do, such as a personal-data key and the ciphertext sealed with it.

    The library's own insert is a pipelined transaction: table lock, notify and insert, then a
    round trip for the results, then COMMIT. The table lock that serialises all writers (so
    notification ids are committed in order) is thus held across a round trip and the
    client's wait for the GIL, which under load limits the write rate. Here a server-side
    function takes the same lock, notifies and inserts, and the save is a single statement in
    autocommit: the lock is held only while the server inserts and commits. Our statements
    ride along as data-modifying CTEs of that statement, so they commit or fail with it.

    Under that lock the function also extends the hash chain (`shared.platform.chain`, ADR
    0008): it reads the last event's position and hash and links each new event to it, so
    chain order is commit order without another round trip. The functions, the chain columns
    and their computation over a store that predates them are created by `yrkesresan
    migrate`, with the tables, in one transaction."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self._group = GroupCommit(self._insert_saves)
        if datastore.originator_id_type != "uuid":
            raise ValueError("the hash chain reads originator ids as UUIDs")
        names = _chain_names(datastore.schema, self.events_table_name,
                             self.stored_event_type_name, self.channel_name,
                             datastore.lock_timeout)
        # Services' stores are created by their migrations (`shared.platform.schema`); this
        # serves stores made with `create_table=True` (tests' own applications).
        self.sql_create_statements.extend(
            chain_ddl(datastore.schema, self.events_table_name, self.stored_event_type_name,
                      self.channel_name, datastore.lock_timeout))
        # The events array goes in binary (%b): its text form escaped every event's state
        # byte by byte on the client, two to three times the CPU of the whole insert.
        self._invoke = SQL("SELECT n AS notification_id FROM {schema}.{function}((%b)) AS n"
                           ).format(**names)
        self._select_chain = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state, "
            "chain_seq, chain_hash FROM {schema}.{table} WHERE notification_id > %s "
            "ORDER BY notification_id LIMIT %s").format(**names)
        self._select_head = SQL(
            "SELECT notification_id, chain_seq, chain_hash FROM {schema}.{table} "
            "WHERE notification_id <= %s ORDER BY notification_id DESC LIMIT 1").format(**names)
        self._select_events_of = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {schema}.{table} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        ).format(**names)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        statements: Sequence[Statement] = kwargs.get("statements", ())
        return self._group.save(_Save(list(stored_events), list(statements)))

    def _insert_saves(self, saves: Sequence[_Save]) -> list[int]:
        """The saves' events (each save's in its order, the saves in theirs) and statements
        as one statement: one lock, one commit; the notification ids in the events' order."""
        events = [self.construct_pg_stored_event(e.originator_id, e.originator_version,
                                                 e.topic, e.state)
                  for save in saves for e in save.events]
        params: list[Any] = []
        ctes: list[Composable] = []
        for i, (sql, values) in enumerate(s for save in saves for s in save.statements):
            ctes.append(SQL("{name} AS ({sql})").format(name=Identifier(f"s{i}"), sql=SQL(sql)))
            params.extend(values)
        query = self._invoke
        if ctes:
            query = SQL("WITH {ctes} {query}").format(ctes=SQL(", ").join(ctes), query=query)
        params.append(events)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(query, params, prepare=True)
            return [row["notification_id"] for row in curs.fetchall()]

    def select_chain(self, after: int, limit: int) -> list[ChainedRow]:
        """Stored events with their chain columns, in notification order, after `after`."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_chain, (after, limit))
            return [ChainedRow(r["notification_id"], r["originator_id"],
                               r["originator_version"], r["topic"], _bytes(r["state"]),
                               r["chain_seq"], _bytes(r["chain_hash"]))
                    for r in curs.fetchall()]

    def select_events_of(self, originator_ids: Sequence[uuid.UUID]) -> list[StoredEvent]:
        """Every event of several aggregates, each in version order, in one statement."""
        if not originator_ids:
            return []
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_events_of, (list(originator_ids),))
            return [StoredEvent(originator_id=r["originator_id"],
                                originator_version=r["originator_version"], topic=r["topic"],
                                state=bytes(r["state"])) for r in curs.fetchall()]

    def chain_head(self, upto: int) -> Head | None:
        """The chain position and hash stored with the last event at or before `upto`."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_head, (upto,))
            row = curs.fetchone()
        if row is None or row["chain_seq"] is None or row["chain_hash"] is None:
            return None
        return Head(row["notification_id"], row["chain_seq"], bytes(row["chain_hash"]))

    def insert_bulk(self, events: Iterable[BulkRow]) -> None:
        """Many events in one transaction by COPY, for an import (see `bulk_writer`)."""
        with self.bulk_writer() as write:
            write(events)

    @contextmanager
    def bulk_writer(self) -> Iterator[Callable[[Iterable[BulkRow]], None]]:
        """A transaction that writes events by COPY, for an import: the same table lock,
        chain and notification as the insert function, with the hashes computed here
        (`shared.platform.chain.link_bytes`, the same formula). Yields `write(events)`, which
        may be called many times: the rows stream to the server as they are made, so that it
        inserts while the caller prepares the next ones. Commits on leaving."""
        names = {"schema": Identifier(self.datastore.schema),
                 "table": Identifier(self.events_table_name),
                 "channel": Identifier(self.channel_name)}
        with self.datastore.get_connection() as conn, conn.transaction(), \
                conn.cursor() as curs:
            curs.execute(SQL("LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE").format(**names))
            curs.execute(SQL("NOTIFY {channel}").format(**names))
            curs.execute(SQL("SELECT chain_seq, chain_hash FROM {schema}.{table} "
                             "ORDER BY notification_id DESC LIMIT 1").format(**names))
            head = curs.fetchone()
            seq = int(head["chain_seq"]) if head and head["chain_seq"] is not None else 0
            prev = bytes(head["chain_hash"]) if head and head["chain_hash"] else GENESIS
            copy_sql = SQL("COPY {schema}.{table} (originator_id, originator_version, topic, "
                           "state, chain_seq, chain_hash) FROM STDIN (FORMAT BINARY)")
            with curs.copy(copy_sql.format(**names)) as copy:
                rows = ChainedCopy(seq, prev)
                copy.write(COPY_SIGNATURE)

                def write(events: Iterable[BulkRow]) -> None:
                    for block in rows.blocks(events):
                        copy.write(block)

                yield write
                copy.write(COPY_TRAILER)


COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # no flags, no header extension
COPY_TRAILER = b"\xff\xff"
_ROW_HEAD = struct.Struct(">hi16siqi")  # 6 fields; uuid; int8 version; the topic's length
_ROW_STATE = struct.Struct(">i")  # the state's length
_ROW_CHAIN = struct.Struct(">iqi32s")  # int8 chain_seq; bytea chain_hash


class ChainedCopy:
    """Rows of a binary COPY into an events table (originator_id, originator_version, topic,
    state, chain_seq, chain_hash), each linked to the one before, from chain position `seq`
    and hash `prev` on. PostgreSQL's binary COPY format (a signature, per row a field count
    and length-prefixed fields, a trailer) is written here and sent with psycopg's block
    `write`: its row-by-row `write_row` adapts each value through Python-level dumpers,
    several times the cost of packing a row with `struct`."""

    def __init__(self, seq: int, prev: bytes) -> None:
        self.seq, self.prev = seq, prev
        # per topic: its row head's and its hash's fixed part's packers, the topic's length
        # and UTF-8 (one `struct` call each, the topic in it, where several were per row)
        self.topics: dict[str, tuple[Callable[..., bytes], Callable[..., bytes], int,
                                     bytes]] = {}

    def blocks(self, events: Iterable[BulkRow], size: int = 1 << 20) -> Iterator[bytes]:
        """The rows of `events`, in blocks of about `size` bytes. Each row's hash is
        `shared.platform.chain.link_bytes`'s, computed in line."""
        seq, prev, topics = self.seq, self.prev, self.topics
        state_length, chain, sha256 = _ROW_STATE.pack, _ROW_CHAIN.pack, hashlib.sha256
        block = bytearray()
        for originator, version, topic, state in events:
            seq += 1
            raw = originator.bytes
            packers = topics.get(topic)
            if packers is None:
                encoded = topic.encode()
                n = len(encoded)
                packers = topics[topic] = (
                    struct.Struct(f"{_ROW_HEAD.format}{n}s").pack,
                    struct.Struct(f"{LINK_FIXED.format}{n}s").pack, n, encoded)
            head, fixed, n, encoded = packers
            prev = sha256(fixed(prev, seq, raw, version, n, encoded) + state).digest()
            block += head(6, 16, raw, 8, version, n, encoded)
            block += state_length(len(state))
            block += state
            block += chain(8, seq, 32, prev)
            if len(block) >= size:
                self.seq, self.prev = seq, prev
                yield bytes(block)
                block = bytearray()
        self.seq, self.prev = seq, prev
        if block:
            yield bytes(block)


def _chain_names(schema: str, table: str, event_type: str, channel: str,
                 lock_timeout: int) -> dict[str, Any]:
    return {
        "schema": Identifier(schema),
        "table": Identifier(table),
        "event": Identifier(event_type),
        "channel": Identifier(channel),
        "lock_timeout": lock_timeout,
        # One function each per events table: several services may share a database.
        "function": Identifier(f"yr_insert_{table}"[:63]),
        "link": Identifier(f"yr_chain_{table}"[:63]),
        "genesis": SQL("decode(repeat('00', 32), 'hex')"),
    }


def chain_ddl(schema: str, table: str, event_type: str, channel: str,
              lock_timeout: int) -> list[Composed]:
    """The hash chain's functions and columns for one PostgreSQL events table (below)."""
    names = _chain_names(schema, table, event_type, channel, lock_timeout)
    return [SQL(statement).format(**names) for statement in _CHAIN_DDL]


_CHAIN_DDL = (
    # The chain formula (shared.platform.chain.link), once in SQL for both users below.
    "CREATE OR REPLACE FUNCTION {schema}.{link}(prev bytea, seq bigint, originator_id uuid, "
    "originator_version bigint, topic text, state bytea) RETURNS bytea "
    f"LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT {LINK_SQL} $$",
    # A store that predates the chain gets the columns and the chain over what it holds, in
    # this same transaction: it is either not chained at all or chained entirely. A store
    # that has the columns is left alone: `migrate` must never re-chain (and so bless) a
    # store someone has edited.
    "DO $UPGRADE$ DECLARE r record; s bigint := 0; h bytea := {genesis}; BEGIN "
    "IF EXISTS (SELECT FROM pg_attribute WHERE attrelid = '{schema}.{table}'::regclass "
    "AND attname = 'chain_hash' AND NOT attisdropped) THEN RETURN; END IF; "
    "LOCK TABLE {schema}.{table} IN ACCESS EXCLUSIVE MODE; "
    "IF EXISTS (SELECT FROM pg_attribute WHERE attrelid = '{schema}.{table}'::regclass "
    "AND attname = 'chain_hash' AND NOT attisdropped) THEN RETURN; END IF; "
    "ALTER TABLE {schema}.{table} ADD COLUMN chain_seq bigint, ADD COLUMN chain_hash bytea; "
    "FOR r IN SELECT notification_id, originator_id, originator_version, topic, state "
    "FROM {schema}.{table} ORDER BY notification_id LOOP "
    "s := s + 1; "
    "h := {schema}.{link}(h, s, r.originator_id, r.originator_version, r.topic, r.state); "
    "UPDATE {schema}.{table} SET chain_seq = s, chain_hash = h "
    "WHERE notification_id = r.notification_id; "
    "END LOOP; END $UPGRADE$",
    # The save: lock, notify, link each event to the chain's head and insert it.
    "CREATE OR REPLACE FUNCTION {schema}.{function}(events {schema}.{event}[]) "
    "RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ "
    "DECLARE e {schema}.{event}; head_seq bigint; head_hash bytea; id bigint; "
    "BEGIN "
    "SET LOCAL lock_timeout = '{lock_timeout}s'; "
    "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
    "NOTIFY {channel}; "
    "SELECT chain_seq, chain_hash INTO head_seq, head_hash FROM {schema}.{table} "
    "ORDER BY notification_id DESC LIMIT 1; "
    "head_seq := coalesce(head_seq, 0); "
    "head_hash := coalesce(head_hash, {genesis}); "
    "FOREACH e IN ARRAY events LOOP "
    "head_seq := head_seq + 1; "
    "head_hash := {schema}.{link}(head_hash, head_seq, e.originator_id, "
    "e.originator_version, e.topic, e.state); "
    "INSERT INTO {schema}.{table} "
    "(originator_id, originator_version, topic, state, chain_seq, chain_hash) "
    "VALUES (e.originator_id, e.originator_version, e.topic, e.state, head_seq, head_hash) "
    "RETURNING notification_id INTO id; "
    "RETURN NEXT id; "
    "END LOOP; "
    "END; $BODY$",
)


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


class SQLiteRecorder(SQLiteApplicationRecorder):
    """The embedded default's counterpart of `PostgresRecorder`: statements of our own in the
    save's transaction, and the hash chain, extended inside that transaction after taking
    the database's write lock first (so the head it links to is the one it commits after,
    whichever process writes)."""

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        table = self.events_table_name
        self._take_write_lock = f"UPDATE {table} SET topic = topic WHERE 0"
        self._select_last = (
            f"SELECT chain_seq, chain_hash FROM {table} ORDER BY rowid DESC LIMIT 1")
        self._insert_chained = (
            f"INSERT INTO {table} (originator_id, originator_version, topic, state, "
            "chain_seq, chain_hash) VALUES (?, ?, ?, ?, ?, ?)")
        self._select_chain = (
            f"SELECT rowid, originator_id, originator_version, topic, state, chain_seq, "
            f"chain_hash FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?")
        self._select_head = (
            f"SELECT rowid, chain_seq, chain_hash FROM {table} WHERE rowid <= ? "
            "ORDER BY rowid DESC LIMIT 1")

    def _create_table(self, c: Any) -> None:
        """Create the table, and chain a store that predates the chain, in one transaction."""
        super()._create_table(c)
        chain_sqlite_store(c, self.events_table_name)

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> Sequence[int] | None:
        statements: Sequence[Statement] = kwargs.get("statements", ())
        c.execute(self._take_write_lock)  # before reading the head
        for sql, params in statements:
            c.execute(sql.replace("%s", "?"), tuple(params))
        c.execute(self._select_last)
        last = c.fetchone()
        seq, prev = (last[0] or 0, last[1] or GENESIS) if last else (0, GENESIS)
        ids = []
        for s in stored_events:
            originator_id = _uuid(s.originator_id)
            seq += 1
            prev = link(prev, seq, originator_id, s.originator_version, s.topic, s.state)
            c.execute(self._insert_chained, (originator_id.hex, s.originator_version, s.topic,
                                             s.state, seq, prev))
            ids.append(c.lastrowid)
        return ids

    def insert_bulk(self, events: Iterable[BulkRow]) -> None:
        """Many events in one transaction, chained (see `PostgresRecorder.insert_bulk`)."""
        with self.bulk_writer() as write:
            write(events)

    @contextmanager
    def bulk_writer(self) -> Iterator[Callable[[Iterable[BulkRow]], None]]:
        """One write transaction; yields `write(events)` (see `PostgresRecorder`)."""
        with self.datastore.transaction(commit=True) as c:

            def write(events: Iterable[BulkRow]) -> None:
                self._insert_events(c, [StoredEvent(originator_id=o, originator_version=v,
                                                    topic=t, state=s)
                                        for o, v, t, s in events])

            yield write

    def select_events_of(self, originator_ids: Sequence[uuid.UUID]) -> list[StoredEvent]:
        """Every event of several aggregates, each in version order."""
        found: list[StoredEvent] = []
        ids = [i.hex for i in originator_ids]
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                c.execute(f"SELECT originator_id, originator_version, topic, state FROM "
                          f"{self.events_table_name} WHERE originator_id IN "
                          f"({', '.join('?' * len(chunk))}) "
                          "ORDER BY originator_id, originator_version", chunk)
                found += [StoredEvent(originator_id=_uuid(r[0]), originator_version=r[1],
                                      topic=r[2], state=r[3]) for r in c.fetchall()]
        return found

    def select_chain(self, after: int, limit: int) -> list[ChainedRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._select_chain, (after, limit))
            return [ChainedRow(r[0], _uuid(r[1]), r[2], r[3], r[4], r[5], r[6])
                    for r in c.fetchall()]

    def chain_head(self, upto: int) -> Head | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._select_head, (upto,))
            row = c.fetchone()
        if row is None or row[1] is None or row[2] is None:
            return None
        return Head(row[0], row[1], bytes(row[2]))


def chain_sqlite_store(c: Any, table: str) -> None:
    """Chain a SQLite store that predates the chain, in the caller's transaction, after
    taking the database's write lock (see `PostgresRecorder`: a store that has the columns is
    never re-chained)."""
    c.execute(f"UPDATE {table} SET topic = topic WHERE 0")
    c.execute(f"PRAGMA table_info({table})")
    if any(row[1] == "chain_hash" for row in c.fetchall()):
        return
    c.execute(f"ALTER TABLE {table} ADD COLUMN chain_seq INTEGER")
    c.execute(f"ALTER TABLE {table} ADD COLUMN chain_hash BLOB")
    c.execute(f"SELECT rowid, originator_id, originator_version, topic, state FROM {table} "
              "ORDER BY rowid")
    seq, prev, updates = 0, GENESIS, []
    for rowid, originator_id, version, topic, state in c.fetchall():
        seq += 1
        prev = link(prev, seq, _uuid(originator_id), version, topic, state)
        updates.append((seq, prev, rowid))
    c.executemany(f"UPDATE {table} SET chain_seq = ?, chain_hash = ? WHERE rowid = ?",
                  updates)


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


ChainRecorder = PostgresRecorder | SQLiteRecorder


class ServiceApplication(Application[uuid.UUID]):
    """One service's event store. Tables are created by `yrkesresan migrate`, never at start-up:
    several processes creating them at once race inside the library."""

    service: ClassVar[str]
    env: ClassVar[dict[str, str]] = {
        "MAPPER_TOPIC": get_topic(PydanticMapper),
        "TRANSCODER_TOPIC": get_topic(OrjsonTranscoder),
    }

    def __init__(
        self, database_url: str | None = None, *, create_table: bool = False
    ) -> None:
        url = database_url or Settings().database_url_for(self.service)
        self.database_url = url
        self._cache_lock = threading.Lock()
        super().__init__(env=eventsourcing_env(url, create_table=create_table))

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        recordings = super().save(*objs, **kwargs)
        EVENTS_STORED.labels(self.service).inc(len(recordings))
        if self.repository.cache is not None:
            self._keep_folded(recordings)
        return recordings

    def load(self, cls: type[A], aggregate_id: uuid.UUID) -> A:
        """The aggregate, or KeyError-like `AggregateNotFoundError` from the library."""
        projector = cast(Callable[[Any, Iterable[Any]], Any], cls.project)
        if self.repository.cache is None:
            return cast(A, self.repository.get(aggregate_id, projector_func=projector))
        # The library copies a cached aggregate after releasing its lock, while another
        # thread may be folding new events into it; here the copy is taken under our lock.
        with self._cache_lock:
            return copy.deepcopy(cast(A, self.repository.get(
                aggregate_id, projector_func=projector, deepcopy_from_cache=False)))

    def _keep_folded(self, recordings: Sequence[Any]) -> None:
        """Fold what this process just saved into the kept copies, so the next load reads no
        event it wrote itself. A copy that is not exactly one event behind is left as it is:
        the next load brings it up to date from the store (the library's fast-forward)."""
        assert self.repository.cache is not None
        with self._cache_lock:
            for recording in recordings:
                event = recording.domain_event
                try:
                    kept = self.repository.cache.get(event.originator_id)
                except KeyError:
                    continue
                if isinstance(kept, Aggregate) and kept.version == event.originator_version - 1:
                    kept.apply(event)

    def load_many(self, cls: type[A], aggregate_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, A]:
        """The aggregates of these ids that exist, read in one statement (a batch of a
        consumer decides on many at once), folded as `load` folds one."""
        events: dict[uuid.UUID, list[Any]] = {}
        for stored in self.chain.select_events_of(list(dict.fromkeys(aggregate_ids))):
            event = self.mapper.to_domain_event(stored)
            events.setdefault(_uuid(stored.originator_id), []).append(event)
        found: dict[uuid.UUID, A] = {}
        for key, stream in events.items():
            aggregate = cls.project(None, stream)
            if aggregate is not None:
                found[key] = aggregate
        return found

    def exists(self, aggregate_id: uuid.UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    @property
    def chain(self) -> ChainRecorder:
        """The recorder, as the hash chain reads it (ADR 0008)."""
        recorder = self.recorder
        assert isinstance(recorder, PostgresRecorder | SQLiteRecorder)
        return recorder


_URL_NAMESPACE = uuid.NAMESPACE_URL.bytes
_VERSION_5 = (5 << 76) | (0x8000 << 48)  # RFC 4122: version 5, its variant
_NOT_VERSION = ~(0xF000 << 64) & ~(0xC000 << 48)


def aggregate_id(kind: str, key: str) -> uuid.UUID:
    """A stable aggregate id from a domain key, so commands can address aggregates by key:
    `uuid.uuid5(uuid.NAMESPACE_URL, "yrkesresan:KIND:KEY")`, computed from the SHA-1 digest's
    integer (uuid5 builds the UUID from bytes and sets its version through the constructor's
    slower path: 9.5 against 3.4 us here; the certification consumer derives about three per
    attendance)."""
    digest = hashlib.sha1(_URL_NAMESPACE + f"yrkesresan:{kind}:{key}".encode()).digest()
    return uuid.UUID(int=(int.from_bytes(digest[:16], "big") & _NOT_VERSION) | _VERSION_5)
