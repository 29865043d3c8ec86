"""Re-planning and cancelling, and planning from the bus, through scheduling's HTTP API on real
PostgreSQL: what the answers say, what the lists show afterwards, and refusals (422 or 409
naming the field) that record nothing. Who may call what is the role table's
(tests/integration/test_roles.py); the planning figures are checked by hand in
tests/unit/test_scheduling_demand.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest

from services.scheduling.domain import occasion_key
from shared.platform import asof
from tests.integration.test_scheduling_api import DALARNA, World, world  # noqa: F401
from yrkesresan.stores import store_envelopes

pytestmark = pytest.mark.integration

TODAY = asof.today()


def iso(days_from_today: int) -> str:
    return (TODAY + dt.timedelta(days=days_from_today)).isoformat()


def days_of(body: dict[str, Any]) -> list[tuple[int, str, str, str | None]]:
    return [(d["day"], d["date"], d["mode"], d["venue"]) for d in body["days"]]


def stored(w: World, occasion_id: str) -> list[str]:
    """The event types of the occasion's stream, in order."""
    return [type(e).__name__ for e in w.scheduling.app.events.get(occasion_key(occasion_id))]


def soon(w: World, occasion_id: str = "soon", booked: tuple[str, ...] = ("q1", "q2")) -> None:
    """A two-day occasion starting in ten days, with bookings and a team."""
    r = w.call("coordinator", "POST", "/occasions", {
        "occasion_id": occasion_id, "course_id": "bou-ny-samtal", "region_id": DALARNA,
        "capacity": 20, "days": [
            {"day": 1, "date": iso(10), "mode": "digital"},
            {"day": 2, "date": iso(17), "mode": "on_site", "venue": "Folkets hus, Falun"}]})
    assert r.status_code == 201, r.text
    for p in booked:
        assert w.call("coordinator", "POST", f"/occasions/{occasion_id}/bookings",
                      {"participant_id": p}).status_code == 201
    for trainer, role in (("karin", "leader"), ("ulf", "trainer"), ("rosa", "reserve")):
        w.call("coordinator", "POST", f"/occasions/{occasion_id}/trainers",
               {"trainer_id": trainer, "role": role})


def test_a_day_moved_added_and_removed(world: World) -> None:  # noqa: F811
    soon(world)
    r = world.call("coordinator", "PATCH", "/occasions/soon/days/2", {"date": iso(24)})
    assert r.status_code == 200 and r.json()["unchanged"] is False
    assert days_of(r.json()) == [(1, iso(10), "digital", None),
                                 (2, iso(24), "on_site", "Folkets hus, Falun")]
    r = world.call("coordinator", "PATCH", "/occasions/soon/days/1",
                   {"mode": "on_site", "venue": "Stadshuset"})
    assert days_of(r.json())[0] == (1, iso(10), "on_site", "Stadshuset")
    r = world.call("coordinator", "PATCH", "/occasions/soon/days/1", {"mode": "digital"})
    assert days_of(r.json())[0] == (1, iso(10), "digital", None)  # digital: no venue
    r = world.call("coordinator", "PATCH", "/occasions/soon/days/2", {"mode": "digital"})
    assert (r.status_code, r.json()["field"]) == (422, "days.1.mode")  # the course's rule
    r = world.call("coordinator", "POST", "/occasions/soon/days",
                   {"date": iso(31), "mode": "on_site", "venue": "Aulan, Mora"})
    assert days_of(r.json())[2] == (3, iso(31), "on_site", "Aulan, Mora")
    r = world.call("coordinator", "DELETE", "/occasions/soon/days/2")
    assert [d[0] for d in days_of(r.json())] == [1, 3]
    listed = next(o for o in world.call("coordinator", "GET", "/occasions").json()
                  if o["occasion_id"] == "soon")
    assert days_of(listed) == days_of(r.json())
    assert stored(world, "soon").count("CourseOccasionRescheduled") == 5
    before = world.events()
    r = world.call("coordinator", "PUT", "/occasions/soon/days", {"days": [
        {"day": 1, "date": iso(10), "mode": "digital"},
        {"day": 3, "date": iso(31), "mode": "on_site", "venue": "Aulan, Mora"}]})
    assert r.status_code == 200 and r.json()["unchanged"] is True
    assert world.events() == before


