"""Personal data encrypted per person (AES-GCM from `cryptography`), with a data key each,
stored only wrapped by a key-encryption key (envelope encryption).

- A person's (participant's or trainer's) data key seals their name, e-mail and the like; the
  ciphertext rides in their events. The key itself is stored wrapped by the current KEK of the
  keyring (`shared.platform.keyring`), with the KEK's id, in `personal_data_keys`. The KEK is
  not in the database, so a backup of it alone opens nothing.
- Rotating the KEK: `rewrap()` unwraps every data key wrapped by an older KEK and wraps it
  under the current one; the events (and their hash chain) are not touched.
- Erasure destroys the wrapped data key (crypto-shredding): the ciphertext stays in the
  append-only event store but can never be read again, while the pseudonymous facts stay and
  every projection still counts them.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.platform.db import Database
from shared.platform.keyring import Keyring, current_keyring
from shared.platform.store import Statement

CLEAR_KEYS_TABLE = "personal_keys"  # before envelope encryption: data keys in clear
BATCH = 500


class PersonalDataVault:
    def __init__(self, db: Database, keyring: Keyring | Callable[[], Keyring] = current_keyring
                 ) -> None:
        self.db = db
        self._keyring = keyring

    @property
    def keyring(self) -> Keyring:
        ring = self._keyring
        return ring if isinstance(ring, Keyring) else ring()

    def migrate(self) -> None:
        """The data step of `yrkesresan migrate` after the schema's revisions (it needs the
        keyring, which no revision has)."""
        self._wrap_clear_keys()

    def new_key(self, owner_id: str) -> tuple[bytes, Statement]:
        """A fresh data key for a new person, and the statement that stores it wrapped."""
        keys, statement = self.new_keys([owner_id])
        return keys[0], statement

    def new_keys(self, owner_ids: Sequence[str]) -> tuple[list[bytes], Statement]:
        """Fresh data keys for new people, and one statement (one multi-row insert, however
        many) that stores them wrapped. The caller executes the statement in the same
        transaction as the events that carry what the keys sealed (`app.save(...,
        statements=[...])`), so a key is stored exactly when its ciphertext is. It replaces a
        key left without a person; when a person exists, the events' insert fails and the
        whole transaction is rolled back, this statement with it."""
        ring = self.keyring
        keys = [AESGCM.generate_key(bit_length=256) for _ in owner_ids]
        params: list[str] = []
        for owner, key in zip(owner_ids, keys, strict=True):
            params += [owner, *ring.wrap(key, owner)]
        rows = ", ".join(["(%s, %s, %s)"] * len(owner_ids))
        return keys, (
            f"INSERT INTO personal_data_keys (owner_id, kek_id, wrapped_key) VALUES {rows} "
            "ON CONFLICT (owner_id) DO UPDATE SET kek_id = excluded.kek_id, "
            "wrapped_key = excluded.wrapped_key",
            params,
        )

    @staticmethod
    def seal(key: bytes, owner_id: str, data: dict[str, Any]) -> str:
        """AES-GCM with a fresh nonce; the owner's id is bound in as associated data, so a
        ciphertext cannot be passed off as another person's."""
        nonce = os.urandom(12)
        sealed = nonce + AESGCM(key).encrypt(nonce, orjson.dumps(data), owner_id.encode())
        return base64.b64encode(sealed).decode()

    def open(self, owner_id: str, ciphertext: str) -> dict[str, Any] | None:
        """The personal data, or None when the key has been destroyed."""
        key = self._key(owner_id)
        if key is None:
            return None
        raw = base64.b64decode(ciphertext)
        plain = AESGCM(key).decrypt(raw[:12], raw[12:], owner_id.encode())
        result: dict[str, Any] = orjson.loads(plain)
        return result

    def open_many(self, sealed: dict[str, str]) -> dict[str, dict[str, Any] | None]:
        """`open` for many people (owner id -> ciphertext), their keys read in one query per
        `BATCH` instead of one each: what a CSV file imported again compares row by row."""
        opened: dict[str, dict[str, Any] | None] = {}
        owners = list(sealed)
        ring = self.keyring
        for start in range(0, len(owners), BATCH):
            batch = owners[start:start + BATCH]
            marks = ", ".join(["%s"] * len(batch))
            keys = {str(owner): ring.unwrap(kid, wrapped, str(owner)) for owner, kid, wrapped
                    in self.db.execute(
                        "SELECT owner_id, kek_id, wrapped_key FROM personal_data_keys "
                        f"WHERE owner_id IN ({marks})", batch)}
            for owner in batch:
                key = keys.get(owner)
                if key is None:
                    opened[owner] = None
                    continue
                raw = base64.b64decode(sealed[owner])
                opened[owner] = orjson.loads(
                    AESGCM(key).decrypt(raw[:12], raw[12:], owner.encode()))
        return opened

    def shred(self, owner_id: str) -> None:
        self.db.execute("DELETE FROM personal_data_keys WHERE owner_id = %s", (owner_id,))

    def rewrap(self) -> int:
        """Wrap every data key under the current KEK (after a rotation); returns how many
        were re-wrapped. Safe to run again, and beside the running service: a key is
        replaced only if it is still wrapped as it was read."""
        ring = self.keyring
        current = ring.kek.current
        done = 0
        while True:
            rows = self.db.execute(
                "SELECT owner_id, kek_id, wrapped_key FROM personal_data_keys "
                "WHERE kek_id <> %s ORDER BY owner_id LIMIT %s", (current, BATCH))
            if not rows:
                return done
            with self.db.transaction() as cur:
                for owner, kek_id, wrapped in rows:
                    _, again = ring.wrap(ring.unwrap(kek_id, wrapped, owner), owner)
                    cur.execute("UPDATE personal_data_keys SET kek_id = %s, wrapped_key = %s "
                                "WHERE owner_id = %s AND kek_id = %s",
                                (current, again, owner, kek_id))
            done += len(rows)

    def owners(self, after: str = "", limit: int = 1000) -> list[str]:
        """Whose personal data can still be read (a key is held), in id order after `after`:
        the accounts an e-mail key re-keying visits (the erased have none)."""
        return [str(owner) for owner, in self.db.execute(
            "SELECT owner_id FROM personal_data_keys WHERE owner_id > %s ORDER BY owner_id "
            "LIMIT %s", (after, limit))]

    def wrapped_by(self) -> dict[str, int]:
        """How many data keys each KEK wraps (ids only)."""
        rows = self.db.execute(
            "SELECT kek_id, COUNT(*) FROM personal_data_keys GROUP BY kek_id")
        return {str(kid): int(n) for kid, n in rows}

    def _key(self, owner_id: str) -> bytes | None:
        rows = self.db.execute(
            "SELECT kek_id, wrapped_key FROM personal_data_keys WHERE owner_id = %s",
            (owner_id,))
        return self.keyring.unwrap(rows[0][0], rows[0][1], owner_id) if rows else None

    def _wrap_clear_keys(self) -> None:
        """A store from before envelope encryption kept data keys in clear: wrap each under
        the current KEK, then drop the clear table (once)."""
        exists = ("SELECT name FROM sqlite_master WHERE type = 'table' AND name = %s"
                  if self.db.is_sqlite else "SELECT to_regclass(%s)")
        found = self.db.execute(exists, (CLEAR_KEYS_TABLE,))
        if not found or found[0][0] is None:
            return
        ring = self.keyring
        with self.db.transaction() as cur:
            rows = cur.execute(f"SELECT participant_id, key FROM {CLEAR_KEYS_TABLE}")
            cur.executemany(
                "INSERT INTO personal_data_keys (owner_id, kek_id, wrapped_key) "
                "VALUES (%s, %s, %s) ON CONFLICT (owner_id) DO NOTHING",
                [(owner, *ring.wrap(bytes.fromhex(key), owner)) for owner, key in rows])
            cur.execute(f"DROP TABLE {CLEAR_KEYS_TABLE}")
