"""The trainer pot (utbildarpott): what a region collects for its trainers, and how it is shared.

For every participant-day the region's price list puts `trainer_pot` kronor in the pot of the
day's region and year. At the end of the year the pot is divided in proportion to points, in
whole kronor that add up to the pot exactly (largest remainder): each trainer gets the floor of
their exact share, and the kronor left over go one each to the largest fractional parts, ties
to the smaller `trainer_id`. A municipality is credited the sum of its trainers' amounts. With
no points, nothing is distributed. The arithmetic is exact (fractions), never floating point.

A closed year's pot (CONTRACT.md v1.1) is that of its closed view: the log as recorded by the
`YearClosed`. Days and points recorded later change nothing in it, and nothing in year + 1's pot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from shared.projections.billing import BillingFacts, CountedDay, OnBillingFacts


def divide_pot(pot_sek: int, points: Mapping[str, Fraction]) -> dict[str, int]:
    """Whole kronor per trainer, in proportion to points, adding up to `pot_sek` exactly."""
    total = sum(points.values(), Fraction(0))
    if total <= 0:
        return {}
    shares = {t: pot_sek * p / total for t, p in points.items()}
    amounts = {t: share.numerator // share.denominator for t, share in shares.items()}
    left_over = pot_sek - sum(amounts.values())
    by_remainder = sorted(shares, key=lambda t: (-(shares[t] - amounts[t]), t))
    for trainer_id in by_remainder[:left_over]:
        amounts[trainer_id] += 1
    return amounts


@dataclass(frozen=True, slots=True)
class Share:
    trainer_id: str
    municipality_id: str
    points: Fraction
    amount_sek: int


@dataclass(frozen=True, slots=True)
class Distribution:
    """The pot of one region and year and how it is shared."""

    region_id: str
    year: int
    pot_sek: int
    total_points: Fraction
    trainers: tuple[Share, ...]

    @property
    def municipalities(self) -> dict[str, int]:
        """Credit per municipality: the sum of its trainers' amounts, sorted by id."""
        credits: dict[str, int] = {}
        for share in self.trainers:
            held = credits.get(share.municipality_id, 0)
            credits[share.municipality_id] = held + share.amount_sek
        return dict(sorted(credits.items()))

    def to_dict(self) -> dict[str, Any]:
        """The contract's `pot` replay document."""
        return {
            "region_id": self.region_id,
            "year": self.year,
            "pot_sek": self.pot_sek,
            "total_points": float(self.total_points),
            "trainers": [
                {
                    "trainer_id": s.trainer_id,
                    "municipality_id": s.municipality_id,
                    "points": float(s.points),
                    "amount_sek": s.amount_sek,
                }
                for s in self.trainers
            ],
            "municipalities": self.municipalities,
        }


@dataclass(frozen=True, slots=True)
class PotDays:
    """What a region's pot of a year is made of: the participant-days it counts and the
    kronor each one puts in it (`trainer_pot` of the price list in force)."""

    days: tuple[CountedDay, ...]
    price_sek: int

    @property
    def pot_sek(self) -> int:
        return len(self.days) * self.price_sek


def pot_days(facts: BillingFacts, region_id: str, year: int,
             cutoff: dt.datetime | None | Literal["closed"] = "closed",
             occasion_id: str | None = None) -> PotDays:
    """The days and price of a region's pot of a year: in the closed view once the year is
    closed (`"closed"`, the default), else in the log as recorded by `cutoff` (None: all of
    it); with `occasion_id`, the part of them given on that occasion (the pot is the sum of
    its occasions' parts). The pot, its distribution and every reader of the pot (the
    national dashboard's "pot so far", one occasion at a time) take it from here."""
    if cutoff == "closed":
        cutoff = facts.closed_at(region_id, year)
    days = (facts.counted_days(region_id, year, cutoff) if occasion_id is None
            else facts.counted_days_on(occasion_id, region_id, year, cutoff))
    return PotDays(tuple(days), facts.prices.trainer_pot(region_id, year, cutoff))


def distribute(facts: BillingFacts, region_id: str, year: int) -> Distribution:
    """The pot of a region and year from the billing facts, divided by points: the closed
    view's once the year is closed, else the whole log's."""
    return distribute_as_of(facts, region_id, year, facts.closed_at(region_id, year))


def distribute_as_of(
    facts: BillingFacts, region_id: str, year: int, cutoff: dt.datetime | None
) -> Distribution:
    """The pot of a region and year in the log as recorded by `cutoff` (None: all of it)."""
    pot_sek = pot_days(facts, region_id, year, cutoff).pot_sek
    points = facts.trainer_points(region_id, year, cutoff)
    earned = {t: tp for t, tp in points.items() if tp.points > 0}
    amounts = divide_pot(pot_sek, {t: tp.points for t, tp in earned.items()})
    shares = tuple(
        Share(t, earned[t].municipality_id, earned[t].points, amounts[t]) for t in sorted(amounts)
    )
    total = sum((s.points for s in shares), Fraction(0))
    return Distribution(region_id, year, pot_sek, total, shares)


class Pot(OnBillingFacts):
    """The `pot` projection as a fold; `result` divides the pot of one region and year."""

    def distribution(self, region_id: str, year: int) -> Distribution:
        return distribute(self.facts, region_id, year)

    def result(self, region_id: str, year: int) -> dict[str, Any]:
        return self.distribution(region_id, year).to_dict()
