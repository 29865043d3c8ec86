"""The pipe under a steady load of registrations while the broker is killed (kill -9) and comes
back empty, three times: the relay publishes the lost topics again and the consumers read the
new topics from their start, so every registration reaches progression and the scheduling
registry, each applied once. In-process (relay and consumers in threads), so it is quick and
its failures point at the pipe; tests/faults runs the same fault against the whole system."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from services.certification import application as certification
from services.enrolment import application as enrolment
from services.enrolment.application import JoinMunicipality, RegisterParticipant, RegisterRegion
from services.scheduling import application as scheduling
from shared.events import parse_envelope
from shared.platform.broker import LocalBroker, ensure_topics
from shared.platform.consumer import EnvelopeConsumer
from shared.platform.relay import Relay
from tests.integration.helpers import in_thread, wait_for
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
    e.register_region(RegisterRegion(region_id="r1", name="RSS Test"))
    e.join_municipality(JoinMunicipality(municipality_id="m1", name="Testby", region_id="r1"))
    relay = Relay(e.app, broker.bootstrap, probe_every=0.5)
    runners = {"progression": cert.runner(), "scheduling-registry": sched.runner()}
    consumers = [EnvelopeConsumer(r, broker.bootstrap, group_id=f"kill-test-{name}")
                 for name, r in runners.items()]
    stopping = threading.Event()
    registered: list[str] = []

    def load() -> None:
        while not stopping.is_set():
            registered.append(e.register_participant(RegisterParticipant(
                municipality_id="m1", name=f"Person {len(registered)}",
                email=f"p{len(registered)}@example.se", role="socialsekreterare",
                years_in_profession=1)))
            stopping.wait(0.02)  # the pace of the load, not a wait for anything

    threads = [in_thread(relay.run), *(in_thread(c.run) for c in consumers), in_thread(load)]
    try:
        for _ in range(3):
            wait_for(lambda: len(registered) >= 20 and cert.progression.count(cert.db) >= 20,
                     timeout=90, what="registrations reaching progression")
            at = len(registered)
            assert broker.process is not None
            broker.process.send_signal(signal.SIGKILL)
            broker.process.wait()
            broker = LocalBroker(port).start(timeout=30)
            wait_for(lambda at=at: len(registered) > at + 20, timeout=60, what="more registrations")
        stopping.set()
        threads[-1].join(timeout=30)
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
        assert set(registered) <= rows, f"{len(set(registered) - rows)} registrations lost"
    finally:
        stopping.set()
        relay.stop()
        for c in consumers:
            c.stop()
        for t in threads:
            t.join(timeout=30)
        broker.stop()
        e.close()
        cert.close()
        sched.close()
