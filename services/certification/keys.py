"""Certification's settings and keys.

- The Ed25519 signing key of the Open Badges credentials: configured in production
  (`YRKESRESAN_CERTIFICATION_SIGNING_KEY`, PEM, or `..._SIGNING_KEY_FILE`), generated once
  under `var/keys/` in development. A development key is marked as such (its file name), so
  that a production start can refuse it.
- The key of the evaluations' respondent ids (`YRKESRESAN_CERTIFICATION_RESPONDENT_KEY`, or
  generated under `var/keys/`): HMAC-SHA256 of (participant, occasion) under it gives the same
  id for the same person and occasion, and nobody without the key can tell whose it is (a
  plain hash of two ids could be recomputed by anyone holding the ids).
- Where the public pages are (`..._PUBLIC_URL`, for the QR code and links) and where
  enrolment answers (`..._ENROLMENT_URL`, for names at render time).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.platform.keyfiles import dev_file, keys_dir
from shared.platform.settings import Settings

DEV_SIGNING_KEY = "certification-ed25519.dev.pem"
DEV_RESPONDENT_KEY = "evaluation-respondent.dev.key"


class CertificationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YRKESRESAN_CERTIFICATION_", extra="ignore")

    signing_key: str = ""
    signing_key_file: str = ""
    respondent_key: str = ""
    public_url: str = ""
    enrolment_url: str = ""

    def public_base(self) -> str:
        own = Settings()
        return (self.public_url or f"http://{own.host}:{own.port_for('certification')}"
                ).rstrip("/")

    def enrolment_base(self) -> str:
        own = Settings()
        return (self.enrolment_url or f"http://{own.host}:{own.port_for('enrolment')}"
                ).rstrip("/")


@functools.cache
def certification_settings() -> CertificationSettings:
    return CertificationSettings()


def _dev_file(name: str, make: Callable[[], bytes]) -> bytes:
    """A development secret, created once under `var/keys/`."""
    return dev_file(keys_dir() / name, make)


def signing_key_source(settings: CertificationSettings | None = None) -> str:
    """Where the signing key comes from: "configured" or "development"."""
    s = settings or certification_settings()
    return "configured" if s.signing_key or s.signing_key_file else "development"


def signing_key(settings: CertificationSettings | None = None) -> Ed25519PrivateKey:
    s = settings or certification_settings()
    if s.signing_key:
        pem = s.signing_key.replace("\\n", "\n").encode()  # one line in an env file
    elif s.signing_key_file:
        pem = Path(s.signing_key_file).read_bytes()
    else:
        pem = _dev_file(DEV_SIGNING_KEY, lambda: Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the certification signing key must be an Ed25519 key (PEM, PKCS#8)")
    return key


def production_problems(settings: CertificationSettings | None = None) -> list[str]:
    """What stops certification's API from running in production: a development or
    placeholder signing key, a missing or placeholder respondent key (empty: nothing)."""
    s = settings or certification_settings()
    found = []
    if not (s.signing_key or s.signing_key_file):
        found.append("YRKESRESAN_CERTIFICATION_SIGNING_KEY (or ..._FILE) is not set: the "
                     "credentials would be signed with a development key")
    elif s.signing_key_file and Path(s.signing_key_file).name == DEV_SIGNING_KEY:
        found.append("YRKESRESAN_CERTIFICATION_SIGNING_KEY_FILE is the development key")
    elif "change-me" in s.signing_key:
        found.append("YRKESRESAN_CERTIFICATION_SIGNING_KEY is the placeholder of .env.example")
    else:
        try:
            signing_key(s)
        except (ValueError, OSError) as e:
            found.append(f"YRKESRESAN_CERTIFICATION_SIGNING_KEY cannot be used: {e}")
    if len(s.respondent_key) < 32 or "change-me" in s.respondent_key:
        found.append("YRKESRESAN_CERTIFICATION_RESPONDENT_KEY must be set to 32 or more random "
                     "characters")
    return found


def respondent_key(settings: CertificationSettings | None = None) -> bytes:
    s = settings or certification_settings()
    if s.respondent_key:
        return s.respondent_key.encode()
    return _dev_file(DEV_RESPONDENT_KEY, lambda: secrets.token_hex(32).encode())


def respondent_id(key: bytes, participant_id: str, occasion_id: str) -> str:
    """The same for the same participant and occasion; untraceable without the key."""
    message = f"respondent:{participant_id}\x1f{occasion_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]
