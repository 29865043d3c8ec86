"""Keys kept apart, each with an id, rotated by adding a new current key.

Three purposes, never sharing a key:

- `email`: the keyed hash (HMAC-SHA256) that turns an e-mail address into the id of its claim,
  so that an address is stored nowhere in clear and may hold one account nationally. After a
  rotation new claims use the new key, and an address claimed under an older key is still
  found (enrolment looks under every key of the set).
- `actor`: the keyed hash that turns a token's subject into the pseudonym recorded with
  events (`role:key-id:hash`). Auditors holding the keys can recompute it; the bus cannot.
- `kek`: key-encryption keys (AES-256-GCM) wrapping each person's data key (envelope
  encryption, `services/enrolment/adapters/vault.py`). Rotating it and running
  `yrkesresan keys rewrap` re-wraps every data key under the new one; no event changes.

The keyring is a JSON file kept apart from the databases (`YRKESRESAN_KEYRING_FILE`; in
production a secret mounted into the processes, or its content in `YRKESRESAN_KEYRING`), so a
database backup alone opens nothing. The KEK may be handed over apart from the rest
(`YRKESRESAN_KEK_FILE`, a secret mounted into enrolment only, or `YRKESRESAN_KEK`): then it
replaces the keyring's `kek`, which the keyring file may leave out. Without a keyring,
development uses `var/keys/keyring.dev.json`, created once and marked `"development": true`;
a production start refuses a keyring or KEK so marked, or named `*.dev.*`.

`yrkesresan keys rotate PURPOSE` adds a key and makes it current; the old keys stay (to read,
and to find what they keyed) until `yrkesresan keys retire PURPOSE ID` removes one nothing
needs any more (e-mail: after claiming each held address again under the current key; KEK:
after `rewrap`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.platform.keyfiles import dev_file, is_development_key, keys_dir
from shared.platform.settings import Settings, current_settings

PURPOSES = ("email", "actor", "kek")
DEV_KEYRING = "keyring.dev.json"
KEY_BYTES = 32


@dataclass(frozen=True)
class KeySet:
    """The keys of one purpose by id, and the id of the one new data is keyed with."""

    purpose: str
    current: str
    keys: dict[str, bytes]

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise ValueError(f"keyring: {self.purpose}'s current key {self.current!r} is missing")
        for kid, key in self.keys.items():
            if len(key) != KEY_BYTES:
                raise ValueError(f"keyring: {self.purpose} key {kid!r} is not {KEY_BYTES} bytes")

    def key(self, kid: str) -> bytes:
        try:
            return self.keys[kid]
        except KeyError:
            raise KeyError(f"keyring: no {self.purpose} key {kid!r}") from None

    def hash(self, value: str, kid: str | None = None) -> str:
        """HMAC-SHA256 of `value` under key `kid` (default: the current one), hex."""
        key = self.key(kid or self.current)
        return hmac.new(key, f"{self.purpose}:{value}".encode(), hashlib.sha256).hexdigest()

    def ids_newest_first(self) -> Iterator[str]:
        yield self.current
        yield from (kid for kid in reversed(self.keys) if kid != self.current)


@dataclass(frozen=True)
class Keyring:
    sets: dict[str, KeySet]
    # Made by `load_keyring` for development (`var/keys/keyring.dev.json`): a production start
    # refuses it, whichever way it is handed over (file, environment, a copy under a new name).
    development: bool = False

    @property
    def email(self) -> KeySet:
        return self.sets["email"]

    @property
    def actor(self) -> KeySet:
        return self.sets["actor"]

    @property
    def kek(self) -> KeySet:
        try:
            return self.sets["kek"]
        except KeyError:
            raise ValueError("keyring: no key-encryption keys here (this process was given "
                             "none: set YRKESRESAN_KEK_FILE, or keep them in the keyring)"
                             ) from None

    @classmethod
    def from_json(cls, text: str | bytes, kek: str | bytes | None = None) -> Keyring:
        """A keyring from its JSON; `kek`: the key-encryption keys from a source of their own
        (`{"current": ..., "keys": {...}}`, `YRKESRESAN_KEK_FILE`), replacing the ring's."""
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("keyring: not a JSON object")
        if kek is not None:
            separate = json.loads(kek)
            if not isinstance(separate, dict):
                raise ValueError("keyring: the KEK document is not a JSON object")
            raw["kek"] = separate
            raw["development"] = raw.get("development") or separate.get("development")
        missing = [p for p in PURPOSES if p not in raw and p != "kek"]
        if missing:
            raise ValueError(f"keyring: no keys for {', '.join(missing)}")
        # Without a KEK the ring serves the processes that never open personal data (only
        # enrolment does; `Keyring.kek` says what is missing if asked).
        return cls({p: _key_set(p, raw[p]) for p in PURPOSES if p in raw},
                   development=bool(raw.get("development")))

    def to_json(self, purposes: tuple[str, ...] = PURPOSES) -> str:
        document: dict[str, Any] = {p: _set_json(self.sets[p]) for p in purposes
                                    if p in self.sets}
        if self.development:
            document["development"] = True
        return json.dumps(document, indent=2)

    def set_json(self, purpose: str) -> str:
        """One purpose's keys as their own document (a separate KEK file)."""
        document: dict[str, Any] = _set_json(self.sets[purpose])
        if self.development:
            document["development"] = True
        return json.dumps(document, indent=2)

    @classmethod
    def generate(cls, *, development: bool = False) -> Keyring:
        return cls({p: KeySet(p, f"{p}-1", {f"{p}-1": secrets.token_bytes(KEY_BYTES)})
                    for p in PURPOSES}, development)

    def rotated(self, purpose: str) -> Keyring:
        """A new random key for `purpose`, current from now on; the older ones are kept."""
        old = self.sets[purpose]
        n = 1 + max(int(kid.rsplit("-", 1)[-1]) for kid in old.keys if kid[-1].isdigit())
        kid = f"{purpose}-{n}"
        new = KeySet(purpose, kid, {**old.keys, kid: secrets.token_bytes(KEY_BYTES)})
        return Keyring({**self.sets, purpose: new}, self.development)

    def retired(self, purpose: str, kid: str) -> Keyring:
        """The keyring without `kid` (never the current key: rotate first). Whether nothing
        needs it any more is the caller's to make sure of (`yrkesresan keys retire`)."""
        old = self.sets[purpose]
        if kid == old.current:
            raise ValueError(f"keyring: {kid} is {purpose}'s current key; rotate first")
        old.key(kid)
        kept = {k: v for k, v in old.keys.items() if k != kid}
        return Keyring({**self.sets, purpose: KeySet(purpose, old.current, kept)},
                       self.development)

    # --- envelope encryption -----------------------------------------------------------------

    def wrap(self, data_key: bytes, owner: str) -> tuple[str, str]:
        """(KEK id, the data key encrypted under that KEK), bound to its owner's id."""
        kid = self.kek.current
        nonce = os.urandom(12)
        sealed = AESGCM(self.kek.key(kid)).encrypt(nonce, data_key, _aad(kid, owner))
        return kid, base64.b64encode(nonce + sealed).decode()

    def unwrap(self, kid: str, wrapped: str, owner: str) -> bytes:
        raw = base64.b64decode(wrapped)
        return AESGCM(self.kek.key(kid)).decrypt(raw[:12], raw[12:], _aad(kid, owner))


