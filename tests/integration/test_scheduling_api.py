"""Scheduling's HTTP API on real PostgreSQL: every role against every endpoint, inside and
outside its scope (outside is 403 and writes nothing), and the answers to invalid commands."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.scheduling import application as scheduling_app
from services.scheduling.adapters.http import create_api
from services.scheduling.application import AssignTrainer, BookParticipant, Scheduling
from shared.platform.auth import Principal, Role, issue_token

pytestmark = pytest.mark.integration

DALARNA, SKANE = "rss-dalarna", "rss-skane"
TWO_DAYS = [{"day": 1, "date": "2024-03-07", "mode": "digital"},
            {"day": 2, "date": "2024-03-14", "mode": "on_site", "venue": "Folkets hus, Falun"}]

PRINCIPALS = {
    "system": Principal(subject="sys", role=Role.SYSTEM),
    "analyst": Principal(subject="ana", role=Role.NATIONAL_ANALYST),
    "coordinator": Principal(subject="co-d", role=Role.REGIONAL_COORDINATOR, region_id=DALARNA),
    "coordinator_elsewhere": Principal(subject="co-s", role=Role.REGIONAL_COORDINATOR,
                                       region_id=SKANE),
    "admin": Principal(subject="adm-f", role=Role.MUNICIPAL_ADMIN, municipality_id="falun"),
    "admin_elsewhere": Principal(subject="adm-m", role=Role.MUNICIPAL_ADMIN,
                                 municipality_id="malmo"),
    "participant": Principal(subject="p-self", role=Role.PARTICIPANT, participant_id="p-self",
                             municipality_id="falun"),
    "participant_other": Principal(subject="p-other", role=Role.PARTICIPANT,
                                   participant_id="p-other", municipality_id="falun"),
    "leader": Principal(subject="karin", role=Role.TRAINER, trainer_id="karin"),
    "trainer": Principal(subject="ulf", role=Role.TRAINER, trainer_id="ulf"),
    "trainer_elsewhere": Principal(subject="olle", role=Role.TRAINER, trainer_id="olle"),
}


@dataclass
class World:
    client: TestClient
    scheduling: Scheduling

    def events(self) -> int:
        return self.scheduling.app.recorder.max_notification_id() or 0

    def call(self, who: str | None, method: str, path: str,
             body: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {issue_token(PRINCIPALS[who])}"} if who else {}
        return self.client.request(method, path, json=body, headers=headers)


def _seed(s: Scheduling) -> None:
    """Two occasions, one per region; bookings and a team on the Dalarna one."""
    s.publish_catalogue(actor="test")
    for occasion_id, region in (("occ-d", DALARNA), ("occ-s", SKANE)):
        s.plan_occasion(scheduling_app.PlanOccasion.model_validate({
            "occasion_id": occasion_id, "course_id": "bou-ny-samtal", "region_id": region,
            "capacity": 20, "days": TWO_DAYS}))
    for participant, municipality in (("p-a1", "falun"), ("p-a2", "mora"), ("p-self", "falun"),
                                      ("c-system", "mora"), ("c-coordinator", "mora"),
                                      ("c-admin", "falun")):
        s.book("occ-d", BookParticipant(participant_id=participant,
                                        municipality_id=municipality))
    for trainer, municipality, role in (("karin", "falun", "leader"), ("ulf", "mora", "trainer"),
                                        ("rosa", "mora", "reserve")):
        s.assign_trainer("occ-d", AssignTrainer(trainer_id=trainer,
                                                municipality_id=municipality, role=role))
    s.assign_trainer("occ-s", AssignTrainer(trainer_id="lena", municipality_id="malmo",
                                            role="leader"))


@pytest.fixture
def world(pg_url: str) -> Iterator[World]:
    scheduling_app.migrate(pg_url)
    s = scheduling_app.bootstrap(pg_url)
    _seed(s)
    with TestClient(create_api(s)) as client:
        yield World(client, s)
    s.close()


# --- the matrix -------------------------------------------------------------------------------

Request = tuple[str, str, dict[str, Any] | None]


def same(method: str, path: str, body: dict[str, Any] | None = None) -> Callable[[str], Request]:
    return lambda _role: (method, path, body)


def plan_body(role: str) -> Request:
    return ("POST", "/occasions", {"occasion_id": f"new-{role}", "course_id": "bou-ny-vald",
                                   "region_id": DALARNA, "capacity": 24, "days": TWO_DAYS})


def booking_body(role: str) -> Request:
    participant = "p-self" if role.startswith("participant") else f"b-{role}"
    municipality = "falun" if role.startswith(("admin", "participant")) else "mora"
    return ("POST", "/occasions/occ-d/bookings",
            {"participant_id": participant, "municipality_id": municipality})


def cancellation(role: str) -> Request:
    target = {"participant": "p-self", "participant_other": "p-self",
              "admin_elsewhere": "c-admin", "coordinator_elsewhere": "c-coordinator"}
    return ("DELETE", f"/occasions/occ-d/bookings/{target.get(role, f'c-{role}')}", None)


def course_body(role: str) -> Request:
    return ("POST", "/courses", {"course_id": f"extra-{role}", "level": "van", "days": 1,
                                 "title": "Utredning i praktiken"})


ATTENDANCE = {"present": ["p-a1", "p-a2"], "delivered_by": [
    {"trainer_id": "karin", "role": "leader"}, {"trainer_id": "ulf", "role": "trainer"}]}
ESTIMATE = {"region_id": DALARNA, "year": 2026, "participants_per_level": {"ny": 120}}
EVERYONE = set(PRINCIPALS)
NONE: set[str] = set()

# endpoint -> (request per role, roles inside scope (every other role: 403), status inside)
MATRIX: dict[str, tuple[Callable[[str], Request], set[str], set[int]]] = {
    "publish catalogue": (same("POST", "/catalogue"), {"system"}, {200}),
    "publish course": (course_body, {"system"}, {201}),
    "list courses": (same("GET", "/courses"), EVERYONE, {200}),
    "get course": (same("GET", "/courses/bou-ny-vald"), EVERYONE, {200}),
    "list occasions": (same("GET", f"/occasions?region_id={DALARNA}"), EVERYONE, {200}),
    "get occasion": (same("GET", "/occasions/occ-d"), EVERYONE, {200}),
    "plan occasion": (plan_body, {"system", "coordinator"}, {201}),
    "book": (booking_body, {"system", "coordinator", "admin", "participant"}, {200, 201}),
    "cancel": (cancellation, {"system", "coordinator", "admin", "participant"}, {200}),
    "participant's bookings": (
        same("GET", "/participants/p-a1/bookings"),
        {"system", "analyst", "coordinator", "admin"}, {200}),
    "own bookings": (
        same("GET", "/participants/p-self/bookings"),
        {"system", "analyst", "coordinator", "admin", "participant"}, {200}),
    "roster": (same("GET", "/occasions/occ-d/roster"),
               {"system", "analyst", "coordinator", "admin", "leader", "trainer"}, {200}),
    "assign trainer": (
        lambda role: ("POST", "/occasions/occ-d/trainers",
                      {"trainer_id": f"t-{role}", "municipality_id": "mora",
                       "role": "trainer"}),
        {"system", "coordinator"}, {201}),
    "call in reserve": (
        same("POST", "/occasions/occ-d/days/2/reserves",
             {"reserve_id": "rosa", "replaces_trainer_id": "ulf"}),
        {"system", "coordinator", "leader"}, {200, 201}),
    "trainer's assignments": (same("GET", "/trainers/karin/assignments"),
                              {"system", "analyst", "coordinator", "leader"}, {200}),
    "register attendance": (same("POST", "/occasions/occ-d/days/1/attendance", ATTENDANCE),
                            {"system", "coordinator", "leader"}, {200}),
    "planning estimate": (same("POST", "/planning/estimate", ESTIMATE),
                          {"system", "analyst", "coordinator"}, {200}),
}


def test_every_role_against_every_endpoint(world: World) -> None:
    outcomes = []
    for endpoint, (request, inside, ok) in MATRIX.items():
        # outside first, so that the writes inside cannot be what makes a refusal pass
        for role in sorted(EVERYONE - inside) + sorted(inside):
            method, path, body = request(role)
            before = world.events()
            response = world.call(role, method, path, body)
            expected = ok if role in inside else {403}
            if response.status_code not in expected:
                outcomes.append(f"{endpoint} as {role}: {response.status_code} "
                                f"{response.text[:200]}")
            if role not in inside:
                assert world.events() == before, f"{endpoint} as {role} wrote events"
    assert not outcomes, "\n".join(outcomes)


def test_without_a_token_every_endpoint_is_401(world: World) -> None:
    before = world.events()
    for endpoint, (request, _, _) in MATRIX.items():
        method, path, body = request("anonymous")
        assert world.call(None, method, path, body).status_code == 401, endpoint
    assert world.events() == before


def test_the_matrix_did_what_it_says(world: World) -> None:
    test_every_role_against_every_endpoint(world)
    occasion = world.scheduling.occasion("occ-d")
    assert "p-self" not in occasion.booked  # booked by self, then cancelled by self
    assert {"b-system", "b-coordinator", "b-admin"} <= set(occasion.booked)
    assert "c-admin" not in occasion.booked and "c-system" not in occasion.booked
    assert occasion.attended == {1: {"p-a1", "p-a2"}}
    assert occasion.delivered == {1: {"karin": "leader", "ulf": "trainer"}}
    assert occasion.called_in == {2: {"rosa": "ulf"}}
    assert {"t-system", "t-coordinator"} <= set(occasion.team)


def test_filtered_reads_show_only_what_is_in_scope(world: World) -> None:
    roster = world.call("admin", "GET", "/occasions/occ-d/roster").json()
    assert {b["participant_id"] for b in roster["bookings"]} == {"p-a1", "p-self", "c-admin"}
    assert {b["municipality_id"] for b in roster["bookings"]} == {"falun"}
    full = world.call("coordinator", "GET", "/occasions/occ-d/roster").json()
    assert len(full["bookings"]) == 6 and len(full["team"]) == 3
    world.scheduling.book("occ-s", BookParticipant(participant_id="p-a1",
                                                   municipality_id="falun"))
    seen = world.call("coordinator", "GET", "/participants/p-a1/bookings").json()
    assert [b["occasion_id"] for b in seen] == ["occ-d"]
    assert len(world.call("analyst", "GET", "/participants/p-a1/bookings").json()) == 2
    public = world.call("participant", "GET", "/occasions/occ-d").json()
    assert "bookings" not in public and public["booked"] == 6


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
    r = world.call("system", "POST", "/occasions/occ-d/bookings", {"participant_id": "x"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "municipality_id"]
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
                   {**ATTENDANCE, "delivered_by": [{"trainer_id": "olle", "role": "trainer"}]})
    assert r.status_code == 422 and "olle" in r.json()["detail"]
    r = world.call("system", "POST", "/planning/estimate", {**ESTIMATE, "year": 1900})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "year"]
    assert world.events() == before


def test_a_day_in_the_future_is_refused(world: World) -> None:
    soon = dt.date.today() + dt.timedelta(days=30)
    days = [{"day": 1, "date": soon.isoformat(), "mode": "digital"},
            {"day": 2, "date": (soon + dt.timedelta(days=7)).isoformat(), "mode": "on_site",
             "venue": "Aulan"}]
    r = world.call("coordinator", "POST", "/occasions",
                   {"occasion_id": "later", "course_id": "bou-ny-samtal", "region_id": DALARNA,
                    "capacity": 24, "days": days})
    assert r.status_code == 201
    world.call("coordinator", "POST", "/occasions/later/trainers",
               {"trainer_id": "karin", "municipality_id": "falun", "role": "leader"})
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
        ("POST", "/occasions/nope/bookings", {"participant_id": "p", "municipality_id": "m"}),
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
    book = {"participant_id": "p1", "municipality_id": "falun"}
    assert world.call("admin", "POST", "/occasions/small/bookings", book).status_code == 201
    before = world.events()
    full = {"participant_id": "p2", "municipality_id": "falun", "waitlist": False}
    r = world.call("admin", "POST", "/occasions/small/bookings", full)
    assert (r.status_code, r.json()["field"]) == (409, "waitlist")
    r = world.call("coordinator", "POST", "/occasions/occ-d/trainers",
                   {"trainer_id": "fia", "municipality_id": "borlange", "role": "leader"})
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
                           {"participant_id": p, "municipality_id": "falun"}).json()["status"]
                for p in ("q1", "q2", "q3")]
    assert statuses == ["booked", "waitlisted", "waitlisted"]
    again = world.call("coordinator", "POST", "/occasions/tiny/bookings",
                       {"participant_id": "q2", "municipality_id": "falun"})
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
