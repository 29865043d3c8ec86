"""Consumer base: applies contract envelopes exactly once to a read model.

Every applied envelope is recorded (its id, and the envelope itself) in the same transaction as
its effect, so a redelivered or re-published event changes nothing, and a projection can rebuild
its in-memory fold from its own database without the broker (which may come back empty).
Offsets are committed after the transaction. A message that is not a valid envelope goes to
the dead-letter topic with the reason, and the consumer goes on.
"""

from __future__ import annotations

import base64
import logging
import threading
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from shared.events import (
    DEADLETTER_TOPIC,
    ContractError,
    Envelope,
    UnknownEventType,
    parse_envelope,
)
from shared.platform.db import Cursor, Database
from shared.platform.lease import Lease
from shared.platform.observability import (
    CONSUMER_LAG,
    EVENTS_APPLIED,
    EVENTS_DEADLETTERED,
    EVENTS_DUPLICATE,
    EVENTS_UNKNOWN_TYPE,
)

log = logging.getLogger(__name__)

class Projector(Protocol):
    """A read model fed by envelopes. `apply` writes through the cursor it is given."""

    name: str
    topics: Sequence[str]
    tables: Sequence[str]
    """The tables it writes (created by its service's migrations), for a rebuild to wipe."""

    def reset(self) -> None: ...

    def load(self, envelopes: Iterable[Envelope]) -> None: ...

    def apply(self, cur: Cursor, env: Envelope) -> None: ...


class AppliedLog:
    """The envelopes a projector has applied, in its own database."""

    def __init__(self, db: Database, consumer: str) -> None:
        self.db = db
        self.consumer = consumer

    def record(self, cur: Cursor, env: Envelope) -> bool:
        """Record the envelope; False when it was applied before."""
        cur.execute(
            "INSERT INTO applied_events (consumer, event_id, envelope) VALUES (%s, %s, %s) "
            "ON CONFLICT (consumer, event_id) DO NOTHING",
            (self.consumer, str(env.id), env.to_json().decode()),
        )
        return cur.rowcount == 1

    def envelopes(self) -> Iterable[Envelope]:
        rows = self.db.execute(
            "SELECT envelope FROM applied_events WHERE consumer = %s", (self.consumer,)
        )
        return (parse_envelope(r[0]) for r in rows)

    def count(self) -> int:
        rows = self.db.execute(
            "SELECT count(*) FROM applied_events WHERE consumer = %s", (self.consumer,)
        )
        return int(rows[0][0])


class ProjectionRunner:
    """Applies envelopes to one projector; used by the Kafka consumer and by rebuilds."""

    def __init__(self, projector: Projector, db: Database) -> None:
        self.projector = projector
        self.db = db
        self.applied = AppliedLog(db, projector.name)

    def restore(self) -> None:
        """Rebuild the in-memory fold from what this projector applied before."""
        self.projector.reset()
        self.projector.load(self.applied.envelopes())

    def apply_batch(self, envelopes: Sequence[Envelope]) -> int:
        """Apply a batch in one transaction; return how many were new."""
        applied = 0
        try:
            with self.db.transaction() as cur:
                for env in envelopes:
                    if self.applied.record(cur, env):
                        self.projector.apply(cur, env)
                        applied += 1
        except Exception:
            self.restore()  # the fold may hold part of a batch the database rolled back
            raise
        EVENTS_APPLIED.labels(self.projector.name).inc(applied)
        EVENTS_DUPLICATE.labels(self.projector.name).inc(len(envelopes) - applied)
        return applied


def deadletter_value(record: Any, consumer: str, reason: str) -> bytes:
    raw: bytes = record.value or b""
    try:
        original: str = raw.decode()
        encoding = "utf-8"
    except UnicodeDecodeError:
        original, encoding = base64.b64encode(raw).decode(), "base64"
    return orjson.dumps({
        "reason": reason,
        "consumer": consumer,
        "source": {"topic": record.topic, "partition": record.partition, "offset": record.offset},
        "value": original,
        "value_encoding": encoding,
    })


