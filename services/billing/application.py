"""Billing's commands and queries, and `bootstrap()` that wires the service.

Commands (a price list, a year closed) are validated at the edge and recorded in billing's
own event store, or refused with nothing recorded. Everything billing reports (charges,
points, the trainer pot, the invoice basis) is a fold of `shared.projections` over the facts
its consumer received from the bus (`projections/facts.py`): the same fold, the same answer,
as `yrkesresan replay` over an exported log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from pydantic import Field

from services.billing import views
from services.billing.domain import (
    PotDistributed,
    PriceList,
    RegionYear,
    price_list_key,
    region_year_key,
)
from services.billing.projections.facts import (
    PREFIX,
    BillingRunner,
    BillingView,
    billing_runner,
)
from shared.events import models as contract
from shared.platform import schema
from shared.platform.commands import Command
from shared.platform.copies import Known
from shared.platform.db import Database
from shared.platform.errors import CommandRejected, Conflict
from shared.platform.settings import Settings
from shared.platform.store import ServiceApplication, utcnow
from shared.projections.pot import Distribution, distribute

# Bounds a price list is typed within: a slip of the keyboard, not a price, beyond them.
Amount = Annotated[int, Field(ge=0, le=100_000)]
PointsPerDay = Annotated[float, Field(ge=0, le=100)]


class Components(Command):
    """Kronor per participant per course day; GR's model where left out."""

    venue_and_fika: Amount = 300
    administration: Amount = 400
    trainer_pot: Amount = 400
    course_material: Amount = 100
    buffer: Amount = 50


class DayPoints(Command):
    leader: PointsPerDay = 1.5
    trainer: PointsPerDay = 1.0


class SetPriceList(Command):
    """A region's price list for a year (its components and the points a delivered day earns)."""

    components: Components = Components()
    points: DayPoints = DayPoints()


class BillingApplication(ServiceApplication):
    service = "billing"
    name = "billing"


@dataclass
class Billing:
    """The service's entry point: its store, the fold of the bus's facts, its copy."""

    app: BillingApplication
    view: BillingView
    known: Known
    clock: Callable[[], dt.datetime] = field(default=utcnow)

    @property
    def db(self) -> Database:
        return self.known.db

    # -- commands ---------------------------------------------------------------------------

    def set_price_list(self, region_id: str, year: int, cmd: SetPriceList,
                       actor: str | None = None) -> dict[str, Any]:
        if self.closed(region_id, year) is not None:
            raise Conflict(f"Året {year} är stängt för {region_id}; dess prislista gäller som "
                           "den var vid årsavslutet och kan inte ändras.", field="year")
        key = price_list_key(region_id, year)
        try:
            price_list = self.app.load(PriceList, key)
        except AggregateNotFoundError:
            price_list = PriceList(key)
        components = contract.PriceComponents.model_validate(cmd.components.model_dump())
        points = contract.Points.model_validate(cmd.points.model_dump())
        price_list.set(region_id, year, components, points, actor=actor)
        try:
            self.app.save(price_list)
        except IntegrityError:
            raise Conflict("Prislistan ändrades samtidigt; försök igen.") from None
        return {"region_id": region_id, "year": year,
                "components": components.model_dump(), "points": points.model_dump(),
                "price_sek": components.price}

    def close_year(self, region_id: str, year: int, actor: str | None = None) -> PotDistributed:
        """Close the region's year: `YearClosed` and the pot as divided now, recorded together.
        A year is closed once; a year still to come cannot be closed."""
        if year > self.clock().year:
            raise CommandRejected(f"Året {year} har inte börjat; ett år stängs när det är "
                                  "genomfört.", field="year")
        key = region_year_key(region_id, year)
        try:
            region_year = self.app.load(RegionYear, key)
        except AggregateNotFoundError:
            region_year = RegionYear(key)
        pot = self.pot(region_id, year)
        distributed = region_year.close(region_id, year, pot, actor=actor)
        try:
            self.app.save(region_year)
        except IntegrityError:
            raise Conflict(f"Året {year} stängdes samtidigt för {region_id}; "
                           "ett år stängs en gång.", field="year") from None
        return distributed

    def closed(self, region_id: str, year: int) -> PotDistributed | None:
        """The pot as recorded when the year was closed; None while it is open."""
        try:
            return self.app.load(RegionYear, region_year_key(region_id, year)).distribution
        except AggregateNotFoundError:
            return None

    # -- queries (the folds of shared/projections) ------------------------------------------

    def pot(self, region_id: str, year: int) -> Distribution:
        return self.view.read(lambda f: distribute(f.facts, region_id, year))

    def invoices(self, region_id: str, year: int) -> dict[str, Any]:
        """The contract's `invoices` document for the region and year."""
        return self.view.read(lambda f: f.result(region_id, year))

    def price_list(self, region_id: str, year: int) -> dict[str, Any]:
        """The price list in force: the region's own for the year, else GR's model."""
        return self.view.read(lambda f: views.price_list(f, region_id, year))

    def invoice_basis(self, region_id: str, year: int, municipality_id: str) -> dict[str, Any]:
        """One municipality's invoice basis (fakturaunderlag) in a region and year, with the
        participant-days behind it (`views.invoice_basis`) and the names people file it by."""
        basis = self.view.read(lambda f: views.invoice_basis(f, region_id, year,
                                                             municipality_id))
        return {"region_id": region_id,
                "region_name": self.known.name_of_region(region_id) or region_id,
                "municipality_name": (self.known.name_of_municipality(municipality_id)
                                      or municipality_id),
                "year": year, "closed": self.closed(region_id, year) is not None, **basis}

    def plattformen(self, trainer_id: str, year: int) -> dict[str, Any]:
        """Plattformen, a trainer's own page (`views.plattformen`): the teams they are on now
        (billing's copy of the bus), the days they delivered, their points and the pot share
        they can expect at today's figures."""
        assignments = self.known.assignments_of(trainer_id)
        trainer = self.known.trainer(trainer_id)
        page = self.view.read(lambda f: views.plattformen(f, trainer_id, year, assignments))
        return {"trainer_id": trainer_id, "year": year,
                "municipality_id": trainer.municipality_id if trainer else None, **page}

    def runner(self) -> BillingRunner:
        """What the `billing` consumer applies the bus's envelopes with."""
        return billing_runner(self.db)

    def close(self) -> None:
        self.app.close()
        self.db.close()


def bootstrap(database_url: str | None = None) -> Billing:
    url = database_url or Settings().database_url_for("billing")
    schema.require("billing", url)
    db = Database(url)
    return Billing(BillingApplication(url), BillingView(db), Known(db, PREFIX))


def migrate(database_url: str | None = None) -> None:
    """Bring the service's database to this code's schema (`services/billing/migrations`)."""
    schema.upgrade("billing", database_url or Settings().database_url_for("billing"))
