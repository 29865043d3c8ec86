"""The v1.1 rules of CONTRACT.md, clause by clause, as worked examples: withdrawn days,
re-planned and cancelled occasions, closed years and their adjustments, evaluations by mode
with one response per respondent, and trainers taken off a team."""

from __future__ import annotations

import datetime as dt
from typing import Any

from shared.events.models import (
    AttendanceWithdrawn,
    CourseDay,
    CourseDayAttended,
    CourseOccasionCancelled,
    CourseOccasionPlanned,
    CourseOccasionRescheduled,
    CoursePublished,
    EvaluationSubmitted,
    ParticipantMoved,
    ParticipantRegistered,
    Points,
    Preparation,
    PreparationCompleted,
    PriceComponents,
    PriceListSet,
    TrainerAssigned,
    TrainerDayDelivered,
    TrainerUnassigned,
    YearClosed,
)
from shared.projections import Completions, Evaluations, Invoices, Pot, Progression
from tests.unit.logs import LogBuilder, fold

UTC = dt.UTC
DAY_1, DAY_2 = dt.date(2024, 12, 2), dt.date(2024, 12, 16)
CLOSE = dt.datetime(2025, 1, 20, 9, tzinfo=UTC)  # 2024 closed here


def at(date: dt.date, hour: int = 16) -> dt.datetime:
    return dt.datetime.combine(date, dt.time(hour), tzinfo=UTC)


def days(*dates: tuple[dt.date, str]) -> tuple[CourseDay, ...]:
    return tuple(CourseDay(day=n, date=d, mode=m) for n, (d, m) in enumerate(dates, 1))


def planned(*dates: tuple[dt.date, str], occasion: str = "o1") -> CourseOccasionPlanned:
    return CourseOccasionPlanned(
        occasion_id=occasion, course_id="c1", region_id="r1", capacity=24,
        days=days(*(dates or ((DAY_1, "on_site"), (DAY_2, "on_site")))),
    )


def rescheduled(*dates: tuple[dt.date, str], occasion: str = "o1") -> CourseOccasionRescheduled:
    return CourseOccasionRescheduled(occasion_id=occasion, days=days(*dates))


def registered(participant: str = "p1", municipality: str = "m1") -> ParticipantRegistered:
    return ParticipantRegistered(
        participant_id=participant, municipality_id=municipality, journey="bou",
        role="socialsekreterare", level="ny", years_in_profession=1,
    )


def attended(day: int, participant: str = "p1", occasion: str = "o1") -> CourseDayAttended:
    return CourseDayAttended(participant_id=participant, occasion_id=occasion, day=day)


def withdrawn(day: int, participant: str = "p1", occasion: str = "o1") -> AttendanceWithdrawn:
    return AttendanceWithdrawn(
        participant_id=participant, occasion_id=occasion, day=day, reason="Rapporterad av misstag"
    )


def delivered(day: int, trainer: str = "t1", role: str = "leader") -> TrainerDayDelivered:
    return TrainerDayDelivered(
        occasion_id="o1", day=day, trainer_id=trainer, municipality_id="m9", role=role
    )


def course_with_one_preparation(log: LogBuilder) -> None:
    log.add(CoursePublished(
        course_id="c1", journey="bou", level="ny", title="Samtal och delaktighet",
        preparations=(Preparation(item_id="i1", title="Läs", mandatory=True),),
    ))
    log.add(PreparationCompleted(participant_id="p1", course_id="c1", item_id="i1"))


def a_completing_participant() -> LogBuilder:
    log = LogBuilder()
    course_with_one_preparation(log)
    log.add(planned(), at(DAY_1, 6) - dt.timedelta(weeks=8))
    log.add(registered(), at(DAY_1, 7) - dt.timedelta(weeks=4))
    log.add(attended(1), at(DAY_1))
    log.add(attended(2), at(DAY_2))
    return log


def invoice(log: LogBuilder, year: int = 2024) -> dict[str, dict[str, Any]]:
    result = fold(Invoices, log.events).result("r1", year)
    return {r["municipality_id"]: r for r in result["municipalities"]}


def completed(log: LogBuilder) -> set[tuple[str, str, str]]:
    return fold(Completions, log.events).completed  # type: ignore[no-any-return]


