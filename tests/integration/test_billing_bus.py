"""Billing on real PostgreSQL and the real broker: a year of facts recorded by enrolment and
scheduling travels through their relays to the billing consumer; a withdrawal, the year close
with its pot, a late report the coordinator makes after the close, and the next year's invoice
basis with its adjustment. Every message delivered again changes nothing (no doubled point, no
second `PotDistributed`), and the API's answers equal `yrkesresan replay` over `yrkesresan
export` of the same stores."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import cast

import orjson
import pytest
from fastapi.testclient import TestClient

from services.billing import application as billing
from services.billing.adapters.http import create_api
from services.enrolment.application import (
    JoinMunicipality,
    RegisterParticipant,
    RegisterRegion,
    RegisterTrainer,
)
from services.scheduling.application import (
    AssignTrainer,
    BookParticipant,
    PlanOccasion,
    RegisterAttendance,
    WithdrawAttendance,
)
from shared.events import topic_name
from shared.platform.auth import Principal, Role
from shared.platform.broker import LocalBroker
from shared.platform.consumer import EnvelopeConsumer
from shared.platform.errors import Conflict
from shared.platform.observability import EVENTS_DUPLICATE
from tests.feeding import pump
from tests.integration.helpers import ServicePipe, in_thread, read_topic, wait_for
from tests.tokens import mint
from yrkesresan import stores
from yrkesresan.replay import replay

pytestmark = pytest.mark.integration

COURSE = "bou-ny-samtal"  # two days


@dataclass
class Pipe(ServicePipe):
    trainers: list[str] = field(default_factory=list)

    @property
    def b(self) -> billing.Billing:
        return cast(billing.Billing, self.other)

    @property
    def region(self) -> str:
        return f"r-{self.run}"

    def days(self, year: int) -> int:
        return sum(self.b.view.read(
            lambda f: f.facts.participant_days(self.region, year)).values())


@pytest.fixture
def pipe(pg_url: str, own_broker: LocalBroker) -> Iterator[Pipe]:
    p = Pipe.start(pg_url, own_broker, billing)
    yield p
    p.close()


def _year(p: Pipe) -> None:
    """Two municipalities; six participants (four in the first); one occasion of two days in
    March 2025: all six on day 1, five on day 2 (the sixth is reported late, after the close);
    a leader from the first municipality, a trainer from the second."""
    e, s, run = p.e, p.s, p.run
    e.register_region(RegisterRegion(region_id=p.region, name="RSS Test"))
    for m in ("a", "b"):
        e.join_municipality(JoinMunicipality(municipality_id=f"{m}-{run}", name=f"Kommun {m}",
                                             region_id=p.region))
    p.people[:] = [e.register_participant(RegisterParticipant(
        municipality_id=f"{'a' if i < 4 else 'b'}-{run}", name="Namn Namnsson",
        email=f"{run}-p{i}@example.se", role="socialsekreterare", years_in_profession=1,
        occurred_at=dt.datetime(2025, 1, 2, tzinfo=dt.UTC))) for i in range(6)]
    p.trainers[:] = [e.register_trainer(RegisterTrainer(
        municipality_id=f"{m}-{run}", name="Tina T", email=f"{run}-t{m}@example.se"))
        for m in ("a", "b")]
    pump(s.runner(), e.app)
    s.publish_catalogue(actor="test")
    occasion = f"{run}-o1"
    s.plan_occasion(PlanOccasion.model_validate({
        "occasion_id": occasion, "course_id": COURSE, "region_id": p.region, "capacity": 10,
        "days": [{"day": 1, "date": "2025-03-07", "mode": "digital"},
                 {"day": 2, "date": "2025-03-14", "mode": "on_site", "venue": "Sal 1"}]}))
    for pid in p.people:
        s.book(occasion, BookParticipant(participant_id=pid))
    for trainer, role in zip(p.trainers, ("leader", "trainer"), strict=True):
        s.assign_trainer(occasion, AssignTrainer(trainer_id=trainer, role=role))
    team = [{"trainer_id": p.trainers[0], "role": "leader"},
            {"trainer_id": p.trainers[1], "role": "trainer"}]
    for day, present in ((1, p.people), (2, p.people[:5])):
        s.register_attendance(occasion, day, RegisterAttendance.model_validate(
            {"present": present, "delivered_by": team}))
    # one day was reported by mistake: the coordinator withdraws it
    s.withdraw_attendance(occasion, 2, WithdrawAttendance(participant_id=p.people[3],
                                                          reason="Rapporterad av misstag"))


def _consume(p: Pipe) -> tuple[EnvelopeConsumer, object]:
    consumer = EnvelopeConsumer(p.b.runner(), p.broker.bootstrap, group_id=f"billing-{p.run}")
    return consumer, in_thread(consumer.run)


def duplicates() -> float:
    return float(EVENTS_DUPLICATE.labels("billing")._value.get())


def test_a_year_closed_and_the_next_invoiced_through_the_broker(pipe: Pipe) -> None:
    _year(pipe)
    pipe.relay_all()
    consumer, thread = _consume(pipe)
    try:
        wait_for(lambda: pipe.days(2025) == 10, 90, "ten participant-days (one withdrawn)")
        distributed = pipe.b.close_year(pipe.region, 2025, actor="test")
        assert distributed.pot_sek == 10 * 400
        assert {t.trainer_id: t.amount_sek for t in distributed.trainers} == {
            pipe.trainers[0]: 2400, pipe.trainers[1]: 1600}  # 3 : 2 points
        pipe.relay_all()  # YearClosed and PotDistributed on billing's topic
        # scheduling learns of the close from the bus: the leader's report is refused, the
        # coordinator's late report of the sixth participant's day 2 is taken
        pump(pipe.s.runner(), pipe.b.app)
        late = RegisterAttendance.model_validate({
            "present": pipe.people[:3] + pipe.people[4:],
            "delivered_by": [{"trainer_id": pipe.trainers[0], "role": "leader"},
                             {"trainer_id": pipe.trainers[1], "role": "trainer"}]})
        with pytest.raises(Conflict):
            pipe.s.register_attendance(f"{pipe.run}-o1", 2, late)
        pipe.s.register_attendance(f"{pipe.run}-o1", 2, late, late=True)
        pipe.relay_all()
        wait_for(lambda: pipe.days(2025) == 11, 90, "the late report")
        # every message of every topic delivered again: nothing changes
        before, applied = duplicates(), consumer.runner.applied.count()
        valid = pipe.deliver_again("billing")
        wait_for(lambda: duplicates() - before >= valid, 90, "every redelivery consumed")
        assert consumer.runner.applied.count() == applied
    finally:
        consumer.stop()
        thread.join(timeout=30)  # type: ignore[attr-defined]
    notes = pipe.b.app.recorder.select_notifications(start=None, limit=10_000)
    assert sum(n.topic.endswith(":PotDistributed") for n in notes) == 1
    published = [orjson.loads(v) for v in read_topic(
        pipe.broker.bootstrap, topic_name("billing"), 10_000, 5)]
    assert len({e["id"] for e in published if e["type"] == "PotDistributed"
                and e["data"]["region_id"] == pipe.region}) == 1  # (and its redelivered copy)
    out = io.BytesIO()
    stores.export_log([pipe.e.app, pipe.s.app, pipe.b.app], out)
    log = out.getvalue().splitlines()
    assert b"Namn Namnsson" not in out.getvalue()
    system = {"Authorization": "Bearer " + mint(Principal(subject="t", role=Role.SYSTEM))}
    client = TestClient(create_api(pipe.b))
    base = f"/regions/{pipe.region}/years"
    pot = client.get(f"{base}/2025/pot", headers=system).json()
    assert pot == replay("pot", log, pipe.region, 2025) | {"closed": True}
    assert pot["pot_sek"] == distributed.pot_sek  # the closed year's pot as recorded
    for year in (2025, 2026):
        assert client.get(f"{base}/{year}/invoices", headers=system).json() == replay(
            "invoices", log, pipe.region, year)
    closed = client.get(f"{base}/2025/invoices/b-{pipe.run}", headers=system).json()
    assert closed["participant_days"] == 3 and closed["closed"] is True
    nxt = client.get(f"{base}/2026/invoices/b-{pipe.run}", headers=system).json()
    assert (nxt["adjustment_days"], nxt["adjustment_sek"], nxt["net_sek"]) == (1, 1250, 1250)
    assert nxt["participant_days"] == 0
