"""Billing's wiring: its event store and relay position table."""

from __future__ import annotations

from shared.platform.db import Database
from shared.platform.relay import RelayPositions
from shared.platform.settings import Settings
from shared.platform.store import ServiceApplication


class BillingApplication(ServiceApplication):
    service = "billing"
    name = "billing"


def bootstrap(database_url: str | None = None) -> BillingApplication:
    return BillingApplication(database_url or Settings().database_url_for("billing"))


def migrate(database_url: str | None = None) -> None:
    url = database_url or Settings().database_url_for("billing")
    BillingApplication(url, create_table=True).close()
    db = Database(url)
    RelayPositions(db).migrate()
    db.close()
