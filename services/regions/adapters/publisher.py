"""Publishes each region's log to `yrkesresan.region.<region_id>.v1`, at least once.

Like the services' relays: it reads the log from the position it last recorded, publishes with
acks=all and the source event's key (so per-key order holds as on the service topics), and
records the new position only once the broker has acknowledged the batch. A re-publish carries
the same envelope ids, which every consumer deduplicates. When the broker comes back empty (the
local one keeps everything in memory) a region topic that was published to is missing; its
position goes back to 0 and the whole log is published again.

Of several instances (every process can run twice), one publishes and the others stand by: it
holds a lease (`shared/platform/lease.py`) while it works, so two instances never both publish.
As in the relays, the producer is not idempotent (`shared/platform/relay.py` says why).
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from services.regions.application import read_log, region_topic
from shared.platform.broker import close_quietly
from shared.platform.db import Database
from shared.platform.lease import Lease, LeaseLost, stand_by_until_leased
from shared.platform.observability import EVENTS_RELAYED
from shared.platform.settings import Settings

log = logging.getLogger(__name__)


class RegionPublisher:
    def __init__(self, db: Database, bootstrap: str, *, batch: int = 1000,
                 idle_sleep: float = 0.1, check_every: float = 5.0, idle_close: float = 10.0,
                 lease: bool = True) -> None:
        self.db = db
        self.bootstrap = bootstrap
        self.batch = batch
        self.idle_sleep = idle_sleep
        self.check_every = check_every
        self.idle_close = idle_close
        self.stopping = threading.Event()
        self.healthy = False
        self.published = 0
        self._producer: KafkaProducer | None = None
        self._created: set[str] = set()
        self._checked_at = 0.0
        self._unnamed: set[str] = set()
        self.lease = Lease(db.url, "publisher:regions") if lease else None
        self.standing_by = False

    # -- positions -------------------------------------------------------------------------

    def _positions(self) -> dict[str, tuple[int, int]]:
        """region -> (published up to, last in log)."""
        done = dict(self.db.execute("SELECT region_id, position FROM region_published"))
        return {region: (int(done.get(region, 0)), int(last)) for region, last in self.db.execute(
            "SELECT region_id, position FROM region_heads")}

    def _record(self, region: str, position: int) -> None:
        self.db.execute(
            "INSERT INTO region_published (region_id, position) VALUES (%s, %s) "
            "ON CONFLICT (region_id) DO UPDATE SET position = excluded.position",
            (region, position))

    # -- broker ----------------------------------------------------------------------------

    def _connect(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(
                bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=False,
                max_in_flight_requests_per_connection=1, linger_ms=5,
                allow_auto_create_topics=False,  # `_create` makes them, with their settings
                request_timeout_ms=10000, retries=5)
        return self._producer

    def _drop(self) -> None:
        self._close_producer()
        self._created.clear()
        self._checked_at = 0.0

    def _check_topics(self, positions: dict[str, tuple[int, int]]) -> None:
        """Start a region over where its topic is gone (the broker came back empty)."""
        if time.monotonic() - self._checked_at < self.check_every:
            return
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=10000)
        try:
            existing = set(admin.list_topics())
        finally:
            admin.close()
        self._checked_at = time.monotonic()
        for region, (done, _) in positions.items():
            topic = region_topic(region)
            if topic and done > 0 and topic not in existing:
                log.warning("region topic missing; publishing its log again",
                            extra={"region_id": region, "topic": topic})
                self._record(region, 0)
                self._created.discard(topic)

    def _create(self, topic: str) -> None:
        """The region's topic, kept forever (a region may replay its stream from the start),
        with the partitions and replication configured for every topic (YRKESRESAN_TOPIC_*)."""
        settings = Settings()
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=10000)
        try:
            if topic not in set(admin.list_topics()):
                try:
                    admin.create_topics([NewTopic(
                        topic, settings.topic_partitions, settings.topic_replication_factor,
                        topic_configs={"retention.ms": "-1", "min.insync.replicas":
                                       str(settings.topic_min_insync_replicas)})])
                except TopicAlreadyExistsError:
                    pass
        finally:
            admin.close()
        self._created.add(topic)

    # -- the loop ----------------------------------------------------------------------------

    def publish_once(self) -> int:
        """Publish what each region's log holds beyond its recorded position; how many."""
        positions = self._positions()
        self._check_topics(positions)
        positions = self._positions()
        sent = 0
        for region, (done, last) in sorted(positions.items()):
            if done >= last:
                continue
            topic = region_topic(region)
            if topic is None:
                if region not in self._unnamed:
                    self._unnamed.add(region)
                    log.warning("region id cannot name a topic; served by the feed only",
                                extra={"region_id": region})
                continue
            if topic not in self._created:
                self._create(topic)
            rows = read_log(self.db, region, done, self.batch)
            producer = self._connect()
            sends = [producer.send(topic, key=row.key.encode(), value=row.envelope.encode())
                     for row in rows]
            producer.flush(timeout=30)
            for send in sends:
                if send.failed():  # nothing recorded: the batch goes again
                    raise send.exception
            self._record(region, rows[-1].position)
            sent += len(rows)
        EVENTS_RELAYED.labels("regions").inc(sent)
        self.published += sent
        return sent

    def run(self) -> None:
        """Publish while this instance holds the lease (stand by until then); a lost lease
        (its database connection ended) makes it stand by again."""
        while not self.stopping.is_set():
            if not stand_by_until_leased(self):
                break
            try:
                self._work()
            except LeaseLost:
                log.warning("lease lost; standing by", extra={"publisher": "regions"})
            finally:
                self._drop()
                if self.lease is not None:
                    self.lease.release()

    def _work(self) -> None:
        errors = 0
        last_sent = time.monotonic()
        while not self.stopping.is_set():
            if self.lease is not None:
                self.lease.check()
            try:
                sent = self.publish_once()
            except (KafkaError, psycopg.Error) as e:
                errors += 1
                log.warning("publishing failed; retrying", extra={"error": repr(e),
                                                                  "errors_in_a_row": errors})
                self._drop()
                self.healthy = False
                self.stopping.wait(min(2**errors * 0.1, 5))
                continue
            errors = 0
            self.healthy = True
            if sent:
                last_sent = time.monotonic()
            else:
                if self._producer is not None and time.monotonic() - last_sent > self.idle_close:
                    self._close_producer()
                self.stopping.wait(self.idle_sleep)

    def _close_producer(self) -> None:
        """A producer with nothing to send for `idle_close` seconds is closed (made anew when
        there is): kafka-python's, once a metadata refresh failed under load ("No node
        available"), kept a partition's leader unknown and spun its network thread at a whole
        core while idle (seen in the end-to-end system, py-spy: `RecordAccumulator.ready`
        reporting unknown leaders at every turn), where a new producer saw every leader."""
        close_quietly(self._producer)
        self._producer = None

    def stop(self) -> None:
        self.stopping.set()