def test_the_whole_plan_at_once(world: World) -> None:  # noqa: F811
    soon(world)
    r = world.call("coordinator", "PUT", "/occasions/soon/days", {"days": [
        {"day": 1, "date": iso(12), "mode": "on_site", "venue": "Stadshuset"},
        {"day": 2, "date": iso(19), "mode": "on_site", "venue": "Aulan"},
        {"day": 3, "date": iso(26), "mode": "digital"}]})
    assert r.status_code == 200, r.text
    assert days_of(r.json()) == [(1, iso(12), "on_site", "Stadshuset"),
                                 (2, iso(19), "on_site", "Aulan"), (3, iso(26), "digital", None)]


def test_refusals_name_what_is_wrong_and_record_nothing(world: World) -> None:  # noqa: F811
    soon(world)
    leader = [{"trainer_id": "karin", "role": "leader"}]
    r = world.call("leader", "POST", "/occasions/occ-d/days/1/attendance",
                   {"present": ["p-a1"], "delivered_by": leader})
    assert r.status_code == 200
    before = world.events()
    for method, path, body, status, field in [
        ("PATCH", "/occasions/occ-d/days/1", {"date": iso(3)}, 409, "days.0.date"),
        ("DELETE", "/occasions/occ-d/days/1", None, 409, "days"),
        ("PATCH", "/occasions/soon/days/1", {"date": iso(30)}, 422, "days"),  # after day 2
        ("PATCH", "/occasions/soon/days/1", {"date": "2016-12-31"}, 422, "date"),
        ("PATCH", "/occasions/soon/days/1", {"mode": "on_site"}, 422, "venue"),
        ("PATCH", "/occasions/soon/days/9", {"date": iso(3)}, 422, "day"),
        ("POST", "/occasions/soon/days", {"date": iso(1), "mode": "digital"}, 422, "days"),
        ("DELETE", "/occasions/occ-s/days/2", None, 404, "occasion_id"),
        ("DELETE", "/occasions/soon/trainers/karin", None, 409, "new_leader_id"),
        ("DELETE", "/occasions/soon/trainers/fia", None, 404, "trainer_id"),
        ("DELETE", "/occasions/soon/trainers/karin?new_leader_id=nobody", None, 404,
         "new_leader_id"),
        ("DELETE", "/occasions/soon/days/2/reserves/rosa", None, 404, "reserve_id"),
    ]:
        r = world.call("coordinator", method, path, body)
        assert (r.status_code, r.json().get("field")) == (status, field), (path, r.text)
        assert r.json()["detail"], path
    for method, path, body, loc in [
        ("PATCH", "/occasions/soon/days/1", {}, ["body"]),
        ("PUT", "/occasions/soon/days", {"days": []}, ["body", "days"]),
        ("PUT", "/occasions/soon/days", {"days": [
            {"day": 1, "date": iso(10), "mode": "digital"},
            {"day": 2, "date": iso(9), "mode": "digital"}]}, ["body", "days"]),
        ("POST", "/occasions/soon/cancellation", {"reason": " "}, ["body", "reason"]),
        ("DELETE", "/occasions/soon/trainers/karin?new_leader_id=a%20b", None,
         ["query", "new_leader_id"]),
    ]:
        r = world.call("coordinator", method, path, body)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == loc, (path, r.text)
    assert world.events() == before


def test_cancelling_releases_the_bookings_and_closes_the_occasion(
        world: World) -> None:  # noqa: F811
    soon(world, booked=("q1", "q2"))
    r = world.call("coordinator", "POST", "/occasions/soon/cancellation",
                   {"reason": "För få anmälda"})
    assert r.status_code == 201 and r.json() == {
        "occasion_id": "soon", "cancelled": True, "released": ["q1", "q2"]}
    assert stored(world, "soon")[-3:] == ["CourseOccasionCancelled", "BookingCancelled",
                                         "BookingCancelled"]
    # on the bus each release names the cancellation (its envelope id) as its cause
    published = [orjson.loads(raw) for raw in store_envelopes(world.scheduling.app)]
    cancelled = next(e for e in published if e["type"] == "CourseOccasionCancelled")
    assert [(e["data"]["participant_id"], e.get("causation_id")) for e in published
            if e["type"] == "BookingCancelled"] == [("q1", cancelled["id"]),
                                                    ("q2", cancelled["id"])]
    again = world.call("coordinator", "POST", "/occasions/soon/cancellation",
                       {"reason": "Igen"})
    assert again.status_code == 200 and again.json()["released"] == []
    occasion = world.call("admin", "GET", "/occasions/soon").json()
    assert occasion["cancelled"] is True and occasion["seats_left"] == 0
    assert occasion["cancellation_reason"] == "För få anmälda"
    assert {b["status"] for b in world.call("participant", "GET",
                                            "/participants/p-self/bookings").json()} <= {
        "booked", "cancelled"}
    before = world.events()
    for method, path, body in [
        ("POST", "/occasions/soon/bookings", {"participant_id": "q3"}),
        ("PATCH", "/occasions/soon/days/1", {"date": iso(11)}),
        ("POST", "/occasions/soon/trainers", {"trainer_id": "fia", "role": "trainer"}),
        ("DELETE", "/occasions/soon/trainers/ulf", None),
    ]:
        r = world.call("coordinator", method, path, body)
        assert (r.status_code, r.json()["field"]) == (409, "occasion_id"), path
        assert "inställt" in r.json()["detail"]
    assert world.events() == before


