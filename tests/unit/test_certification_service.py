"""The certification service on its embedded store (SQLite): certificates exactly once,
revocation, the PDF, the Open Badges credential, verification, evaluations, routes, Stationen.
The same runner is exercised on PostgreSQL and the broker in tests/integration."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from services.certification import application as certification
from services.certification import views
from services.certification.adapters.http import create_api
from services.certification.wording import swedish_dates
from shared.events import Envelope, new_envelope
from shared.events import models as m
from shared.platform.auth import Principal, Role
from tests.tokens import mint

NAME = "Sara Socionom"
T0 = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)


class FakeNames:
    """Enrolment as seen over HTTP: counts the look-ups."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.closed = False

    def name_of(self, participant_id: str) -> str:
        self.asked.append(participant_id)
        return NAME

    def names_in(self, municipality_id: str) -> dict[str, str]:
        return {"p1": NAME, "p2": "Per Persson"}

    def close(self) -> None:
        self.closed = True


class FlakyWrite:
    """The read-row write of the first batch fails, as a process stopping would."""

    def __init__(self, write: Any) -> None:
        self.write = write
        self.failed = False

    def __call__(self, *args: Any) -> None:
        if not self.failed:
            self.failed = True
            raise RuntimeError("stopped")
        self.write(*args)


def env(data: m.EventData, minutes: int = 0) -> Envelope:
    return new_envelope(data, occurred_at=T0 + dt.timedelta(minutes=minutes))


def facts(participant: str = "p1", occasion: str = "o1", days: int = 2) -> list[Envelope]:
    return [
        env(m.RegionRegistered(region_id="r1", name="RSS Dalarna")),
        env(m.CoursePublished(
            course_id="k1", journey="barn_och_unga", level="ny", title="Samtal och delaktighet",
            preparations=(m.Preparation(item_id="f1", title="Läs kapitlet", mandatory=True),
                          m.Preparation(item_id="f2", title="Se filmen", mandatory=False)),
            questions=(m.Question(question_id="nytta", text="Kursen var nyttig."),
                       m.Question(question_id="upplagg", text="Upplägget fungerade.")))),
        env(m.ParticipantRegistered(participant_id=participant, municipality_id="m1",
                                    journey="barn_och_unga", role="socialsekreterare",
                                    level="ny", years_in_profession=1)),
        env(m.CourseOccasionPlanned(
            occasion_id=occasion, course_id="k1", region_id="r1", capacity=10,
            days=tuple(m.CourseDay(day=d, date=dt.date(2026, 3, d), mode="on_site")
                       for d in range(1, days + 1)))),
        env(m.ParticipantBooked(occasion_id=occasion, participant_id=participant)),
        *[env(m.CourseDayAttended(participant_id=participant, occasion_id=occasion, day=d), d)
          for d in range(1, days + 1)],
        env(m.PreparationCompleted(participant_id=participant, course_id="k1", item_id="f1"),
            10),
    ]


@pytest.fixture
def cert(tmp_path: Path) -> Iterator[certification.Certification]:
    url = f"sqlite:///{tmp_path / 'certification.sqlite'}"
    certification.migrate(url)
    service = certification.bootstrap(url)
    yield service
    service.close()


def stored(cert: certification.Certification) -> list[str]:
    """The contract types in certification's store, in order."""
    notes = cert.app.recorder.select_notifications(start=None, limit=1000)
    return [n.topic.rsplit(":", 1)[-1] for n in notes]


def token(**claims: Any) -> dict[str, str]:
    who = Principal(subject="t", **claims)
    return {"Authorization": f"Bearer {mint(who)}"}


def test_a_completion_is_certified_once_however_often_facts_arrive(cert) -> None:  # type: ignore[no-untyped-def]
    runner = cert.certification_runner()
    runner.restore()
    events = facts()
    runner.apply_batch(list(reversed(events)))  # any order
    runner.apply_batch(events + events)  # every message again, twice
    again = cert.certification_runner()  # a restart: facts rebuilt from what was applied
    again.restore()
    again.apply_batch(events)
    # the same facts reported again under new ids change nothing either
    again.apply_batch([env(e.data, 30) for e in events])
    assert stored(cert).count("CertificateIssued") == 1
    assert stored(cert).count("CourseCompleted") == 1
    (row,) = views.certificates_of(cert.db, "p1")
    assert row["status"] == "valid" and row["region_id"] == "r1"
    assert [e["type"] for e in row["evidence"]] == ["CourseDayAttended"] * 2 + [
        "PreparationCompleted"]
    assert row["evidence"][0]["event_id"] == str(events[5].id)
    assert row["completed_on"] == "2026-03-02"