# --- withdrawn days -------------------------------------------------------------------------


def test_a_withdrawn_day_counts_nowhere() -> None:
    log = a_completing_participant()
    log.add(delivered(1), at(DAY_1))
    assert completed(log) == {("p1", "c1", "o1")}
    log.add(withdrawn(2), at(DAY_2, 18))
    assert completed(log) == set()
    assert invoice(log)["m1"]["participant_days"] == 1
    assert fold(Pot, log.events).result("r1", 2024)["pot_sek"] == 400
    rows = fold(Progression, log.events).result()["participants"]
    assert rows[0]["completed_courses"] == [] and rows[0]["certificates"] == 0


def test_a_completion_that_loses_a_day_is_reported_lost() -> None:
    completions = Completions()
    log = a_completing_participant()
    for env in log.events:
        completions.changes(env)
    changes = completions.changes(log.add(withdrawn(1), at(DAY_2, 18)))
    assert changes.removed == (("p1", "c1", "o1"),) and changes.added == ()


def test_a_withdrawal_is_final_whatever_the_order() -> None:
    log = a_completing_participant()
    log.add(withdrawn(2), at(DAY_2, 18))
    log.add(attended(2), at(DAY_2, 19))  # reported again after the withdrawal
    for events in (log.events, list(reversed(log.events))):
        assert fold(Completions, events).completed == set()
        assert invoice_of(events)["m1"]["participant_days"] == 1


def invoice_of(events: list[Any]) -> dict[str, dict[str, Any]]:
    result = fold(Invoices, events).result("r1", 2024)
    return {r["municipality_id"]: r for r in result["municipalities"]}


# --- re-planned and cancelled occasions -----------------------------------------------------


def test_the_latest_plan_gives_the_days_and_their_years() -> None:
    log = a_completing_participant()
    later = dt.date(2025, 1, 13)
    log.add(rescheduled((DAY_1, "on_site"), (later, "digital")), at(DAY_1, 20))
    # day 2 now belongs to 2025: 2024 has one participant-day, 2025 the other
    assert invoice(log)["m1"]["participant_days"] == 1
    assert invoice(log, 2025)["m1"]["participant_days"] == 1
    assert completed(log) == {("p1", "c1", "o1")}  # both days of the latest plan attended


def test_an_older_plan_does_not_replace_a_newer_one() -> None:
    log = a_completing_participant()
    log.add(rescheduled((DAY_1, "on_site"),), at(DAY_1, 5) - dt.timedelta(weeks=9))  # older
    assert invoice(log)["m1"]["participant_days"] == 2


def test_a_day_the_latest_plan_does_not_have_counts_for_nothing() -> None:
    log = a_completing_participant()
    log.add(attended(3), at(DAY_2))  # day 3 is not planned (yet)
    assert invoice(log)["m1"]["participant_days"] == 2
    log.add(rescheduled((DAY_1, "on_site")), at(DAY_1, 20))  # only one day now
    assert invoice(log)["m1"]["participant_days"] == 1
    assert completed(log) == {("p1", "c1", "o1")}


def test_completion_needs_every_day_of_the_latest_plan() -> None:
    log = a_completing_participant()
    three = ((DAY_1, "on_site"), (DAY_2, "on_site"), (dt.date(2024, 12, 17), "on_site"))
    log.add(rescheduled(*three), at(DAY_1, 20))
    assert completed(log) == set()
    log.add(attended(3), at(dt.date(2024, 12, 17)))
    assert completed(log) == {("p1", "c1", "o1")}


def test_a_cancelled_occasion_keeps_its_days_and_nobody_completes_it() -> None:
    log = a_completing_participant()
    log.add(delivered(1), at(DAY_1))
    log.add(CourseOccasionCancelled(occasion_id="o1", reason="För få deltagare"), at(DAY_2, 20))
    assert completed(log) == set()
    assert invoice(log)["m1"]["participant_days"] == 2
    assert fold(Pot, log.events).result("r1", 2024)["pot_sek"] == 800
    # cancelled before the plan arrived: the same
    assert fold(Completions, reversed(log.events)).completed == set()


# --- closed years ---------------------------------------------------------------------------


