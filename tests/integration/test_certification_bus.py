"""Certification on real PostgreSQL and the real broker: facts recorded by enrolment and
scheduling travel through their relays to the certification consumer, which certifies in its
own store; its relay publishes the derived events. Every message delivered again issues
nothing twice, and the API's answers equal `yrkesresan replay` over `yrkesresan export`."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import cast

import pytest
from fastapi.testclient import TestClient

from services.certification import application as certification
from services.certification import views
from services.certification.adapters.http import create_api
from services.certification.application import SubmitEvaluation
from services.enrolment.application import (
    CompletePreparation,
    JoinMunicipality,
    RegisterParticipant,
    RegisterRegion,
    RegisterTrainer,
)
from services.scheduling.application import (
    AssignTrainer,
    BookParticipant,
    PlanOccasion,
    PublishCourse,
    RegisterAttendance,
    WithdrawAttendance,
)
from services.scheduling.catalogue import SHIPPED
from shared.events import models as contract
from shared.events import parse_envelope, topic_name
from shared.platform.auth import Principal, Role
from shared.platform.broker import LocalBroker
from shared.platform.consumer import EnvelopeConsumer
from shared.platform.observability import EVENTS_DUPLICATE
from tests.feeding import feed, pump
from tests.integration.helpers import ServicePipe, in_thread, read_topic, wait_for
from tests.ports import broker_with_topics
from tests.tokens import mint
from yrkesresan import stores
from yrkesresan.replay import replay

pytestmark = pytest.mark.integration

COURSE = "bou-ny-unga-lagovertradare"  # one day; ulo-f1 and ulo-f2 mandatory
NAME = "Hemliga Hanna"


class NoNames:
    def name_of(self, participant_id: str) -> str:
        return NAME

    def names_in(self, municipality_id: str) -> dict[str, str]:
        return {}

    def close(self) -> None:
        pass


class Pipe(ServicePipe):
    @property
    def cert(self) -> certification.Certification:
        return cast(certification.Certification, self.other)

    def mine(self) -> list[dict[str, object]]:
        return [c for p in self.people for c in views.certificates_of(self.cert.db, p)]


@pytest.fixture
def pipe(pg_url: str, broker: LocalBroker) -> Iterator[Pipe]:
    p = Pipe.start(pg_url, broker, certification)
    yield p
    p.close()


def _facts(p: Pipe) -> None:
    """Four participants on two occasions of a one-day course: p0 completes both occasions,
    p1 the first, p2 attends without preparing, p3 prepares and is absent."""
    e, s, run = p.e, p.s, p.run
    e.register_region(RegisterRegion(region_id=f"r-{run}", name="RSS Test"))
    e.join_municipality(JoinMunicipality(municipality_id=f"m-{run}", name="Testby",
                                         region_id=f"r-{run}"))
    shipped = next(c for c in SHIPPED if c["course_id"] == COURSE)
    fields = set(contract.CoursePublished.model_fields)
    feed(e.runner(), contract.CoursePublished.model_validate(
        {k: v for k, v in shipped.items() if k in fields}))
    p.people[:] = [e.register_participant(RegisterParticipant(
        municipality_id=f"m-{run}", name=NAME, email=f"{run}-p{i}@example.se",
        role="socialsekreterare", years_in_profession=1)) for i in range(4)]
    trainer = e.register_trainer(RegisterTrainer(municipality_id=f"m-{run}", name="Tina T",
                                                 email=f"{run}-t@example.se"))
    pump(s.runner(), e.app)  # what scheduling's registry consumer would have learned
    s.publish_catalogue(actor="test")
    for n, date in ((1, "2026-02-03"), (2, "2026-04-07")):
        occasion = f"{run}-o{n}"
        s.plan_occasion(PlanOccasion.model_validate({
            "occasion_id": occasion, "course_id": COURSE, "region_id": f"r-{run}",
            "capacity": 10, "days": [{"day": 1, "date": date, "mode": "digital"}]}))
        for pid in p.people:
            s.book(occasion, BookParticipant(participant_id=pid))
        s.assign_trainer(occasion, AssignTrainer(trainer_id=trainer, role="leader"))
        present = p.people[:3] if n == 1 else p.people[:1]
        s.register_attendance(occasion, 1, RegisterAttendance.model_validate(
            {"present": present, "delivered_by": [{"trainer_id": trainer,
                                                   "role": "leader"}]}))
    for pid in (p.people[0], p.people[1], p.people[3]):
        for item in ("ulo-f1", "ulo-f2"):
            e.complete_preparation(pid, CompletePreparation(course_id=COURSE, item_id=item))


def _consume(p: Pipe) -> tuple[EnvelopeConsumer, object]:
    runner = p.cert.certification_runner()
    consumer = EnvelopeConsumer(runner, p.broker.bootstrap, group_id=f"cert-{p.run}")
    return consumer, in_thread(consumer.run)


def test_certificates_once_through_the_broker_even_when_everything_comes_again(
    pipe: Pipe,
) -> None:
    _facts(pipe)
    pipe.relay_all()
    consumer, thread = _consume(pipe)
    try:
        wait_for(lambda: len(pipe.mine()) == 3, 90, "three certificates")
        pipe.relay_all()  # certification's own relay publishes what it recorded
        issued = read_topic(pipe.broker.bootstrap, topic_name("certification"), 10_000, 10)
        ours = [parse_envelope(v) for v in issued if pipe.run.encode() in v]
        assert sorted(e.type for e in ours) == ["CertificateIssued"] * 3 + [
            "CourseCompleted"] * 3
        assert not any(NAME.encode() in v for v in issued)
        # Every message of every topic delivered again: nothing is certified twice.
        before, applied = duplicates(), consumer.runner.applied.count()
        valid = pipe.deliver_again("certification")
        wait_for(lambda: duplicates() - before >= valid, 90, "every redelivery consumed")
        assert consumer.runner.applied.count() == applied  # nothing new was applied
    finally:
        consumer.stop()
        thread.join(timeout=30)  # type: ignore[attr-defined]
    rows = pipe.mine()
    assert len(rows) == 3 and {r["status"] for r in rows} == {"valid"}
    assert sorted((r["participant_id"], r["occasion_id"]) for r in rows) == sorted([
        (pipe.people[0], f"{pipe.run}-o1"), (pipe.people[0], f"{pipe.run}-o2"),
        (pipe.people[1], f"{pipe.run}-o1")])  # minted ids: in no particular order
    notes = pipe.cert.app.recorder.select_notifications(start=None, limit=10_000)
    assert sum(n.topic.endswith(":CertificateIssued") for n in notes) == 3


def duplicates() -> float:
    """Messages the certification consumer skipped as already applied (its metric)."""
    return float(EVENTS_DUPLICATE.labels("certification")._value.get())


def test_revocation_and_api_answers_equal_replay_of_the_export(pipe: Pipe) -> None:
    _facts(pipe)
    pipe.relay_all()
    consumer, thread = _consume(pipe)
    try:
        wait_for(lambda: len(pipe.mine()) == 3, 90, "three certificates")
        for pid, scores in ((pipe.people[0], {"nytta": 5, "upplagg": 4}),
                            (pipe.people[1], {"nytta": 3})):
            pipe.cert.submit_evaluation(pid, f"{pipe.run}-o1", SubmitEvaluation(
                answers=scores, comment="fritext som stannar här"))
        # The course gets one more mandatory preparation: completions without it are lost.
        shipped = next(c for c in SHIPPED if c["course_id"] == COURSE)
        stricter = PublishCourse.model_validate({**shipped, "preparations": [
            *shipped["preparations"], {"item_id": f"ulo-{pipe.run}", "title": "Ny uppgift"}]})
        pipe.s.publish_course(stricter)
        pipe.relay_all()
        wait_for(lambda: {r["status"] for r in pipe.mine()} == {"revoked"}, 60, "revocations")
        wait_for(lambda: sum(r["responses"] for r in views.views(pipe.cert.db, "evaluation")
                             if r["course_id"] == COURSE) >= 2, 60, "two responses")
        pipe.relay_all()
    finally:
        consumer.stop()
        thread.join(timeout=30)  # type: ignore[attr-defined]
    revoked = read_topic(pipe.broker.bootstrap, topic_name("certification"), 10_000, 10)
    assert sum(b"CertificateRevoked" in v and any(p.encode() in v for p in pipe.people)
               for v in revoked) == 3
    out = io.BytesIO()
    stores.export_log([pipe.e.app, pipe.s.app, pipe.cert.app], out)
    log = out.getvalue()
    assert NAME.encode() not in log and b"fritext" not in log
    system = {"Authorization": "Bearer " + mint(Principal(subject="t",
                                                                 role=Role.SYSTEM))}
    client = TestClient(create_api(pipe.cert, NoNames()))
    api = client.get("/statistics/evaluations", headers=system).json()["courses"]
    assert api == replay("evaluations", log.splitlines())["courses"]
    regional = client.get("/statistics/evaluations", params={"region_id": f"r-{pipe.run}"},
                          headers=system).json()["courses"]
    assert regional == api  # the log's one region
    route = client.get(f"/participants/{pipe.people[2]}/route", headers=system).json()
    replayed = replay("progression", log.splitlines())["participants"]
    progression = {r["participant_id"]: r for r in replayed}
    stores.rebuild(pipe.cert.runner(), [pipe.e.app, pipe.s.app, pipe.cert.app])  # its consumer
    listed = client.get("/progression", params={"municipality_id": f"m-{pipe.run}"},
                        headers=system).json()["participants"]
    assert listed == [r for r in replayed if r["municipality_id"] == f"m-{pipe.run}"]
    for pid in pipe.people:
        mine = client.get(f"/participants/{pid}/route", headers=system).json()
        done = sorted({c["course_id"] for c in mine["completed"]})
        assert done == progression[pid]["completed_courses"]
        assert len(mine["completed"]) == progression[pid]["certificates"]
    assert route["stops"][0]["missing"]["preparations"]


@pytest.fixture
def own_pipe(pg_url: str) -> Iterator[Pipe]:
    """A pipe on a broker of its own: envelope ids are deterministic (stream and version,
    ADR 0002) and a course is the same aggregate in every test's store, so on the session's
    broker the stricter course of the test above (its version 2) would shadow this one's."""
    with broker_with_topics() as broker:
        p = Pipe.start(pg_url, broker, certification)
        yield p
        p.close()


