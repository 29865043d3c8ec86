"""Personal data encrypted per participant (AES-GCM from `cryptography`), with one key each.

Erasure destroys the key (crypto-shredding): the ciphertext stays in the append-only event
store but can never be read again, while the pseudonymous facts stay and every projection
still counts them.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.platform.db import Database
from shared.platform.store import Statement

KEYS_DDL = (
    "CREATE TABLE IF NOT EXISTS personal_keys (participant_id TEXT PRIMARY KEY, key TEXT NOT NULL)"
)


class PersonalDataVault:
    def __init__(self, db: Database) -> None:
        self.db = db

    def migrate(self) -> None:
        self.db.execute(KEYS_DDL)

    def new_key(self, participant_id: str) -> tuple[bytes, Statement]:
        """A fresh key for a new participant, and the statement that stores it. The caller
        executes the statement in the same transaction as the events that carry what the key
        sealed (`app.save(..., statements=[...])`), so a key is stored exactly when its
        ciphertext is. It replaces a key left without a participant; when the participant
        exists, the events' insert fails and the whole transaction is rolled back, this
        statement with it."""
        key = AESGCM.generate_key(bit_length=256)
        return key, (
            "INSERT INTO personal_keys (participant_id, key) VALUES (%s, %s) "
            "ON CONFLICT (participant_id) DO UPDATE SET key = excluded.key",
            (participant_id, key.hex()),
        )

    @staticmethod
    def seal(key: bytes, participant_id: str, data: dict[str, Any]) -> str:
        return _seal(key, participant_id, data)

    def seal_many(self, items: Sequence[tuple[str, dict[str, Any]]]) -> list[str]:
        """Encrypt for many new participants at once: fresh keys, stored in one transaction
        (a bulk import's speed). Existing keys are never replaced."""
        keys = [(pid, AESGCM.generate_key(bit_length=256)) for pid, _ in items]
        with self.db.transaction() as cur:
            cur.executemany(
                "INSERT INTO personal_keys (participant_id, key) VALUES (%s, %s) "
                "ON CONFLICT (participant_id) DO NOTHING",
                [(pid, key.hex()) for pid, key in keys],
            )
        stored = self._keys([pid for pid, _ in items])
        return [_seal(stored[pid], pid, data) for pid, data in items]

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

    def _keys(self, participant_ids: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for i in range(0, len(participant_ids), 500):
            chunk = participant_ids[i:i + 500]
            marks = ", ".join(["%s"] * len(chunk))
            rows = self.db.execute(
                f"SELECT participant_id, key FROM personal_keys WHERE participant_id IN ({marks})",
                chunk,
            )
            found.update((pid, bytes.fromhex(key)) for pid, key in rows)
        return found


def _seal(key: bytes, participant_id: str, data: dict[str, Any]) -> str:
    """AES-GCM with a fresh nonce; the participant id is bound in as associated data, so a
    ciphertext cannot be passed off as another participant's."""
    nonce = os.urandom(12)
    sealed = nonce + AESGCM(key).encrypt(nonce, orjson.dumps(data), participant_id.encode())
    return base64.b64encode(sealed).decode()