def _key_set(purpose: str, raw: dict[str, Any]) -> KeySet:
    return KeySet(purpose, raw["current"],
                  {kid: base64.b64decode(k) for kid, k in raw["keys"].items()})


def _set_json(ks: KeySet) -> dict[str, Any]:
    return {"current": ks.current,
            "keys": {kid: base64.b64encode(k).decode() for kid, k in ks.keys.items()}}


def _aad(kid: str, owner: str) -> bytes:
    """A wrapped key cannot be passed off as another person's, or as wrapped by another KEK."""
    return f"dek\x1f{kid}\x1f{owner}".encode()


def keyring_path(settings: Settings) -> Path:
    if settings.keyring_file:
        return Path(settings.keyring_file)
    return keys_dir(settings) / DEV_KEYRING


def separate_kek(settings: Settings) -> str | None:
    """The key-encryption keys when they are handed over apart from the keyring
    (`YRKESRESAN_KEK`, or the secret mounted at `YRKESRESAN_KEK_FILE`), else None."""
    if settings.kek:
        return settings.kek
    if settings.kek_file:
        return Path(settings.kek_file).read_text()
    return None


def load_keyring(settings: Settings) -> Keyring:
    kek = separate_kek(settings)
    if settings.keyring:
        return Keyring.from_json(settings.keyring, kek)
    path = keyring_path(settings)
    if settings.keyring_file:
        return Keyring.from_json(path.read_bytes(), kek)
    return Keyring.from_json(dev_file(path, lambda: Keyring.generate(
        development=True).to_json().encode()), kek)