def test_two_occasions_of_a_course_give_two_certificates(cert) -> None:  # type: ignore[no-untyped-def]
    runner = cert.certification_runner()
    runner.restore()
    runner.apply_batch(facts(occasion="o1") + facts(occasion="o2"))
    rows = views.certificates_of(cert.db, "p1")
    assert sorted(r["occasion_id"] for r in rows) == ["o1", "o2"]
    assert len({r["certificate_id"] for r in rows}) == 2
    assert len({r["verification_code"] for r in rows}) == 2


def test_a_stop_between_storing_and_recording_issues_nothing_twice(cert) -> None:  # type: ignore[no-untyped-def]
    runner = cert.certification_runner()
    runner.restore()
    events = facts()
    runner.projector.write = FlakyWrite(runner.projector.write)  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        runner.apply_batch(events)  # events stored, applied ids not recorded
    assert stored(cert).count("CertificateIssued") == 1
    assert views.certificates_of(cert.db, "p1") == []
    runner.apply_batch(events)  # the batch comes again
    assert stored(cert).count("CertificateIssued") == 1
    assert len(views.certificates_of(cert.db, "p1")) == 1


def test_a_lost_completion_revokes_its_certificate_once(cert) -> None:  # type: ignore[no-untyped-def]
    runner = cert.certification_runner()
    runner.restore()
    runner.apply_batch(facts())
    stricter = env(m.CoursePublished(
        course_id="k1", journey="barn_och_unga", level="ny", title="Samtal och delaktighet",
        preparations=(m.Preparation(item_id="f1", title="Läs", mandatory=True),
                      m.Preparation(item_id="f3", title="Ny film", mandatory=True))), 60)
    runner.apply_batch([stricter])
    runner.apply_batch([stricter])
    assert stored(cert).count("CertificateRevoked") == 1
    (row,) = views.certificates_of(cert.db, "p1")
    assert row["status"] == "revoked" and "förberedelser" in row["reason"]
    # the completion holds again: a new certificate, the old one stays revoked
    runner.apply_batch([env(m.PreparationCompleted(participant_id="p1", course_id="k1",
                                                   item_id="f3"), 70)])
    rows = views.certificates_of(cert.db, "p1")
    assert sorted(r["status"] for r in rows) == ["revoked", "valid"]


def test_revocation_carries_the_participant_as_key(cert) -> None:  # type: ignore[no-untyped-def]
    runner = cert.certification_runner()
    runner.restore()
    runner.apply_batch(facts())
    runner.apply_batch([env(m.CoursePublished(
        course_id="k1", journey="barn_och_unga", level="ny", title="K",
        preparations=(m.Preparation(item_id="f9", title="x", mandatory=True),)), 60)])
    from shared.platform.relay import envelope_of

    notes = cert.app.recorder.select_notifications(start=None, limit=100)
    published = [envelope_of(cert.app.mapper, "certification", n) for n in notes]  # type: ignore[arg-type]
    revoked = [p for p in published if p and b'"CertificateRevoked"' in p[2]]
    assert len(revoked) == 1 and revoked[0][1] == b"p1"
    assert all(NAME.encode() not in p[2] for p in published if p)
    issued = [p for p in published if p and b'"CertificateIssued"' in p[2]]
    assert b"verification_code" not in issued[0][2] and b"evidence" not in issued[0][2]


@pytest.fixture
def issued(cert) -> tuple[TestClient, FakeNames, dict[str, Any]]:  # type: ignore[no-untyped-def]
    runner = cert.certification_runner()
    runner.restore()
    runner.apply_batch(facts() + facts(participant="p2", occasion="o9", days=1)[2:5])
    names = FakeNames()
    client = TestClient(create_api(cert, names))
    (row,) = views.certificates_of(cert.db, "p1")
    return client, names, row


