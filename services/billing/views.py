"""The documents billing's API answers with, read from the billing fold (`shared.projections`):
a municipality's invoice basis with the days behind it, and a trainer's Plattformen page. Pure
functions over the fold; the figures are the fold's own, nothing is counted here."""

from __future__ import annotations

from typing import Any

from shared.events import models as contract
from shared.projections import Invoices
from shared.projections.pot import distribute


def components_of(fold: Invoices, region_id: str, year: int) -> dict[str, int]:
    """The price list's components in force, by name (the fold holds pydantic models or, fed
    from `billing_facts`, the contract's msgspec Structs: both read field by field)."""
    held = fold.facts.prices.components(region_id, year)
    return {name: getattr(held, name) for name in contract.PriceComponents.model_fields}


def empty_row(municipality_id: str) -> dict[str, Any]:
    """The `invoices` row of a municipality with nothing to pay in a region and year."""
    return {"municipality_id": municipality_id, "participant_days": 0, "gross_sek": 0,
            "pot_credit_sek": 0, "adjustment_days": 0, "adjustment_sek": 0, "net_sek": 0}


def price_list(fold: Invoices, region_id: str, year: int) -> dict[str, Any]:
    prices = fold.facts.prices
    return {"region_id": region_id, "year": year,
            "components": components_of(fold, region_id, year),
            "points": {role: float(prices.points(region_id, year, role))
                       for role in ("leader", "trainer")},
            "price_sek": prices.price(region_id, year)}


def invoice_basis(fold: Invoices, region_id: str, year: int,
                  municipality_id: str) -> dict[str, Any]:
    """One municipality's row of the contract's `invoices` document, the price list behind
    it, the participant-days it is made of (a closed year's as closed) and those behind its
    adjustment from the closed year before, with their sign."""
    with fold.facts.memo():  # the document, its pot and the lines count the same days
        document = fold.result(region_id, year)
        cutoff = fold.facts.closed_at(region_id, year)  # a closed year: its closed view
        lines = sorted((d.date, d.plan.occasion_id, d.day, d.participant_id)
                       for d in fold.facts.counted_days(region_id, year, cutoff)
                       if d.municipality_id == municipality_id)
    row = next((r for r in document["municipalities"]
                if r["municipality_id"] == municipality_id), None)
    adjusted, _ = fold.adjustment_lines(region_id, year, cutoff)
    adjustments = sorted((d.date, d.plan.occasion_id, d.day, d.participant_id, sign)
                         for d, sign in adjusted if d.municipality_id == municipality_id)
    return {**(row or empty_row(municipality_id)),
            "price_sek": document["price_sek"],
            "components": components_of(fold, region_id, year),
            "lines": [{"occasion_id": o, "day": day, "date": date.isoformat(),
                       "participant_id": p} for date, o, day, p in lines],
            "adjustment_lines": [{"occasion_id": o, "day": day, "date": date.isoformat(),
                                  "participant_id": p, "days": sign}
                                 for date, o, day, p, sign in adjustments]}


def plattformen(fold: Invoices, trainer_id: str, year: int,
                assignments: dict[str, str]) -> dict[str, Any]:
    """A trainer's year: the teams they are on (`assignments`, occasion -> role), the days
    they delivered, and per region their points and expected share of the pot as divided
    today (the closed division once the region has closed the year)."""
    facts = fold.facts
    regions = sorted({d.plan.region_id for d in facts.trainer_days(None, year)
                      if d.trainer_id == trainer_id})
    delivered: list[dict[str, Any]] = []
    pots = []
    for region_id in regions:
        cutoff = facts.closed_at(region_id, year)
        pot = distribute(facts, region_id, year)
        share = next((s for s in pot.trainers if s.trainer_id == trainer_id), None)
        pots.append({"region_id": region_id, "closed": cutoff is not None,
                     "pot_sek": pot.pot_sek, "total_points": float(pot.total_points),
                     "points": float(share.points) if share else 0.0,
                     "expected_share_sek": share.amount_sek if share else 0})
        delivered += [{"occasion_id": d.plan.occasion_id, "course_id": d.plan.course_id,
                       "region_id": region_id, "day": d.day, "date": d.date.isoformat(),
                       "role": d.role,
                       "points": float(facts.prices.points(region_id, year, d.role, cutoff))}
                      for d in facts.trainer_days(region_id, year, cutoff)
                      if d.trainer_id == trainer_id]
    delivered.sort(key=lambda d: (d["date"], d["occasion_id"], d["day"]))
    return {"points": sum(p["points"] for p in pots),
            "expected_share_sek": sum(p["expected_share_sek"] for p in pots),
            "assignments": [_team(fold, occasion_id, role)
                            for occasion_id, role in assignments.items()],
            "days_delivered": delivered, "pots": pots}


def _team(fold: Invoices, occasion_id: str, role: str) -> dict[str, Any]:
    plan = fold.facts.occasions.plan(occasion_id)
    return {"occasion_id": occasion_id, "role": role,
            "course_id": plan.course_id if plan else None,
            "region_id": plan.region_id if plan else None,
            "dates": sorted(d.isoformat() for d in plan.dates.values()) if plan else []}
