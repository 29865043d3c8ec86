"""Certification's wiring: its event store (for the derived events it records) and the
progression read model in its own database."""

from __future__ import annotations

from dataclasses import dataclass

from services.certification.projections.progression import progression_projector
from shared.platform.consumer import ProjectionRunner
from shared.platform.db import Database
from shared.platform.projection import FoldProjector
from shared.platform.relay import RelayPositions
from shared.platform.settings import Settings
from shared.platform.store import ServiceApplication


class CertificationApplication(ServiceApplication):
    service = "certification"
    name = "certification"


@dataclass
class Certification:
    app: CertificationApplication
    db: Database
    progression: FoldProjector

    def runner(self) -> ProjectionRunner:
        return ProjectionRunner(self.progression, self.db)

    def close(self) -> None:
        self.app.close()
        self.db.close()


def bootstrap(database_url: str | None = None) -> Certification:
    url = database_url or Settings().database_url_for("certification")
    return Certification(CertificationApplication(url), Database(url), progression_projector())


def migrate(database_url: str | None = None) -> None:
    url = database_url or Settings().database_url_for("certification")
    CertificationApplication(url, create_table=True).close()
    db = Database(url)
    RelayPositions(db).migrate()
    ProjectionRunner(progression_projector(), db).migrate()
    db.close()
