"""Planning support (the survey-based estimate) and the shipped catalogue, as pure functions
and data."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.scheduling.application import PlanOccasion, PublishCourse, shipped_catalogue
from services.scheduling.planning import CourseNeeds, estimate

FOUR_DAYS = CourseNeeds("hbc", "Handläggning med barnet i centrum", "ny", 4, 24, 8)
ONE_DAY = CourseNeeds("ulo", "Unga lagöverträdare", "ny", 1, 24, 3)


def test_the_seed_region_with_120_new_case_workers() -> None:
    """Over 120 new case workers: five starts of the 4-day course, eight trainers a team."""
    result = estimate({"ny": 120}, [FOUR_DAYS])
    (plan,) = result.courses
    assert (plan.participants, plan.occasions, plan.course_days) == (120, 5, 20)
    assert (plan.teams, plan.trainers, plan.course_leaders, plan.reserves) == (5, 40, 5, 5)
    assert plan.participant_days == 480


def test_a_team_may_give_several_occasions_a_year() -> None:
    plan = estimate({"ny": 121}, [FOUR_DAYS], occasions_per_team=2).courses[0]
    assert (plan.occasions, plan.teams, plan.trainers) == (6, 3, 24)


def test_completed_participants_no_longer_need_the_course() -> None:
    result = estimate({"ny": 50}, [FOUR_DAYS, ONE_DAY], completed={"hbc": 30, "ulo": 70})
    assert [(p.participants, p.occasions) for p in result.courses] == [(20, 1), (0, 0)]
    assert result.totals["occasions"] == 1 and result.totals["trainers"] == 8


def test_levels_without_courses_are_named() -> None:
    result = estimate({"ny": 10, "van": 40, "chef": 0}, [ONE_DAY])
    assert result.levels_without_courses == ("van",)
    assert result.to_dict()["courses"][0]["occasions"] == 1


def test_occasions_per_team_is_at_least_one() -> None:
    with pytest.raises(ValueError):
        estimate({"ny": 1}, [ONE_DAY], occasions_per_team=0)


# --- the catalogue as shipped -----------------------------------------------------------------


def test_the_six_barn_och_unga_ny_courses() -> None:
    courses = {c.title: c for c in shipped_catalogue()}
    assert {t: c.days for t, c in courses.items()} == {
        "Handläggning med barnet i centrum": 4, "Samtal och delaktighet": 2,
        "Våld och utsatthet": 2, "Unga lagöverträdare": 1, "Arbeta med familjehem": 1,
        "Verktyg i vardagen": 1,
    }
    assert courses["Handläggning med barnet i centrum"].parts == (2, 2)
    assert courses["Handläggning med barnet i centrum"].team_size == 8
    assert courses["Verktyg i vardagen"].parts == (0.5, 0.5)
    assert courses["Verktyg i vardagen"].day_modes == (("digital",),)
    assert courses["Handläggning med barnet i centrum"].day_modes[0] == ("on_site",)
    for course in courses.values():
        assert course.journey == "barn_och_unga" and course.level == "ny"
        assert any(p.mandatory for p in course.preparations)
        assert course.deepening_tasks


def test_every_course_prepares_with_material_of_several_kinds() -> None:
    words = " ".join(p.title for c in shipped_catalogue() for p in c.preparations if p.mandatory)
    for kind in ("Läs", "Lyssna", "Se filmen"):
        assert kind in words


def test_ids_are_unique_across_the_catalogue() -> None:
    ids = [p.item_id for c in shipped_catalogue() for p in c.preparations]
    ids += [t.task_id for c in shipped_catalogue() for t in c.deepening_tasks]
    assert len(ids) == len(set(ids))


# --- commands validated at the edge ------------------------------------------------------------


def test_a_course_whose_parts_do_not_add_up_is_refused() -> None:
    course = shipped_catalogue()[0].model_dump()
    with pytest.raises(ValidationError) as e:
        PublishCourse.model_validate(course | {"parts": [2, 1]})
    assert e.value.errors()[0]["loc"] == ("parts",)


@pytest.mark.parametrize(("days", "loc"), [
    ([{"day": 1, "date": "2025-03-10", "mode": "on_site"}], ("days", 0, "venue")),
    ([{"day": 1, "date": "2025-03-10", "mode": "digital", "venue": "Aulan"}],
     ("days", 0, "venue")),
    ([{"day": 2, "date": "2025-03-10", "mode": "digital"}], ("days",)),
    ([{"day": 1, "date": "2025-03-10", "mode": "digital"},
      {"day": 2, "date": "2025-03-10", "mode": "digital"}], ("days",)),
    ([{"day": 1, "date": "2025-03-10", "mode": "hybrid"}], ("days", 0, "mode")),
])
def test_an_occasion_whose_days_are_wrong_is_refused(days: list, loc: tuple) -> None:
    with pytest.raises(ValidationError) as e:
        PlanOccasion.model_validate({"course_id": "c", "region_id": "r", "capacity": 5,
                                     "days": days})
    assert e.value.errors()[0]["loc"] == loc
