"""Personal data encrypted per participant (AES-GCM from `cryptography`), with one key each.

Erasure destroys the key (crypto-shredding): the ciphertext stays in the append-only event
store but can never be read again, while the pseudonymous facts stay and every projection
still counts them.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.platform.db import Database

KEYS_DDL = (
    "CREATE TABLE IF NOT EXISTS personal_keys (participant_id TEXT PRIMARY KEY, key TEXT NOT NULL)"
)


class PersonalDataVault:
    def __init__(self, db: Database) -> None:
        self.db = db

    def migrate(self) -> None:
        self.db.execute(KEYS_DDL)

    def seal(self, participant_id: str, data: dict[str, Any]) -> str:
        """Encrypt with the participant's key, creating it on first use."""
        key = self._key(participant_id)
        if key is None:
            key = AESGCM.generate_key(bit_length=256)
            self.db.execute(
                "INSERT INTO personal_keys (participant_id, key) VALUES (%s, %s) "
                "ON CONFLICT (participant_id) DO NOTHING",
                (participant_id, key.hex()),
            )
            key = self._key(participant_id)
            assert key is not None
        nonce = os.urandom(12)
        sealed = nonce + AESGCM(key).encrypt(nonce, orjson.dumps(data), participant_id.encode())
        return base64.b64encode(sealed).decode()

    def open(self, participant_id: str, ciphertext: str) -> dict[str, Any] | None:
        """The personal data, or None when the key has been destroyed."""
        key = self._key(participant_id)
        if key is None:
            return None
        raw = base64.b64decode(ciphertext)
        plain = AESGCM(key).decrypt(raw[:12], raw[12:], participant_id.encode())
        result: dict[str, Any] = orjson.loads(plain)
        return result

    def shred(self, participant_id: str) -> None:
        self.db.execute("DELETE FROM personal_keys WHERE participant_id = %s", (participant_id,))

    def _key(self, participant_id: str) -> bytes | None:
        rows = self.db.execute(
            "SELECT key FROM personal_keys WHERE participant_id = %s", (participant_id,)
        )
        return bytes.fromhex(rows[0][0]) if rows else None
