"""Planning from the bus: who still needs each course, and the occasions and trainers that
calls for, against examples computed by hand; first as pure functions, then through the service
with its copy of the bus fed as its consumer would be (once on SQLite, once on PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from services.scheduling import application as scheduling_app
from services.scheduling.application import (
    BookParticipant,
    CancelOccasion,
    DemandFromBus,
    EstimateNeeds,
    PlanOccasion,
    Scheduling,
)
from services.scheduling.planning import (
    CourseDemand,
    CourseNeeds,
    demand,
    estimate_from_bus,
    side_by_side,
)
from services.scheduling.planning import estimate as survey_estimate
from shared.events import Envelope, EventData, new_envelope
from shared.events import models as contract
from tests.feeding import feed

# --- the rule, by hand --------------------------------------------------------------------------

A = CourseNeeds("a", "Kurs A", "ny", days=2, capacity=10, team_size=4)
B = CourseNeeds("b", "Kurs B", "ny", days=1, capacity=4, team_size=2)
C = CourseNeeds("c", "Kurs C", "van", days=1, capacity=24, team_size=2)
LEVELS = {**{f"p{i}": "ny" for i in range(1, 13)}, "v1": "van", "v2": "van", "v3": "van",
          "c1": "chef"}
COMPLETED = {("p1", "a"), ("p2", "a"), ("p3", "a"), ("p1", "b"), ("v1", "c"),
             ("elsewhere", "a")}  # someone not in the region: not counted
BOOKED = {("p4", "a"), ("p5", "a"), ("p1", "a"), ("p6", "b")}  # p1 completed A already
WAITLISTED = {("p7", "a"), ("p8", "b")}


def test_who_still_needs_each_course() -> None:
    needs = demand(LEVELS, [A, B, C], completed=COMPLETED, booked=BOOKED,
                   waitlisted=WAITLISTED)
    assert needs == (
        # 12 at Ny; A: 3 completed, p4 and p5 booked (p1 counts as completed), p7 queued
        CourseDemand("a", "ny", registered=12, completed=3, booked=2, waitlisted=1),
        CourseDemand("b", "ny", registered=12, completed=1, booked=1, waitlisted=1),
        CourseDemand("c", "van", registered=3, completed=1, booked=0, waitlisted=0),
    )


def test_the_year_s_occasions_and_trainers_from_the_bus() -> None:
    needs = demand(LEVELS, [A, B, C], completed=COMPLETED, booked=BOOKED,
                   waitlisted=WAITLISTED)
    bus = estimate_from_bus(LEVELS, [A, B, C], needs)
    plans = {p.course_id: p for p in bus.courses}
    # A: 12 - 3 - 2 = 7 need it; 7 / 10 places: 1 occasion of 2 days, one team of four
    assert (plans["a"].participants, plans["a"].occasions, plans["a"].course_days,
            plans["a"].participant_days, plans["a"].trainers) == (7, 1, 2, 14, 4)
    # B: 12 - 1 - 1 = 10; 10 / 4 places: 3 occasions, 3 teams of two
    assert (plans["b"].participants, plans["b"].occasions, plans["b"].trainers,
            plans["b"].course_leaders, plans["b"].reserves) == (10, 3, 6, 3, 3)
    # C: 3 - 1 = 2 at Van
    assert (plans["c"].participants, plans["c"].occasions, plans["c"].trainers) == (2, 1, 2)
    assert bus.totals == {"occasions": 5, "course_days": 6, "participant_days": 26,
                          "trainers": 12, "course_leaders": 5, "reserves": 5}
    assert bus.levels_without_courses == ("chef",)


def test_the_survey_and_the_bus_side_by_side() -> None:
    needs = demand(LEVELS, [A, B, C], completed=COMPLETED, booked=BOOKED,
                   waitlisted=WAITLISTED)
    bus = estimate_from_bus(LEVELS, [A, B, C], needs)
    survey = survey_estimate({"ny": 20, "van": 3}, [A, B, C])
    both = side_by_side(survey, bus, needs)
    a = both["courses"][0]
    assert a["course_id"] == "a"
    assert (a["survey"]["participants"], a["bus"]["participants"],
            a["difference"]["participants"]) == (20, 7, -13)
    assert (a["survey"]["occasions"], a["bus"]["occasions"], a["difference"]["occasions"]) == (
        2, 1, -1)
    assert a["from_the_bus"] == {"registered": 12, "completed": 3, "booked": 2,
                                 "waitlisted": 1}
    # survey: A 2 occasions, B 5, C 1 = 8; the bus: 5
    assert both["totals"]["difference"]["occasions"] == 5 - 8
    assert both["levels_without_courses"] == {"survey": [], "bus": ["chef"]}


# --- through the service, from its copy of the bus ---------------------------------------------

NOW = dt.datetime(2025, 3, 20, 9, 30, tzinfo=dt.UTC)
REGION, OTHER = "rss-dalarna", "rss-skane"


def at(day: int) -> dt.datetime:
    return dt.datetime(2024, 1, day, 12, tzinfo=dt.UTC)


def iso(days_from_now: int) -> str:
    return (NOW.date() + dt.timedelta(days=days_from_now)).isoformat()


def registration(p: str, municipality: str, when: int = 1, level: str = "ny",
                 journey: str = "barn_och_unga") -> Envelope:
    return new_envelope(contract.ParticipantRegistered(
        participant_id=p, municipality_id=municipality, journey=journey,
        role="socialsekreterare", level=level, years_in_profession=1), occurred_at=at(when))


def fact(data: EventData, when: int = 10) -> Envelope:
    return new_envelope(data, occurred_at=at(when))


def completion(p: str, certificate: str, course: str = "bou-ny-samtal") -> list[Envelope]:
    ids = {"participant_id": p, "course_id": course, "occasion_id": f"done-{p}"}
    return [fact(contract.CourseCompleted(**ids)),
            fact(contract.CertificateIssued(certificate_id=certificate, **ids))]


def revoked(certificate: str) -> Envelope:
    return fact(contract.CertificateRevoked(certificate_id=certificate, reason="Återkallad"))


@pytest.fixture
def scheduling(database_url: str) -> Iterator[Scheduling]:
    scheduling_app.migrate(database_url)
    s = scheduling_app.bootstrap(database_url)
    s.clock = lambda: NOW
    feed(s.runner(),
         contract.RegionRegistered(region_id=REGION, name="RSS Dalarna"),
         contract.RegionRegistered(region_id=OTHER, name="RSS Skåne"),
         *(contract.MunicipalityJoined(municipality_id=m, name=m.title(), region_id=r)
           for m, r in (("falun", REGION), ("mora", REGION), ("malmo", OTHER))))
    s.publish_catalogue(actor="test")
    yield s
    s.close()


def the_bus(s: Scheduling) -> None:
    """In Dalarna at Ny: n1-n6, n7 (moved in), n11 (its level change is older than its
    registration); not: n8 (moved out), n9 (erased), n10 (now Van), o1 (another journey)."""
    feed(s.runner(),
         *(registration(f"n{i}", "falun") for i in range(1, 7)),
         registration("n7", "malmo"), fact(contract.ParticipantMoved(
             participant_id="n7", to_municipality_id="mora")),
         registration("n8", "falun"), fact(contract.ParticipantMoved(
             participant_id="n8", to_municipality_id="malmo")),
         registration("n9", "falun"), fact(contract.ParticipantErased(participant_id="n9")),
         registration("n10", "falun"), fact(contract.ParticipantLevelChanged(
             participant_id="n10", level="van")),
         fact(contract.ParticipantLevelChanged(participant_id="n11", level="van"), when=2),
         registration("n11", "mora", when=3),
         registration("v1", "mora", level="van"),
         registration("o1", "falun", journey="aldreomsorg"),
         # Samtal: n1 completed; n2's certificate was revoked; n3's too, then completed again
         *completion("n1", "c1"), *completion("n2", "c2"), revoked("c2"),
         revoked("c3"), *completion("n3", "c3"), *completion("n3", "c4"),
         *completion("n8", "c5"))


def occasion(s: Scheduling, occasion_id: str, course: str, first: int, capacity: int = 20,
             *booked: str) -> None:
    s.plan_occasion(PlanOccasion.model_validate({
        "occasion_id": occasion_id, "course_id": course, "region_id": REGION,
        "capacity": capacity, "days": [
            {"day": 1, "date": iso(first), "mode": "digital"},
            {"day": 2, "date": iso(first + 7), "mode": "on_site", "venue": "Aulan"}]}))
    for p in booked:
        s.book(occasion_id, BookParticipant(participant_id=p))


def test_the_bus_s_figures_for_dalarna(scheduling: Scheduling) -> None:
    s = scheduling
    the_bus(s)
    occasion(s, "fut", "bou-ny-samtal", 10, 2, "n4", "n5", "n6")  # n6 waits
    occasion(s, "inst", "bou-ny-vald", 10, 20, "n1")
    s.cancel_occasion("inst", CancelOccasion(reason="För få anmälda"))
    occasion(s, "past", "bou-ny-vald", -30, 20, "n6")  # over, and n6 did not complete it
    bus, needs = s.demand(DemandFromBus(region_id=REGION, year=2025))
    counts = {d.course_id: (d.registered, d.completed, d.booked, d.waitlisted) for d in needs}
    # eight at Ny: n1-n7, n11; Samtal: n1 and n3 completed, n4 and n5 booked, n6 queued
    assert counts["bou-ny-samtal"] == (8, 2, 2, 1)
    assert counts["bou-ny-vald"] == (8, 0, 0, 0)  # cancelled and past bookings cover nobody
    plans = {p.course_id: (p.participants, p.occasions, p.course_days, p.trainers)
             for p in bus.courses}
    assert plans == {"bou-ny-handlaggning": (8, 1, 4, 8), "bou-ny-samtal": (4, 1, 2, 4),
                     "bou-ny-vald": (8, 1, 2, 4), "bou-ny-unga-lagovertradare": (8, 1, 1, 3),
                     "bou-ny-familjehem": (8, 1, 1, 3), "bou-ny-verktyg": (8, 1, 1, 2)}
    assert bus.totals == {"occasions": 6, "course_days": 11, "participant_days": 80,
                          "trainers": 24, "course_leaders": 6, "reserves": 6}
    assert bus.levels_without_courses == ("van",)  # n10 and v1


def test_compared_with_the_survey(scheduling: Scheduling) -> None:
    scheduling.clock = lambda: NOW
    the_bus(scheduling)
    both = scheduling.compare(EstimateNeeds(
        region_id=REGION, year=2025, participants_per_level={"ny": 30},
        capacity={"bou-ny-samtal": 4}))
    samtal = next(c for c in both["courses"] if c["course_id"] == "bou-ny-samtal")
    # survey: 30 at 4 places = 8 occasions; the bus: 8 - 2 completed = 6 at 4 places = 2
    assert (samtal["survey"]["occasions"], samtal["bus"]["occasions"]) == (8, 2)
    assert samtal["difference"]["participants"] == 6 - 30
    assert samtal["from_the_bus"]["completed"] == 2
