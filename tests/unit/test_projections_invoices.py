"""The invoice basis: participant-days × price, charged where the participant was that day."""

from __future__ import annotations

import datetime as dt

from shared.events.models import (
    CourseDay,
    CourseDayAttended,
    CourseOccasionPlanned,
    ParticipantMoved,
    ParticipantRegistered,
    Points,
    PriceComponents,
    PriceListSet,
    TrainerDayDelivered,
)
from shared.projections import Invoices
from tests.unit.logs import LogBuilder, fold

UTC = dt.UTC
DAY_1, DAY_2 = dt.date(2024, 5, 6), dt.date(2024, 5, 20)


def at(date: dt.date, hour: int = 16) -> dt.datetime:
    return dt.datetime.combine(date, dt.time(hour), tzinfo=UTC)


def occasion() -> CourseOccasionPlanned:
    days = (
        CourseDay(day=1, date=DAY_1, mode="on_site"),
        CourseDay(day=2, date=DAY_2, mode="digital"),
    )
    return CourseOccasionPlanned(
        occasion_id="o1", course_id="c1", region_id="r1", capacity=9, days=days
    )


def registered(municipality: str = "m1") -> ParticipantRegistered:
    return ParticipantRegistered(
        participant_id="p1",
        municipality_id=municipality,
        journey="bou",
        role="socialsekreterare",
        level="ny",
        years_in_profession=1,
    )


def attended(day: int) -> CourseDayAttended:
    return CourseDayAttended(participant_id="p1", occasion_id="o1", day=day)


def rows(log: LogBuilder, year: int = 2024) -> dict[str, dict[str, object]]:
    result = fold(Invoices, log.events).result("r1", year)
    return {r["municipality_id"]: r for r in result["municipalities"]}


def test_each_day_is_charged_where_the_participant_belonged_that_day() -> None:
    log = LogBuilder()
    log.add(occasion())
    log.add(attended(2), at(DAY_2))
    log.add(ParticipantMoved(participant_id="p1", to_municipality_id="m2"), at(DAY_1, 20))
    log.add(attended(1), at(DAY_1))
    log.add(registered("m1"), at(DAY_1, 8))
    result = rows(log)
    assert result["m1"]["participant_days"] == 1 and result["m2"]["participant_days"] == 1
    assert result["m1"]["gross_sek"] == 1250 and result["m1"]["net_sek"] == 1250


def test_an_attendance_older_than_every_membership_goes_to_the_earliest_municipality() -> None:
    log = LogBuilder()
    log.add(occasion())
    log.add(attended(1), at(DAY_1))
    log.add(registered("m1"), at(DAY_2, 8))
    log.add(ParticipantMoved(participant_id="p1", to_municipality_id="m2"), at(DAY_2, 9))
    assert rows(log)["m1"]["participant_days"] == 1 and "m2" not in rows(log)


def test_net_is_gross_less_the_pot_credit_and_credit_only_municipalities_are_listed() -> None:
    log = LogBuilder()
    log.add(occasion())
    log.add(registered("m1"), at(DAY_1, 8))
    log.add(attended(1), at(DAY_1))
    log.add(attended(2), at(DAY_2))
    log.add(
        TrainerDayDelivered(
            occasion_id="o1", day=1, trainer_id="t1", municipality_id="m9", role="leader"
        )
    )
    result = rows(log)
    assert result["m1"] == {
        "municipality_id": "m1",
        "participant_days": 2,
        "gross_sek": 2500,
        "pot_credit_sek": 0,
        "adjustment_days": 0,
        "adjustment_sek": 0,
        "net_sek": 2500,
    }
    assert result["m9"] == {
        "municipality_id": "m9",
        "participant_days": 0,
        "gross_sek": 0,
        "pot_credit_sek": 800,
        "adjustment_days": 0,
        "adjustment_sek": 0,
        "net_sek": -800,
    }


def test_the_price_is_the_sum_of_the_region_and_years_components() -> None:
    log = LogBuilder()
    components = PriceComponents(
        venue_and_fika=250, administration=350, trainer_pot=400, course_material=100, buffer=0
    )
    log.add(PriceListSet(region_id="r1", year=2024, components=components, points=Points()))
    log.add(occasion())
    log.add(registered())
    log.add(attended(1), at(DAY_1))
    result = fold(Invoices, log.events).result("r1", 2024)
    assert result["price_sek"] == 1100 and result["municipalities"][0]["gross_sek"] == 1100
    assert fold(Invoices, log.events).result("r1", 2025)["price_sek"] == 1250
