"""What the routers share: the service, where names come from, the signing key, the public
address of the verification pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from services.certification import views
from services.certification.adapters.enrolment import EnrolmentNames, Names
from services.certification.application import Certification
from services.certification.credential import credential_document, key_id, sign
from services.certification.keys import certification_settings, signing_key


@dataclass
class Context:
    cert: Certification
    names: Names = field(default_factory=EnrolmentNames)
    key: Ed25519PrivateKey = field(default_factory=signing_key)
    base: str = field(default_factory=lambda: certification_settings().public_base())

    @property
    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        public = self.key.public_key()
        return {key_id(public): public}

    def certificate(self, certificate_id: str) -> tuple[dict[str, Any] | None, str | None]:
        """The certificate's row (None: unknown) and its participant's municipality now."""
        found = views.certificate(self.cert.db, certificate_id)
        return found, self.municipality_of(found["participant_id"]) if found else None

    def municipality_of(self, participant_id: str) -> str | None:
        row = views.view(self.cert.db, "route", participant_id)
        return row.get("municipality_id") if row else None

    def course(self, course_id: str) -> dict[str, Any]:
        return views.view(self.cert.db, "course", course_id) or {"course_id": course_id,
                                                                 "title": course_id}

    def region_name(self, region_id: str) -> str:
        row = views.view(self.cert.db, "region", region_id)
        return str(row["name"]) if row and row.get("name") else region_id

    def verify_url(self, code: str) -> str:
        return f"{self.base}/intyg/{code}"

    def links(self, certificate: dict[str, Any]) -> dict[str, str]:
        cid = certificate["certificate_id"]
        return {"pdf": f"{self.base}/certificates/{cid}/intyg.pdf",
                "credential": f"{self.base}/certificates/{cid}/credential",
                "verify": self.verify_url(certificate["verification_code"])}

    def credential(self, certificate: dict[str, Any]) -> tuple[dict[str, Any], str]:
        document = credential_document(certificate, self.course(certificate["course_id"]),
                                       self.region_name(certificate["region_id"]), self.base)
        return document, sign(document, self.key, self.base)
