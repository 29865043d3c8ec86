"""Event store per service on the `eventsourcing` library, with pydantic domain events.

The library's 9.5.6 wheel has no pydantic integration, so this module supplies the mapper and
transcoder (the pattern of the library's `examples/aggregate7`, plus `class_version` upcasting).

A domain event that is also a fact of the public contract inherits from its contract model
(`class ParticipantRegistered(DomainEvent, events.ParticipantRegistered)`), so the fields are
declared once and the relay can publish it without a hand-written mapping. Events without a
contract base (personal data, internal bookkeeping) are stored but never relayed.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable, Iterable, Sequence
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
from psycopg.sql import SQL, Composable, Identifier
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events import EventData
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
        state = stored_event.state
        if self.cipher:
            state = self.cipher.decrypt(state)
        if self.compressor:
            state = self.compressor.decompress(state)
        decoded: dict[str, Any] = self.transcoder.decode(state)
        cls = resolve_topic(stored_event.topic)
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
    The function is created by `yrkesresan migrate`, with the tables."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema = Identifier(datastore.schema)
        # One function per events table: several services may share a database.
        self.locked_insert_function = Identifier(f"yr_insert_{self.events_table_name}"[:63])
        self.sql_create_statements.append(SQL(
            "CREATE OR REPLACE FUNCTION {schema}.{function}(events {schema}.{event}[]) "
            "RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ "
            "BEGIN "
            "SET LOCAL lock_timeout = '{lock_timeout}s'; "
            "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
            "NOTIFY {channel}; "
            "RETURN QUERY INSERT INTO {schema}.{table} "
            "(originator_id, originator_version, topic, state) "
            "SELECT originator_id, originator_version, topic, state FROM unnest(events) "
            "RETURNING notification_id; "
            "END; $BODY$"
        ).format(
            schema=schema, function=self.locked_insert_function,
            event=Identifier(self.stored_event_type_name),
            lock_timeout=datastore.lock_timeout, table=Identifier(self.events_table_name),
            channel=Identifier(self.channel_name),
        ))
        self._invoke = SQL("SELECT n AS notification_id FROM {schema}.{function}((%s)) AS n"
                           ).format(schema=schema, function=self.locked_insert_function)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        statements: Sequence[Statement] = kwargs.get("statements", ())
        events = [self.construct_pg_stored_event(e.originator_id, e.originator_version,
                                                 e.topic, e.state) for e in stored_events]
        params: list[Any] = []
        ctes: list[Composable] = []
        for i, (sql, values) in enumerate(statements):
            ctes.append(SQL("{name} AS ({sql})").format(name=Identifier(f"s{i}"), sql=SQL(sql)))
            params.extend(values)
        query = self._invoke
        if ctes:
            query = SQL("WITH {ctes} {query}").format(ctes=SQL(", ").join(ctes), query=query)
        params.append(events)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(query, params, prepare=True)
            return [row["notification_id"] for row in curs.fetchall()]


class SQLiteRecorder(SQLiteApplicationRecorder):
    """The embedded default's counterpart of `PostgresRecorder`."""

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> Sequence[int] | None:
        statements: Sequence[Statement] = kwargs.get("statements", ())
        for sql, params in statements:
            c.execute(sql.replace("%s", "?"), tuple(params))
        return super()._insert_events(c, stored_events, **kwargs)


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
        super().__init__(env=eventsourcing_env(url, create_table=create_table))

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        recordings = super().save(*objs, **kwargs)
        EVENTS_STORED.labels(self.service).inc(len(recordings))
        return recordings

    def load(self, cls: type[A], aggregate_id: uuid.UUID) -> A:
        """The aggregate, or KeyError-like `AggregateNotFoundError` from the library."""
        projector = cast(Callable[[Any, Iterable[Any]], Any], cls.project)
        return cast(A, self.repository.get(aggregate_id, projector_func=projector))

    def exists(self, aggregate_id: uuid.UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))


def aggregate_id(kind: str, key: str) -> uuid.UUID:
    """A stable aggregate id from a domain key, so commands can address aggregates by key."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"yrkesresan:{kind}:{key}")