def test_the_pdf_is_swedish_and_the_name_is_fetched_not_kept(issued, cert) -> None:  # type: ignore[no-untyped-def]
    client, names, row = issued
    r = client.get(f"/certificates/{row['certificate_id']}/intyg.pdf",
                   headers=token(role=Role.PARTICIPANT, participant_id="p1"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(
        io.BytesIO(r.content)).pages).split())  # a label and its value: one line, as read
    for expected in ("INTYG", "Härmed intygas att", NAME, "Samtal och delaktighet", "Nivå",
                     "Ny", "Kurstillfälle: RSS Dalarna, 1 och 2 mars 2026", "Verifieringskod",
                     row["verification_code"], f"/intyg/{row['verification_code']}"):
        assert expected in text, expected
    assert "Kurstillfälle: o1" not in text  # the occasion's id only in the small print
    assert names.asked == ["p1"]
    database = Path(cert.db.url.removeprefix("sqlite:///")).read_bytes()
    assert NAME.encode() not in database


def test_the_pdf_prints_a_name_outside_latin_1(issued) -> None:  # type: ignore[no-untyped-def]
    """Helvetica (WinAnsi) printed black boxes for Ł, Ż, ć, Đ, Š: the intyg embeds DejaVu."""
    client, names, row = issued
    name = "Łukasz Żółć-Ćosić Đorđević Šárá"
    names.name_of = lambda participant_id: name  # type: ignore[method-assign]
    r = client.get(f"/certificates/{row['certificate_id']}/intyg.pdf",
                   headers=token(role=Role.PARTICIPANT, participant_id="p1"))
    assert r.status_code == 200
    assert name in PdfReader(io.BytesIO(r.content)).pages[0].extract_text()


def test_the_credential_verifies_and_one_changed_byte_fails(issued) -> None:  # type: ignore[no-untyped-def]
    client, _, row = issued
    r = client.get(f"/certificates/{row['certificate_id']}/credential",
                   headers=token(role=Role.PARTICIPANT, participant_id="p1"))
    assert r.status_code == 200
    body = r.json()
    doc = body["document"]
    assert doc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert doc["credentialSubject"]["achievement"]["name"] == "Samtal och delaktighet"
    assert doc["credentialSubject"]["achievement"]["description"].endswith(
        "kurstillfälle RSS Dalarna, 1 och 2 mars 2026.")
    assert {e["genre"] for e in doc["evidence"]} == {"CourseDayAttended", "PreparationCompleted"}
    assert NAME not in r.text
    ok = client.post("/verify", json={"credential": body["credential"]}).json()
    assert ok["verified"] is True and ok["status"] == "valid"
    header, payload, signature = body["credential"].split(".")
    for part in (1, 2):
        pieces = [header, payload, signature]
        text = pieces[part]
        i = len(text) // 2
        pieces[part] = text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1:]
        bad = client.post("/verify", json={"credential": ".".join(pieces)}).json()
        assert bad["verified"] is False and bad["status"] == "invalid", part
    kid = client.get("/.well-known/jwks.json").json()["keys"][0]["kid"]
    assert client.get(f"/keys/{kid}").json()["crv"] == "Ed25519"


def test_verification_page_says_valid_revoked_or_unknown(issued, cert) -> None:  # type: ignore[no-untyped-def]
    client, _, row = issued
    page = client.get(f"/intyg/{row['verification_code']}")
    assert page.status_code == 200 and "Intyget är giltigt" in page.text
    assert "<dt>Kurstillfälle</dt><dd>RSS Dalarna, 1 och 2 mars 2026</dd>" in page.text
    assert NAME not in page.text
    assert client.get("/verify/XXXX-XXXX-XXXX").json()["status"] == "unknown"
    assert client.get("/intyg/XXXX-XXXX-XXXX").status_code == 404
    runner = cert.certification_runner()
    runner.restore()
    runner.apply_batch([env(m.CoursePublished(
        course_id="k1", journey="barn_och_unga", level="ny", title="Samtal och delaktighet",
        preparations=(m.Preparation(item_id="nytt", title="x", mandatory=True),)), 90)])
    answer = client.get(f"/verify/{row['verification_code']}").json()
    assert answer["status"] == "revoked" and answer["reason"]
    assert "Intyget är återkallat" in client.get(f"/intyg/{row['verification_code']}").text