def a_closed_year() -> LogBuilder:
    """p1 (m1) attended two days of 2024; the trainer delivered both; 2024 closed in January."""
    log = LogBuilder()
    log.add(planned(), at(DAY_1, 6) - dt.timedelta(weeks=8))
    log.add(registered(), at(DAY_1, 7) - dt.timedelta(weeks=4))
    log.add(attended(1), at(DAY_1))
    log.add(attended(2), at(DAY_2))
    log.add(delivered(1), at(DAY_1))
    log.add(delivered(2), at(DAY_2))
    log.add(YearClosed(region_id="r1", year=2024), CLOSE)
    return log


def test_a_late_report_changes_nothing_in_the_closed_year_and_adjusts_the_next() -> None:
    log = a_closed_year()
    log.add(registered("p2", "m2"), at(DAY_1, 7))
    log.add(attended(1, "p2"), at(DAY_1), recorded=CLOSE + dt.timedelta(days=3))
    closed = invoice(log)
    assert closed["m1"]["participant_days"] == 2 and "m2" not in closed
    assert fold(Pot, log.events).result("r1", 2024)["pot_sek"] == 800
    next_year = invoice(log, 2025)
    assert next_year["m2"] == {
        "municipality_id": "m2", "participant_days": 0, "gross_sek": 0, "pot_credit_sek": 0,
        "adjustment_days": 1, "adjustment_sek": 1250, "net_sek": 1250,
    }
    assert "m1" not in next_year
    assert fold(Pot, log.events).result("r1", 2025)["pot_sek"] == 0  # year + 1's pot untouched


def test_a_late_withdrawal_is_a_negative_adjustment_at_the_closed_years_price() -> None:
    log = a_closed_year()
    log.add(PriceListSet(region_id="r1", year=2024, components=PriceComponents(buffer=0),
                         points=Points()), at(DAY_1, 1) - dt.timedelta(weeks=10))
    log.add(withdrawn(2), CLOSE + dt.timedelta(days=2))
    assert invoice(log)["m1"]["participant_days"] == 2
    row = invoice(log, 2025)["m1"]
    assert (row["adjustment_days"], row["adjustment_sek"], row["net_sek"]) == (-1, -1200, -1200)


def test_the_recording_time_is_recorded_at_else_occurred_at() -> None:
    log = a_closed_year()
    # occurred in December, recorded in December: in the closed view
    log.add(registered("p2", "m2"), at(DAY_1, 7))
    log.add(attended(1, "p2"), at(DAY_1), recorded=at(DAY_1, 17))
    # occurred (and so recorded, with no recorded_at) after the close
    log.add(attended(2, "p2"), CLOSE + dt.timedelta(hours=1))
    assert invoice(log)["m2"]["participant_days"] == 1
    assert invoice(log, 2025)["m2"]["adjustment_days"] == 1


def test_a_move_recorded_late_moves_the_day_on_the_next_years_basis() -> None:
    log = a_closed_year()
    move = ParticipantMoved(participant_id="p1", to_municipality_id="m2")
    log.add(move, at(DAY_1, 8), recorded=CLOSE + dt.timedelta(days=1))  # moved before day 1
    assert invoice(log)["m1"]["participant_days"] == 2
    next_year = invoice(log, 2025)
    assert next_year["m1"]["adjustment_days"] == -2 and next_year["m2"]["adjustment_days"] == 2
    assert next_year["m1"]["net_sek"] == -2500 and next_year["m2"]["net_sek"] == 2500


def test_closed_twice_the_earliest_close_counts() -> None:
    log = a_closed_year()
    log.add(registered("p2", "m2"), at(DAY_1, 7))
    log.add(attended(1, "p2"), at(DAY_1), recorded=CLOSE + dt.timedelta(days=3))
    log.add(YearClosed(region_id="r1", year=2024), CLOSE + dt.timedelta(days=5))
    assert "m2" not in invoice(log)
    assert invoice(log, 2025)["m2"]["adjustment_days"] == 1


def test_trainer_points_recorded_after_the_close_earn_nothing() -> None:
    log = a_closed_year()
    log.add(delivered(2, "t2", "trainer"), at(DAY_2), recorded=CLOSE + dt.timedelta(days=1))
    pot = fold(Pot, log.events).result("r1", 2024)
    assert [t["trainer_id"] for t in pot["trainers"]] == ["t1"] and pot["total_points"] == 3.0
    assert fold(Pot, log.events).result("r1", 2025)["trainers"] == []


