"""The pipe under a steady load of registrations while the broker is killed (kill -9) and comes
back empty, three times: the relay publishes the lost topics again and the consumers read the
new topics from their start, so every registration reaches progression and the scheduling
registry, each applied once. In-process (relay and consumers in threads), so it is quick and
its failures point at the pipe; tests/faults runs the same fault against the whole system."""

from __future__ import annotations

import signal
import time

import pytest

from services.certification import application as certification
from services.enrolment import application as enrolment
from services.scheduling import application as scheduling
from shared.events import parse_envelope
from shared.platform.broker import LocalBroker, ensure_topics
from shared.platform.consumer import EnvelopeConsumer
from shared.platform.relay import Relay
from tests.integration.helpers import RegistrationLoad, add_testby, pipe_under_load, wait_for
from tests.ports import start_broker
from yrkesresan import stores

pytestmark = pytest.mark.integration


def test_registrations_survive_the_broker_killed_and_coming_back_empty(pg_url: str) -> None:
    broker = start_broker()
    port = broker.port  # each new broker comes back on the same one, empty
    ensure_topics(broker.bootstrap)
    for migrate in (enrolment.migrate, certification.migrate, scheduling.migrate):
        migrate(pg_url)
    e = enrolment.bootstrap(pg_url)
    cert = certification.bootstrap(pg_url)
    sched = scheduling.bootstrap(pg_url)
    add_testby(e)
    relay = Relay(e.app, broker.bootstrap, probe_every=0.5)
    runners = {"progression": cert.runner(), "scheduling-registry": sched.runner()}
    consumers = [EnvelopeConsumer(r, broker.bootstrap, group_id=f"kill-test-{name}")
                 for name, r in runners.items()]
    load = RegistrationLoad(e, pace=0.02)
    try:
        with pipe_under_load(relay, consumers, load):
            for _ in range(3):
                wait_for(lambda: len(load.registered) >= 20
                         and cert.progression.count(cert.db) >= 20,
                         timeout=90, what="registrations reaching progression")
                at = len(load.registered)
                assert broker.process is not None
                broker.process.send_signal(signal.SIGKILL)
                broker.process.wait()
                broker = LocalBroker(port).start(timeout=30)
                wait_for(lambda at=at: len(load.registered) > at + 20, timeout=60,
                         what="more registrations")
            load.stop()
            apps = [e.app]
            stored = [parse_envelope(raw) for raw in stores.merged_envelopes(apps)]

            def behind() -> dict[str, tuple[int, int]]:
                """Each consumer not caught up: (applied, stored on its topics)."""
                counts = {name: (r.applied.count(),
                                 sum(1 for env in stored if env.topic in r.projector.topics))
                          for name, r in runners.items()}
                return {name: c for name, c in counts.items() if c[0] != c[1]}

            deadline = time.monotonic() + 120
            while behind() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not behind(), f"(applied, stored): {behind()}"
            rows = {r["participant_id"] for r in cert.progression.list(cert.db, limit=100_000)}
            lost = set(load.ids()) - rows
            assert not lost, f"{len(lost)} registrations lost"
    finally:
        broker.stop()
        e.close()
        cert.close()
        sched.close()
