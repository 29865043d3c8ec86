"""Helpers for tests that run the pipe in-process: threads for relay and consumer, an API
served on a thread, a steady load of registrations."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Self

import uvicorn
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from services.enrolment import application as enrolment
from services.enrolment.application import (
    Enrolment,
    JoinMunicipality,
    RegisterParticipant,
    RegisterRegion,
)
from services.scheduling import application as scheduling
from shared.events import ContractError, Envelope, parse_envelope, topic_name
from shared.platform.broker import LocalBroker
from shared.platform.consumer import EnvelopeConsumer
from shared.platform.relay import Relay
from tests.ports import bound_port


def wait_for(predicate: Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def in_thread(target: Callable[[], Any]) -> threading.Thread:
    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 30) -> list[bytes]:
    """Every message value on a topic, read from the beginning until `expected` are seen.
    (End offsets are wrong on the local broker, so we count instead of reading 'to the end'.)"""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        found = consumer.partitions_for_topic(topic) or ()
        parts = [TopicPartition(topic, p) for p in sorted(found)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        values: list[bytes] = []
        deadline = time.monotonic() + timeout
        while len(values) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                values.extend(r.value for r in batch)
        return values
    finally:
        consumer.close()


def envelopes(values: list[bytes]) -> list[Envelope]:
    return [parse_envelope(v) for v in values]


def contract_valid(value: bytes) -> bool:
    """Whether a message on a topic is an envelope the contract accepts."""
    try:
        parse_envelope(value)
    except ContractError:
        return False
    return True


def add_testby(e: Enrolment) -> None:
    """Region r1 ("RSS Test") and its municipality m1 ("Testby"), where tests register people."""
    e.register_region(RegisterRegion(region_id="r1", name="RSS Test"))
    e.join_municipality(JoinMunicipality(municipality_id="m1", name="Testby", region_id="r1"))


@contextmanager
def served(app: Any, what: str = "the API", **options: Any) -> Iterator[str]:
    """An ASGI app served by uvicorn (`options` for its Config) on a thread, on a port of its
    own: its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None,
                                           **{"access_log": False, **options}))
    thread = in_thread(server.run)
    try:
        wait_for(lambda: server.started, 30, what)
        yield f"http://127.0.0.1:{bound_port(server)}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class RegistrationLoad:
    """Registrations in Testby (`add_testby`) at a steady pace, on a thread of its own from
    `start` until `stop`: `registered` holds (when accepted, on the monotonic clock,
    participant id) of each. With `refusals=True` a registration refused (a server down) is
    passed over; otherwise the first error ends the load."""

    def __init__(self, e: Enrolment, pace: float, refusals: bool = False) -> None:
        self.e, self.pace, self.refusals = e, pace, refusals
        self.registered: list[tuple[float, str]] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def ids(self) -> list[str]:
        return [pid for _, pid in self.registered]

    def start(self) -> threading.Thread:
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        n = 0
        while not self._stopping.is_set():
            n += 1
            try:
                self.registered.append((time.monotonic(), self.e.register_participant(
                    RegisterParticipant(municipality_id="m1", name=f"Person {n}",
                                        email=f"p{n}@example.se", role="socialsekreterare",
                                        years_in_profession=1))))
            except Exception:  # noqa: BLE001 - refused while the server is down
                if not self.refusals:
                    raise
            self._stopping.wait(self.pace)  # the pace of the load, not a wait for anything


@contextmanager
def pipe_under_load(relay: Relay, consumers: Sequence[EnvelopeConsumer],
                    load: RegistrationLoad) -> Iterator[None]:
    """The relay, each consumer and the load on threads of their own for the block; then
    each stopped and its thread joined."""
    threads = [in_thread(relay.run), *(in_thread(c.run) for c in consumers), load.start()]
    try:
        yield
    finally:
        load.stop()
        relay.stop()
        for c in consumers:
            c.stop()
        for t in threads:
            t.join(timeout=30)


@dataclass
class ServicePipe:
    """Enrolment, scheduling and a third service (`other`) on one database, relayed by hand
    to `broker`; `run` tells this test's ids apart."""

    run: str
    e: enrolment.Enrolment
    s: scheduling.Scheduling
    other: Any
    broker: LocalBroker
    relays: list[Relay] = field(default_factory=list)
    people: list[str] = field(default_factory=list)  # minted by enrolment

    @classmethod
    def start(cls, url: str, broker: LocalBroker, other: ModuleType) -> Self:
        """The three services migrated and bootstrapped on `url` (`other` the third's
        `application` module)."""
        for service in (enrolment, scheduling, other):
            service.migrate(url)
        return cls(uuid.uuid4().hex[:8], enrolment.bootstrap(url), scheduling.bootstrap(url),
                   other.bootstrap(url), broker)

    def relay_all(self) -> None:
        """Every service's relay, each until it has nothing left to publish."""
        if not self.relays:
            self.relays = [Relay(app, self.broker.bootstrap)
                           for app in (self.e.app, self.s.app, self.other.app)]
        for relay in self.relays:
            while relay.run_once():
                pass

    def deliver_again(self, service: str) -> int:
        """Every message of the topics a consumer of `service` reads (reference, enrolment,
        scheduling and the service's own) produced once more, as a broker may redeliver: how
        many of them are contract envelopes (the rest a consumer dead-letters, not skips)."""
        again: list[tuple[str, bytes]] = []
        for name in ("reference", "enrolment", "scheduling", service):
            again += [(topic_name(name), v) for v in read_topic(
                self.broker.bootstrap, topic_name(name), 10_000, 5)]
        producer = KafkaProducer(bootstrap_servers=self.broker.bootstrap, acks="all")
        for topic, value in again:
            producer.send(topic, value=value)
        producer.flush()
        producer.close()
        return sum(1 for _, v in again if contract_valid(v))

    def close(self) -> None:
        for relay in self.relays:
            relay._drop_producer()
            relay.positions.db.close()
        for service in (self.e, self.s, self.other):
            service.close()
