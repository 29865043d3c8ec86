"""Enrolment's HTTP API on real PostgreSQL: the answers to bad commands (422 naming the field,
404 for unknown ids, 409 for conflicts), minted ids, trainers, uploads, moves and erasure. Who
may call what, in and out of scope, is the role table's (tests/integration/test_roles.py)."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.enrolment.adapters.http import create_api
from services.enrolment.application import (
    Enrolment,
    JoinMunicipality,
    RegisterParticipant,
    RegisterRegion,
    bootstrap,
    migrate,
)
from shared.events import models as contract
from shared.platform import asof
from shared.platform.auth import Principal, Role
from tests.feeding import feed
from tests.tokens import mint, with_old_secret

pytestmark = pytest.mark.integration

COURSE = {
    "course_id": "bou-ny-samtal", "journey": "barn_och_unga", "level": "ny",
    "title": "Samtal och delaktighet",
    "preparations": [{"item_id": "sod-f1", "title": "Läs kapitlet", "mandatory": True}],
    "deepening_tasks": [{"task_id": "sod-d1", "title": "Planera ett barnsamtal"}],
}


@dataclass
class World:
    enrolment: Enrolment
    http: TestClient
    self_id: str  # the participant whose token is "participant (self)", in falun
    other_id: str  # a participant in mora
    counter: Iterator[int]

    def events(self) -> int:
        return self.enrolment.app.recorder.max_notification_id() or 0

    def fresh(self) -> str:
        """A new participant in falun, registered years ago (so that a level-up records)."""
        n = next(self.counter)
        return self.enrolment.register_participant(RegisterParticipant(
            municipality_id="falun", name=f"Ny Person {n}", email=f"ny{n}@falun.example.se",
            role="socialsekreterare", years_in_profession=0,
            occurred_at=dt.datetime(2019, 1, 1, tzinfo=dt.UTC)))


@pytest.fixture
def world(pg_url: str) -> Iterator[World]:
    migrate(pg_url)
    e = bootstrap(pg_url)
    e.register_region(RegisterRegion(region_id="rss-dalarna", name="RSS Dalarna"))
    e.register_region(RegisterRegion(region_id="region-sormland", name="Region Sörmland"))
    for mid, name, rid in (("falun", "Falun", "rss-dalarna"), ("mora", "Mora", "rss-dalarna"),
                           ("nykoping", "Nyköping", "region-sormland")):
        e.join_municipality(JoinMunicipality(municipality_id=mid, name=name, region_id=rid))
    feed(e.runner(), contract.CoursePublished.model_validate(COURSE))
    self_id = e.register_participant(RegisterParticipant(
        municipality_id="falun", name="Anna Andersson", email="anna@falun.example.se",
        role="socialsekreterare", years_in_profession=1))
    other_id = e.register_participant(RegisterParticipant(
        municipality_id="mora", name="Bo Berg", email="bo@mora.example.se",
        role="socialsekreterare", years_in_profession=3))
    with TestClient(create_api(e)) as http:
        yield World(e, http, self_id, other_id, itertools.count(1))
    e.close()


def _token(role: Role, **scope: str) -> dict[str, str]:
    token = mint(Principal(subject=f"{role.value}-tester", role=role, **scope))
    return {"Authorization": f"Bearer {token}"}


def _callers(w: World) -> dict[str, dict[str, str]]:
    return {
        "system": _token(Role.SYSTEM),
        "admin falun": _token(Role.MUNICIPAL_ADMIN, municipality_id="falun"),
        "coordinator dalarna": _token(Role.REGIONAL_COORDINATOR, region_id="rss-dalarna"),
        "participant self": _token(Role.PARTICIPANT, participant_id=w.self_id),
    }


def _csv(text: str) -> dict[str, Any]:
    return {"file": ("file.csv", text.encode(), "text/csv")}


def test_a_coordinator_token_without_a_region_imports_nothing(world: World) -> None:
    events = world.events()
    r = world.http.post("/municipalities/import", headers=_token(Role.REGIONAL_COORDINATOR),
                        files=_csv("municipality_id,name,region_id\nx,X,rss-dalarna\n"))
    assert r.status_code == 403
    assert world.events() == events


def test_no_token_or_a_forged_one_is_401(world: World) -> None:
    assert world.http.get("/regions").status_code == 401
    forged = with_old_secret(Principal(subject="x", role=Role.SYSTEM))
    r = world.http.get("/regions", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


def test_validation_errors_are_422_naming_the_field(world: World) -> None:
    CALLERS = _callers(world)
    events = world.events()
    admin = CALLERS["admin falun"]
    r = world.http.post("/participants", headers=admin, json={
        "municipality_id": "falun", "name": "X", "email": "not-an-address",
        "role": "socialsekreterare", "years_in_profession": 1})
    assert r.status_code == 422
    assert (r.json()["field"], r.json()["reason"]) == ("email", "ogiltig e-postadress")
    r = world.http.post("/participants", headers=admin, json={
        "municipality_id": "falun", "name": "X", "email": "x@falun.example.se",
        "role": "socialsekreterare", "years_in_profession": -2})
    assert (r.status_code, r.json()["field"]) == (422, "years_in_profession")
    r = world.http.post(f"/participants/{world.self_id}/preparations",
                        headers=CALLERS["participant self"],
                        json={"course_id": "bou-ny-samtal", "item_id": "no-such-item"})
    assert (r.status_code, r.json()["field"]) == (422, "item_id")
    future = (asof.today() + dt.timedelta(days=3)).isoformat()
    r = world.http.post(f"/participants/{world.self_id}/level-up", headers=admin,
                        json={"as_of": future})
    assert (r.status_code, r.json()["field"]) == (422, "as_of")
    assert world.events() == events


def test_unknown_ids_are_404(world: World) -> None:
    CALLERS = _callers(world)
    events = world.events()
    system = CALLERS["system"]
    assert world.http.get("/participants/nobody", headers=system).status_code == 404
    r = world.http.post(f"/participants/{world.self_id}/move", headers=system,
                        json={"to_municipality_id": "atlantis"})
    assert (r.status_code, r.json()["field"]) == (404, "to_municipality_id")
    r = world.http.post(f"/participants/{world.self_id}/preparations", headers=system,
                        json={"course_id": "no-such-course", "item_id": "x"})
    assert (r.status_code, r.json()["field"]) == (404, "course_id")
    r = world.http.post("/participants", headers=system, json={
        "municipality_id": "atlantis", "name": "X", "email": "x@atlantis.example.se",
        "role": "socialsekreterare", "years_in_profession": 1})
    assert r.status_code == 404
    r = world.http.get("/participants", headers=system, params={"municipality_id": "atlantis"})
    assert r.status_code == 404
    assert world.events() == events


def test_conflicts_are_409(world: World) -> None:
    CALLERS = _callers(world)
    events = world.events()
    r = world.http.post("/participants", headers=CALLERS["system"], json={
        "municipality_id": "mora", "name": "Anna igen", "email": "ANNA@falun.example.se",
        "role": "socialsekreterare", "years_in_profession": 1})
    assert (r.status_code, r.json()["field"]) == (409, "email")
    r = world.http.post("/regions", headers=CALLERS["system"],
                        json={"region_id": "rss-dalarna", "name": "Igen"})
    assert r.status_code == 409
    r = world.http.post(f"/participants/{world.self_id}/move", headers=CALLERS["system"],
                        json={"to_municipality_id": "falun"})
    assert r.status_code == 409
    assert world.events() == events


def test_csv_upload_all_or_nothing_then_idempotent(world: World) -> None:
    CALLERS = _callers(world)
    admin = CALLERS["admin falun"]
    bad = ("name,email,role,years_in_profession\nCe,ce@falun.example.se,socialsekreterare,1\n"
           ",bad,socialsekreterare,x\nDi,anna@falun.example.se,socialsekreterare,1\n")
    events = world.events()
    r = world.http.post("/participants/import", headers=admin, data={"municipality_id": "falun"},
                        files=_csv(bad))
    assert r.status_code == 422
    assert [e["message"] for e in r.json()["errors"]] == [
        "rad 3: email: ogiltig e-postadress", "rad 3: name: får inte vara tomt",
        "rad 3: years_in_profession: måste vara ett tal",
        "rad 4: email: e-postadressen används redan av ett annat konto"]
    assert world.events() == events
    good = ("name;email;role;area_of_work;years_in_profession\n"
            "Ce;ce@falun.example.se;socialsekreterare;utredning;1\n"
            "Anna Andersson;anna@falun.example.se;socialsekreterare;;1\n")
    r = world.http.post("/participants/import", headers=admin, data={"municipality_id": "falun"},
                        files=_csv(good))
    assert r.status_code == 200, r.json()
    body = r.json()
    assert (body["imported"], body["skipped"]) == (1, 1)
    assert [row["status"] for row in body["rows"]] == ["imported", "already_there"]
    r = world.http.post("/participants/import", headers=admin, data={"municipality_id": "falun"},
                        files=_csv(good))
    assert (r.json()["imported"], r.json()["skipped"]) == (0, 2)


def test_move_hands_the_account_to_the_new_municipality(world: World) -> None:
    CALLERS = _callers(world)
    pid = world.fresh()
    system, falun = CALLERS["system"], CALLERS["admin falun"]
    mora = _token(Role.MUNICIPAL_ADMIN, municipality_id="mora")
    r = world.http.post(f"/participants/{pid}/move", headers=falun,
                        json={"to_municipality_id": "mora"})
    assert r.status_code == 200
    assert world.http.get(f"/participants/{pid}", headers=falun).status_code == 404
    account = world.http.get(f"/participants/{pid}", headers=mora).json()
    assert account["participant_id"] == pid and account["municipality_id"] == "mora"
    assert [m["municipality_id"] for m in account["municipalities"]] == ["falun", "mora"]
    listed = world.http.get("/participants", headers=system, params={"municipality_id": "mora"})
    assert pid in [p["participant_id"] for p in listed.json()["participants"]]


def test_erasure_through_the_api(world: World) -> None:
    CALLERS = _callers(world)
    pid = world.fresh()
    admin = CALLERS["admin falun"]
    before = world.http.get(f"/participants/{pid}", headers=admin).json()
    assert before["name"].startswith("Ny Person") and before["erased"] is False
    r = world.http.delete(f"/participants/{pid}", headers=admin)
    assert r.status_code == 200 and r.json()["recorded"] is True
    after = world.http.get(f"/participants/{pid}", headers=admin).json()
    assert after["erased"] is True
    assert (after["name"], after["email"], after["area_of_work"]) == (None, None, None)
    assert after["level"] == before["level"] and after["registered_at"] == before["registered_at"]
    # The address is free again.
    r = world.http.post("/participants", headers=admin, json={
        "municipality_id": "falun", "name": "Återkommen", "email": before["email"],
        "role": "socialsekreterare", "years_in_profession": 1})
    assert r.status_code == 201 and r.json()["participant_id"] != pid


def test_a_coordinator_lists_without_personal_data(world: World) -> None:
    CALLERS = _callers(world)
    coordinator = CALLERS["coordinator dalarna"]
    listed = world.http.get("/participants", headers=coordinator,
                            params={"municipality_id": "falun"}).json()["participants"]
    assert [p["participant_id"] for p in listed] == [world.self_id]
    assert "name" not in listed[0] and "email" not in listed[0]
    admin = world.http.get("/participants", headers=CALLERS["admin falun"],
                           params={"municipality_id": "falun"}).json()["participants"]
    assert admin[0]["name"] == "Anna Andersson"


def test_a_caller_never_chooses_an_id(world: World) -> None:
    CALLERS = _callers(world)
    events = world.events()
    r = world.http.post("/participants", headers=CALLERS["admin falun"], json={
        "municipality_id": "falun", "name": "X", "email": "x@falun.example.se",
        "role": "socialsekreterare", "years_in_profession": 1, "participant_id": "mitt-id"})
    assert (r.status_code, r.json()["field"]) == (422, "participant_id")
    r = world.http.post("/trainers", headers=CALLERS["admin falun"], json={
        "municipality_id": "falun", "name": "X", "email": "x@falun.example.se",
        "trainer_id": "mitt-id"})
    assert (r.status_code, r.json()["field"]) == (422, "trainer_id")
    r = world.http.post("/participants/import", headers=CALLERS["admin falun"],
                        data={"municipality_id": "falun"}, files=_csv(
                            "participant_id,name,email,role,years_in_profession\n"
                            "mitt-id,X,x@falun.example.se,socialsekreterare,1\n"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["message"] == "rad 1: participant_id: okänd kolumn"
    assert world.events() == events
    r = world.http.post("/participants", headers=CALLERS["admin falun"], json={
        "municipality_id": "falun", "name": "X", "email": "x@falun.example.se",
        "role": "socialsekreterare", "years_in_profession": 1})
    assert uuid.UUID(r.json()["participant_id"]).version == 4


def test_trainer_accounts(world: World) -> None:
    CALLERS = _callers(world)
    r = world.http.post("/trainers", headers=CALLERS["coordinator dalarna"], json={
        "municipality_id": "mora", "name": "Rosa Reserv", "email": "Rosa@Mora.example.se"})
    assert r.status_code == 201
    trainer_id = r.json()["trainer_id"]
    mora = _token(Role.MUNICIPAL_ADMIN, municipality_id="mora")
    shown = world.http.get(f"/trainers/{trainer_id}", headers=mora).json()
    assert (shown["name"], shown["email"], shown["municipality_id"]) == (
        "Rosa Reserv", "rosa@mora.example.se", "mora")
    own = world.http.get(f"/trainers/{trainer_id}",
                         headers=_token(Role.TRAINER, trainer_id=trainer_id))
    assert own.status_code == 200
    listed = world.http.get("/trainers", headers=CALLERS["coordinator dalarna"],
                            params={"municipality_id": "mora"}).json()["trainers"]
    assert [t["trainer_id"] for t in listed] == [trainer_id]
    events = world.events()
    r = world.http.post("/trainers", headers=mora, json={
        "municipality_id": "mora", "name": "Rosa igen", "email": "rosa@mora.example.se"})
    assert (r.status_code, r.json()["field"]) == (409, "email")
    # A trainer may also be a participant with the same address: different accounts.
    r = world.http.post("/participants", headers=mora, json={
        "municipality_id": "mora", "name": "Rosa Reserv", "email": "rosa@mora.example.se",
        "role": "socialsekreterare", "years_in_profession": 9})
    assert r.status_code == 201 and world.events() > events


def test_the_openapi_document_lists_every_endpoint(world: World) -> None:
    paths = world.http.get("/openapi.json").json()["paths"]
    for endpoint in ("POST /regions", "POST /regions/import", "GET /regions",
                     "POST /municipalities", "POST /municipalities/import",
                     "GET /municipalities", "GET /courses", "POST /participants",
                     "POST /participants/import", "GET /participants",
                     "GET /participants/{participant_id}",
                     "POST /participants/{participant_id}/move",
                     "POST /participants/{participant_id}/level-up",
                     "DELETE /participants/{participant_id}",
                     "POST /participants/{participant_id}/preparations",
                     "POST /participants/{participant_id}/deepening", "POST /trainers",
                     "GET /trainers", "GET /trainers/{trainer_id}"):
        method, path = endpoint.split(" ")
        assert method.lower() in paths[path], endpoint
    assert "/courses" in paths and "post" not in paths["/courses"]  # the catalogue is the bus's


def test_each_read_of_personal_data_is_recorded_and_the_auditor_lists_it(world: World) -> None:
    auditor = _token(Role.AUDITOR)
    pid = world.self_id
    assert world.http.get(f"/participants/{pid}/reads", headers=auditor).json()["reads"] == []
    admin = _token(Role.MUNICIPAL_ADMIN, municipality_id="falun")
    assert world.http.get(f"/participants/{pid}", headers=admin).json()["name"] == (
        "Anna Andersson")
    world.http.get("/participants", params={"municipality_id": "falun"}, headers=admin)
    coordinator = _token(Role.REGIONAL_COORDINATOR, region_id="rss-dalarna")
    shown = world.http.get(f"/participants/{pid}", headers=coordinator).json()
    assert "name" not in shown  # no personal data shown: nothing to record
    r = world.http.get(f"/participants/{pid}/reads", headers=auditor)
    assert r.status_code == 200
    reads = r.json()["reads"]
    assert [x["endpoint"] for x in reads] == ["GET /participants",
                                              "GET /participants/{participant_id}"]
    who = world.enrolment.actor("municipal_admin", "municipal_admin-tester")
    assert {x["actor"] for x in reads} == {who}  # pseudonymous, never the token's subject
    assert "tester" not in r.text and "Anna" not in r.text
    assert all(x["read_at"].endswith("+00:00") for x in reads)
    assert world.http.get(f"/participants/{world.other_id}/reads",
                          headers=auditor).json()["reads"] == []
    assert world.http.get("/participants/nobody/reads", headers=auditor).status_code == 404
    assert world.http.get(f"/participants/{pid}/reads", headers=admin).status_code == 403


def test_the_service_accounts_read_only_what_they_need_and_each_read_is_recorded(
        world: World) -> None:
    """Certification's account reads a name (an intyg, a staff list), notification's a name
    and an address (a message): nothing else of enrolment's, and never anything written."""
    pid = world.self_id
    names, addresses = _token(Role.NAME_READER), _token(Role.ADDRESS_READER)
    shown = world.http.get(f"/participants/{pid}", headers=names).json()
    assert shown["name"] == "Anna Andersson"
    assert "email" not in shown and "area_of_work" not in shown
    listed = world.http.get("/participants", params={"municipality_id": "falun"},
                            headers=names).json()["participants"]
    assert {row["participant_id"]: row["name"] for row in listed}[pid] == "Anna Andersson"
    assert all("email" not in row for row in listed)
    shown = world.http.get(f"/participants/{pid}", headers=addresses).json()
    assert (shown["name"], shown["email"]) == ("Anna Andersson", "anna@falun.example.se")
    assert "area_of_work" not in shown
    before = world.events()
    for headers in (names, addresses):
        assert world.http.get(f"/participants/{uuid.uuid4()}", headers=headers).status_code == 404
        for method, path, body in (
                ("POST", "/participants", {"municipality_id": "falun", "name": "X",
                                           "email": "x@falun.example.se", "role": "x",
                                           "years_in_profession": 1}),
                ("DELETE", f"/participants/{pid}", None),
                ("POST", f"/participants/{pid}/move", {"to_municipality_id": "mora"}),
                ("GET", "/trainers", None), ("GET", f"/participants/{pid}/reads", None),
                ("POST", "/regions", {"region_id": "x", "name": "X"})):
            r = world.http.request(method, path, json=body, headers=headers,
                                   params={"municipality_id": "falun"})
            assert r.status_code == 403, (method, path, r.text)
    assert world.http.get("/participants", params={"municipality_id": "falun"},
                          headers=addresses).status_code == 403  # one person at a time
    assert world.events() == before
    reads = world.http.get(f"/participants/{pid}/reads",
                           headers=_token(Role.AUDITOR)).json()["reads"]
    assert sorted((x["actor"].split(":")[0], x["endpoint"]) for x in reads) == [
        ("address_reader", "GET /participants/{participant_id}"),
        ("name_reader", "GET /participants"),
        ("name_reader", "GET /participants/{participant_id}")]


def test_reads_of_a_trainers_personal_data_are_recorded_too(world: World) -> None:
    coordinator = _token(Role.REGIONAL_COORDINATOR, region_id="rss-dalarna")
    r = world.http.post("/trainers", headers=coordinator, json={
        "municipality_id": "falun", "name": "Karin", "email": "karin@falun.example.se"})
    tid = r.json()["trainer_id"]
    assert world.http.get(f"/trainers/{tid}", headers=coordinator).json()["name"] == "Karin"
    reads = world.http.get(f"/trainers/{tid}/reads", headers=_token(Role.AUDITOR)).json()
    assert [x["endpoint"] for x in reads["reads"]] == ["GET /trainers/{trainer_id}"]