@functools.cache
def current_keyring() -> Keyring:
    """The process's keyring, read once (a rotation takes effect when a process restarts;
    the older keys stay in the ring, so processes not yet restarted keep working)."""
    return load_keyring(current_settings())


def keyring_problems(settings: Settings) -> list[str]:
    """What the keyring lacks for production (empty: nothing): it must be configured, and
    neither it nor a KEK handed over apart may be a development key (by file name, or by the
    mark `load_keyring` puts in the development keyring, however it was copied)."""
    if not (settings.keyring or settings.keyring_file):
        return ["YRKESRESAN_KEYRING_FILE (or YRKESRESAN_KEYRING) is not set: the e-mail, "
                "pseudonym and key-encryption keys would be development keys"]
    if settings.keyring_file and is_development_key(settings.keyring_file):
        return ["YRKESRESAN_KEYRING_FILE is the development keyring"]
    if settings.kek_file and is_development_key(settings.kek_file):
        return ["YRKESRESAN_KEK_FILE is a development key"]
    try:
        ring = load_keyring(settings)
    except (OSError, ValueError, KeyError, TypeError) as e:
        return [f"the keyring cannot be used: {e}"]
    if ring.development:
        which = ("the key-encryption keys (YRKESRESAN_KEK/_KEK_FILE)"
                 if separate_kek(settings) and not _marked(_keyring_text(settings))
                 else "the keyring")
        return [f"{which} are development keys (made by `make run`); make new ones with "
                "`yrkesresan keys new`"]
    return []


def _keyring_text(settings: Settings) -> str:
    return settings.keyring or Path(settings.keyring_file).read_text()


def _marked(text: str) -> bool:
    return bool(json.loads(text).get("development"))


def write_keyring(path: Path, ring: Keyring, settings: Settings | None = None) -> None:
    """Replace the file at once (a reader never sees half a keyring), owner-readable only.
    With a KEK file of its own (`YRKESRESAN_KEK_FILE`) the KEK goes there, not into the
    keyring file."""
    if settings is not None and settings.kek_file:
        _replace(Path(settings.kek_file), ring.set_json("kek"))
        if not settings.keyring:  # the rest is in the environment: not ours to write
            _replace(path, ring.to_json(tuple(p for p in PURPOSES if p != "kek")))
    else:
        _replace(path, ring.to_json())


def _replace(path: Path, text: str) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.chmod(0o600)
    tmp.replace(path)


def describe(ring: Keyring) -> dict[str, Any]:
    """Ids only, never a key: what `yrkesresan keys show` prints."""
    return {p: {"current": s.current, "keys": list(s.keys)} for p, s in ring.sets.items()}
