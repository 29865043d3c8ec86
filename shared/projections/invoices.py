"""The invoice basis (fakturaunderlag) per municipality, region and year.

A municipality pays participant-days × the price of the region and year (the sum of the price
list's components), less the credit its trainers earned from the trainer pot, plus its
adjustment from a closed year − 1. Participant-days and the credit come from the same facts and
the same pot division as the `pot` projection, so the two always agree.

Closed years (CONTRACT.md v1.1): the basis of a year closed at T is that of its closed view, the
log as recorded by T. What is recorded later about a closed year (a late report, a withdrawal,
a move recorded late) shows instead on the basis of the region's year + 1, per municipality:
`adjustment_days` = the closed year's participant-days in the whole log minus those in its
closed view, `adjustment_sek` = `adjustment_days` × the closed year's price in its closed view.
"The whole log" is the view the year + 1 basis itself is read in: the closed view of year + 1
once that year is closed too (and year − 1 counts as closed there only if its close was recorded
by then).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Any

from shared.projections.billing import CountedDay, OnBillingFacts
from shared.projections.pot import distribute_as_of


def _keyed(days: Iterable[CountedDay]) -> dict[tuple[str, str, int, str], CountedDay]:
    """Participant-days by (municipality charged, occasion, day, participant)."""
    return {(d.municipality_id, d.plan.occasion_id, d.day, d.participant_id): d for d in days}


class Invoices(OnBillingFacts):
    """The `invoices` projection as a fold."""

    def adjustment_lines(
        self, region_id: str, year: int, cutoff: dt.datetime | None = None
    ) -> tuple[list[tuple[CountedDay, int]], int]:
        """The participant-days behind the adjustments carried from the closed year − 1 into
        `year`'s basis read as recorded by `cutoff`: each day of the closed year that counts in
        that view but not in the closed view (+1), or the reverse (−1; a withdrawal, a move
        recorded late shows as −1 on one municipality and +1 on another); and the closed year's
        price. None if year − 1 is not closed in that view."""
        facts, closed_year = self.facts, year - 1
        closed_at = facts.closed_at(region_id, closed_year)
        if closed_at is None or (cutoff is not None and closed_at > cutoff):
            return [], 0
        later = _keyed(facts.counted_days(region_id, closed_year, cutoff))
        frozen = _keyed(facts.counted_days(region_id, closed_year, closed_at))
        lines = [(d, 1) for key, d in later.items() if key not in frozen]
        lines += [(d, -1) for key, d in frozen.items() if key not in later]
        return lines, facts.prices.price(region_id, closed_year, closed_at)

    def adjustments(
        self, region_id: str, year: int, cutoff: dt.datetime | None = None
    ) -> tuple[Counter[str], int]:
        """Adjustment days per municipality carried from the closed year − 1 into `year`'s
        basis read as recorded by `cutoff`, and the closed year's price; none if year − 1 is
        not closed in that view."""
        lines, price = self.adjustment_lines(region_id, year, cutoff)
        days: Counter[str] = Counter()
        for day, sign in lines:
            days[day.municipality_id] += sign
        return Counter({m: n for m, n in days.items() if n}), price

    def result(self, region_id: str, year: int) -> dict[str, Any]:
        """The contract's `invoices` replay document: every municipality with days, credit or
        an adjustment."""
        cutoff = self.facts.closed_at(region_id, year)
        price = self.facts.prices.price(region_id, year, cutoff)
        with self.facts.memo():  # the days and the pot's credits count the same days
            days = self.facts.participant_days(region_id, year, cutoff)
            credits = distribute_as_of(self.facts, region_id, year, cutoff).municipalities
        adjustment_days, closed_price = self.adjustments(region_id, year, cutoff)
        rows = []
        for municipality_id in sorted(days.keys() | credits.keys() | adjustment_days.keys()):
            gross = days[municipality_id] * price
            credit = credits.get(municipality_id, 0)
            adjusted = adjustment_days[municipality_id]
            adjustment = adjusted * closed_price
            rows.append(
                {
                    "municipality_id": municipality_id,
                    "participant_days": days[municipality_id],
                    "gross_sek": gross,
                    "pot_credit_sek": credit,
                    "adjustment_days": adjusted,
                    "adjustment_sek": adjustment,
                    "net_sek": gross - credit + adjustment,
                }
            )
        return {"region_id": region_id, "year": year, "price_sek": price, "municipalities": rows}
