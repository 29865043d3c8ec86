"""The regions' consumer: the project's consumer (`shared.platform.consumer`), plus how far the
enrolment topic has been read, which the router needs (`services/regions/domain.py`).

There is no order across topics: a booking can be read before the move that preceded it. The
router holds an event about a participant from another topic until every enrolment partition
has either been read past the event's recording time (a relay publishes a service's events in
the order recorded) or been read to its end. Records of one poll are applied facts first
(reference and enrolment), so a move and a booking read together route as if in order.

One instance runs (like a relay): it must read every enrolment partition to know that.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

from services.regions.application import RegionLog
from services.regions.domain import ENROLMENT_TOPIC
from shared.events import topic_name
from shared.platform.consumer import EnvelopeConsumer, ProjectionRunner

FACT_TOPICS = (topic_name("reference"), ENROLMENT_TOPIC)


class RegionConsumer(EnvelopeConsumer):
    def __init__(self, runner: ProjectionRunner, bootstrap: str, *, group_id: str) -> None:
        super().__init__(runner, bootstrap, group_id=group_id)
        assert isinstance(runner.projector, RegionLog)
        self.log: RegionLog = runner.projector
        self.log.enrolment_ready = self.enrolment_ready
        self.log.reset()
        self.kafka: KafkaConsumer | None = None
        self.read_to: dict[int, dt.datetime] = {}  # enrolment partition -> latest recorded
        self.at_end: set[int] = set()  # enrolment partitions read to their end

    def _consumer(self) -> KafkaConsumer:
        self.kafka = super()._consumer()
        return self.kafka

    def _enrolment_partitions(self) -> list[int]:
        if self.kafka is None:
            return []
        return [tp.partition for tp in self.kafka.assignment() if tp.topic == ENROLMENT_TOPIC]

    def enrolment_ready(self, recorded: dt.datetime) -> bool:
        """Has every enrolment partition been read to `recorded`, or to its end?"""
        parts = self._enrolment_partitions()
        return bool(parts) and all(
            p in self.at_end or (p in self.read_to and self.read_to[p] >= recorded)
            for p in parts)

    def process(self, records: Iterable[Any]) -> int:
        records = sorted(records, key=lambda r: r.topic not in FACT_TOPICS)  # stable: facts first
        for r in records:
            if r.topic == ENROLMENT_TOPIC:
                self.at_end.discard(r.partition)  # a new record: its end is further on
                recorded = _recorded_at(r.value)
                if recorded is not None and (r.partition not in self.read_to
                                             or recorded > self.read_to[r.partition]):
                    self.read_to[r.partition] = recorded
        return super().process(records)

    def _update_lag(self, consumer: KafkaConsumer) -> None:
        """After each poll: which enrolment partitions are read to their end (the high-water
        mark after a poll is reliable on the local broker, end offsets are not); then release
        what that allows."""
        super()._update_lag(consumer)
        for p in self._enrolment_partitions():
            tp = TopicPartition(ENROLMENT_TOPIC, p)
            high = consumer.highwater(tp)
            if high is not None and consumer.position(tp) >= high:
                self.at_end.add(p)
            else:
                self.at_end.discard(p)
        self.log.release()


def _recorded_at(value: bytes | None) -> dt.datetime | None:
    """The envelope's recording time, read without validating it (the consumer does that);
    None for what is not an envelope."""
    try:
        doc = orjson.loads(value or b"{}")
        raw = doc.get("recorded_at") or doc.get("occurred_at")
        return dt.datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except (orjson.JSONDecodeError, ValueError, AttributeError, TypeError):
        return None
