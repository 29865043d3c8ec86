"""Who may do what in billing, per role and scope; one function per decision.

System may do everything. Otherwise (403 for a role that may never, decided before any id is
looked up; out of scope answered exactly like unknown, 404, `shared.platform.access`):

| what | who |
| --- | --- |
| read a region's price list for a year | every role (reference data) |
| set a region's price list, close a region's year | the regional coordinator of that region |
| a region's trainer pot and its invoice summary | the regional coordinator of that region |
| one municipality's invoice basis in a region and year (JSON, CSV, PDF) | the municipal administrator of that municipality; the regional coordinator of that region |
| Plattformen: a trainer's assignments, days, points and expected pot share | the trainer themself; the regional coordinator of the trainer's home municipality's region |

Which regions and municipalities exist, a municipality's region and a trainer's home
municipality come from billing's copy of the bus (`projections/facts.py`), never from the
request. The participants behind an invoice line appear by id only.
"""  # noqa: E501

from __future__ import annotations

from shared.platform.access import hidden
from shared.platform.auth import Principal, Role, require
from shared.platform.copies import Known

ADMIN, COORDINATOR, TRAINER = Role.MUNICIPAL_ADMIN, Role.REGIONAL_COORDINATOR, Role.TRAINER


def read_prices(known: Known, region_id: str) -> None:
    if not known.region_exists(region_id):
        raise hidden("region_id", region_id)


def coordinate(who: Principal, known: Known, region_id: str) -> None:
    """Price lists, year close, the pot and the region's invoices: its coordinator."""
    require(who, COORDINATOR)
    if (who.role is COORDINATOR and who.region_id != region_id) or not known.region_exists(
            region_id):
        raise hidden("region_id", region_id)


def invoice_of(who: Principal, known: Known, region_id: str, municipality_id: str) -> None:
    """One municipality's invoice basis in a region: its administrator, the region's
    coordinator."""
    require(who, ADMIN, COORDINATOR)
    if (who.role is COORDINATOR and who.region_id != region_id) or not known.region_exists(
            region_id):
        raise hidden("region_id", region_id)
    if (who.role is ADMIN and who.municipality_id != municipality_id) or (
            known.region_of(municipality_id) is None):
        raise hidden("municipality_id", municipality_id)


def plattformen(who: Principal, known: Known, trainer_id: str) -> None:
    require(who, TRAINER, COORDINATOR)
    trainer = known.trainer(trainer_id)
    if trainer is None or (
        (who.role is TRAINER and who.trainer_id != trainer_id)
        or (who.role is COORDINATOR and who.region_id != trainer.region_id)
    ):
        raise hidden("trainer_id", trainer_id)