def test_a_withdrawn_day_revokes_once_through_the_broker(own_pipe: Pipe) -> None:
    """The coordinator withdraws a day of p1's completed occasion in scheduling; its relay
    publishes `AttendanceWithdrawn`, the consumer revokes that one certificate, and every
    message of every topic delivered again revokes nothing twice."""
    pipe = own_pipe
    _facts(pipe)
    pipe.relay_all()
    consumer, thread = _consume(pipe)
    p1, first = pipe.people[1], f"{pipe.run}-o1"
    try:
        wait_for(lambda: len(pipe.mine()) == 3, 90, "three certificates")
        pipe.s.withdraw_attendance(first, 1, WithdrawAttendance(
            participant_id=p1, reason="Rapporterad av misstag"), actor="test")
        pipe.relay_all()
        wait_for(lambda: any(r["status"] == "revoked" for r in pipe.mine()), 60, "revocation")
        pipe.relay_all()  # the revocation is published, and comes back to the consumer
        before = duplicates()
        valid = pipe.deliver_again("certification")
        wait_for(lambda: duplicates() - before >= valid, 90, "every redelivery consumed")
    finally:
        consumer.stop()
        thread.join(timeout=30)  # type: ignore[attr-defined]
    revoked = [r for r in pipe.mine() if r["status"] == "revoked"]
    assert [(r["participant_id"], r["occasion_id"]) for r in revoked] == [(p1, first)]
    assert revoked[0]["reason"] == "Närvaron dag 1 har återkallats: Rapporterad av misstag"
    notes = pipe.cert.app.recorder.select_notifications(start=None, limit=10_000)
    assert sum(n.topic.endswith(":CertificateRevoked") for n in notes) == 1
    client = TestClient(create_api(pipe.cert, NoNames()))
    answer = client.get(f"/verify/{revoked[0]['verification_code']}").json()
    assert answer["status"] == "revoked" and "Rapporterad av misstag" in answer["reason"]
    auditor = {"Authorization": "Bearer " + mint(Principal(subject="a", role=Role.AUDITOR))}
    trail = client.get(f"/participants/{p1}/history", headers=auditor).json()
    (lost,) = [c for c in trail["completions"] if c["occasion_id"] == first]
    kinds = [e["type"] for e in lost["events"]]
    assert kinds.index("CertificateIssued") < kinds.index("AttendanceWithdrawn") < kinds.index(
        "CertificateRevoked")
    withdrawal = lost["events"][kinds.index("AttendanceWithdrawn")]
    assert withdrawal["service"] == "scheduling" and withdrawal["recorded_by"]
