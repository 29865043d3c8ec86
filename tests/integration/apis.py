"""The four services' HTTP APIs on one database, seeded with a little data (two regions, three
municipalities, participants and a trainer, the shipped catalogue, a course occasion with a
booking and the trainer, the copies the consumers keep, fed from the stores), and a bearer
token for each role, scoped to that data. For tests that throw odd input at every API: the
seed lets requests reach past "unknown id" into the code behind it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from services.billing import application as billing
from services.billing.adapters.http import create_api as billing_api
from services.certification import application as certification
from services.certification.adapters.http import create_api as certification_api
from services.enrolment import application as enrolment
from services.enrolment.adapters.http import create_api as enrolment_api
from services.scheduling import application as scheduling
from services.scheduling.adapters.http import create_api as scheduling_api
from shared.platform.auth import Principal, Role
from shared.platform.store import ServiceApplication
from tests.feeding import pump
from tests.tokens import mint

SERVICES = ("enrolment", "scheduling", "certification", "billing")
DALARNA, SORMLAND = "rss-dalarna", "region-sormland"
COURSE_ID = "bou-ny-samtal"
@dataclass
class Seeded:
    """The four APIs, the ids the seed created, and one token per role."""

    apis: dict[str, FastAPI]
    stores: dict[str, ServiceApplication]
    participants: list[str]
    trainer_id: str
    occasion_id: str
    tokens: dict[str, str] = field(default_factory=dict)
    closers: list[Any] = field(default_factory=list)

    def events(self) -> dict[str, int]:
        """Events recorded so far, per service."""
        return {name: s.recorder.max_notification_id() or 0 for name, s in self.stores.items()}

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def close(self) -> None:
        for close in self.closers:
            close()


def urls(url: str) -> dict[str, str]:
    """Each service's database: one PostgreSQL database holds all four (each has its own
    tables), while on SQLite each service has its own file, as `make run` has it."""
    if not url.startswith("sqlite:"):
        return dict.fromkeys(SERVICES, url)
    return {name: url.replace(".sqlite", f"-{name}.sqlite") for name in SERVICES}


def seeded(url: str) -> Iterator[Seeded]:
    """Migrate and seed every service on `url`; yields the APIs, closes them afterwards."""
    at = urls(url)
    for name, module in (("enrolment", enrolment), ("scheduling", scheduling),
                         ("certification", certification), ("billing", billing)):
        module.migrate(at[name])  # type: ignore[attr-defined]
    e, s = enrolment.bootstrap(at["enrolment"]), scheduling.bootstrap(at["scheduling"])
    c, b = certification.bootstrap(at["certification"]), billing.bootstrap(at["billing"])

    def sync() -> None:
        """What the consumers would have applied by now: the copies follow the stores."""
        for runner in (s.runner(), e.runner(), c.runner()):
            pump(runner, e.app, s.app)

    participants, trainer_id = _enrol(e)
    sync()
    occasion_id = _schedule(s, participants[0], trainer_id)
    sync()
    world = Seeded(
        apis={"enrolment": enrolment_api(e), "scheduling": scheduling_api(s),
              "certification": certification_api(c), "billing": billing_api(b)},
        stores={"enrolment": e.app, "scheduling": s.app, "certification": c.app,
                "billing": b.app},
        participants=participants, trainer_id=trainer_id, occasion_id=occasion_id,
        closers=[e.close, s.close, c.close, b.close])
    world.tokens = {role: mint(principal)
                    for role, principal in principals(participants[0], trainer_id).items()}
    try:
        yield world
    finally:
        world.close()


def principals(participant_id: str, trainer_id: str) -> dict[str, Principal]:
    """One of each role, scoped to the seeded Falun, Dalarna, participant and trainer."""
    return {
        "system": Principal(subject="sys", role=Role.SYSTEM),
        "municipal_admin": Principal(subject="adm", role=Role.MUNICIPAL_ADMIN,
                                     municipality_id="falun"),
        "regional_coordinator": Principal(subject="co", role=Role.REGIONAL_COORDINATOR,
                                          region_id=DALARNA),
        "participant": Principal(subject="p", role=Role.PARTICIPANT,
                                 participant_id=participant_id, municipality_id="falun"),
        "trainer": Principal(subject="t", role=Role.TRAINER, trainer_id=trainer_id),
        "national_analyst": Principal(subject="na", role=Role.NATIONAL_ANALYST),
        "auditor": Principal(subject="au", role=Role.AUDITOR),
        "name_reader": Principal(subject="service:certification", role=Role.NAME_READER),
        "address_reader": Principal(subject="service:notification", role=Role.ADDRESS_READER),
    }


def _enrol(e: enrolment.Enrolment) -> tuple[list[str], str]:
    """Reference data, three participants (two in Falun) and a trainer in Falun."""
    e.register_region(enrolment.RegisterRegion(region_id=DALARNA, name="RSS Dalarna"))
    e.register_region(enrolment.RegisterRegion(region_id=SORMLAND, name="Region Sörmland"))
    for mid, name, rid in (("falun", "Falun", DALARNA), ("mora", "Mora", DALARNA),
                           ("nykoping", "Nyköping", SORMLAND)):
        e.join_municipality(enrolment.JoinMunicipality(municipality_id=mid, name=name,
                                                       region_id=rid))
    participants = [e.register_participant(enrolment.RegisterParticipant(
        municipality_id=municipality, name=f"Person {n}", email=f"person{n}@example.se",
        role="socialsekreterare", years_in_profession=n,
        occurred_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
        for n, municipality in enumerate(("falun", "falun", "mora"))]
    trainer_id = e.register_trainer(enrolment.RegisterTrainer(
        municipality_id="falun", name="Karin Utbildare", email="karin@falun.example.se"))
    return participants, trainer_id


def _schedule(s: scheduling.Scheduling, participant_id: str, trainer_id: str) -> str:
    s.publish_catalogue(actor="test")
    occasion_id = s.plan_occasion(scheduling.PlanOccasion.model_validate({
        "course_id": COURSE_ID, "region_id": DALARNA, "capacity": 20,
        "days": [{"day": 1, "date": "2025-03-07", "mode": "digital"},
                 {"day": 2, "date": "2025-03-14", "mode": "on_site", "venue": "Falun"}]}))
    s.book(occasion_id, scheduling.BookParticipant(participant_id=participant_id))
    s.assign_trainer(occasion_id, scheduling.AssignTrainer.model_validate(
        {"trainer_id": trainer_id, "role": "leader"}))
    return occasion_id
