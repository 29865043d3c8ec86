"""Billing's aggregates and the events they record.

`PriceList` is one region's price list for one year (`PriceListSet`, published as reference
data); setting it again records the new list, the latest `occurred_at` wins everywhere.

`RegionYear` is one region's year as billing closes it. Its id is derived from (region, year),
so closing twice addresses the same aggregate: the second close is refused by the aggregate,
and two closes at once conflict in the store instead of both being recorded. The close records
`YearClosed` and `PotDistributed` together: the pot division is decided once, with the close,
from the pot fold (`shared.projections.pot`), and never again.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from shared.events import models as contract
from shared.platform.errors import Conflict
from shared.platform.store import Aggregate, DomainEvent, aggregate_id
from shared.projections.pot import Distribution


class PriceListSet(DomainEvent, contract.PriceListSet):
    pass


class YearClosed(DomainEvent, contract.YearClosed):
    pass


class PotDistributed(DomainEvent, contract.PotDistributed):
    pass


def region_year_key(region_id: str, year: int) -> uuid.UUID:
    return aggregate_id("region-year", f"{region_id}|{year}")


def price_list_key(region_id: str, year: int) -> uuid.UUID:
    return aggregate_id("price-list", f"{region_id}|{year}")


class PriceList(Aggregate):
    def set(self, region_id: str, year: int, components: contract.PriceComponents,
            points: contract.Points, **provenance: Any) -> None:
        self.trigger(PriceListSet, region_id=region_id, year=year, components=components,
                     points=points, **provenance)


class RegionYear(Aggregate):
    def __init__(self, id: uuid.UUID) -> None:
        super().__init__(id)
        self.closed_at: dt.datetime | None = None
        self.distribution: PotDistributed | None = None

    def when_YearClosed(self, e: YearClosed) -> None:  # noqa: N802
        self.closed_at = e.timestamp

    def when_PotDistributed(self, e: PotDistributed) -> None:  # noqa: N802
        self.distribution = e

    def close(self, region_id: str, year: int, pot: Distribution,
              **provenance: Any) -> PotDistributed:
        """Close the year and record its pot as divided; refused when closed before."""
        if self.closed_at is not None:
            raise Conflict(f"Året {year} är redan stängt för {region_id} "
                           f"(stängdes {self.closed_at:%Y-%m-%d %H:%M} UTC); "
                           "ett år stängs en gång.", field="year")
        self.trigger(YearClosed, region_id=region_id, year=year, **provenance)
        shares = [contract.PotShare(trainer_id=s.trainer_id, municipality_id=s.municipality_id,
                                    points=float(s.points), amount_sek=s.amount_sek)
                  for s in pot.trainers]
        return self.trigger(PotDistributed, region_id=region_id, year=year,
                            pot_sek=pot.pot_sek, total_points=float(pot.total_points),
                            trainers=tuple(shares), **provenance)
