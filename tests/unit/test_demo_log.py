"""`yrkesresan demo-log`: a valid, deterministic, realistic log whose derived events agree
with the projections."""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import cache

import typer
from typer.testing import CliRunner

from shared.events import Envelope, parse_envelope
from shared.projections import Completions
from tests.unit.logs import fold
from yrkesresan import demo
from yrkesresan.demo import COURSES, REGION_ID, demo_log
from yrkesresan.replay import replay

PARTICIPANTS = 120
DAYS = {
    "Handläggning med barnet i centrum": 4,
    "Samtal och delaktighet": 2,
    "Våld och utsatthet": 2,
    "Unga lagöverträdare": 1,
    "Arbeta med familjehem": 1,
    "Verktyg i vardagen": 1,  # two digital half days
}


@cache
def lines() -> tuple[bytes, ...]:
    return tuple(demo_log(PARTICIPANTS, seed=7))


@cache
def events() -> tuple[Envelope, ...]:
    return tuple(parse_envelope(line) for line in lines())


def of_type(name: str) -> list[Envelope]:
    return [e for e in events() if e.type == name]


def test_every_line_is_a_valid_envelope_with_a_unique_id() -> None:
    assert len(events()) == len(lines()) > 50 * PARTICIPANTS
    assert len({e.id for e in events()}) == len(events())


def test_the_same_seed_gives_the_same_bytes() -> None:
    assert tuple(demo_log(PARTICIPANTS, seed=7)) == lines()
    assert tuple(demo_log(PARTICIPANTS, seed=8)) != lines()


def test_the_six_ny_courses_with_their_titles_and_days() -> None:
    titles = {e.data.course_id: e.data.title for e in of_type("CoursePublished")}
    assert sorted(titles.values()) == sorted(DAYS)
    for plan in of_type("CourseOccasionPlanned"):
        days = plan.data.days
        assert len(days) == DAYS[titles[plan.data.course_id]]
        assert plan.data.region_id == REGION_ID
        if titles[plan.data.course_id] == "Verktyg i vardagen":
            assert {d.mode for d in days} == {"digital"}
        else:
            assert days[0].mode == "on_site"
    modes = Counter(d.mode for p in of_type("CourseOccasionPlanned") for d in p.data.days)
    assert modes["on_site"] and modes["digital"]


def test_every_occasion_has_a_leader_trainers_and_a_reserve() -> None:
    roles: dict[str, Counter[str]] = defaultdict(Counter)
    for assigned in of_type("TrainerAssigned"):
        roles[assigned.data.occasion_id][assigned.data.role] += 1
    plans = {p.data.occasion_id: p.data.course_id for p in of_type("CourseOccasionPlanned")}
    assert set(roles) == set(plans)
    for occasion_id, count in roles.items():
        assert count["leader"] == 1 and count["reserve"] == 1 and count["trainer"] >= 1
        if plans[occasion_id] == COURSES[0].course_id:
            assert count["leader"] + count["trainer"] == 8  # two teams of four
    leader_days = Counter(
        e.data.occasion_id for e in of_type("TrainerDayDelivered") if e.data.role == "leader"
    )
    for plan in of_type("CourseOccasionPlanned"):
        assert leader_days[plan.data.occasion_id] == len(plan.data.days)  # every day


def test_people_register_prepare_attend_miss_days_move_and_answer() -> None:
    kinds = Counter(e.type for e in events())
    assert kinds["ParticipantRegistered"] == PARTICIPANTS
    for kind in (
        "ParticipantBooked",
        "PreparationCompleted",
        "CourseDayAttended",
        "DeepeningSubmitted",
        "EvaluationSubmitted",
        "ParticipantMoved",
        "ParticipantLevelChanged",
        "TrainerDayDelivered",
    ):
        assert kinds[kind] > 0, kind
    days_booked = sum(len(p.data.days) for p in of_type("CourseOccasionPlanned")) * 24
    assert kinds["CourseDayAttended"] < days_booked  # absences
    assert kinds["BookingCancelled"] > 0


def test_the_derived_events_agree_with_the_projections() -> None:
    certified = {
        (e.data.participant_id, e.data.course_id, e.data.occasion_id)
        for e in of_type("CourseCompleted")
    }
    assert certified == fold(Completions, events()).completed
    assert len(of_type("CertificateIssued")) == len(certified)
    for distributed in of_type("PotDistributed"):
        pot = replay("pot", lines(), REGION_ID, distributed.data.year)
        assert distributed.data.pot_sek == pot["pot_sek"] > 0
        assert [s.amount_sek for s in distributed.data.trainers] == [
            t["amount_sek"] for t in pot["trainers"]
        ]


def test_respondents_are_participants_who_completed() -> None:
    completed = {(p, o) for p, _, o in fold(Completions, events()).completed}
    for answer in of_type("EvaluationSubmitted"):
        assert (answer.data.respondent_id, answer.data.occasion_id) in completed


def test_the_command_writes_the_log_to_standard_output() -> None:
    app = typer.Typer()
    demo.register(app)

    @app.callback()
    def _group() -> None:
        """Keeps `demo-log` a subcommand."""

    result = CliRunner().invoke(app, ["demo-log", "--participants", "30", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == b"".join(demo_log(30, seed=3))
