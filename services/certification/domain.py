"""Certification's aggregates and the events they record.

`CertifiedCompletion` is one completion (participant, course, occasion) and the certificate
that it yields. Its id is derived from that triple, so two writers deciding the same completion
address the same aggregate: the second save conflicts instead of minting a second certificate,
and a decision repeated after a crash finds the certificate already there. The certificate id
is a minted UUID kept in the aggregate. A completion that is lost (a withdrawn day) revokes its
certificate; should it hold again later, a new certificate is issued.

`Evaluation` is one respondent's answers to an occasion's questionnaire (utvärdering). Its id is
derived from the respondent id, itself a keyed hash of (participant, occasion), so a second
submission conflicts. The free text never leaves the service: it is a private event.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Any

from shared.events import models as contract
from shared.platform.store import Aggregate, DomainEvent, aggregate_id

VERIFICATION_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed


class CourseCompleted(DomainEvent, contract.CourseCompleted):
    pass


class CertificateIssued(DomainEvent, contract.CertificateIssued):
    """Beside the contract's ids (what the relay publishes), what the certificate says and
    only this service keeps: its verification code, region, completion date, and the
    evidence behind it (event ids and dates, no names)."""

    verification_code: str = ""
    region_id: str = ""
    completed_on: dt.date | None = None
    evidence: tuple[dict[str, Any], ...] = ()


class CertificateRevoked(DomainEvent, contract.CertificateRevoked):
    pass


class CertificateDetailsRecorded(DomainEvent):
    """Read in stores written before these details moved into `CertificateIssued`."""

    certificate_id: str
    verification_code: str
    region_id: str
    completed_on: dt.date
    evidence: tuple[dict[str, Any], ...] = ()


class EvaluationSubmitted(DomainEvent, contract.EvaluationSubmitted):
    pass


class EvaluationCommented(DomainEvent):
    """The optional free text of an evaluation: kept in certification's database only."""

    comment: str


def completion_key(participant_id: str, course_id: str, occasion_id: str) -> uuid.UUID:
    return aggregate_id("completion", f"{participant_id}|{course_id}|{occasion_id}")


def evaluation_key(respondent_id: str) -> uuid.UUID:
    return aggregate_id("evaluation", respondent_id)


def new_verification_code() -> str:
    """Twelve characters from 32 (60 bits), shown as XXXX-XXXX-XXXX: unguessable, typeable."""
    bits = secrets.randbits(60)  # one call: an import mints one per certificate it brings
    raw = "".join(VERIFICATION_ALPHABET[(bits >> (5 * i)) & 31] for i in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


class CertifiedCompletion(Aggregate):
    participant_id: str
    course_id: str
    occasion_id: str

    def __init__(self, id: uuid.UUID) -> None:
        super().__init__(id)
        self.completed = False
        self.certificate_id: str | None = None
        self.verification_code: str | None = None
        self.region_id = ""
        self.completed_on: dt.date | None = None
        self.evidence: tuple[dict[str, Any], ...] = ()
        self.issued_at: dt.datetime | None = None
        self.revoked: dict[str, tuple[str, dt.datetime]] = {}  # certificate -> (reason, when)
        self.certificates: list[str] = []

    @classmethod
    def start(cls, participant_id: str, course_id: str, occasion_id: str) -> CertifiedCompletion:
        completion = cls(completion_key(participant_id, course_id, occasion_id))
        completion.participant_id = participant_id
        completion.course_id = course_id
        completion.occasion_id = occasion_id
        return completion

    @property
    def active(self) -> bool:
        return self.completed and self.certificate_id is not None

    def complete(self, *, region_id: str, completed_on: dt.date,
                 evidence: tuple[dict[str, Any], ...], occurred_at: dt.datetime,
                 actor: str | None = None) -> bool:
        """Record the completion and issue its certificate; False when it already holds."""
        if self.active:
            return False
        ids = {"participant_id": self.participant_id, "course_id": self.course_id,
               "occasion_id": self.occasion_id}
        certificate_id = str(uuid.uuid4())
        common: dict[str, Any] = {"occurred_at": occurred_at, "actor": actor}
        self.trigger(CourseCompleted, **ids, **common)
        self.trigger(CertificateIssued, certificate_id=certificate_id, **ids, **common,
                     verification_code=new_verification_code(), region_id=region_id,
                     completed_on=completed_on, evidence=evidence)
        return True

    def lose(self, reason: str, occurred_at: dt.datetime, actor: str | None = None) -> bool:
        """Revoke the certificate of a completion that no longer holds; False if none is."""
        if not self.active:
            return False
        self.trigger(CertificateRevoked, certificate_id=self.certificate_id, reason=reason,
                     participant_id=self.participant_id, occurred_at=occurred_at, actor=actor)
        return True

    def when_CourseCompleted(self, e: CourseCompleted) -> None:  # noqa: N802
        self.participant_id, self.course_id = e.participant_id, e.course_id
        self.occasion_id = e.occasion_id
        self.completed = True

    def when_CertificateIssued(self, e: CertificateIssued) -> None:  # noqa: N802
        self.certificate_id = e.certificate_id
        self.issued_at = e.timestamp
        self.certificates.append(e.certificate_id)
        if e.verification_code:
            self.verification_code = e.verification_code
            self.region_id = e.region_id
            self.completed_on = e.completed_on
            self.evidence = e.evidence

    def when_CertificateDetailsRecorded(self, e: CertificateDetailsRecorded) -> None:  # noqa: N802
        self.verification_code = e.verification_code
        self.region_id = e.region_id
        self.completed_on = e.completed_on
        self.evidence = e.evidence

    def when_CertificateRevoked(self, e: CertificateRevoked) -> None:  # noqa: N802
        self.revoked[e.certificate_id] = (e.reason, e.timestamp)
        self.completed = False
        self.certificate_id = None


class Evaluation(Aggregate):
    def __init__(self, id: uuid.UUID) -> None:
        super().__init__(id)
        self.submitted = False

    @classmethod
    def submit(cls, *, respondent_id: str, occasion_id: str, course_id: str,
               answers: dict[str, int], comment: str | None,
               actor: str | None = None) -> Evaluation:
        evaluation = cls(evaluation_key(respondent_id))
        evaluation.trigger(EvaluationSubmitted, occasion_id=occasion_id, course_id=course_id,
                           respondent_id=respondent_id, answers=answers, actor=actor)
        if comment:
            evaluation.trigger(EvaluationCommented, comment=comment)
        return evaluation

    def when_EvaluationSubmitted(self, e: EvaluationSubmitted) -> None:  # noqa: N802
        self.submitted = True