def test_out_of_scope_answers_like_unknown(issued) -> None:  # type: ignore[no-untyped-def]
    client, _, row = issued
    path = f"/certificates/{row['certificate_id']}"
    other = client.get(path, headers=token(role=Role.PARTICIPANT, participant_id="p2"))
    unknown = client.get(f"/certificates/{uuid.uuid4()}",
                         headers=token(role=Role.PARTICIPANT, participant_id="p2"))
    assert other.status_code == unknown.status_code == 404
    hidden = "Intyget {} finns inte, eller ligger utanför ditt område."
    assert other.json()["detail"] == hidden.format(row["certificate_id"])
    assert unknown.json()["detail"] == hidden.format(unknown.url.path.rsplit("/", 1)[1])
    admin_elsewhere = token(role=Role.MUNICIPAL_ADMIN, municipality_id="m2")
    assert client.get(path, headers=admin_elsewhere).status_code == 404
    admin = token(role=Role.MUNICIPAL_ADMIN, municipality_id="m1")
    assert client.get(path, headers=admin).status_code == 200
    analyst = token(role=Role.NATIONAL_ANALYST)  # aggregates only: refused by role
    assert client.get(path, headers=analyst).status_code == 403
    coordinator = token(role=Role.REGIONAL_COORDINATOR, region_id="r1")
    assert client.get(f"{path}/intyg.pdf", headers=coordinator).status_code == 403


def test_an_evaluation_is_taken_once_and_its_respondent_is_untraceable(issued, cert) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = issued
    me = token(role=Role.PARTICIPANT, participant_id="p1")
    open_ = client.get("/participants/p1/evaluations", headers=me).json()["evaluations"]
    assert [q["question_id"] for q in open_[0]["questions"]] == ["nytta", "upplagg"]
    assert open_[0]["answered"] is False
    body = {"answers": {"nytta": 5, "upplagg": 3}, "comment": "Bra dag, Sara tackar"}
    assert client.post("/participants/p1/evaluations/o1", json=body,
                       headers=me).status_code == 201
    again = client.post("/participants/p1/evaluations/o1", json=body, headers=me)
    assert again.status_code == 409
    assert client.post("/participants/p1/evaluations/o1", json={"answers": {"nytta": 6}},
                       headers=me).status_code == 422
    assert client.post("/participants/p1/evaluations/o1", json={"answers": {"x": 1}},
                       headers=me).status_code == 422
    assert client.post("/participants/p1/evaluations/o9", json=body,
                       headers=me).status_code == 404  # not completed there
    assert client.post("/participants/p2/evaluations/o1", json=body,
                       headers=me).status_code == 404  # someone else's
    from shared.platform.relay import envelope_of

    notes = cert.app.recorder.select_notifications(start=None, limit=100)
    published = [p for n in notes if (p := envelope_of(cert.app.mapper, "certification", n))]  # type: ignore[arg-type]
    (submitted,) = [p[2] for p in published if b"EvaluationSubmitted" in p[2]]
    assert b"Bra dag" not in submitted and b"p1" not in submitted
    for plain in ("p1o1", "p1|o1", "p1:o1", "o1p1"):
        for algo in (hashlib.sha256, hashlib.sha1, hashlib.md5):
            assert algo(plain.encode()).hexdigest()[:32].encode() not in submitted
    assert client.get("/participants/p1/evaluations", headers=me).json()[
        "evaluations"][0]["answered"] is True
    # the answers come back from the bus (here: straight to the runner) into the statistics
    runner = cert.certification_runner()
    runner.restore()
    note = next(n for n in notes if n.topic.endswith(":EvaluationSubmitted"))
    from shared.events import parse_envelope

    runner.apply_batch([parse_envelope(envelope_of(cert.app.mapper, "certification", note)[2])])  # type: ignore[arg-type,index]
    analyst = token(role=Role.NATIONAL_ANALYST)
    (row,) = client.get("/statistics/evaluations", headers=analyst).json()["courses"]
    assert (row["completions"], row["responses"], row["mean_scores"]) == (
        1, 1, {"nytta": 5.0, "upplagg": 3.0})
    coordinator = token(role=Role.REGIONAL_COORDINATOR, region_id="r2")
    assert client.get("/statistics/evaluations?region_id=r1",
                      headers=coordinator).status_code == 404


