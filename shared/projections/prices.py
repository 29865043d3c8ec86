"""Price lists per region and year; GR's model wherever a region has set none.

The latest `PriceListSet` (by `occurred_at`) of a region and year is in force; a closed year
reads the one in force in the log as recorded by its close (`cutoff`).

GR's model is the default of the contract's own `PriceComponents` and `Points`, so the
numbers (1 250 kr a participant-day, 400 of it to the trainer pot; points 1.5 and 1.0) live in
one place, the contract.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import cast

from shared.events import Envelope
from shared.events.models import Points, PriceComponents, PriceListSet
from shared.projections.versions import AsOfMap, packed_stamp, recorded_instant

GR_COMPONENTS = PriceComponents()
GR_POINTS = Points()


def exact(points: float) -> Fraction:
    """Points as the decimal a person wrote (1.5, 0.1), not the float's binary expansion."""
    return Fraction(repr(points))


class PriceLists:
    """The price list in force per (region, year); the latest `PriceListSet` wins."""

    __slots__ = ("_lists",)

    def __init__(self) -> None:
        self._lists: AsOfMap[tuple[str, int], tuple[PriceComponents, Points]] = AsOfMap()

    def price_list_set(self, env: Envelope) -> bool:
        data = cast(PriceListSet, env.data)
        return self._lists.offer((data.region_id, data.year), packed_stamp(env),
                                 recorded_instant(env), (data.components, data.points))

    def _in_force(
        self, region_id: str, year: int, cutoff: dt.datetime | None
    ) -> tuple[PriceComponents, Points] | None:
        return self._lists.latest((region_id, year), cutoff)

    def components(
        self, region_id: str, year: int, cutoff: dt.datetime | None = None
    ) -> PriceComponents:
        held = self._in_force(region_id, year, cutoff)
        return GR_COMPONENTS if held is None else held[0]

    def price(self, region_id: str, year: int, cutoff: dt.datetime | None = None) -> int:
        """Kronor per participant per course day: the sum of the components."""
        return self.components(region_id, year, cutoff).price

    def trainer_pot(self, region_id: str, year: int, cutoff: dt.datetime | None = None) -> int:
        """Kronor per participant-day that go to the region's trainer pot (utbildarpott)."""
        return self.components(region_id, year, cutoff).trainer_pot

    def points(
        self, region_id: str, year: int, role: str, cutoff: dt.datetime | None = None
    ) -> Fraction:
        """Points one delivered day earns in `role` (`leader` or `trainer`)."""
        held = self._in_force(region_id, year, cutoff)
        points = GR_POINTS if held is None else held[1]
        return exact(points.leader if role == "leader" else points.trainer)
