"""Certification's wiring: its event store (completions, certificates, evaluations), the
certification consumer's read tables and the progression read model, in its own database."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from eventsourcing.persistence import IntegrityError
from pydantic import Field, StringConstraints

from services.certification import views
from services.certification.domain import Evaluation
from services.certification.keys import respondent_id, respondent_key
from services.certification.policy import CertificatePolicy
from services.certification.projections import history
from services.certification.projections.consumer import (
    CertificationProjector,
    CertificationRunner,
)
from services.certification.projections.progression import (
    PLACES,
    progression_consumer,
    progression_projector,
)
from shared.platform import schema
from shared.platform.commands import Command
from shared.platform.consumer import AppliedLog, ProjectionRunner
from shared.platform.copies import Known
from shared.platform.db import Database
from shared.platform.errors import CommandRejected, Conflict, NotFound
from shared.platform.projection import FoldProjector
from shared.platform.settings import Settings
from shared.platform.store import ServiceApplication

Score = Annotated[int, Field(ge=1, le=5)]
QuestionId = Annotated[str, StringConstraints(min_length=1, max_length=100,
                                              pattern=r"^[A-Za-z0-9_.:-]+$")]


class SubmitEvaluation(Command):
    """A participant's answers to the questionnaire of an occasion they completed."""

    answers: dict[QuestionId, Score] = Field(min_length=1, max_length=50)
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)] | None = None


class CertificationApplication(ServiceApplication):
    service = "certification"
    name = "certification"


@dataclass
class Certification:
    app: CertificationApplication
    db: Database
    progression: FoldProjector
    places: Known  # which region each municipality belongs to
    respondent_key: bytes = field(default_factory=respondent_key)

    def runner(self) -> ProjectionRunner:
        return ProjectionRunner(progression_consumer(self.progression), self.db)

    def certification_runner(self) -> CertificationRunner:
        return CertificationRunner(CertificationProjector(), self.db, CertificatePolicy(self.app))

    def submit_evaluation(self, participant_id: str, occasion_id: str, cmd: SubmitEvaluation,
                          actor: str | None = None) -> str:
        """Record the answers once per participant and occasion; the respondent id."""
        completed = [c for c in views.certificates_of(self.db, participant_id)
                     if c["occasion_id"] == occasion_id and c["status"] == views.VALID]
        if not completed:
            raise NotFound(f"Du har inget giltigt intyg från kurstillfället {occasion_id}; "
                           "utvärderingen öppnar när kursen är genomförd.")
        course_id = completed[0]["course_id"]
        course = views.view(self.db, "course", course_id) or {}
        questions = {q["question_id"] for q in course.get("questions", ())}
        unknown = sorted(set(cmd.answers) - questions)
        if unknown:
            raise CommandRejected(
                f"Okänd fråga för kursen {course_id}: {', '.join(unknown)}"
                + ("" if questions else " (kursen har inget frågeformulär)"), field="answers")
        respondent = respondent_id(self.respondent_key, participant_id, occasion_id)
        evaluation = Evaluation.submit(respondent_id=respondent, occasion_id=occasion_id,
                                       course_id=course_id, answers=dict(cmd.answers),
                                       comment=cmd.comment, actor=actor)
        try:
            self.app.save(evaluation)
        except IntegrityError:
            raise Conflict("Du har redan besvarat utvärderingen för detta kurstillfälle.",
                           field="occasion_id") from None
        return respondent

    def close(self) -> None:
        self.app.close()
        self.db.close()


def bootstrap(database_url: str | None = None) -> Certification:
    url = database_url or Settings().database_url_for("certification")
    schema.require("certification", url)
    db = Database(url)
    return Certification(CertificationApplication(url), db, progression_projector(),
                         Known(db, PLACES))


def migrate(database_url: str | None = None) -> None:
    """Bring the service's database to this code's schema
    (`services/certification/migrations`), then fill the certificates' history once from
    the envelopes applied before it was kept."""
    url = database_url or Settings().database_url_for("certification")
    schema.upgrade("certification", url)
    db = Database(url)
    try:
        with db.transaction() as cur:
            if not views.history_kept(cur):  # kept since
                views.write_history(cur, history.rows(AppliedLog(db, "certification").envelopes()))
    finally:
        db.close()
