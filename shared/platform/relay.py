"""Outbox relay: publishes a service's stored events to its Kafka topics, at least once.

It follows the application's notification log from the position it last recorded, maps each
stored event to a contract envelope (id derived from originator id and version, so a re-publish
carries the same id), publishes with acks=all, and records the new position only after the broker
has acknowledged the whole batch. The broker is a transport, not the source of truth: when a
topic comes back empty (the local broker keeps everything in memory; a Kafka topic can be
deleted and created again) the relay notices and publishes that topic's events again from the
store, before anything newer, and only that topic's; consumers deduplicate by envelope id. How
far each topic holds the store's events is kept beside the relay's position, so a relay killed
while publishing a topic again goes on where it was. A topic counts as emptied when the broker
names it by another topic id than the one it had when the relay published to it (it was created
again), when every partition of it is empty, or when an acknowledged offset goes back.

The producer is not idempotent: the local broker keeps its producer ids in memory and hands the
same ids out again after a restart, so a producer of the old broker and one of the new can share
an id, and the broker answers the second one's first records "duplicate sequence number", which
the client takes for success: records acknowledged and never written (the drill that kills the
broker lost registrations that way). Without idempotence a retry may write a record twice, which
consumers drop by envelope id; one request in flight per connection keeps each partition in the
order the store recorded.

Of several instances of one relay, one works and the others stand by (`shared/platform/lease.py`).

Every `head_every_s` seconds or `head_every_events` events it also publishes the store's hash
chain head as far as it has relayed (ADR 0008) on `yrkesresan.audit.v1`, so that an outsider
can hold the service to the history it has published.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import Any

import orjson
import psycopg
from eventsourcing.persistence import Notification, PersistenceError
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import resolve_topic
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from psycopg.sql import SQL, Identifier

from shared.events import SCHEMA_VERSION, stored_event_id_text, topic_name
from shared.events.fast import decode_envelope
from shared.platform.broker import close_quietly, ensure_topics
from shared.platform.chain import AUDIT_TOPIC, PublishedHead
from shared.platform.db import Database, libpq_url
from shared.platform.lease import Lease, LeaseLost, stand_by_until_leased
from shared.platform.observability import EVENTS_RELAYED, RELAY_LAG
from shared.platform.store import (
    PROVENANCE_FIELDS,
    PydanticMapper,
    ServiceApplication,
    contract_type_of,
)

log = logging.getLogger(__name__)

class RelayPositions:
    """Where each relay has got to, in the service's own database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, relay: str) -> int:
        rows = self.db.execute("SELECT position FROM relay_positions WHERE relay = %s", (relay,))
        return int(rows[0][0]) if rows else 0

    def set(self, relay: str, position: int, topics: AbstractSet[str] = frozenset()) -> None:
        """Record the position, and which topics the relay has published to (`relay|topic`),
        so that after a restart it knows which topics to check for a broker that lost them.
        One statement (atomic by itself): a transaction of a statement per key cost a round
        trip each, after every batch."""
        keys = [relay, *(f"{relay}|{t}" for t in sorted(topics))]
        self.db.execute(
            "INSERT INTO relay_positions (relay, position) VALUES "
            + ", ".join(["(%s, %s)"] * len(keys))
            + " ON CONFLICT (relay) DO UPDATE SET position = excluded.position",
            tuple(value for key in keys for value in (key, position)),
        )

    def topics(self, relay: str) -> dict[str, int]:
        """Each topic the relay has published to, and how far it holds the store's events."""
        rows = self.db.execute(
            "SELECT relay, position FROM relay_positions WHERE relay LIKE %s", (f"{relay}|%",)
        )
        return {r[0].split("|", 1)[1]: int(r[1]) for r in rows}

    def set_topic(self, relay: str, topic: str, position: int) -> None:
        self.db.execute(
            "INSERT INTO relay_positions (relay, position) VALUES (%s, %s) "
            "ON CONFLICT (relay) DO UPDATE SET position = excluded.position",
            (f"{relay}|{topic}", position),
        )


def _cluster(client: Any) -> Any:
    """The metadata a kafka-python producer or consumer holds (topic ids), or None."""
    return getattr(client, "_metadata", None) or getattr(
        getattr(client, "_client", None), "cluster", None)


@functools.cache
def _contract_of_topic(topic: str) -> tuple[str, str, tuple[str, ...], str] | None:
    """(type name, topic, data fields, key field) of a stored event topic, or None if private."""
    contract = contract_type_of(resolve_topic(topic))
    if contract is None:
        return None
    fields = tuple(f for f in contract.model_fields if f not in PROVENANCE_FIELDS)
    return contract.__name__, topic_name(contract.SERVICE), fields, contract.KEY


