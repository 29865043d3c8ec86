"""`yrkesresan demo-log`: a valid, deterministic, realistic log on the shipped catalogue, with
every v1.1 event type, whose derived events agree with the projections."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from functools import cache

import typer
from typer.testing import CliRunner

from services.scheduling.catalogue import SHIPPED
from shared.events import Envelope, parse_envelope
from shared.events.models import EVENT_TYPES
from shared.projections import Completions
from tests.unit.logs import fold
from yrkesresan import demo
from yrkesresan.demo import REGION_ID, demo_log
from yrkesresan.replay import replay

PARTICIPANTS = 600
CATALOGUE = {c["course_id"]: c for c in SHIPPED}


@cache
def lines() -> tuple[bytes, ...]:
    return tuple(demo_log(PARTICIPANTS, seed=7))


@cache
def events() -> tuple[Envelope, ...]:
    return tuple(parse_envelope(line) for line in lines())


def of_type(name: str) -> list[Envelope]:
    return [e for e in events() if e.type == name]


def is_uuid(value: str) -> bool:
    return str(uuid.UUID(value)) == value


def test_every_line_is_a_valid_envelope_with_a_unique_id() -> None:
    assert len(events()) == len(lines()) > 50 * PARTICIPANTS
    assert len({e.id for e in events()}) == len(events())


def test_the_same_seed_gives_the_same_bytes() -> None:
    assert tuple(demo_log(PARTICIPANTS, seed=7)) == lines()
    assert tuple(demo_log(PARTICIPANTS, seed=8)) != lines()


def test_every_contract_type_is_there() -> None:
    assert {e.type for e in events()} == set(EVENT_TYPES)


def test_the_shipped_catalogue_with_its_ids_journey_titles_and_days() -> None:
    published = {e.data.course_id: e.data for e in of_type("CoursePublished")}
    assert set(published) == set(CATALOGUE)
    for course_id, data in published.items():
        shipped = CATALOGUE[course_id]
        assert (data.title, data.journey, data.level) == (
            shipped["title"], shipped["journey"], shipped["level"])
        assert [p.item_id for p in data.preparations] == [
            p["item_id"] for p in shipped["preparations"]]
        assert [q.question_id for q in data.questions] == [
            q["question_id"] for q in shipped["questions"]]
    assert {e.data.journey for e in of_type("ParticipantRegistered")} == {"barn_och_unga"}
    for plan in of_type("CourseOccasionPlanned"):
        shipped = CATALOGUE[plan.data.course_id]
        assert len(plan.data.days) == shipped["days"]
        assert plan.data.region_id == REGION_ID
        for day, allowed in zip(plan.data.days, shipped["day_modes"], strict=True):
            assert day.mode in allowed
    modes = Counter(d.mode for p in of_type("CourseOccasionPlanned") for d in p.data.days)
    assert modes["on_site"] and modes["digital"]


def test_ids_of_people_and_certificates_are_minted_uuids() -> None:
    assert all(is_uuid(e.data.participant_id) for e in of_type("ParticipantRegistered"))
    assert all(is_uuid(e.data.trainer_id) for e in of_type("TrainerRegistered"))
    assert all(is_uuid(e.data.certificate_id) for e in of_type("CertificateIssued"))
    participants = {e.data.participant_id for e in of_type("ParticipantRegistered")}
    assert not {e.data.respondent_id for e in of_type("EvaluationSubmitted")} & participants


def test_every_occasion_has_a_leader_trainers_and_a_reserve_registered_first() -> None:
    roles: dict[str, Counter[str]] = defaultdict(Counter)
    for assigned in of_type("TrainerAssigned"):
        roles[assigned.data.occasion_id][assigned.data.role] += 1
    unassigned = Counter(e.data.occasion_id for e in of_type("TrainerUnassigned"))
    plans = {p.data.occasion_id: p.data.course_id for p in of_type("CourseOccasionPlanned")}
    assert set(roles) == set(plans)
    for occasion_id, count in roles.items():
        assert count["leader"] == 1 and count["reserve"] == 1 and count["trainer"] >= 1
        team = count["leader"] + count["trainer"] - unassigned[occasion_id]
        assert team == CATALOGUE[plans[occasion_id]]["team_size"]
    registered: set[str] = set()
    for env in events():  # in the order written
        if env.type == "TrainerRegistered":
            registered.add(env.data.trainer_id)
        elif env.type in ("TrainerAssigned", "TrainerDayDelivered"):
            assert env.data.trainer_id in registered
    cancelled = {e.data.occasion_id for e in of_type("CourseOccasionCancelled")}
    leader_days = Counter(
        e.data.occasion_id for e in of_type("TrainerDayDelivered") if e.data.role == "leader"
    )
    for plan in of_type("CourseOccasionPlanned"):
        if plan.data.occasion_id not in cancelled:
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
        "BookingCancelled",
    ):
        assert kinds[kind] > 0, kind
    occasions = kinds["CourseOccasionPlanned"]
    # the v1.1 events about as often as a region sees them
    assert 0 < kinds["CourseOccasionRescheduled"] < occasions * 0.2
    assert 0 < kinds["CourseOccasionCancelled"] < occasions * 0.1
    assert 0 < kinds["TrainerUnassigned"] < occasions * 0.15
    assert 0 < kinds["AttendanceWithdrawn"] < kinds["CourseDayAttended"] * 0.01


def test_the_log_is_in_the_order_recorded() -> None:
    recorded = [e.recorded_at or e.occurred_at for e in events()]
    late = [e for e in events() if e.recorded_at is not None]
    assert late and all(e.recorded_at > e.occurred_at for e in late)
    # derived events follow their cause by minutes; facts are in recording order
    facts = [t for t, e in zip(recorded, events(), strict=True)
             if e.type not in ("CourseCompleted", "CertificateIssued", "CertificateRevoked",
                               "PotDistributed")]
    assert facts == sorted(facts)


def test_the_derived_events_agree_with_the_projections() -> None:
    certified = {
        (e.data.participant_id, e.data.course_id, e.data.occasion_id)
        for e in of_type("CourseCompleted")
    }
    revoked = {e.data.certificate_id for e in of_type("CertificateRevoked")}
    issued = {e.data.certificate_id: (e.data.participant_id, e.data.course_id,
                                      e.data.occasion_id) for e in of_type("CertificateIssued")}
    assert revoked and revoked <= set(issued)
    standing = {c for cert, c in issued.items() if cert not in revoked}
    assert standing == fold(Completions, events()).completed
    assert certified >= standing
    assert of_type("PotDistributed")
    for distributed in of_type("PotDistributed"):
        pot = replay("pot", lines(), REGION_ID, distributed.data.year)
        assert distributed.data.pot_sek == pot["pot_sek"] > 0
        assert [s.amount_sek for s in distributed.data.trainers] == [
            t["amount_sek"] for t in pot["trainers"]
        ]


def test_a_closed_years_late_reports_adjust_the_next_years_basis() -> None:
    closed = sorted(e.data.year for e in of_type("YearClosed"))
    adjusted = [
        row for year in closed
        for row in replay("invoices", lines(), REGION_ID, year + 1)["municipalities"]
        if row["adjustment_days"]
    ]
    assert adjusted
    assert all(r["adjustment_sek"] == r["adjustment_days"] * 1250 for r in adjusted)


def test_respondents_answered_occasions_they_completed() -> None:
    completed = Counter(o for _, _, o in fold(Completions, events()).completed)
    answered = Counter(e.data.occasion_id for e in of_type("EvaluationSubmitted"))
    assert answered and all(answered[o] <= completed[o] for o in answered)


def test_the_command_writes_the_log_to_standard_output() -> None:
    app = typer.Typer()
    demo.register(app)

    @app.callback()
    def _group() -> None:
        """Keeps `demo-log` a subcommand."""

    args = ["demo-log", "--participants", "30", "--seed", "3", "--years", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == b"".join(demo_log(30, seed=3, years=1))


def test_over_seven_years_every_closed_years_pot_is_the_folds() -> None:
    """Late reports recorded at the very moment of a close belong to the closed view (recorded
    not after it), as the pot fold reads them."""
    seven = list(demo_log(1500, seed=2, years=7))
    distributed = [parse_envelope(line) for line in seven if b'"PotDistributed"' in line]
    assert [e.data.year for e in distributed] == list(range(2024, 2031))
    for env in distributed:
        pot = replay("pot", seven, REGION_ID, env.data.year)
        assert (env.data.pot_sek, [s.amount_sek for s in env.data.trainers]) == (
            pot["pot_sek"], [t["amount_sek"] for t in pot["trainers"]])


def test_the_national_log_runs_in_every_region_with_its_own_municipalities() -> None:
    """`--regions 21`: Sweden's 21 regions and 290 municipalities; each region plans its own
    occasions for participants of its own municipalities, with trainers recruited there, and
    closes its own years, with the pot its fold gives."""
    from yrkesresan.regions import REGIONS

    national = list(demo_log(2400, seed=5, years=1, regions=21))
    envs = [parse_envelope(line) for line in national]
    kinds = Counter(e.type for e in envs)
    assert kinds["RegionRegistered"] == 21 and kinds["ParticipantRegistered"] == 2400
    region_of = {e.data.municipality_id: e.data.region_id
                 for e in envs if e.type == "MunicipalityJoined"}
    assert len(region_of) == 290
    assert {code for _, _, ms in REGIONS for code, _ in ms} == {m[7:] for m in region_of}
    home = {e.data.participant_id: e.data.municipality_id
            for e in envs if e.type == "ParticipantRegistered"}
    trainer_home = {e.data.trainer_id: e.data.municipality_id
                    for e in envs if e.type == "TrainerRegistered"}
    occasion_region = {e.data.occasion_id: e.data.region_id
                       for e in envs if e.type == "CourseOccasionPlanned"}
    assert len(set(occasion_region.values())) >= 15  # 100 cohorts, drawn by municipalities
    for env in envs:
        if env.type == "ParticipantBooked":
            assert region_of[home[env.data.participant_id]] == \
                occasion_region[env.data.occasion_id]
        elif env.type == "TrainerAssigned":
            assert region_of[trainer_home[env.data.trainer_id]] == \
                occasion_region[env.data.occasion_id]
    closed = {(e.data.region_id, e.data.year) for e in envs if e.type == "YearClosed"}
    distributed = {(e.data.region_id, e.data.year): e.data
                   for e in envs if e.type == "PotDistributed"}
    assert closed == set(distributed) and len(closed) == 21
    busiest = Counter(occasion_region.values()).most_common(2)
    for region_id, _ in busiest:
        pot = replay("pot", national, region_id, 2024)
        assert distributed[region_id, 2024].pot_sek == pot["pot_sek"] > 0
        assert [s.amount_sek for s in distributed[region_id, 2024].trainers] == [
            t["amount_sek"] for t in pot["trainers"]]


def test_one_region_is_rss_dalarna_as_before() -> None:
    from yrkesresan.demo import taking_part

    assert [r.region_id for r in taking_part(1)] == [REGION_ID]
    assert tuple(demo_log(50, seed=7, regions=1)) == tuple(demo_log(50, seed=7))