def test_an_occasion_given_in_full_cannot_be_cancelled(world: World) -> None:  # noqa: F811
    delivered = [{"trainer_id": "karin", "role": "leader"}]
    for day in (1, 2):
        assert world.call("leader", "POST", f"/occasions/occ-d/days/{day}/attendance",
                          {"present": ["p-a1"], "delivered_by": delivered}).status_code == 200
    r = world.call("coordinator", "POST", "/occasions/occ-d/cancellation", {"reason": "Fel"})
    assert (r.status_code, r.json()["field"]) == (409, "occasion_id")
    assert "genomfört" in r.json()["detail"]


def test_the_team_changes_and_a_reserve_undone(world: World) -> None:  # noqa: F811
    soon(world)
    r = world.call("coordinator", "DELETE", "/occasions/soon/trainers/karin?new_leader_id=fia")
    assert r.status_code == 200 and r.json()["new_leader_id"] == "fia"
    team = {t["trainer_id"]: t["role"] for t in world.call(
        "coordinator", "GET", "/occasions/soon/roster").json()["team"]}
    assert team == {"fia": "leader", "ulf": "trainer", "rosa": "reserve"}
    assert [o["occasion_id"] for o in world.call(
        "coordinator", "GET", "/trainers/karin/assignments").json()] == ["occ-d"]
    call = {"reserve_id": "rosa", "replaces_trainer_id": "ulf"}
    assert world.call("coordinator", "POST", "/occasions/soon/days/2/reserves",
                      call).status_code == 201
    r = world.call("coordinator", "DELETE", "/occasions/soon/trainers/rosa")
    assert (r.status_code, r.json()["field"]) == (409, "trainer_id")
    r = world.call("coordinator", "DELETE", "/occasions/soon/days/2/reserves/rosa")
    assert r.status_code == 200 and r.json() == {"occasion_id": "soon", "day": 2,
                                                 "undone": "rosa"}
    roster = world.call("coordinator", "GET", "/occasions/soon/roster").json()
    assert all(a["reserves_called_in"] == [] for a in roster["attendance"])
    assert world.call("coordinator", "DELETE", "/occasions/soon/trainers/rosa").status_code == 200
    assert stored(world, "soon").count("TrainerUnassigned") == 2


def test_planning_from_the_bus_beside_the_survey(world: World) -> None:  # noqa: F811
    soon(world, booked=("q1", "q2"))
    r = world.call("coordinator", "GET", f"/planning/demand?region_id={DALARNA}&year=2026")
    assert r.status_code == 200, r.text
    samtal = next(c for c in r.json()["courses"] if c["course_id"] == "bou-ny-samtal")
    # the twelve participants of Dalarna at Ny; q1, q2 booked on `soon`; occ-d is over
    assert samtal["from_the_bus"] == {"registered": 12, "completed": 0, "booked": 2,
                                      "waitlisted": 0}
    assert samtal["participants"] == 10
    r = world.call("analyst", "POST", "/planning/compare", {
        "region_id": DALARNA, "year": 2026, "participants_per_level": {"ny": 50}})
    samtal = next(c for c in r.json()["courses"] if c["course_id"] == "bou-ny-samtal")
    assert (samtal["survey"]["participants"], samtal["bus"]["participants"]) == (50, 10)
    for query, loc in (("year=2026", ["query", "region_id"]),
                       (f"region_id={DALARNA}&year=1900", ["query", "year"]),
                       (f"region_id={DALARNA}&year=2026&extra=1", ["query", "extra"])):
        r = world.call("coordinator", "GET", f"/planning/demand?{query}")
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == loc, r.text
