"""Two regions' worth of contract events, each with the regions it belongs to, written out by
hand from the routing rule (`services/regions/domain.py`) so that tests compare the router
with an independent answer.

Region A has municipalities a1 and a2, region B has b1. Participant `pm` moves from a1 to b1
halfway; `pb` (of B) takes a course on A's occasion; one attendance of `pb` is listed first,
before anything it needs is known, so a router must hold it. Ids carry a tag: several tests
share one broker.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from shared.events import Envelope, new_envelope
from shared.events import models as c

T0 = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)


def at(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


@dataclass
class World:
    tag: str
    a: str
    b: str
    events: list[tuple[Envelope, frozenset[str]]] = field(default_factory=list)
    catalogue: list[Envelope] = field(default_factory=list)
    _clock: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def _now(self) -> dt.datetime:
        self._clock += dt.timedelta(milliseconds=1)
        return self._clock

    def add(self, data: c.EventData, when: float, *regions: str) -> Envelope:
        """Recorded in the order added (the relays publish each service's events so)."""
        env = new_envelope(data, occurred_at=at(when), recorded_at=self._now())
        self.events.append((env, frozenset(regions)))
        return env

    @property
    def envelopes(self) -> list[Envelope]:
        return [env for env, _ in self.events]

    def expected(self, region: str) -> set[str]:
        """The ids a region's stream carries: its own events and the whole catalogue."""
        return {str(env.id) for env, regions in self.events if region in regions} | {
            str(env.id) for env in self.catalogue}

    def people(self) -> dict[str, str]:
        return {n: f"{n}-{self.tag}" for n in ("pa", "pa2", "pb", "pm")}


def two_regions(tag: str) -> World:
    a, b = f"ra-{tag}", f"rb-{tag}"
    w = World(tag, a, b)
    a1, a2, b1 = f"a1-{tag}", f"a2-{tag}", f"b1-{tag}"
    p = w.people()
    oa, ob, course = f"oa-{tag}", f"ob-{tag}", f"kurs-{tag}"
    days = ({"day": 1, "date": "2026-02-02", "mode": "on_site"},
            {"day": 2, "date": "2026-02-09", "mode": "digital"})

    # Listed first: an attendance whose participant, occasion and region are all unknown yet.
    w.add(c.CourseDayAttended(participant_id=p["pb"], occasion_id=ob, day=1), 30, b)

    w.add(c.RegionRegistered(region_id=a, name="Region A"), 0, a)
    w.add(c.RegionRegistered(region_id=b, name="Region B"), 0, b)
    w.add(c.MunicipalityJoined(municipality_id=a1, name="A-by", region_id=a), 0.1, a)
    w.add(c.MunicipalityJoined(municipality_id=a2, name="A-stad", region_id=a), 0.1, a)
    w.add(c.MunicipalityJoined(municipality_id=b1, name="B-by", region_id=b), 0.1, b)
    w.catalogue.append(new_envelope(c.CoursePublished.model_validate({
        "course_id": course, "journey": "barn_och_unga", "level": "ny", "title": "Samtal",
        "preparations": [{"item_id": "f1", "title": "Läs", "mandatory": True}],
        "deepening_tasks": []}), occurred_at=at(0.2), recorded_at=w._now()))
    w.events.append((w.catalogue[0], frozenset({a, b})))
    w.add(c.PriceListSet.model_validate({
        "region_id": a, "year": 2026, "components": {
            "venue_and_fika": 300, "administration": 400, "trainer_pot": 400,
            "course_material": 100, "buffer": 50}, "points": {"leader": 1.5, "trainer": 1.0}}),
        0.3, a)

    for name, home in (("pa", a1), ("pa2", a2), ("pb", b1), ("pm", a1)):
        w.add(c.ParticipantRegistered(participant_id=p[name], municipality_id=home,
                                      journey="barn_och_unga", role="socialsekreterare",
                                      level="ny", years_in_profession=2), 1,
              a if home != b1 else b)
    w.add(c.TrainerRegistered(trainer_id=f"ta-{tag}", municipality_id=a1), 1, a)
    w.add(c.TrainerRegistered(trainer_id=f"tb-{tag}", municipality_id=b1), 1, b)

    w.add(c.CourseOccasionPlanned.model_validate({
        "occasion_id": oa, "course_id": course, "region_id": a, "capacity": 20,
        "days": days}), 2, a)
    w.add(c.CourseOccasionPlanned.model_validate({
        "occasion_id": ob, "course_id": course, "region_id": b, "capacity": 20,
        "days": days}), 2, b)
    w.add(c.TrainerAssigned(occasion_id=oa, trainer_id=f"ta-{tag}", municipality_id=a1,
                            role="leader"), 3, a)
    w.add(c.TrainerAssigned(occasion_id=ob, trainer_id=f"tb-{tag}", municipality_id=b1,
                            role="leader"), 3, b)
    for name in ("pa", "pa2", "pm"):
        w.add(c.ParticipantBooked(occasion_id=oa, participant_id=p[name]), 4, a)
    w.add(c.ParticipantBooked(occasion_id=oa, participant_id=p["pb"]), 4, a, b)  # across
    w.add(c.ParticipantBooked(occasion_id=ob, participant_id=p["pb"]), 4, b)
    w.add(c.PreparationCompleted(participant_id=p["pa"], course_id=course, item_id="f1"), 5, a)
    w.add(c.PreparationCompleted(participant_id=p["pb"], course_id=course, item_id="f1"), 5, b)
    for name in ("pa", "pm"):
        w.add(c.CourseDayAttended(participant_id=p[name], occasion_id=oa, day=1), 23, a)
    w.add(c.CourseDayAttended(participant_id=p["pb"], occasion_id=oa, day=1), 23, a, b)
    w.add(c.TrainerDayDelivered(occasion_id=oa, day=1, trainer_id=f"ta-{tag}",
                                municipality_id=a1, role="leader"), 23, a)

    # pm moves to B: the move goes to both; what pm does afterwards is B's (on A's occasion:
    # both).
    w.add(c.ParticipantMoved(participant_id=p["pm"], to_municipality_id=b1), 25, a, b)
    w.add(c.CourseDayAttended(participant_id=p["pm"], occasion_id=oa, day=2), 30, a, b)
    w.add(c.ParticipantLevelChanged(participant_id=p["pm"], level="van"), 31, b)
    w.add(c.CourseDayAttended(participant_id=p["pa"], occasion_id=oa, day=2), 30, a)

    w.add(c.CourseCompleted(participant_id=p["pa"], course_id=course, occasion_id=oa), 30.5, a)
    w.add(c.CertificateIssued(certificate_id=f"cert-{tag}", participant_id=p["pa"],
                              course_id=course, occasion_id=oa), 30.5, a)
    w.add(c.CertificateRevoked(certificate_id=f"cert-{tag}", reason="Dag återkallad"), 32, a)
    w.add(c.EvaluationSubmitted(occasion_id=oa, course_id=course, respondent_id=f"r-{tag}",
                                answers={"nytta": 4}), 31, a)
    w.add(c.ParticipantErased(participant_id=p["pa2"]), 33, a)
    w.add(c.CourseOccasionCancelled(occasion_id=ob, reason="För få anmälda"), 20, b)
    w.add(c.YearClosed(region_id=b, year=2026), 40, b)
    w.add(c.PotDistributed(region_id=b, year=2026, pot_sek=0, total_points=0), 40, b)
    w.add(c.BookingCancelled(occasion_id=oa, participant_id=p["pa2"]), 6, a)
    w.add(c.DeepeningSubmitted(participant_id=p["pb"], course_id=course, task_id="d1"), 7, b)
    w.add(c.CourseOccasionRescheduled.model_validate({"occasion_id": oa, "days": days}), 8, a)
    w.add(c.TrainerUnassigned(occasion_id=oa, trainer_id=f"ta-{tag}"), 35, a)
    w.add(c.AttendanceWithdrawn(participant_id=p["pa"], occasion_id=oa, day=2,
                                reason="Felrapporterad"), 34, a)
    return w