class EnvelopeConsumer:
    """A Kafka consumer group member feeding one projector."""

    def __init__(
        self,
        runner: ProjectionRunner,
        bootstrap: str,
        *,
        group_id: str | None = None,
        max_errors: int = 5,
        lease: bool = True,
    ) -> None:
        self.runner = runner
        self.bootstrap = bootstrap
        self.group_id = group_id or f"yrkesresan.{runner.projector.name}"
        self.max_errors = max_errors
        self.stopping = threading.Event()
        self.healthy = False
        # One working member per group, so that it has every partition (shared/platform/lease.py).
        self.lease = Lease(runner.db.url, f"consumer:{self.group_id}") if lease else None
        self.standing_by = False
        self._dlq: KafkaProducer | None = None

    def _consumer(self) -> KafkaConsumer:
        return KafkaConsumer(
            *self.runner.projector.topics,
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,
            client_id=f"{self.group_id}-{uuid.uuid4().hex[:6]}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=6000,
            heartbeat_interval_ms=1500,
            max_poll_records=2000,
            request_timeout_ms=30000,
        )

    def _deadletter(self, record: Any, reason: str) -> None:
        if self._dlq is None:
            self._dlq = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        self._dlq.send(DEADLETTER_TOPIC, key=record.key,
                       value=deadletter_value(record, self.runner.projector.name, reason))
        self._dlq.flush(timeout=30)
        EVENTS_DEADLETTERED.labels(self.runner.projector.name).inc()
        log.warning("message dead-lettered", extra={
            "topic": record.topic, "partition": record.partition, "offset": record.offset,
            "reason": reason})

    def process(self, records: Iterable[Any]) -> int:
        valid = []
        for record in records:
            try:
                valid.append(parse_envelope(record.value or b""))
            except UnknownEventType as e:  # a later minor version's type: skip, never poison
                EVENTS_UNKNOWN_TYPE.labels(self.runner.projector.name, e.type_name).inc()
            except ContractError as e:
                self._deadletter(record, str(e))
        return self.runner.apply_batch(valid)

    def run(self) -> None:
        """Stand by until this instance holds the group's lease, then consume; raises LeaseLost
        when the lease is lost (the process ends, and is started again to stand by)."""
        if self.lease is not None:
            self.standing_by = True
            taken = self.lease.acquire(self.stopping)
            self.standing_by = False
            if not taken:
                return
        try:
            self._consume()
        finally:
            if self.lease is not None:
                self.lease.release()

    def _consume(self) -> None:
        self.runner.restore()
        errors = 0
        consumer = self._consumer()
        try:
            while not self.stopping.is_set():
                if self.lease is not None:
                    self.lease.check()
                try:
                    batches = consumer.poll(timeout_ms=500)
                except KafkaError as e:
                    log.warning("poll failed; retrying", extra={"error": repr(e)})
                    self.stopping.wait(1)
                    continue
                records = [r for batch in batches.values() for r in batch]
                if records:
                    try:
                        self.process(records)
                    except Exception as e:
                        errors += 1
                        log.warning("batch not applied; it will be read again",
                                    extra={"error": repr(e), "errors_in_a_row": errors})
                        if errors >= self.max_errors:
                            raise
                        self._rewind(consumer, records)
                        self.stopping.wait(min(2**errors * 0.1, 5))
                        continue
                    errors = 0
                    self._commit(consumer)
                self.healthy = True
                self._update_lag(consumer)
        finally:
            consumer.close()
            if self._dlq is not None:
                self._dlq.close(timeout=1)

    @staticmethod
    def _rewind(consumer: KafkaConsumer, records: Sequence[Any]) -> None:
        """Seek back to the first record of each partition: nothing of the batch was applied."""
        firsts: dict[tuple[str, int], int] = {}
        for r in records:
            key = (r.topic, r.partition)
            firsts[key] = min(firsts.get(key, r.offset), r.offset)
        for (topic, partition), offset in firsts.items():
            consumer.seek(TopicPartition(topic, partition), offset)

    @staticmethod
    def _commit(consumer: KafkaConsumer) -> None:
        try:
            consumer.commit()
        except KafkaError as e:
            # Applied already, with their ids: a redelivery after this changes nothing.
            log.warning("offset commit failed", extra={"error": repr(e)})

    def _update_lag(self, consumer: KafkaConsumer) -> None:
        lag = 0
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is not None:
                lag += max(0, high - consumer.position(tp))
        CONSUMER_LAG.labels(self.runner.projector.name).set(lag)

    def stop(self) -> None:
        self.stopping.set()
