"""The seed's worked example of the trainer pot (DOMAIN.md, "Money"), replayed as a log.

Days A, B and C of one occasion have 22, 18 and 10 participants: 50 participant-days × 400 kr
= 20 000 kr in the pot. Karin led A and B (3 points), Fia trained on B and led C (2.5), Ulf
trained on A and C (2), Rosa was a reserve never called in (0). The seed pays 8 000, 6 667 and
5 334, one krona more than the pot holds; the contract's largest-remainder rule pays 8 000,
6 667 and 5 333.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from shared.events.models import (
    CourseDay,
    CourseDayAttended,
    CourseOccasionPlanned,
    CoursePublished,
    MunicipalityJoined,
    ParticipantRegistered,
    RegionRegistered,
    TrainerAssigned,
    TrainerDayDelivered,
)
from tests.unit.logs import BASE, LogBuilder
from yrkesresan.replay import replay

REGION = "gr"
KARIN, FIA, ULF, ROSA = "utb-karin", "utb-fia", "utb-ulf", "utb-rosa"
HOME = {
    KARIN: "kommun-molndal",
    FIA: "kommun-kungalv",
    ULF: "kommun-partille",
    ROSA: "kommun-lerum",
}
PARTICIPANTS_ON = {1: 22, 2: 18, 3: 10}  # days A, B, C
SEED_AMOUNTS = {KARIN: 8000, FIA: 6667, ULF: 5334}


def seed_log() -> list[bytes]:
    log = LogBuilder()
    log.add(RegionRegistered(region_id=REGION, name="Göteborgsregionen"))
    for municipality in (*HOME.values(), "kommun-goteborg"):
        log.add(
            MunicipalityJoined(municipality_id=municipality, name=municipality, region_id=REGION)
        )
    log.add(
        CoursePublished(
            course_id="bou-ny-handlaggning",
            journey="barn-och-unga",
            level="ny",
            title="Handläggning med barnet i centrum",
        )
    )
    dates = {1: dt.date(2024, 3, 4), 2: dt.date(2024, 3, 5), 3: dt.date(2024, 3, 18)}
    days = tuple(CourseDay(day=d, date=date, mode="on_site") for d, date in dates.items())
    log.add(
        CourseOccasionPlanned(
            occasion_id="o1",
            course_id="bou-ny-handlaggning",
            region_id=REGION,
            capacity=24,
            days=days,
        )
    )
    for trainer, role in ((KARIN, "leader"), (FIA, "trainer"), (ULF, "trainer"), (ROSA, "reserve")):
        log.add(
            TrainerAssigned(
                occasion_id="o1", trainer_id=trainer, municipality_id=HOME[trainer], role=role
            )
        )
    for n in range(1, 23):
        log.add(
            ParticipantRegistered(
                participant_id=f"p{n:02d}",
                municipality_id="kommun-goteborg",
                journey="barn-och-unga",
                role="socialsekreterare",
                level="ny",
                years_in_profession=0.5,
            )
        )
    for day, count in PARTICIPANTS_ON.items():
        when = dt.datetime.combine(dates[day], dt.time(16), tzinfo=dt.UTC)
        for n in range(1, count + 1):
            log.add(CourseDayAttended(participant_id=f"p{n:02d}", occasion_id="o1", day=day), when)
    for day, trainer, role in (
        (1, KARIN, "leader"),
        (1, ULF, "trainer"),
        (2, KARIN, "leader"),
        (2, FIA, "trainer"),
        (3, FIA, "leader"),
        (3, ULF, "trainer"),
    ):
        log.add(
            TrainerDayDelivered(
                occasion_id="o1",
                day=day,
                trainer_id=trainer,
                municipality_id=HOME[trainer],
                role=role,
            ),
            BASE,
        )
    return log.lines()


def test_the_pot_holds_400_kronor_per_participant_day() -> None:
    pot = replay("pot", seed_log(), REGION, 2024)
    assert pot["pot_sek"] == sum(PARTICIPANTS_ON.values()) * 400 == 20_000
    assert pot["total_points"] == 7.5


def test_points_follow_the_role_of_each_delivered_day() -> None:
    pot = replay("pot", seed_log(), REGION, 2024)
    points = {t["trainer_id"]: t["points"] for t in pot["trainers"]}
    assert points == {KARIN: 3.0, FIA: 2.5, ULF: 2.0}  # Rosa, never called in, earns nothing


def test_the_contract_pays_out_the_pot_exactly_where_the_seed_overpays_by_one_krona() -> None:
    pot = replay("pot", seed_log(), REGION, 2024)
    amounts = {t["trainer_id"]: t["amount_sek"] for t in pot["trainers"]}
    point_value = Fraction(pot["pot_sek"]) / Fraction(pot["total_points"])
    assert round(float(point_value), 2) == 2666.67
    # The exact shares are 8 000, 6 666.67 and 5 333.33: one krona is left over after the
    # floors, and it goes to the largest fractional part, Fia's.
    assert amounts == {KARIN: 8000, FIA: 6667, ULF: 5333}
    assert sum(amounts.values()) == 20_000 == pot["pot_sek"]
    assert sum(SEED_AMOUNTS.values()) == 20_001 == pot["pot_sek"] + 1
    assert {t: SEED_AMOUNTS[t] - amounts[t] for t in amounts} == {KARIN: 0, FIA: 0, ULF: 1}


def test_each_share_is_credited_to_the_trainers_home_municipality() -> None:
    pot = replay("pot", seed_log(), REGION, 2024)
    assert pot["municipalities"] == {
        "kommun-kungalv": 6667,
        "kommun-molndal": 8000,
        "kommun-partille": 5333,
    }
    invoices = replay("invoices", seed_log(), REGION, 2024)
    rows = {r["municipality_id"]: r for r in invoices["municipalities"]}
    assert rows["kommun-goteborg"]["gross_sek"] == 50 * 1250
    assert rows["kommun-molndal"]["net_sek"] == -8000
    assert sum(r["net_sek"] for r in rows.values()) == 50 * 1250 - 20_000
