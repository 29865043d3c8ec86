"""Keys kept apart and rotated (SQLite and PostgreSQL): data keys stored only wrapped by a
key-encryption key, so the database alone opens nothing; rotating the e-mail key keeps an
address registered before from being registered twice; rotating the KEK re-wraps the data keys
without touching an event; erasure still crypto-shreds."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from services.enrolment.adapters.vault import PersonalDataVault
from services.enrolment.application import (
    Enrolment,
    JoinMunicipality,
    RegisterParticipant,
    RegisterRegion,
    RegisterTrainer,
    bootstrap,
    migrate,
)
from services.enrolment.csv_import import ImportRejected, import_participants
from shared.platform.db import Database
from shared.platform.errors import CommandRejected, Conflict
from shared.platform.keyring import Keyring, KeySet, keyring_problems, load_keyring
from shared.platform.settings import Settings

ANNA = {"municipality_id": "falun", "name": "Anna Andersson", "email": "anna@falun.example.se",
        "role": "socialsekreterare", "years_in_profession": 1}


def _with(url: str, ring: Keyring) -> Enrolment:
    return bootstrap(url, Settings(keyring=ring.to_json()))


@pytest.fixture
def ring(database_url: str) -> Iterator[Keyring]:
    ring = Keyring.generate()
    migrate(database_url)
    e = _with(database_url, ring)
    e.register_region(RegisterRegion(region_id="rss-dalarna", name="RSS Dalarna"))
    e.join_municipality(JoinMunicipality(municipality_id="falun", name="Falun",
                                         region_id="rss-dalarna"))
    e.close()
    yield ring


def _events(e: Enrolment) -> int:
    return e.app.recorder.max_notification_id() or 0


def test_data_keys_are_stored_wrapped_and_the_database_alone_opens_nothing(
        database_url: str, ring: Keyring) -> None:
    e = _with(database_url, ring)
    pid = e.register_participant(RegisterParticipant(**ANNA))
    (kek_id, wrapped), = e.vault.db.execute(
        "SELECT kek_id, wrapped_key FROM personal_data_keys WHERE owner_id = %s", (pid,))
    assert kek_id == "kek-1" and len(base64.b64decode(wrapped)) == 12 + 32 + 16
    assert e.personal_data(e.participant(pid))["name"] == "Anna Andersson"  # type: ignore[index]
    ciphertext = e.participant(pid).ciphertext
    assert ciphertext is not None
    stranger = PersonalDataVault(e.vault.db, Keyring.generate())  # the DB, not our keyring
    with pytest.raises(InvalidTag):
        stranger.open(pid, ciphertext)
    e.close()


def test_an_address_registered_before_an_email_key_rotation_is_still_taken(
        database_url: str, ring: Keyring) -> None:
    before = _with(database_url, ring)
    pid = before.register_participant(RegisterParticipant(**ANNA))
    before.close()
    rotated = ring.rotated("email")
    after = _with(database_url, rotated)
    assert after.keys.email.current == "email-2"
    events = _events(after)
    with pytest.raises(Conflict):
        after.register_participant(RegisterParticipant(**ANNA))
    csv = "name,email,role,years_in_profession\nAnna A,anna@falun.example.se,chef,2\n"
    with pytest.raises(ImportRejected):
        import_participants(after, "falun", csv)
    same = "name,email,role,years_in_profession\nAnna Andersson,anna@falun.example.se,socialsekreterare,1\n"  # noqa: E501
    assert import_participants(after, "falun", same).skipped == [(2, pid)]
    assert _events(after) == events
    after.erase_participant(pid)  # releases the claim made under the older key
    assert after.register_participant(RegisterParticipant(**ANNA)) != pid
    trainer = {"municipality_id": "falun", "name": "Ulf", "email": "ulf@falun.example.se"}
    after.register_trainer(RegisterTrainer(**trainer))
    after.close()
    again = _with(database_url, rotated.rotated("email"))
    with pytest.raises(Conflict):
        again.register_trainer(RegisterTrainer(**trainer))
    again.close()


def test_rotating_the_kek_rewraps_the_data_keys_without_touching_an_event(
        database_url: str, ring: Keyring) -> None:
    e = _with(database_url, ring)
    pids = [e.register_participant(RegisterParticipant(**{**ANNA, "email": f"p{i}@x.se"}))
            for i in range(3)]
    tid = e.register_trainer(RegisterTrainer(municipality_id="falun", name="Ulf",
                                             email="ulf@falun.example.se"))
    events = _events(e)
    e.close()
    rotated = ring.rotated("kek")
    e = _with(database_url, rotated)
    assert e.vault.rewrap() == 4
    assert e.vault.wrapped_by() == {"kek-2": 4} and e.vault.rewrap() == 0
    assert _events(e) == events
    e.close()
    only_new = Keyring({**rotated.sets, "kek": KeySet("kek", "kek-2", {
        "kek-2": rotated.kek.key("kek-2")})})  # the old KEK removed from the ring
    e = _with(database_url, only_new)
    assert [e.personal_data(e.participant(p))["email"] for p in pids] == [  # type: ignore[index]
        "p0@x.se", "p1@x.se", "p2@x.se"]
    trainer = e.find_trainer(tid)
    assert trainer is not None and e.trainer_view(trainer, personal=True)["name"] == "Ulf"
    assert e.erase_participant(pids[0])  # erasure still destroys the data key
    assert e.personal_data(e.participant(pids[0])) is None
    assert e.vault.wrapped_by() == {"kek-2": 3}
    e.close()


def test_a_store_with_clear_data_keys_has_them_wrapped_by_migrate(database_url: str) -> None:
    ring = Keyring.generate()
    migrate(database_url)  # today's schema (revisions); then a clear table as older stores had
    db = Database(database_url)
    db.execute("CREATE TABLE personal_keys (participant_id TEXT PRIMARY KEY, key TEXT NOT NULL)")
    key = bytes(range(32))
    db.execute("INSERT INTO personal_keys VALUES (%s, %s)", ("p-1", key.hex()))
    vault = PersonalDataVault(db, ring)
    vault.migrate()
    assert vault._key("p-1") == key
    assert vault.wrapped_by() == {"kek-1": 1}
    vault.migrate()  # once only: the clear table is gone
    with pytest.raises(Exception):  # noqa: B017
        db.execute("SELECT * FROM personal_keys")
    db.close()


def test_retiring_an_email_key_claims_the_addresses_again_under_the_current_one(
        database_url: str, ring: Keyring) -> None:
    """An operator retiring a rotated-out e-mail key: `rekey_email_claims` claims each held
    address under the current key (the old claim released), then the key leaves the ring. An
    address registered under the old key still cannot be registered twice, nothing recorded
    before changes, and an erasure afterwards frees the address."""
    before = _with(database_url, ring)
    anna = before.register_participant(RegisterParticipant(**ANNA))
    bo = before.register_participant(RegisterParticipant(**{**ANNA, "email": "bo@x.se"}))
    before.erase_participant(bo)  # erased: no address to read, its claim already released
    ulf = {"municipality_id": "falun", "name": "Ulf", "email": "ulf@falun.example.se"}
    before.register_trainer(RegisterTrainer(**ulf))
    recorded = list(before.app.recorder.select_notifications(1, 10_000))
    before.close()

    rotated = ring.rotated("email")
    e = _with(database_url, rotated)
    with pytest.raises(CommandRejected):
        e.rekey_email_claims("email-2")  # the current key: rotate first
    assert e.rekey_email_claims("email-1") == {"participants": 1, "trainers": 1, "checked": 2}
    assert e.rekey_email_claims("email-1") == {"participants": 0, "trainers": 0, "checked": 2}
    after_rekey = list(e.app.recorder.select_notifications(1, 10_000))
    assert after_rekey[:len(recorded)] == recorded  # only new events, none changed
    e.close()

    retired = rotated.retired("email", "email-1")
    assert list(retired.email.keys) == ["email-2"]
    with pytest.raises(ValueError):
        rotated.retired("email", "email-2")
    e = _with(database_url, retired)
    events = _events(e)
    with pytest.raises(Conflict):
        e.register_participant(RegisterParticipant(**ANNA))
    with pytest.raises(Conflict):
        e.register_trainer(RegisterTrainer(**ulf))
    assert _events(e) == events
    assert e.register_participant(RegisterParticipant(**{**ANNA, "email": "bo@x.se"}))
    e.erase_participant(anna)
    assert e.register_participant(RegisterParticipant(**ANNA)) != anna
    e.close()


def test_the_kek_can_come_apart_from_the_keyring(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Production hands the KEK over on its own (a secret mounted into enrolment): it replaces
    the keyring's, and a development keyring or KEK is refused at a production start."""
    ring = Keyring.generate()
    kek = Keyring.generate()
    (tmp_path / "kek.json").write_text(kek.set_json("kek"))
    rest = ring.to_json(("email", "actor"))  # a keyring without a KEK of its own
    s = Settings(keyring=rest, kek_file=str(tmp_path / "kek.json"))
    loaded = load_keyring(s)
    assert loaded.kek == kek.kek and loaded.email == ring.email
    assert load_keyring(Settings(keyring=rest, kek=kek.set_json("kek"))).kek == kek.kek
    without = load_keyring(Settings(keyring=rest))  # a process that opens no personal data
    assert without.actor == ring.actor
    with pytest.raises(ValueError, match="YRKESRESAN_KEK_FILE"):
        without.kek  # noqa: B018
    broken = keyring_problems(Settings(env="production", auth_issuer="https://idp.example",
                                       auth_jwks="https://idp.example/k", keyring=rest,
                                       kek='["not", "keys"]'))
    assert broken and "not a JSON object" in broken[0]  # a line naming it, not a traceback

    idp = {"env": "production", "auth_issuer": "https://idp.example",
           "auth_jwks": "https://idp.example/k"}
    assert keyring_problems(Settings(**idp, keyring=rest, kek_file=str(tmp_path / "kek.json"))
                            ) == []
    dev = Keyring.generate(development=True)
    assert load_keyring(Settings(var_dir=tmp_path / "var")).development  # `make run`'s
    copied = keyring_problems(Settings(**idp, keyring=dev.to_json()))  # a copy, renamed
    assert copied and "the keyring are development keys" in copied[0]
    (tmp_path / "dev-kek.json").write_text(dev.set_json("kek"))
    marked = keyring_problems(Settings(**idp, keyring=rest,
                                       kek_file=str(tmp_path / "dev-kek.json")))
    assert marked and "YRKESRESAN_KEK" in marked[0]
    (tmp_path / "kek.dev.json").write_text(kek.set_json("kek"))
    assert keyring_problems(Settings(**idp, keyring=rest, kek_file=str(
        tmp_path / "kek.dev.json"))) == ["YRKESRESAN_KEK_FILE is a development key"]

    from yrkesresan.processes import OWN_CHECKS

    monkeypatch.setenv("YRKESRESAN_KEYRING", rest)  # enrolment without its KEK: refused
    (check,) = OWN_CHECKS["enrolment-api"]
    assert "YRKESRESAN_KEK_FILE" in check()[0]
    monkeypatch.setenv("YRKESRESAN_KEK_FILE", str(tmp_path / "kek.json"))
    assert check() == []
