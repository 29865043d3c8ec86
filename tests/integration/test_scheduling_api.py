"""Scheduling's HTTP API on real PostgreSQL: what the answers say (filtered reads, invalid
commands, conflicts, the waitlist, attendance), with the registry copy fed as its consumer
would be. Who may call what, in and out of scope, is the role table's
(tests/integration/test_roles.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.scheduling import application as scheduling_app
from services.scheduling.adapters.http import create_api
from services.scheduling.application import AssignTrainer, BookParticipant, Scheduling
from shared.events import models as contract
from shared.platform import asof
from shared.platform.auth import Principal, Role
from tests.feeding import feed
from tests.tokens import mint

pytestmark = pytest.mark.integration

DALARNA, SKANE = "rss-dalarna", "rss-skane"
TWO_DAYS = [{"day": 1, "date": "2024-03-07", "mode": "digital"},
            {"day": 2, "date": "2024-03-14", "mode": "on_site", "venue": "Folkets hus, Falun"}]
HOMES = {"falun": DALARNA, "mora": DALARNA, "borlange": DALARNA, "malmo": SKANE}
PARTICIPANTS = {"p-a1": "falun", "p-a2": "mora", "p-self": "falun", "c-system": "mora",
                "c-coordinator": "mora", "c-admin": "falun", "q1": "falun", "q2": "falun",
                "q3": "falun", "p1": "falun", "p2": "falun", "p-moved": "mora"}
TRAINERS = {"karin": "falun", "ulf": "mora", "rosa": "mora", "lena": "malmo", "fia": "borlange"}

PRINCIPALS = {
    "system": Principal(subject="sys", role=Role.SYSTEM),
    "analyst": Principal(subject="ana", role=Role.NATIONAL_ANALYST),
    "coordinator": Principal(subject="co-d", role=Role.REGIONAL_COORDINATOR, region_id=DALARNA),
    "admin": Principal(subject="adm-f", role=Role.MUNICIPAL_ADMIN, municipality_id="falun"),
    "participant": Principal(subject="p-self", role=Role.PARTICIPANT, participant_id="p-self",
                             municipality_id="falun"),
    "leader": Principal(subject="karin", role=Role.TRAINER, trainer_id="karin"),
    "trainer_elsewhere": Principal(subject="lena", role=Role.TRAINER, trainer_id="lena"),
}


@dataclass
class World:
    client: TestClient
    scheduling: Scheduling

    def events(self) -> int:
        return self.scheduling.app.recorder.max_notification_id() or 0

    def call(self, who: str | None, method: str, path: str,
             body: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {mint(PRINCIPALS[who])}"} if who else {}
        return self.client.request(method, path, json=body, headers=headers)


def _registry(s: Scheduling) -> None:
    """What the scheduling-registry consumer would have learned from the bus."""
    feed(s.runner(),
         contract.RegionRegistered(region_id=DALARNA, name="RSS Dalarna"),
         contract.RegionRegistered(region_id=SKANE, name="RSS Skåne"),
         *(contract.MunicipalityJoined(municipality_id=m, name=m.title(), region_id=r)
           for m, r in HOMES.items()),
         *(contract.ParticipantRegistered(
             participant_id=p, municipality_id=m, journey="barn_och_unga",
             role="socialsekreterare", level="ny", years_in_profession=1)
           for p, m in PARTICIPANTS.items()),
         *(contract.TrainerRegistered(trainer_id=t, municipality_id=m)
           for t, m in TRAINERS.items()))


def _seed(s: Scheduling) -> None:
    """Two occasions, one per region; bookings and a team on the Dalarna one."""
    _registry(s)
    s.publish_catalogue(actor="test")
    for occasion_id, region in (("occ-d", DALARNA), ("occ-s", SKANE)):
        s.plan_occasion(scheduling_app.PlanOccasion.model_validate({
            "occasion_id": occasion_id, "course_id": "bou-ny-samtal", "region_id": region,
            "capacity": 20, "days": TWO_DAYS}))
    for participant in ("p-a1", "p-a2", "p-self", "c-system", "c-coordinator", "c-admin"):
        s.book("occ-d", BookParticipant(participant_id=participant))
    for trainer, role in (("karin", "leader"), ("ulf", "trainer"), ("rosa", "reserve")):
        s.assign_trainer("occ-d", AssignTrainer(trainer_id=trainer, role=role))
    s.assign_trainer("occ-s", AssignTrainer(trainer_id="lena", role="leader"))


@pytest.fixture
def world(pg_url: str) -> Iterator[World]:
    scheduling_app.migrate(pg_url)
    s = scheduling_app.bootstrap(pg_url)
    _seed(s)
    with TestClient(create_api(s)) as client:
        yield World(client, s)
    s.close()


ATTENDANCE = {"present": ["p-a1", "p-a2"], "delivered_by": [
    {"trainer_id": "karin", "role": "leader"}, {"trainer_id": "ulf", "role": "trainer"}]}
ESTIMATE = {"region_id": DALARNA, "year": 2026, "participants_per_level": {"ny": 120}}


def test_without_a_token_it_is_401_and_nothing_is_recorded(world: World) -> None:
    before = world.events()
    for method, path, body in (("GET", "/occasions", None),
                               ("POST", "/occasions/occ-d/bookings", {"participant_id": "p1"}),
                               ("POST", "/occasions/occ-d/days/1/attendance", ATTENDANCE)):
        assert world.call(None, method, path, body).status_code == 401, path
    assert world.events() == before


def test_filtered_reads_show_only_what_is_in_scope(world: World) -> None:
    roster = world.call("admin", "GET", "/occasions/occ-d/roster").json()
    assert {b["participant_id"] for b in roster["bookings"]} == {"p-a1", "p-self", "c-admin"}
    assert {b["municipality_id"] for b in roster["bookings"]} == {"falun"}
    full = world.call("coordinator", "GET", "/occasions/occ-d/roster").json()
    assert len(full["bookings"]) == 6 and len(full["team"]) == 3
    assert {t["municipality_id"] for t in full["team"]} == {"falun", "mora"}  # from the registry
    public = world.call("participant", "GET", "/occasions/occ-d").json()
    assert "bookings" not in public and public["booked"] == 6
    mine = world.call("leader", "GET", "/occasions").json()
    assert [o["occasion_id"] for o in mine] == ["occ-d"]  # a trainer sees their own occasions
    everyone = world.call("participant", "GET", "/occasions").json()
    assert {o["occasion_id"] for o in everyone} == {"occ-d", "occ-s"}


def test_an_administrator_s_scope_follows_the_participant_s_moves(world: World) -> None:
    """The roster and cancellations follow where the participant is registered now."""
    world.call("coordinator", "POST", "/occasions/occ-d/bookings",
               {"participant_id": "p-moved"})
    assert world.call("admin", "DELETE", "/occasions/occ-d/bookings/p-moved").status_code == 404
    feed(world.scheduling.runner(), contract.ParticipantMoved(participant_id="p-moved",
                                                              to_municipality_id="falun"))
    roster = world.call("admin", "GET", "/occasions/occ-d/roster").json()
    assert "p-moved" in {b["participant_id"] for b in roster["bookings"]}
    assert world.call("admin", "DELETE", "/occasions/occ-d/bookings/p-moved").status_code == 200


def test_the_municipality_is_never_the_caller_s_to_choose(world: World) -> None:
    before = world.events()
    r = world.call("admin", "POST", "/occasions/occ-d/bookings",
                   {"participant_id": "p1", "municipality_id": "falun"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "municipality_id"]
    r = world.call("coordinator", "POST", "/occasions/occ-d/trainers",
                   {"trainer_id": "fia", "municipality_id": "falun", "role": "trainer"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "municipality_id"]
    assert world.events() == before


# --- invalid commands -------------------------------------------------------------------------


def test_validation_errors_are_422_with_the_field(world: World) -> None:
    before = world.events()
    bad_days = [{"day": 1, "date": "2024-03-07", "mode": "on_site"}, TWO_DAYS[1]]
    r = world.call("system", "POST", "/occasions", {"course_id": "bou-ny-samtal",
                                                    "region_id": DALARNA, "capacity": 24,
                                                    "days": bad_days})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "days", 0, "venue"]
    r = world.call("system", "POST", "/occasions", {"course_id": "bou-ny-handlaggning",
                                                    "region_id": DALARNA, "capacity": 24,
                                                    "days": TWO_DAYS})
    assert (r.status_code, r.json()["field"]) == (422, "days")
    r = world.call("system", "POST", "/occasions/occ-d/bookings", {})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "participant_id"]
    r = world.call("leader", "POST", "/occasions/occ-d/days/1/attendance",
                   {"present": ["p-a1", "stranger"], "delivered_by": ATTENDANCE["delivered_by"]})
    assert (r.status_code, r.json()["field"]) == (422, "present")
    assert "stranger" in r.json()["detail"]
    r = world.call("leader", "POST", "/occasions/occ-d/days/3/attendance", ATTENDANCE)
    assert (r.status_code, r.json()["field"]) == (422, "day")
    r = world.call("leader", "POST", "/occasions/occ-d/days/1/attendance",
                   {**ATTENDANCE, "delivered_by": [{"trainer_id": "karin", "role": "leader"},
                                                   {"trainer_id": "ulf", "role": "leader"}]})
    assert (r.status_code, r.json()["field"]) == (422, "delivered_by")
    r = world.call("leader", "POST", "/occasions/occ-d/days/1/attendance",
                   {**ATTENDANCE, "delivered_by": [{"trainer_id": "fia", "role": "trainer"}]})
    assert r.status_code == 422 and "fia" in r.json()["detail"]
    r = world.call("coordinator", "POST", "/occasions", {
        "course_id": "bou-ny-samtal", "region_id": DALARNA, "capacity": 24,
        "days": [{"day": 1, "date": "2016-05-01", "mode": "digital"}, TWO_DAYS[1]]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "days", 0, "date"]
    r = world.call("system", "POST", "/planning/estimate", {**ESTIMATE, "year": 1900})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "year"]
    assert world.events() == before


def test_a_day_in_the_future_is_refused(world: World) -> None:
    soon = asof.today() + dt.timedelta(days=30)
    days = [{"day": 1, "date": soon.isoformat(), "mode": "digital"},
            {"day": 2, "date": (soon + dt.timedelta(days=7)).isoformat(), "mode": "on_site",
             "venue": "Aulan"}]
    r = world.call("coordinator", "POST", "/occasions",
                   {"occasion_id": "later", "course_id": "bou-ny-samtal", "region_id": DALARNA,
                    "capacity": 24, "days": days})
    assert r.status_code == 201
    world.call("coordinator", "POST", "/occasions/later/trainers",
               {"trainer_id": "karin", "role": "leader"})
    before = world.events()
    r = world.call("leader", "POST", "/occasions/later/days/1/attendance",
                   {"present": [], "delivered_by": [{"trainer_id": "karin", "role": "leader"}]})
    assert (r.status_code, r.json()["field"]) == (422, "day")
    assert "framtiden" in r.json()["detail"]
    assert world.events() == before


def test_unknown_ids_are_404(world: World) -> None:
    before = world.events()
    for method, path, body in [
        ("GET", "/occasions/nope", None),
        ("GET", "/occasions/nope/roster", None),
        ("GET", "/courses/nope", None),
        ("POST", "/occasions/nope/bookings", {"participant_id": "p-a1"}),
        ("POST", "/occasions/occ-d/bookings", {"participant_id": "never-registered"}),
        ("POST", "/occasions/occ-d/trainers", {"trainer_id": "never-registered",
                                               "role": "trainer"}),
        ("POST", "/occasions", {"course_id": "bou-ny-samtal", "region_id": "atlantis",
                                "capacity": 5, "days": TWO_DAYS}),
        ("DELETE", "/occasions/occ-d/bookings/never-booked", None),
        ("POST", "/occasions/nope/days/1/attendance", ATTENDANCE),
        ("POST", "/occasions", {"course_id": "nope", "region_id": DALARNA, "capacity": 5,
                                "days": TWO_DAYS}),
    ]:
        assert world.call("system", method, path, body).status_code == 404, path
    assert world.events() == before


def test_conflicts_are_409(world: World) -> None:
    r = world.call("system", "POST", "/occasions", {
        "occasion_id": "small", "course_id": "bou-ny-samtal", "region_id": DALARNA,
        "capacity": 1, "days": TWO_DAYS})
    assert r.status_code == 201
    book = {"participant_id": "p1"}
    assert world.call("admin", "POST", "/occasions/small/bookings", book).status_code == 201
    before = world.events()
    full = {"participant_id": "p2", "waitlist": False}
    r = world.call("admin", "POST", "/occasions/small/bookings", full)
    assert (r.status_code, r.json()["field"]) == (409, "waitlist")
    r = world.call("coordinator", "POST", "/occasions/occ-d/trainers",
                   {"trainer_id": "fia", "role": "leader"})
    assert (r.status_code, r.json()["field"]) == (409, "role")
    r = world.call("system", "POST", "/occasions", {
        "occasion_id": "small", "course_id": "bou-ny-samtal", "region_id": DALARNA,
        "capacity": 1, "days": TWO_DAYS})
    assert r.status_code == 409
    assert world.events() == before


def test_waitlist_and_promotion_through_the_api(world: World) -> None:
    world.call("coordinator", "POST", "/occasions", {
        "occasion_id": "tiny", "course_id": "bou-ny-samtal", "region_id": DALARNA,
        "capacity": 1, "days": TWO_DAYS})
    statuses = [world.call("coordinator", "POST", "/occasions/tiny/bookings",
                           {"participant_id": p}).json()["status"]
                for p in ("q1", "q2", "q3")]
    assert statuses == ["booked", "waitlisted", "waitlisted"]
    again = world.call("coordinator", "POST", "/occasions/tiny/bookings",
                       {"participant_id": "q2"})
    assert (again.status_code, again.json()["status"]) == (200, "waitlisted")
    r = world.call("admin", "DELETE", "/occasions/tiny/bookings/q1")
    assert r.json() == {"occasion_id": "tiny", "cancelled": "q1", "promoted": "q2"}
    roster = world.call("coordinator", "GET", "/occasions/tiny/roster").json()
    assert [b["participant_id"] for b in roster["bookings"]] == ["q2"]
    assert [(w["participant_id"], w["position"]) for w in roster["waitlist"]] == [("q3", 1)]


def test_attendance_registered_again_changes_nothing(world: World) -> None:
    first = world.call("leader", "POST", "/occasions/occ-d/days/1/attendance", ATTENDANCE)
    assert first.json()["recorded"] == {"attended": 2, "delivered": 2}
    before = world.events()
    again = world.call("coordinator", "POST", "/occasions/occ-d/days/1/attendance", ATTENDANCE)
    assert again.status_code == 200 and again.json()["unchanged"] is True
    assert world.events() == before
    fewer = world.call("leader", "POST", "/occasions/occ-d/days/1/attendance",
                       {**ATTENDANCE, "present": ["p-a1"]})
    assert fewer.status_code == 409 and "p-a2" in fewer.json()["detail"]
    more = world.call("leader", "POST", "/occasions/occ-d/days/1/attendance",
                      {**ATTENDANCE, "present": ["p-a1", "p-a2", "p-self"]})
    assert more.json()["recorded"] == {"attended": 1, "delivered": 0}
    assert world.events() == before + 1


def test_the_estimate_answers_from_the_published_catalogue(world: World) -> None:
    r = world.call("coordinator", "POST", "/planning/estimate",
                   {**ESTIMATE, "participants_per_level": {"ny": 120, "van": 30},
                    "occasions_per_team": 2})
    body = r.json()
    hbc = next(c for c in body["courses"] if c["course_id"] == "bou-ny-handlaggning")
    assert (hbc["occasions"], hbc["teams"], hbc["trainers"]) == (5, 3, 24)
    assert body["levels_without_courses"] == ["van"]
    assert body["totals"]["occasions"] == sum(c["occasions"] for c in body["courses"])


def test_the_openapi_document_names_every_endpoint(world: World) -> None:
    paths = world.client.get("/openapi.json").json()["paths"]
    for path in ("/catalogue", "/courses", "/occasions", "/occasions/{occasion_id}/roster",
                 "/occasions/{occasion_id}/bookings/{participant_id}",
                 "/occasions/{occasion_id}/days/{day}/attendance", "/planning/estimate",
                 "/trainers/{trainer_id}/assignments"):
        assert path in paths