def test_route_and_stationen(issued) -> None:  # type: ignore[no-untyped-def]
    client, _, row = issued
    admin = token(role=Role.MUNICIPAL_ADMIN, municipality_id="m1")
    route = client.get("/participants/p2/route", headers=admin).json()
    (stop,) = route["stops"]
    assert stop["done"] is False and stop["booked_occasions"] == ["o9"]
    assert stop["missing"]["preparations"] == [{"item_id": "f1", "title": "Läs kapitlet"}]
    mine = client.get("/participants/p1/route", headers=admin).json()
    assert mine["stops"][0]["done"] is True
    assert mine["certificates"][0]["links"]["pdf"].endswith(
        f"/certificates/{row['certificate_id']}/intyg.pdf")
    staff = client.get("/stationen/m1/staff", headers=admin).json()
    assert staff["summary"] == {"staff": 2, "booked": 2, "lacking_preparations": 1,
                                "finished_level": 1, "level_ups_due": 0}
    csv = client.get("/stationen/m1/staff.csv", headers=admin)
    assert csv.content.startswith(b"\xef\xbb\xbf")
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Namn;Deltagar-id;Roll;Nivå")
    assert any(line.startswith(f"{NAME};p1;") for line in lines)
    assert client.get("/stationen/m2/staff",
                      headers=admin).status_code == 404



