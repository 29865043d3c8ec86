"""The invoice basis (fakturaunderlag) per municipality, region and year.

A municipality pays participant-days × the price of the region and year (the sum of the price
list's components), less the credit its trainers earned from the trainer pot. Participant-days
and the credit come from the same facts and the same pot division as the `pot` projection, so
the two always agree.
"""

from __future__ import annotations

from typing import Any

from shared.projections.billing import OnBillingFacts
from shared.projections.pot import distribute


class Invoices(OnBillingFacts):
    """The `invoices` projection as a fold."""

    def result(self, region_id: str, year: int) -> dict[str, Any]:
        """The contract's `invoices` replay document: every municipality with days or credit."""
        price = self.facts.prices.price(region_id, year)
        days = self.facts.participant_days(region_id, year)
        credits = distribute(self.facts, region_id, year).municipalities
        rows = []
        for municipality_id in sorted(days.keys() | credits.keys()):
            gross = days[municipality_id] * price
            credit = credits.get(municipality_id, 0)
            rows.append(
                {
                    "municipality_id": municipality_id,
                    "participant_days": days[municipality_id],
                    "gross_sek": gross,
                    "pot_credit_sek": credit,
                    "net_sek": gross - credit,
                }
            )
        return {"region_id": region_id, "year": year, "price_sek": price, "municipalities": rows}