def envelope_of(
    mapper: PydanticMapper, stream: str, note: Notification
) -> tuple[str, bytes, bytes] | None:
    """(topic, key, value) of one stored event, or None for events that are never published."""
    return message_of(envelope_fields(mapper, stream, note))


def message_of(made: tuple[str, str, dict[str, Any]] | None
               ) -> tuple[str, bytes, bytes] | None:
    """(topic, key, value) of an envelope's fields (`envelope_fields`), validated."""
    if made is None:
        return None
    topic, key_field, envelope = made
    # Validated on the way out: what leaves the service is contract-valid or nothing leaves.
    # The bytes are read back as replay reads a log (msgspec Structs generated from the
    # contract models, `shared.events.fast`): pydantic's verdict, in its words, on anything
    # msgspec refuses, and several times faster than building pydantic's envelope.
    value = orjson.dumps(envelope)
    decode_envelope(value)
    return topic, str(envelope["data"][key_field]).encode(), value


def envelope_fields(
    mapper: PydanticMapper, stream: str, note: Notification
) -> tuple[str, str, dict[str, Any]] | None:
    """(topic, the data field that keys it, the envelope's fields, not yet validated) of one
    stored event, or None for events that are never published."""
    return stored_envelope_fields(mapper, stream, *stored_row(note))


StoredRow = tuple[int, str, int, str, bytes]
"""A stored event as its table holds it: notification id, originator id (canonical UUID
text), originator version, topic, state."""


def stored_row(note: Notification) -> StoredRow:
    """A notification the library read, as the columns of its row (`StoredRow`)."""
    originator = note.originator_id  # a UUID (text only where a store keeps ids as text)
    if not isinstance(originator, uuid.UUID):
        originator = uuid.UUID(originator)
    return note.id, str(originator), note.originator_version, note.topic, note.state


def stored_envelope_fields(
    mapper: PydanticMapper, stream: str, position: int, originator: str, version: int,
    stored_topic: str, state: bytes,
) -> tuple[str, str, dict[str, Any]] | None:
    """`envelope_fields` of a stored event's columns as its table holds them (notification
    id, originator id as canonical UUID text, originator version, topic, state): the one
    mapping from a stored event to an envelope's fields, for the relay, export and the
    rebuild, which reads the rows itself (`yrkesresan.stores`)."""
    contract = _contract_of_topic(stored_topic)
    if contract is None:
        return None
    type_name, topic, fields, key_field = contract
    decoded = mapper.decode(stored_topic, state)
    envelope: dict[str, Any] = {
        # An imported event keeps the id it had in its log (`yrkesresan import-log`).
        "id": decoded.get("event_id") or stored_event_id_text(originator, version),
        "type": type_name,
        "schema_version": SCHEMA_VERSION,
        "occurred_at": decoded["occurred_at"],
        "data": {f: decoded[f] for f in fields if f in decoded},
        "recorded_at": decoded["timestamp"],
        "stream_id": f"{stream}:{originator}",
        "position": position,
    }
    for optional in ("actor", "correlation_id", "causation_id"):
        if decoded.get(optional):
            envelope[optional] = decoded[optional]
    return topic, key_field, envelope


class NewEvents:
    """Wakes an idle relay when its store saves: on PostgreSQL every save NOTIFYs the store's
    channel (`PostgresRecorder`), so the relay LISTENs on a connection of its own and sleeps
    until then, at most `idle_wait` seconds (it still checks its lease, the broker and the
    chain head's due time that often). SQLite notifies no other process, so there the relay
    looks again every `sqlite_poll` seconds. (The library's `PostgresSubscription` listens the
    same way, but yields notifications one by one from a thread; the relay reads batches.)"""

    def __init__(self, app: ServiceApplication, idle_wait: float, sqlite_poll: float) -> None:
        recorder = app.recorder
        self.channel = ""  # SQLite: none
        if isinstance(recorder, PostgresApplicationRecorder):
            self.channel = recorder.channel_name
        self.app_url = app.database_url
        self.idle_wait, self.sqlite_poll = idle_wait, sqlite_poll
        self._conn: psycopg.Connection[Any] | None = None

    def wait(self, stopping: threading.Event) -> None:
        """Until the store notifies, `stopping` is set or the wait is over."""
        if not self.channel:
            stopping.wait(self.sqlite_poll)
            return
        if self._conn is None:  # (again) listening: what was saved meanwhile is read next
            self._conn = psycopg.connect(libpq_url(self.app_url), autocommit=True)
            self._conn.execute(SQL("LISTEN {}").format(Identifier(self.channel)))
            return
        waited, step = 0.0, min(self.idle_wait, 0.25)  # stop() answered within `step`
        try:
            while waited < self.idle_wait and not stopping.is_set():
                if any(True for _ in self._conn.notifies(timeout=step, stop_after=1)):
                    for _ in self._conn.notifies(timeout=0):  # the rest: one read covers all
                        pass
                    return
                waited += step
        except psycopg.Error:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class BrokerWentEmpty(Exception):
    """The broker lost what it had acknowledged on these topics (it restarted with in-memory
    storage, or the topics were deleted and created again)."""

    def __init__(self, topics: set[str], message: str) -> None:
        super().__init__(message)
        self.topics = topics


