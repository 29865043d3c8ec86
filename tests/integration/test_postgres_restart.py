"""The pipe while PostgreSQL restarts (a cluster of the test's own, tests/faults/pgcluster.py):
the relay and the working progression consumer lose their leases with their connections, an
instance takes each lease again, and registrations made after the restart reach progression
within seconds. In-process; tests/faults runs the same fault against the whole system."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from services.certification import application as certification
from services.enrolment import application as enrolment
from shared.platform.broker import LocalBroker
from shared.platform.consumer import EnvelopeConsumer
from shared.platform.relay import Relay
from tests.faults.pgcluster import PrivateCluster
from tests.integration.helpers import RegistrationLoad, add_testby, pipe_under_load, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    c = PrivateCluster().start()
    yield c
    c.stop()


def test_after_a_postgresql_restart_registrations_reach_progression_again(
    cluster: PrivateCluster, broker: LocalBroker,
) -> None:
    url = cluster.create_database("restart")
    enrolment.migrate(url)
    certification.migrate(url)
    e = enrolment.bootstrap(url)
    cert = certification.bootstrap(url)
    add_testby(e)
    relay = Relay(e.app, broker.bootstrap, probe_every=0.5)
    group = f"restart-{time.monotonic_ns()}"  # the session's broker is shared
    consumers = [EnvelopeConsumer(cert.runner(), broker.bootstrap, group_id=group)
                 for _ in range(2)]  # one works, one stands by
    load = RegistrationLoad(e, pace=0.05, refusals=True)  # refused while the server is down
    registered = load.registered

    def in_progression(pid: str) -> bool:
        try:
            return any(r["participant_id"] == pid
                       for r in cert.progression.list(cert.db, limit=100_000))
        except Exception:  # noqa: BLE001 - the server restarting
            return False

    try:
        with pipe_under_load(relay, consumers, load):
            wait_for(lambda: bool(registered) and in_progression(registered[-1][1]), timeout=90,
                     what="a registration reaching progression")
            at = time.monotonic()
            cluster.restart()
            wait_for(lambda: any(t > at for t, _ in registered), timeout=60,
                     what="a registration accepted after the restart")
            after = next(pid for t, pid in registered if t > at)
            # Seconds, not the minute a pool's reconnection backoff took (1, 2, 4, ... s).
            wait_for(lambda: in_progression(after), timeout=45,
                     what="a registration made after the restart reaching progression")
            print(f"healed {time.monotonic() - at:.1f} s after the restart")
            load.stop()
            wait_for(lambda: set(load.ids()) <= {
                r["participant_id"] for r in cert.progression.list(cert.db, limit=100_000)},
                     timeout=60, what="every accepted registration in progression")
            # One works. The instance that held the lease notices its loss at its next check
            # (every second, between batches), so for a moment after the restart both may work.
            wait_for(lambda: sum(1 for c in consumers if not c.standing_by) == 1, timeout=20,
                     what="one consumer working and the other standing by")
    finally:
        e.close()
        cert.close()
