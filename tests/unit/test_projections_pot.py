"""The trainer pot: exact division in whole kronor, points by the price list in force."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from shared.events.models import (
    CourseDay,
    CourseDayAttended,
    CourseOccasionPlanned,
    ParticipantRegistered,
    Points,
    PriceComponents,
    PriceListSet,
    TrainerDayDelivered,
)
from shared.projections import Pot, divide_pot
from tests.unit.logs import BASE, LogBuilder, fold

NEW_YEARS_EVE, NEW_YEAR = dt.date(2024, 12, 31), dt.date(2025, 1, 2)


def test_largest_remainders_get_the_kronor_left_over_ties_to_the_smaller_id() -> None:
    assert divide_pot(10, {"b": Fraction(1), "a": Fraction(1), "c": Fraction(1)}) == {
        "a": 4,
        "b": 3,
        "c": 3,
    }
    assert divide_pot(11, {"t2": Fraction(1), "t1": Fraction(2)}) == {"t1": 7, "t2": 4}
    assert divide_pot(20_000, {"k": Fraction(3), "f": Fraction(5, 2), "u": Fraction(2)}) == {
        "k": 8000,
        "f": 6667,
        "u": 5333,
    }


def test_with_no_points_nothing_is_distributed() -> None:
    assert divide_pot(5_000, {}) == {}
    assert divide_pot(5_000, {"t1": Fraction(0)}) == {}


def world() -> LogBuilder:
    """One occasion in r1 whose two days fall in two years; three participants."""
    log = LogBuilder()
    days = (
        CourseDay(day=1, date=NEW_YEARS_EVE, mode="on_site"),
        CourseDay(day=2, date=NEW_YEAR, mode="digital"),
    )
    log.add(
        CourseOccasionPlanned(
            occasion_id="o1", course_id="c1", region_id="r1", capacity=9, days=days
        )
    )
    for p in ("p1", "p2", "p3"):
        log.add(
            ParticipantRegistered(
                participant_id=p,
                municipality_id="m1",
                journey="bou",
                role="socialsekreterare",
                level="ny",
                years_in_profession=0,
            )
        )
    return log


def delivered(
    day: int, trainer: str, role: str = "trainer", municipality: str = "m2"
) -> TrainerDayDelivered:
    return TrainerDayDelivered(
        occasion_id="o1", day=day, trainer_id=trainer, municipality_id=municipality, role=role
    )


def attended(p: str, day: int) -> CourseDayAttended:
    return CourseDayAttended(participant_id=p, occasion_id="o1", day=day)


def test_each_day_belongs_to_the_year_of_its_date() -> None:
    log = world()
    for p in ("p1", "p2", "p3"):
        log.add(attended(p, 1))
    log.add(attended("p1", 2))
    log.add(delivered(1, "t1", "leader"))
    log.add(delivered(2, "t2"))
    pot = fold(Pot, log.events)
    assert pot.result("r1", 2024)["pot_sek"] == 3 * 400
    assert pot.result("r1", 2025)["pot_sek"] == 1 * 400
    assert [t["trainer_id"] for t in pot.result("r1", 2024)["trainers"]] == ["t1"]
    assert pot.result("r2", 2024)["pot_sek"] == 0


def test_a_day_with_participants_but_no_trainer_points_distributes_nothing() -> None:
    log = world()
    log.add(attended("p1", 1))
    result = fold(Pot, log.events).result("r1", 2024)
    assert (result["pot_sek"], result["trainers"], result["municipalities"]) == (400, [], {})
    assert result["total_points"] == 0


def test_the_price_list_of_the_region_and_year_sets_pot_and_points() -> None:
    log = world()
    log.add(
        PriceListSet(
            region_id="r1",
            year=2024,
            components=PriceComponents(trainer_pot=300),
            points=Points(leader=2, trainer=0.5),
        )
    )
    log.add(attended("p1", 1))
    log.add(attended("p1", 2))
    for day in (1, 2):
        log.add(delivered(day, "t1", "leader"))
        log.add(delivered(day, "t2", "trainer", "m3"))
    pot = fold(Pot, log.events)
    this_year, next_year = pot.result("r1", 2024), pot.result("r1", 2025)
    assert this_year["pot_sek"] == 300 and this_year["total_points"] == 2.5
    assert next_year["pot_sek"] == 400 and next_year["total_points"] == 2.5  # GR: 1.5 + 1.0
    assert this_year["municipalities"] == {"m2": 240, "m3": 60}


def test_a_day_reported_twice_earns_once_and_the_latest_report_sets_the_role() -> None:
    log = world()
    log.add(attended("p1", 1))
    log.add(delivered(1, "t1", "trainer"), BASE)
    log.add(delivered(1, "t1", "leader"), BASE + dt.timedelta(hours=1))
    log.add(delivered(1, "t1", "trainer"), BASE - dt.timedelta(hours=1))
    result = fold(Pot, log.events).result("r1", 2024)
    assert result["trainers"] == [
        {"trainer_id": "t1", "municipality_id": "m2", "points": 1.5, "amount_sek": 400}
    ]


def test_days_reported_before_their_occasion_was_planned_still_count() -> None:
    late = LogBuilder()
    late.add(attended("p1", 1))
    late.add(delivered(1, "t1"))
    for env in world().events:
        late.add(env.data)
    result = fold(Pot, late.events).result("r1", 2024)
    assert result["pot_sek"] == 400 and result["municipalities"] == {"m2": 400}