def test_production_refuses_development_and_placeholder_keys(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from services.certification.keys import CertificationSettings, production_problems

    assert len(production_problems(CertificationSettings())) == 2  # nothing configured
    dev = tmp_path / "certification-ed25519.dev.pem"
    dev.write_text("x")
    placeholders = CertificationSettings(signing_key_file=str(dev),
                                         respondent_key="change-me-respondent-key-at-least-32")
    assert len(production_problems(placeholders)) == 2
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    configured = CertificationSettings(signing_key=pem.replace("\n", "\\n"),
                                       respondent_key="k" * 40)
    assert production_problems(configured) == []


def test_a_level_up_is_due_when_the_years_have_passed() -> None:
    from services.certification.projections.routes import level_up_due

    doc = {"level": "ny", "role": "socialsekreterare", "years_in_profession": 1.5,
           "registered_at": "2025-01-01T00:00:00+00:00"}
    assert level_up_due(doc, dt.date(2025, 6, 1)) is None
    assert level_up_due(doc, dt.date(2025, 8, 1)) == "van"
    assert level_up_due(doc | {"level": "van"}, dt.date(2025, 8, 1)) is None
    assert level_up_due(doc | {"role": "chef", "level": "chef"}, dt.date(2030, 1, 1)) is None


def test_statistics_per_region_equal_replay_of_the_regions_occasions(cert) -> None:  # type: ignore[no-untyped-def]
    """A region's statistics are the `evaluations` document of its own occasions: what
    `yrkesresan replay evaluations` prints over the log without the other regions' occasions;
    the national ones are the replay of the whole log. The region's occasion arrives last, its
    attendance first: the region is known once the plan is."""
    from yrkesresan.replay import replay

    r2 = facts(participant="p2", occasion="o2", days=1)
    r2[3] = env(r2[3].data.model_copy(update={"region_id": "r2"}))  # type: ignore[union-attr]
    log = [*facts(), *reversed(r2)] + [
        env(m.EvaluationSubmitted(occasion_id=o, course_id="k1", respondent_id=f"resp-{o}",
                                  answers={"nytta": score}), 90)
        for o, score in (("o1", 5), ("o2", 2))]
    runner = cert.certification_runner()
    runner.restore()
    runner.apply_batch(log)
    client = TestClient(create_api(cert, FakeNames()))
    lines = [e.to_json() for e in log]
    analyst = token(role=Role.NATIONAL_ANALYST)
    national = client.get("/statistics/evaluations", headers=analyst).json()
    assert national["courses"] == replay("evaluations", lines)["courses"]
    assert national["courses"][0]["responses"] == 2
    for region, other in (("r1", "o2"), ("r2", "o1")):
        mine = [line for e, line in zip(log, lines, strict=True)
                if getattr(e.data, "occasion_id", None) != other]
        answer = client.get(f"/statistics/evaluations?region_id={region}", headers=token(
            role=Role.REGIONAL_COORDINATOR, region_id=region)).json()
        assert answer["region_id"] == region
        assert answer["courses"] == replay("evaluations", mine)["courses"]
        assert answer["courses"][0]["responses"] == 1
    # a restart rebuilds the regions from what was applied
    again = cert.certification_runner()
    again.restore()
    assert again.projector.facts.regional.result("r2") == replay(
        "evaluations", [line for e, line in zip(log, lines, strict=True)
                        if getattr(e.data, "occasion_id", None) != "o1"])


def test_each_regions_statistics_are_the_replay_of_its_occasions_in_any_order() -> None:
    """Over a log of 21 regions (participants with preparations in several courses, an
    occasion's events before its plan when shuffled), each region's statistics are what
    `yrkesresan replay evaluations` prints over the log without the other regions'
    occasions."""
    import random

    from services.certification.projections.facts import CertificationFacts
    from yrkesresan.demo import demo_envelopes
    from yrkesresan.replay import replay

    log = list(demo_envelopes(150, seed=7, regions=21))
    shuffled = random.Random(3).sample(log, len(log))
    for order in (log, shuffled):
        facts = CertificationFacts()
        for env in order:
            facts.apply(env)
        region_of = {o: plan.region_id for o in {getattr(e.data, "occasion_id", None)
                                                  for e in log} - {None}
                     if (plan := facts.completions.plan(str(o))) is not None}
        regions = set(region_of.values())
        assert len(regions) > 3
        for region in regions:
            lines = [e.to_json() for e in log
                     if region_of.get(getattr(e.data, "occasion_id", None), region) == region]
            expected = replay("evaluations", lines)
            assert facts.regional.result(region) == expected, region
            assert any(row["completions"] for row in expected["courses"]), region


def _rows(document: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return {row["course_id"]: row for row in document["courses"]}


def test_an_event_names_every_region_and_course_whose_statistics_it_changed() -> None:
    """The consumer rewrites the statistics rows of the regions and courses that
    `CertificationFacts.apply` names, computed for those courses only: after each event of a
    log (in order and shuffled), every region and course whose row differs from before the
    event is named, and the rows computed for the named courses are those of the whole
    document; the demo log, and an occasion whose later plan moves it (its completion and
    response) from one region to another."""
    import random

    from services.certification.projections.facts import CertificationFacts
    from yrkesresan.demo import demo_envelopes

    moved = [*facts(), env(m.EvaluationSubmitted(
        occasion_id="o1", course_id="k1", respondent_id="resp-1", answers={"nytta": 4}), 90),
        env(m.CourseOccasionPlanned(
            occasion_id="o1", course_id="k1", region_id="r2", capacity=10,
            days=tuple(m.CourseDay(day=d, date=dt.date(2026, 3, d), mode="digital")
                       for d in (1, 2))), 100)]
    for log in (list(demo_envelopes(40, seed=7, regions=21)), moved):
        regions = sorted({e.data.region_id for e in log  # type: ignore[attr-defined]
                          if e.type == "CourseOccasionPlanned"})
        assert len(regions) > 1
        for order in (log, random.Random(3).sample(log, len(log))):
            held = CertificationFacts()
            before = {None: _rows(held.evaluations.result())} | {
                r: _rows(held.regional.result(r)) for r in regions}
            named = set()
            for event in order:
                touched = held.apply(event)
                after = {None: _rows(held.evaluations.result())} | {
                    r: _rows(held.regional.result(r)) for r in regions}
                changed = {r for r in regions if after[r] != before[r]}
                assert changed <= touched.evaluation_regions, (event.type, changed)
                for region, rows in after.items():
                    assert {c for c in rows.keys() | before[region].keys()
                            if rows.get(c) != before[region].get(c)} <= touched.courses
                assert _rows(held.evaluations.result(courses=touched.courses)) == {
                    c: row for c, row in after[None].items() if c in touched.courses}
                for region in touched.evaluation_regions:
                    assert _rows(held.regional.result(region, touched.courses)) == {
                        c: row for c, row in after[region].items() if c in touched.courses}
                named |= changed
                before = after
            if order is log:  # each region's statistics changed at some event
                assert named == set(regions)


def test_audit_trail_per_completion_as_json_and_page_and_as_of(cert) -> None:  # type: ignore[no-untyped-def]
    """The history behind a completion: the facts and certification's own events as they
    came back over the bus, ordered by recording time, with the pseudonymous actor; "as of" a
    date gives the trail and the progression from what was recorded by then, which is what
    `yrkesresan replay progression` prints over the log cut at that moment."""
    from shared.events import parse_envelope
    from yrkesresan import stores
    from yrkesresan.replay import replay

    runner = cert.certification_runner()
    runner.restore()
    log = facts() + facts(participant="p2", occasion="o2", days=1)[2:]
    log.append(env(m.CoursePublished(
        course_id="k1", journey="barn_och_unga", level="ny", title="Samtal och delaktighet",
        preparations=(m.Preparation(item_id="f9", title="Ny film", mandatory=True),)),
        60 * 24 * 3))  # three days later: p1's and p2's completions are lost
    runner.apply_batch(log)
    own = [parse_envelope(raw) for raw in stores.store_envelopes(cert.app)]  # from the bus
    runner.apply_batch(own)
    assert sorted(e.type for e in own) == sorted(
        ["CertificateIssued", "CertificateRevoked", "CourseCompleted"] * 2)  # p1's, p2's
    client = TestClient(create_api(cert, FakeNames()))
    me = token(role=Role.PARTICIPANT, participant_id="p1")
    doc = client.get("/participants/p1/history", headers=me).json()
    (done,) = doc["completions"]
    assert (done["course_id"], done["occasion_id"]) == ("k1", "o1")
    (certificate,) = done["certificates"]
    assert certificate["status"] == "revoked" and "förberedelser" in certificate["reason"]
    kinds = [e["type"] for e in done["events"]]
    assert sorted(kinds) == sorted([
        "CoursePublished", "CourseOccasionPlanned", "ParticipantBooked", "CourseDayAttended",
        "CourseDayAttended", "PreparationCompleted", "CoursePublished", "CourseCompleted",
        "CertificateIssued", "CertificateRevoked"])
    recorded = [e["recorded_at"] for e in done["events"]]
    assert [dt.datetime.fromisoformat(r) for r in recorded] == sorted(
        dt.datetime.fromisoformat(r) for r in recorded)
    issued = next(e for e in done["events"] if e["type"] == "CertificateIssued")
    assert issued["recorded_by"] == "system:certification" and issued["service"] == (
        "certification")
    assert all(e["data"].get("participant_id") in (None, "p1") for e in doc["events"])
    assert NAME not in str(doc)
    assert doc["progression"]["completed_courses"] == []  # lost since
    # As of the day of the course: completed, no certificate recorded yet (issued "today")
    then = client.get("/participants/p1/history?as_of=2026-03-02", headers=me).json()
    cut = history_cutoff("2026-03-02")
    lines = [e.to_json() for e in [*log, *own] if (e.recorded_at or e.occurred_at) <= cut]
    (row,) = [r for r in replay("progression", lines)["participants"]
              if r["participant_id"] == "p1"]
    assert then["progression"] == row and row["completed_courses"] == ["k1"]
    assert then["completions"] == []  # nothing certified by then
    assert client.get("/participants/p1/history?as_of=2026-01-01",
                      headers=me).json()["progression"] is None  # not registered yet
    assert client.get("/participants/p1/history?as_of=igår", headers=me).status_code == 422
    # Scope: the auditor, the participant, their municipality's administrator
    page = client.get("/participants/p1/history.html", headers=token(role=Role.AUDITOR))
    assert page.status_code == 200 and "Revisionsspår" in page.text
    assert "Intyg återkallat" in page.text and "system:certification" in page.text
    for who, status in ((token(role=Role.MUNICIPAL_ADMIN, municipality_id="m1"), 200),
                        (token(role=Role.MUNICIPAL_ADMIN, municipality_id="m2"), 404),
                        (token(role=Role.PARTICIPANT, participant_id="p2"), 404),
                        (token(role=Role.REGIONAL_COORDINATOR, region_id="r1"), 403),
                        (token(role=Role.NATIONAL_ANALYST), 403)):
        assert client.get("/participants/p1/history", headers=who).status_code == status
    assert client.get("/participants/nobody/history",
                      headers=token(role=Role.AUDITOR)).status_code == 404


def history_cutoff(day: str) -> dt.datetime:
    from shared.platform.asof import parse

    return parse(day)


def withdrawn(day: int, minutes: int = 120, participant: str = "p1",
              occasion: str = "o1") -> Envelope:
    return env(m.AttendanceWithdrawn(participant_id=participant, occasion_id=occasion, day=day,
                                     reason="Rapporterad av misstag"), minutes)


def test_a_withdrawn_day_revokes_the_certificate_once_whatever_comes_again(cert) -> None:  # type: ignore[no-untyped-def]
    """The completion rule is the fold's (a withdrawn day no longer counts); certification
    revokes the completion's certificate once, however often the withdrawal, or everything,
    is delivered again, also after a restart; the verification page says why."""
    runner = cert.certification_runner()
    runner.restore()
    events = facts()
    runner.apply_batch(events)
    (row,) = views.certificates_of(cert.db, "p1")
    withdrawal = withdrawn(2)
    runner.apply_batch([withdrawal])
    runner.apply_batch([withdrawal, withdrawn(2, 130)])  # again, and reported twice
    again = cert.certification_runner()  # a restart, then every message once more
    again.restore()
    again.apply_batch([*events, withdrawal])
    assert stored(cert).count("CertificateRevoked") == 1
    (revoked,) = views.certificates_of(cert.db, "p1")
    assert revoked["certificate_id"] == row["certificate_id"]
    assert revoked["status"] == "revoked"
    assert revoked["reason"] == "Närvaron dag 2 har återkallats: Rapporterad av misstag"
    client = TestClient(create_api(cert, FakeNames()))
    answer = client.get(f"/verify/{row['verification_code']}").json()
    assert answer["status"] == "revoked" and "dag 2" in answer["reason"]
    page = client.get(f"/intyg/{row['verification_code']}").text
    assert "Intyget är återkallat" in page and "Rapporterad av misstag" in page
    route = client.get("/participants/p1/route", headers=token(
        role=Role.PARTICIPANT, participant_id="p1")).json()
    (stop,) = route["stops"]
    assert stop["done"] is False and stop["certificates"][0]["status"] == "revoked"
    # a withdrawal is final: the day reported again does not bring the completion back
    again.apply_batch([env(m.CourseDayAttended(participant_id="p1", occasion_id="o1", day=2),
                           200)])
    assert stored(cert).count("CertificateIssued") == 1


def test_a_withdrawal_before_the_attendance_issues_nothing(cert) -> None:  # type: ignore[no-untyped-def]
    runner = cert.certification_runner()
    runner.restore()
    runner.apply_batch([withdrawn(1, -60), *reversed(facts())])
    assert "CertificateIssued" not in stored(cert)
    assert views.certificates_of(cert.db, "p1") == []


def test_a_verification_code_is_twelve_of_the_alphabets_32_letters_in_three_groups() -> None:
    import re

    from services.certification.domain import VERIFICATION_ALPHABET, new_verification_code

    assert len(set(VERIFICATION_ALPHABET)) == 32  # five random bits pick each letter
    codes = {new_verification_code() for _ in range(2000)}
    assert len(codes) == 2000
    letters = re.escape(VERIFICATION_ALPHABET)
    assert all(re.fullmatch(f"[{letters}]{{4}}-[{letters}]{{4}}-[{letters}]{{4}}", c)
               for c in codes)
    assert set("".join(codes).replace("-", "")) == set(VERIFICATION_ALPHABET)


def test_course_days_are_written_as_a_person_writes_them() -> None:
    assert swedish_dates(["2026-11-23", "2026-11-09"]) == "9 och 23 november 2026"
    assert swedish_dates([dt.date(2026, 10, d) for d in (6, 13, 20, 27)]) == (
        "6, 13, 20 och 27 oktober 2026")
    assert swedish_dates(["2026-10-28", "2026-11-04"]) == "28 oktober och 4 november 2026"
    assert swedish_dates(["2026-12-15", "2027-01-12"]) == "15 december 2026 och 12 januari 2027"
    assert swedish_dates(["2026-03-01"]) == "1 mars 2026"
