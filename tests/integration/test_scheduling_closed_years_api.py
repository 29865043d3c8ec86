"""Withdrawn attendance and closed years through scheduling's HTTP API on real PostgreSQL: the
coordinator withdraws a participant-day (`AttendanceWithdrawn`), which cannot be reported
again; after billing closes a region's year (`YearClosed`, learned from the bus), attendance
for that year is refused with a reason, except the coordinator's late report. Refusals record
nothing."""

from __future__ import annotations

import pytest

from services.scheduling.domain import occasion_key
from shared.events import models as contract
from tests.feeding import feed
from tests.integration.test_scheduling_api import (  # noqa: F401
    ATTENDANCE,
    DALARNA,
    World,
    world,
)

pytestmark = pytest.mark.integration

WITHDRAW = "/occasions/occ-d/days/1/withdrawals"


def stored(w: World) -> list[str]:
    return [type(e).__name__ for e in w.scheduling.app.events.get(occasion_key("occ-d"))]


def test_a_withdrawn_day_is_recorded_once_and_cannot_come_back(world: World) -> None:  # noqa: F811
    assert world.call("leader", "POST", "/occasions/occ-d/days/1/attendance",
                      ATTENDANCE).status_code == 200
    body = {"participant_id": "p-a2", "reason": "Rapporterades av misstag"}
    before = world.events()
    assert world.call("leader", "POST", WITHDRAW, body).status_code == 403  # not the leader's
    assert world.call("coordinator", "POST", WITHDRAW,
                      {"participant_id": "p-self", "reason": "x"}).status_code == 404  # absent
    assert world.events() == before
    r = world.call("coordinator", "POST", WITHDRAW, body)
    assert r.status_code == 201, r.text
    assert r.json()["unchanged"] is False
    assert stored(world)[-1] == "AttendanceWithdrawn"
    again = world.call("coordinator", "POST", WITHDRAW, body)
    assert again.status_code == 201 and again.json()["unchanged"] is True
    after = world.events()
    assert after == before + 1
    back = world.call("leader", "POST", "/occasions/occ-d/days/1/attendance", ATTENDANCE)
    assert back.status_code == 409
    assert "återkallats" in back.json()["detail"]
    # the day's list without the withdrawn participant is the list as it stands
    rest = {**ATTENDANCE, "present": ["p-a1"]}
    assert world.call("leader", "POST", "/occasions/occ-d/days/1/attendance",
                      rest).json()["unchanged"] is True
    assert world.events() == after


def test_a_closed_year_takes_only_the_coordinator_s_late_report(world: World) -> None:  # noqa: F811
    feed(world.scheduling.runner(), contract.YearClosed(region_id=DALARNA, year=2024))
    before = world.events()
    refused = world.call("leader", "POST", "/occasions/occ-d/days/1/attendance", ATTENDANCE)
    assert refused.status_code == 409
    assert "Året 2024 är stängt" in refused.json()["detail"]
    assert refused.json()["field"] == "day"
    assert world.events() == before
    late = world.call("coordinator", "POST", "/occasions/occ-d/days/1/attendance", ATTENDANCE)
    assert late.status_code == 200, late.text
    assert world.events() == before + 4  # two present, two trainers
    withdrawn = world.call("coordinator", "POST", WITHDRAW,
                           {"participant_id": "p-a1", "reason": "Var inte där"})
    assert withdrawn.status_code == 201