def test_an_open_year_reads_the_whole_log_and_carries_no_adjustment() -> None:
    log = a_closed_year()
    log.events.pop()  # not closed after all
    log.add(registered("p2", "m2"), at(DAY_1, 7))
    log.add(attended(1, "p2"), at(DAY_1), recorded=CLOSE + dt.timedelta(days=3))
    assert invoice(log)["m2"]["participant_days"] == 1
    assert invoice(log, 2025) == {}


def test_year_plus_one_once_closed_reads_its_adjustment_in_its_own_closed_view() -> None:
    log = a_closed_year()
    log.add(registered("p2", "m2"), at(DAY_1, 7))
    second_close = dt.datetime(2026, 1, 20, 9, tzinfo=UTC)
    log.add(attended(1, "p2"), at(DAY_1), recorded=CLOSE + dt.timedelta(days=3))
    log.add(attended(2, "p2"), at(DAY_2), recorded=second_close + dt.timedelta(days=1))
    log.add(YearClosed(region_id="r1", year=2025), second_close)
    assert invoice(log, 2025)["m2"]["adjustment_days"] == 1  # the second report came too late


# --- evaluations ----------------------------------------------------------------------------


def answered(respondent: str, score: int, occasion: str = "o1") -> EvaluationSubmitted:
    return EvaluationSubmitted(
        occasion_id=occasion, course_id="c1", respondent_id=respondent, answers={"nytta": score}
    )


def test_evaluations_by_occasion_mode() -> None:
    log = LogBuilder()
    log.add(planned((DAY_1, "on_site"), occasion="o1"))
    log.add(planned((DAY_1, "digital"), (DAY_2, "digital"), occasion="o2"))
    log.add(planned((DAY_1, "on_site"), (DAY_2, "digital"), occasion="o3"))
    log.add(answered("r1", 5, "o1"))
    log.add(answered("r2", 3, "o2"))
    log.add(answered("r3", 4, "o3"))
    log.add(answered("r4", 2, "o3"))
    row = fold(Evaluations, log.events).result()["courses"][0]
    assert row["responses"] == 4 and row["mean_scores"] == {"nytta": 3.5}
    assert row["by_mode"] == {
        "digital": {"responses": 1, "mean_scores": {"nytta": 3.0}},
        "mixed": {"responses": 2, "mean_scores": {"nytta": 3.0}},
        "on_site": {"responses": 1, "mean_scores": {"nytta": 5.0}},
    }
    # a re-plan that makes o3 all digital moves its responses
    log.add(rescheduled((DAY_1, "digital"), (DAY_2, "digital"), occasion="o3"), at(DAY_1, 20))
    by_mode = fold(Evaluations, log.events).result()["courses"][0]["by_mode"]
    assert by_mode["digital"]["responses"] == 3 and "mixed" not in by_mode


def test_one_response_per_occasion_and_respondent_latest_then_greater_id() -> None:
    log = LogBuilder()
    log.add(planned())
    when = at(DAY_2, 19)
    log.add(answered("r1", 2), when - dt.timedelta(hours=1), id=900)
    log.add(answered("r1", 4), when, id=901)
    log.add(answered("r1", 5), when, id=902)  # same time: the greater id wins
    log.add(answered("r1", 1, "o2"), when)  # another occasion: another response
    row = fold(Evaluations, log.events).result()["courses"][0]
    assert row["responses"] == 2 and row["mean_scores"] == {"nytta": 3.0}
    assert row["by_mode"]["on_site"] == {"responses": 1, "mean_scores": {"nytta": 5.0}}


# --- trainers taken off a team --------------------------------------------------------------


def test_a_trainer_taken_off_a_team_keeps_the_days_they_delivered() -> None:
    log = a_closed_year()
    log.events.pop()
    before = fold(Pot, log.events).result("r1", 2024)
    log.add(TrainerAssigned(occasion_id="o1", trainer_id="t1", municipality_id="m9",
                            role="leader"), at(DAY_1, 6) - dt.timedelta(weeks=7))
    log.add(TrainerUnassigned(occasion_id="o1", trainer_id="t1"), at(DAY_2, 20))
    assert fold(Pot, log.events).result("r1", 2024) == before