class Relay:
    def __init__(
        self,
        app: ServiceApplication,
        bootstrap: str,
        *,
        batch_size: int = 5000,
        idle_sleep: float = 0.05,
        idle_wait: float = 1.0,
        probe_every: float = 2.0,
        producer_config: dict[str, Any] | None = None,
        head_every_s: float = 10.0,
        head_every_events: int = 10_000,
        lease: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.name = f"{app.service}-relay"
        self.bootstrap = bootstrap
        self.batch_size = batch_size
        self.idle_sleep = idle_sleep  # SQLite's: how often an idle relay looks again
        # Idle, it wakes at the latest when a broker probe or a chain head may be due.
        self.new_events = NewEvents(app, min(idle_wait, probe_every, head_every_s), idle_sleep)
        self.probe_every = probe_every
        self.producer_config = producer_config or {}
        self.positions = RelayPositions(Database(app.database_url))
        assert isinstance(app.mapper, PydanticMapper)
        self.mapper: PydanticMapper = app.mapper
        self.stopping = threading.Event()
        self.position = 0
        # Each topic published to, and up to which store position it holds every event.
        self.topic_positions: dict[str, int] = {}
        self.lease = Lease(app.database_url, f"relay:{self.name}") if lease else None
        self.standing_by = False
        self._acked: dict[tuple[str, int], int] = {}
        # The broker's id of each topic published to, as it was then (None: not known yet).
        self._topic_ids: dict[str, uuid.UUID] = {}
        self._producer: KafkaProducer | None = None
        self._probe: KafkaConsumer | None = None  # asks the broker what it holds
        self.healthy = False
        self.clock = clock  # seconds, for when a head is due
        self.head_every_s = head_every_s
        self.head_every_events = head_every_events
        self.head: PublishedHead | None = None  # the last one published
        self._head_at = 0.0  # monotonic time it was published

    # -- broker plumbing --------------------------------------------------------------------

    def _connect(self) -> KafkaProducer:
        if self._producer is None:
            ensure_topics(self.bootstrap)
            self._producer = KafkaProducer(
                bootstrap_servers=self.bootstrap,
                acks="all",
                enable_idempotence=False,  # see the module's docstring
                max_in_flight_requests_per_connection=1,
                metadata_max_age_ms=10_000,  # a topic created again is seen within seconds
                allow_auto_create_topics=False,  # created with its partitions: ensure_topics
                linger_ms=5,
                batch_size=256 * 1024,
                max_request_size=4 * 1024 * 1024,
                request_timeout_ms=10000,
                retries=5,
                **self.producer_config,
            )
        return self._producer

    def _drop_producer(self) -> None:
        """The producer, and the consumer that probes the broker, made anew when next needed
        (after an error, a broker that came back empty, a lost lease)."""
        close_quietly(self._producer)
        self._producer = None
        if self._probe is not None:
            try:
                self._probe.close(autocommit=False, timeout_ms=1000)
            except Exception:  # noqa: BLE001 - closing a broken client may fail too
                pass
            self._probe = None

    @property
    def published_topics(self) -> set[str]:
        return set(self.topic_positions)

    def _emptied_topics(self) -> set[str]:
        """The topics we published to whose partitions all hold nothing.

        End offsets from this broker may be too low, but never 0 for a partition that holds
        records, so "all zero" is a reliable sign that the topic came back empty."""
        watched = {t for t, held in self.topic_positions.items() if held > 0}
        if self.head is not None:
            watched.add(AUDIT_TOPIC)
        if not watched:
            return set()
        if self._probe is None:
            # Kept from probe to probe (closed with the producer): a consumer made anew every
            # probe_every seconds cost about 20 ms of CPU each (connecting, the broker's API
            # versions, metadata), a tenth of the relay's CPU at 100 requests/s.
            self._probe = KafkaConsumer(bootstrap_servers=self.bootstrap,
                                        request_timeout_ms=10000, enable_auto_commit=False,
                                        allow_auto_create_topics=False)
        consumer = self._probe
        consumer.topics()  # the cluster's metadata as it is now (always asks the broker)
        emptied = set()
        for topic in sorted(watched):
            parts = [TopicPartition(topic, p)
                     for p in (consumer.partitions_for_topic(topic) or ())]
            if not parts or all(v == 0 for v in consumer.end_offsets(parts).values()):
                emptied.add(topic)
        return emptied | self._recreated(_cluster(consumer), watched)

    def _recreated(self, cluster: Any, topics: AbstractSet[str]) -> set[str]:
        """The topics the broker now names by another id than when we published to them;
        the ids of the others are learned (kept as they were until the republish is done)."""
        if cluster is None:
            return set()
        recreated = set()
        for topic in topics:
            now = cluster.topic_id(topic)
            if now is None:
                continue
            known = self._topic_ids.get(topic)
            if known is None:
                self._topic_ids[topic] = now
            elif known != now:
                recreated.add(topic)
        return recreated

    # -- the loop ---------------------------------------------------------------------------

    def publish_batch(self, notes: list[Any],
                      only: Callable[[str, int], bool] | None = None) -> tuple[int, set[str]]:
        """Publish the batch's public events (those `only(topic, position)` allows); return how
        many, and to which topics."""
        producer = self._connect()
        futures = []
        topics: set[str] = set()
        for note in notes:
            message = envelope_of(self.mapper, self.app.service, note)
            if message is not None and (only is None or only(message[0], note.id)):
                topic, key, value = message
                topics.add(topic)
                futures.append(producer.send(topic, key=key, value=value))
        producer.flush(timeout=30)
        for future in futures:
            meta = future.get(timeout=0)  # raises the send's error, if any
            where = (meta.topic, meta.partition)
            if meta.offset < self._acked.get(where, -1):
                raise BrokerWentEmpty({meta.topic}, f"{where} offset went back to {meta.offset}")
            self._acked[where] = meta.offset
        recreated = self._recreated(_cluster(producer), topics)
        if recreated:
            # Written to a topic created anew: what it held before is gone. Not recorded as
            # published; the topic is published again from the start, then this batch.
            raise BrokerWentEmpty(recreated, "topic created again (a new topic id)")
        return len(futures), topics

    def topics_emptied(self, topics: set[str], reason: str) -> None:
        """The broker lost these topics: publish their events again from the store, up to the
        relayed position, before anything newer (`run_once` does it)."""
        log.warning("broker lost topics; publishing them again from the store",
                    extra={"topics": sorted(topics), "reason": reason, "up_to": self.position})
        for where in [w for w in self._acked if w[0] in topics]:
            del self._acked[where]
        for topic in topics:
            self._topic_ids.pop(topic, None)  # learned anew from the broker as it is now
        if AUDIT_TOPIC in topics:
            self.head, self._head_at = None, 0.0  # the head is due again at once
        for topic in topics & self.published_topics:
            self.topic_positions[topic] = 0
            self.positions.set_topic(self.name, topic, 0)
        self._drop_producer()  # its idempotence sequence numbers belong to the old broker

    def restart_from_scratch(self, reason: str) -> None:
        """Every topic again (an operator's choice; the relay itself republishes what was
        emptied only)."""
        self.topics_emptied(self.published_topics | {AUDIT_TOPIC}, reason)

    def _behind(self) -> dict[str, int]:
        return {t: held for t, held in self.topic_positions.items() if held < self.position}

    def run_once(self) -> int:
        """Publish one batch; return how many stored events it covered (0 when idle). Topics
        that hold less than the relayed position are brought up to it first."""
        behind = self._behind()
        if behind:
            return self._republish_once(behind)
        notes = list(self.app.recorder.select_notifications(
            start=self.position, limit=self.batch_size, inclusive_of_start=False
        ))
        if not notes:
            return 0
        published, topics = self.publish_batch(notes)
        self.position = notes[-1].id
        for topic in topics | self.published_topics:
            self.topic_positions[topic] = self.position
        self.positions.set(self.name, self.position, self.published_topics)
        EVENTS_RELAYED.labels(self.app.service).inc(published)
        # A batch shorter than a full one read everything saved by then: no backlog to ask
        # the store about (a statement less per batch); a full one may have more behind it.
        self._update_lag(newest=None if len(notes) == self.batch_size else self.position)
        return len(notes)

    def _republish_once(self, behind: dict[str, int]) -> int:
        start = min(behind.values())
        notes = [n for n in self.app.recorder.select_notifications(
            start=start, limit=self.batch_size, inclusive_of_start=False) if n.id <= self.position]
        end = notes[-1].id if notes else self.position
        published, _ = self.publish_batch(
            notes, only=lambda topic, at: topic in behind and at > behind[topic])
        for topic in behind:
            self.topic_positions[topic] = max(behind[topic], end)
            self.positions.set_topic(self.name, topic, self.topic_positions[topic])
        EVENTS_RELAYED.labels(self.app.service).inc(published)
        return max(len(notes), 1)

    def publish_head(self, force: bool = False) -> PublishedHead | None:
        """Publish the chain head at the relayed position when it is due: it moved, and
        `head_every_s` seconds or `head_every_events` events have passed since the last one
        (or `force`). The head of events not yet relayed is never published."""
        published = self.head.notification_id if self.head else 0
        if self.position <= published:
            return None
        due = (self.position - published >= self.head_every_events
               or self.clock() - self._head_at >= self.head_every_s)
        chain_head = getattr(self.app.recorder, "chain_head", None)  # absent: not chained
        if not (due or force) or chain_head is None:
            return None
        found = chain_head(self.position)
        if found is None:
            return None
        head = PublishedHead.of(self.app.service, found)
        producer = self._connect()
        producer.send(AUDIT_TOPIC, key=self.app.service.encode(),
                      value=head.model_dump_json().encode()).get(timeout=30)
        self.head, self._head_at = head, self.clock()
        return head

    def run(self, on_idle: Callable[[], None] | None = None) -> None:
        """Work while this instance holds the lease (stand by until then). A lost lease (its
        database connection ended: a server restart) makes it stand by again."""
        while not self.stopping.is_set():
            if not stand_by_until_leased(self):
                return
            if self.lease is not None:
                self._fresh_connections()
            try:
                self._work(on_idle)
                return
            except LeaseLost:
                log.warning("lease lost; standing by", extra={"relay": self.name})
            finally:
                self._drop_producer()
                self.new_events.close()
                if self.lease is not None:
                    self.lease.release()

    def _work(self, on_idle: Callable[[], None] | None) -> None:
        self.position = self.positions.get(self.name)
        self.topic_positions = self.positions.topics(self.name) if self.position else {}
        log.info("relay starting", extra={"relay": self.name, "position": self.position})
        backoff = 0.2
        last_probe = 0.0
        while not self.stopping.is_set():
            if self.lease is not None:
                self.lease.check()
            try:
                if time.monotonic() - last_probe > self.probe_every:
                    last_probe = time.monotonic()
                    self._connect()
                    emptied = self._emptied_topics()
                    if emptied:
                        self.topics_emptied(emptied, "found empty")
                count = self.run_once()
                self.publish_head()
                backoff = 0.2
                self.healthy = True
                if count == 0:  # the read found nothing saved after the position
                    self._update_lag(newest=self.position)
                    if on_idle:
                        on_idle()
                    self.new_events.wait(self.stopping)
            except BrokerWentEmpty as e:
                self.topics_emptied(e.topics, str(e))
            except (KafkaError, OSError, TimeoutError, PersistenceError, psycopg.Error) as e:
                self.healthy = False
                log.warning("broker or database unavailable; retrying",
                            extra={"error": repr(e), "retry_in_s": backoff})
                self._drop_producer()
                if isinstance(e, psycopg.OperationalError):
                    self._fresh_connections()
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def _fresh_connections(self) -> None:
        """Connections for the relay's positions made anew: a pool that lived through a
        database outage may be waiting out its reconnection backoff (seconds, doubling)."""
        self.positions.db.reset()

    def _update_lag(self, newest: int | None = None) -> None:
        """The events saved and not yet relayed: up to `newest` (None: the store's newest)."""
        if newest is None:
            newest = self.app.recorder.max_notification_id() or 0
        RELAY_LAG.labels(self.app.service).set(max(0, newest - self.position))

    def stop(self) -> None:
        self.stopping.set()
