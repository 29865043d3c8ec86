"""Levels from years in the profession, and levelling up as years pass (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from services.enrolment.application import (
    Enrolment,
    JoinMunicipality,
    RegisterParticipant,
    RegisterRegion,
    bootstrap,
    migrate,
)
from services.enrolment.domain import Level, is_higher, level_for, levels_reached
from shared.platform import asof
from shared.platform.errors import CommandRejected, Conflict

UTC = dt.UTC
JAN_2020 = dt.datetime(2020, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("role", "years", "level"), [
    ("socialsekreterare", 0, Level.NY),
    ("socialsekreterare", 1.99, Level.NY),
    ("socialsekreterare", 2, Level.VAN),
    ("socialsekreterare", 4.99, Level.VAN),
    ("socialsekreterare", 5, Level.ERFAREN),
    ("socialsekreterare", 30, Level.ERFAREN),
    ("arbetsledare", 0, Level.CHEF),
    ("chef", 12, Level.CHEF),
])
def test_level_from_years_in_the_profession(role: str, years: float, level: Level) -> None:
    assert level_for(role, years) == level


def test_levels_reached_are_dated_when_the_years_reach_them() -> None:
    reached = levels_reached("socialsekreterare", 1.0, JAN_2020, dt.date(2030, 1, 1))
    assert [lv for lv, _ in reached] == [Level.VAN, Level.ERFAREN]
    van_at, erfaren_at = (at for _, at in reached)
    assert van_at.date() == dt.date(2020, 12, 31)  # one year (365.25 days) later
    assert erfaren_at.date() == dt.date(2024, 1, 1)


def test_no_level_is_reached_before_its_date_and_chef_stays_chef() -> None:
    assert levels_reached("socialsekreterare", 1.0, JAN_2020, dt.date(2020, 12, 30)) == []
    assert levels_reached("chef", 0, JAN_2020, dt.date(2040, 1, 1)) == []
    assert is_higher(Level.VAN, Level.NY) and not is_higher(Level.NY, Level.VAN)
    assert not is_higher(Level.ERFAREN, Level.CHEF)


@pytest.fixture
def enrolment(database_url: str) -> Iterator[Enrolment]:
    migrate(database_url)
    e = bootstrap(database_url)
    e.register_region(RegisterRegion(region_id="rss-dalarna", name="RSS Dalarna"))
    e.join_municipality(JoinMunicipality(municipality_id="falun", name="Falun",
                                         region_id="rss-dalarna"))
    yield e
    e.close()


def _register(e: Enrolment, n: int, role: str, years: float,
              at: dt.datetime = JAN_2020) -> str:
    return e.register_participant(RegisterParticipant(
        municipality_id="falun", name=f"Person {n}", email=f"p{n}@falun.example.se", role=role,
        years_in_profession=years, occurred_at=at))


def test_registration_sets_the_level_from_years_and_role(enrolment: Enrolment) -> None:
    ny = _register(enrolment, 1, "socialsekreterare", 0.5)
    erfaren = _register(enrolment, 2, "socialsekreterare", 7)
    chef = _register(enrolment, 3, "Chef", 1)  # roles are case-insensitive
    assert enrolment.participant(ny).level is Level.NY
    assert enrolment.participant(erfaren).level is Level.ERFAREN
    assert enrolment.participant(chef).level is Level.CHEF


def test_level_up_records_each_level_reached_at_its_date(enrolment: Enrolment) -> None:
    pid = _register(enrolment, 1, "socialsekreterare", 1.0)
    assert enrolment.level_up(pid, dt.date(2021, 6, 1)) == [Level.VAN]
    assert enrolment.level_up(pid, dt.date(2021, 6, 1)) == []  # once only
    assert enrolment.level_up(pid, dt.date(2025, 1, 1)) == [Level.ERFAREN]
    p = enrolment.participant(pid)
    assert p.level is Level.ERFAREN
    assert [(lv.value, at.date()) for lv, at in p.levels] == [
        ("ny", dt.date(2020, 1, 1)), ("van", dt.date(2020, 12, 31)),
        ("erfaren", dt.date(2024, 1, 1))]


def test_batch_level_up_changes_only_those_whose_level_rose(enrolment: Enrolment) -> None:
    ny_long_ago = _register(enrolment, 1, "socialsekreterare", 0.0)
    van_long_ago = _register(enrolment, 2, "socialsekreterare", 4.5)
    chef = _register(enrolment, 3, "arbetsledare", 0.0)
    recent = _register(enrolment, 4, "socialsekreterare", 0.0, at=dt.datetime(2023, 12, 1,
                                                                               tzinfo=UTC))
    report = enrolment.level_up_all(dt.date(2024, 6, 1), actor="cli")
    assert report.changed == {ny_long_ago: ["van"], van_long_ago: ["erfaren"]}
    assert report.checked == 3  # the chef is never a candidate
    assert enrolment.participant(chef).level is Level.CHEF
    assert enrolment.participant(recent).level is Level.NY
    before = enrolment.app.recorder.max_notification_id()
    assert enrolment.level_up_all(dt.date(2024, 6, 1)).changed == {}
    assert enrolment.app.recorder.max_notification_id() == before


def test_a_date_in_the_future_is_rejected_and_records_nothing(enrolment: Enrolment) -> None:
    pid = _register(enrolment, 1, "socialsekreterare", 0.0)
    before = enrolment.app.recorder.max_notification_id()
    future = asof.today() + dt.timedelta(days=2)
    with pytest.raises(CommandRejected) as e:
        enrolment.level_up(pid, future)
    assert e.value.field == "as_of"
    with pytest.raises(CommandRejected):
        enrolment.level_up_all(future)
    assert enrolment.app.recorder.max_notification_id() == before


def test_an_erased_participant_does_not_level_up(enrolment: Enrolment) -> None:
    pid = _register(enrolment, 1, "socialsekreterare", 0.0)
    enrolment.erase_participant(pid)
    assert enrolment.level_up_all(dt.date(2024, 1, 1)).changed == {}
    with pytest.raises(Conflict):
        enrolment.level_up(pid, dt.date(2024, 1, 1))
