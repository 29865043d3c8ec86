"""Enrolment's commands and their handlers, and `bootstrap()` that wires the service.

Commands are validated at the edge (pydantic); a handler either records all its events in one
transaction or raises a `CommandRejected` and records nothing. Bulk imports from CSV files are
in `services/enrolment/csv_import.py`; they register accounts through the same handler as the
API (`register_participants`).

Participant and trainer ids are minted here; a command that sends one is refused (422) by its
model, which forbids fields it does not declare.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

from services.enrolment.adapters.reads import Reader, ReadLog
from services.enrolment.adapters.vault import PersonalDataVault
from services.enrolment.domain import (
    EmailClaim,
    Level,
    Municipality,
    MunicipalityJoined,
    Participant,
    Region,
    RegionRegistered,
    Trainer,
    TrainerEmailClaim,
    is_higher,
    levels_reached,
    municipality_key,
    participant_key,
    region_key,
    trainer_key,
)
from services.enrolment.projections.catalogue import PREFIX, catalogue
from services.enrolment.projections.directory import Directory
from shared.events import models as contract
from shared.platform import schema
from shared.platform.auth import actor_of
from shared.platform.commands import Code, Command, Text, printable
from shared.platform.copies import CopyRunner, Known
from shared.platform.db import Database
from shared.platform.errors import CommandRejected, Conflict, NotFound
from shared.platform.keyring import Keyring, load_keyring
from shared.platform.settings import Settings
from shared.platform.store import Aggregate, ServiceApplication, aggregate_id, utcnow

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    value = value.strip().lower()
    if not _EMAIL.match(value):
        raise ValueError("ogiltig e-postadress")
    return value


# 254 characters: the longest address SMTP delivers (RFC 5321).
Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(printable),
                  AfterValidator(_email)]
# Roles decide the level (`arbetsledare` and `chef` are Chef), so "Chef" must mean chef.
RoleName = Annotated[Code, AfterValidator(str.lower)]

# Aggregates per `save()` in bulk writes: one transaction each; ~4,000 aggregates/s on
# PostgreSQL in batches of this size against ~650/s one at a time.
BATCH = 500

Progress = Callable[[str, int, int], None]  # (phase, done, total)


def no_progress(_phase: str, _done: int, _total: int) -> None:
    pass


class RegisterRegion(Command):
    region_id: Code
    name: Text


class JoinMunicipality(Command):
    municipality_id: Code
    name: Text
    region_id: Code


class RegisterParticipant(Command):
    """A new account; its id is minted by the service (sending one is refused)."""

    municipality_id: Code
    name: Text
    email: Email
    role: RoleName
    years_in_profession: Annotated[float, Field(ge=0, le=70)]
    journey: Code = "barn_och_unga"
    area_of_work: Text | None = None
    occurred_at: AwareDatetime | None = None

    def personal(self) -> dict[str, Any]:
        """What goes into the vault: everything that could identify the person."""
        return {"name": self.name, "email": self.email, "area_of_work": self.area_of_work}


class RegisterTrainer(Command):
    """A trainer's account in their home municipality; its id is minted by the service."""

    municipality_id: Code
    name: Text
    email: Email
    occurred_at: AwareDatetime | None = None

    def personal(self) -> dict[str, Any]:
        return {"name": self.name, "email": self.email}


class MoveParticipant(Command):
    to_municipality_id: Code
    occurred_at: AwareDatetime | None = None


class LevelUp(Command):
    as_of: dt.date | None = None


class CompletePreparation(Command):
    course_id: Code
    item_id: Code


class SubmitDeepening(Command):
    course_id: Code
    task_id: Code


@dataclass
class LevelUpReport:
    as_of: dt.date
    checked: int = 0
    changed: dict[str, list[str]] = field(default_factory=dict)  # participant id → new levels


class EnrolmentApplication(ServiceApplication):
    service = "enrolment"
    name = "enrolment"


A = TypeVar("A", bound=Aggregate)


@dataclass
class Enrolment:
    """The service's entry point: its store, its vault, its directory and the handlers."""

    app: EnrolmentApplication
    vault: PersonalDataVault
    directory: Directory
    catalogue: Known
    keys: Keyring
    reads: ReadLog
    _municipalities_seen: set[str] = field(default_factory=set)

    # -- helpers ----------------------------------------------------------------------------

    def _get(self, cls: type[A], key: uuid.UUID, what: str, field: str | None = None) -> A:
        try:
            return self.app.load(cls, key)
        except AggregateNotFoundError:
            raise NotFound(f"{what} finns inte.", field=field) from None

    def save(self, *aggregates: Aggregate, conflict: str) -> None:
        """Record the aggregates' new events in one transaction, or raise `Conflict` when a
        concurrent write got there first (optimistic concurrency) and record nothing."""
        try:
            self.app.save(*aggregates)
        except IntegrityError:
            raise Conflict(conflict) from None

    def _claim_ids(self, kind: str, email: str) -> list[uuid.UUID]:
        """The id of the address's claim under each e-mail key, the current key's first: a
        keyed hash, so the address is stored nowhere in clear. After a rotation an address
        claimed under an older key is found under that key's id."""
        ks = self.keys.email
        return [aggregate_id(kind, f"{kid}:{ks.hash(email, kid)}")
                for kid in ks.ids_newest_first()]

    def email_key(self, email: str) -> uuid.UUID:
        """The id a new claim of the address takes (under the current e-mail key)."""
        return self._claim_ids("email", email)[0]

    def email_keys(self, email: str) -> list[uuid.UUID]:
        return self._claim_ids("email", email)

    def actor(self, role: str, subject: str) -> str:
        """See `shared.platform.auth.actor_of`: role and keyed hash, never the subject."""
        return actor_of(role, subject, self.keys.actor)

    def email_claim(self, email: str, held_by: str | None = None) -> EmailClaim:
        """The address's claim: the one `held_by` holds (under whichever key), else the one
        under the current key (new if there is none)."""
        keys = self.email_keys(email)
        for key in keys if held_by else []:
            if self.app.exists(key) and self.app.load(EmailClaim, key).participant_id == held_by:
                return self.app.load(EmailClaim, key)
        if self.app.exists(keys[0]):
            return self.app.load(EmailClaim, keys[0])
        return EmailClaim(keys[0])

    def _held_under_older_key(self, cls: type[EmailClaim] | type[TrainerEmailClaim],
                              keys: list[uuid.UUID]) -> bool:
        """Whether an account holds the address under an e-mail key rotated out since."""
        for key in keys[1:]:
            if self.app.exists(key):
                claim = self.app.load(cls, key)
                if getattr(claim, "participant_id", None) or getattr(claim, "trainer_id", None):
                    return True
        return False

    def rekey_email_claims(self, retiring: str, actor: str | None = None,
                           progress: Progress = no_progress) -> dict[str, int]:
        """Before the e-mail key `retiring` leaves the keyring: every address an account holds
        under it is claimed again under the current key (new `EmailClaimed` /
        `TrainerEmailClaimed` events; the participant's old claim is released, so an erasure
        later frees the address under the key that remains). The address is read from the
        account's sealed personal data, so erased accounts (no key, and no claim held) are
        skipped. No recorded event changes. Safe to run again: an address already claimed
        under the current key is left as it is. Returns counts by kind."""
        ks = self.keys.email
        if retiring == ks.current:
            raise CommandRejected(f"{retiring} är den aktuella e-postnyckeln: rotera först "
                                  "(`yrkesresan keys rotate email`).", field="key_id")
        ks.key(retiring)  # KeyError naming it when the ring has no such key
        counts = {"participants": 0, "trainers": 0, "checked": 0}
        after = ""
        while owners := self.vault.owners(after):
            after = owners[-1]
            for owner in owners:
                counts["checked"] += 1
                if (participant := self.find_participant(owner)) is not None:
                    counts["participants"] += self._rekey_participant(participant, retiring,
                                                                      actor)
                elif (trainer := self.find_trainer(owner)) is not None:
                    counts["trainers"] += self._rekey_trainer(trainer, retiring, actor)
            progress("rekey", counts["checked"], counts["checked"])
        return counts

    def _rekey_participant(self, participant: Participant, retiring: str,
                           actor: str | None) -> int:
        pid = participant.participant_id
        email = (self.personal_data(participant) or {}).get("email")
        if not email:
            return 0
        ks = self.keys.email
        old_key = aggregate_id("email", f"{retiring}:{ks.hash(email, retiring)}")
        if not self.app.exists(old_key):
            return 0
        old = self.app.load(EmailClaim, old_key)
        if old.participant_id != pid:
            return 0
        new_key = self.email_key(email)
        new = self.app.load(EmailClaim, new_key) if self.app.exists(new_key) else EmailClaim(
            new_key)
        if new.participant_id not in (None, pid):  # cannot happen while the old key is checked
            raise Conflict(f"E-postadressen hos {pid} är tagen under den aktuella nyckeln.")
        if new.participant_id is None:
            new.claim(pid, actor)
        old.release(actor)
        self.save(new, old, conflict="Ett konto ändrades samtidigt; kör igen.")
        return 1

    def _rekey_trainer(self, trainer: Trainer, retiring: str, actor: str | None) -> int:
        tid = trainer.trainer_id
        data = (self.vault.open(tid, trainer.ciphertext) if trainer.ciphertext else None) or {}
        if not (email := data.get("email")):
            return 0
        ks = self.keys.email
        old_key = aggregate_id("trainer-email", f"{retiring}:{ks.hash(email, retiring)}")
        if not self.app.exists(old_key) or (
                self.app.load(TrainerEmailClaim, old_key).trainer_id != tid):
            return 0
        new_key = self._claim_ids("trainer-email", email)[0]
        if self.app.exists(new_key):
            return 0  # done before (trainer claims are never released)
        new = TrainerEmailClaim(new_key)
        new.claim(tid, actor)
        self.save(new, conflict="Ett utbildarkonto ändrades samtidigt; kör igen.")
        return 1

    # -- reference data ---------------------------------------------------------------------

    def register_region(self, cmd: RegisterRegion, actor: str | None = None) -> None:
        region = Region(region_key(cmd.region_id))
        region.trigger(RegionRegistered, region_id=cmd.region_id, name=cmd.name, actor=actor)
        self.save(region, conflict=f"Regionen {cmd.region_id} finns redan.")

    def region(self, region_id: str, field: str | None = None) -> Region:
        return self._get(Region, region_key(region_id), f"Regionen {region_id}", field)

    def join_municipality(self, cmd: JoinMunicipality, actor: str | None = None) -> None:
        self.region(cmd.region_id, field="region_id")
        municipality = Municipality(municipality_key(cmd.municipality_id))
        municipality.trigger(MunicipalityJoined, municipality_id=cmd.municipality_id,
                             name=cmd.name, region_id=cmd.region_id, actor=actor)
        self.save(municipality, conflict=f"Kommunen {cmd.municipality_id} finns redan.")

    def municipality(self, municipality_id: str, field: str | None = None) -> Municipality:
        return self._get(Municipality, municipality_key(municipality_id),
                         f"Kommunen {municipality_id}", field)

    def region_of(self, municipality_id: str) -> str | None:
        """The municipality's region; None if no such municipality has joined."""
        key = municipality_key(municipality_id)
        if not self.app.exists(key):
            return None
        return str(self.app.load(Municipality, key).region_id)

    def course(self, course_id: str) -> contract.CoursePublished:
        """A published course, as enrolment's copy of the catalogue has it."""
        course = self.catalogue.course(course_id)
        if course is None:
            raise NotFound(f"Kursen {course_id} finns inte (eller är så nyss publicerad att "
                           "den inte nått hit än).", field="course_id")
        return course

    def regions(self) -> list[dict[str, Any]]:
        self.directory.catch_up()
        return self.directory.regions()

    def municipalities(self, region_id: str | None = None) -> list[dict[str, Any]]:
        self.directory.catch_up()
        return self.directory.municipalities(region_id)

    def courses(self) -> list[dict[str, Any]]:
        return self.catalogue.courses()

    # -- participants -----------------------------------------------------------------------

    def register_participant(self, cmd: RegisterParticipant, actor: str | None = None) -> str:
        """Create the account; the e-mail address may hold one account nationally.

        Optimistic: the common case (a new person, a new address) is one transaction holding
        the personal-data key and the events. Only when it conflicts do we look at what was
        there: an address released by an erasure is claimed again, anything else is a 409 that
        names what collided (and the key went with the rolled-back transaction)."""
        claim: EmailClaim | None = None
        for attempt in range(2):
            try:
                return self.register_participants([cmd], actor, [claim])[0]
            except Conflict:
                claim = self.email_claim(cmd.email)
                if attempt == 1 or claim.participant_id is not None:
                    raise
        raise AssertionError("unreachable")

    def register_participants(
        self, cmds: Sequence[RegisterParticipant], actor: str | None = None,
        claims: Sequence[EmailClaim | None] | None = None,
        claim_ids: Sequence[list[uuid.UUID]] | None = None,
    ) -> list[str]:
        """Create accounts in one transaction (the API registers one, a CSV import a batch):
        a minted id each, the personal data sealed with a new key of its own, stored with the
        events, and the address claimed. `claims` are claims released by an erasure, to take
        again (None: a new claim); `claim_ids`, the addresses' `email_keys` where the caller
        has them already. Any address already held: nothing is recorded, 409."""
        for municipality_id in {cmd.municipality_id for cmd in cmds}:
            self._known_municipality(municipality_id)
        ids = [str(uuid.uuid4()) for _ in cmds]
        data_keys, store_keys = self.vault.new_keys(ids)  # one insert for the batch's keys
        aggregates: list[Aggregate] = []
        known: Sequence[list[uuid.UUID] | None] = claim_ids or [None] * len(cmds)
        for cmd, claim, participant_id, key, keys in zip(
                cmds, claims or [None] * len(cmds), ids, data_keys, known, strict=True):
            keys = keys or self.email_keys(cmd.email)
            if self._held_under_older_key(EmailClaim, keys):
                raise Conflict("E-postadressen används redan av ett annat konto.", field="email")
            claim = claim or EmailClaim(keys[0])
            claim.claim(participant_id, actor)
            aggregates += [Participant.register(
                participant_id, municipality_id=cmd.municipality_id, journey=cmd.journey,
                role=cmd.role, years_in_profession=cmd.years_in_profession,
                ciphertext=self.vault.seal(key, participant_id, cmd.personal()),
                occurred_at=cmd.occurred_at, actor=actor), claim]
        try:
            self.app.save(*aggregates, statements=[store_keys])
        except IntegrityError:
            raise Conflict("E-postadressen används redan av ett annat konto.",
                           field="email") from None
        return ids

    def _known_municipality(self, municipality_id: str) -> None:
        """Municipalities never leave once joined, so a confirmed one is remembered."""
        if municipality_id not in self._municipalities_seen:
            self.municipality(municipality_id, field="municipality_id")
            self._municipalities_seen.add(municipality_id)

    def participant(self, participant_id: str) -> Participant:
        return self._get(Participant, participant_key(participant_id),
                         f"Deltagaren {participant_id}")

    def find_participant(self, participant_id: str) -> Participant | None:
        """The participant, or None: for access rules that answer unknown and out of scope
        alike."""
        key = participant_key(participant_id)
        return self.app.load(Participant, key) if self.app.exists(key) else None

    def personal_data(self, participant: Participant) -> dict[str, Any] | None:
        """Name, e-mail and area of work, or None once erased (the key is gone)."""
        if participant.ciphertext is None:
            return None
        return self.vault.open(participant.participant_id, participant.ciphertext)

    def personal_data_of(self, participant_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """`personal_data` of many participants (the erased and unknown left out), the data
        keys read in batches."""
        def ciphertext(pid: str) -> str | None:
            try:  # one query (find_participant asks whether it exists first)
                return self.app.load(Participant, participant_key(pid)).ciphertext
            except AggregateNotFoundError:
                return None

        # Each load is a round trip: on PostgreSQL a few at once (the store's pool has five
        # connections); SQLite reads one after the other.
        if self.vault.db.is_sqlite:
            found = [ciphertext(pid) for pid in participant_ids]
        else:
            with ThreadPoolExecutor(4) as pool:
                found = list(pool.map(ciphertext, participant_ids))
        sealed = {pid: c for pid, c in zip(participant_ids, found, strict=True) if c is not None}
        return {pid: data for pid, data in self.vault.open_many(sealed).items()
                if data is not None}

    def view(self, participant: Participant, personal: bool | Sequence[str],
             reader: Reader | None = None) -> dict[str, Any]:
        """The account as shown to a caller; personal data only to those allowed to see it
        (`personal`: True for all of it, or the fields the caller may see), and each time
        recorded with who reads it and why (`reader`)."""
        shown = participant.facts()
        if fields := _personal_fields(personal):
            if reader is not None:
                self.reads.record([participant.participant_id], reader)
            data = self.personal_data(participant) or {}
            shown |= {k: data.get(k) for k in fields}
        return shown

    def participants_of(self, municipality_id: str, personal: bool | Sequence[str],
                        limit: int = 100, offset: int = 0,
                        reader: Reader | None = None) -> list[dict[str, Any]]:
        self.municipality(municipality_id)
        self.directory.catch_up()
        rows = self.directory.participants(municipality_id, limit, offset)
        if _personal_fields(personal) and reader is not None:  # one row per person, one commit
            self.reads.record([r["participant_id"] for r in rows], reader)
        return [self.view(self.participant(r["participant_id"]), personal) for r in rows]

    def move_participant(self, participant_id: str, cmd: MoveParticipant,
                         actor: str | None = None) -> None:
        """The account and its whole history follow the person to the new municipality."""
        participant = self.participant(participant_id)
        self.municipality(cmd.to_municipality_id, field="to_municipality_id")
        participant.move_to(cmd.to_municipality_id, cmd.occurred_at, actor)
        self.save(participant, conflict="Kontot ändrades samtidigt; försök igen.")

    def level_up(self, participant_id: str, as_of: dt.date | None = None,
                 actor: str | None = None) -> list[Level]:
        as_of = _checked_as_of(as_of)
        participant = self.participant(participant_id)
        reached = participant.level_up(as_of, actor)
        if reached:
            self.save(participant, conflict="Kontot ändrades samtidigt; försök igen.")
        return reached

    def level_up_all(self, as_of: dt.date | None = None, actor: str | None = None,
                     progress: Progress = no_progress) -> LevelUpReport:
        """Recompute every active account's level from its years in the profession and the
        time since registration; record `ParticipantLevelChanged` where it rose. Safe to run
        again for the same date: a level is recorded once."""
        report = LevelUpReport(_checked_as_of(as_of))
        self.directory.catch_up()
        candidates = []
        for row in self.directory.active_below([Level.NY.value, Level.VAN.value]):
            report.checked += 1
            reached = levels_reached(row["role"], row["years_in_profession"],
                                     row["registered_at"], report.as_of)
            if any(is_higher(level, Level(row["level"])) for level, _ in reached):
                candidates.append(row["participant_id"])
        progress("level-up", 0, len(candidates))
        for start, batch in _batches(candidates):
            changed = []
            for participant in (self.participant(pid) for pid in batch):
                if not participant.erased and (levels := participant.level_up(report.as_of,
                                                                              actor)):
                    report.changed[participant.participant_id] = [lv.value for lv in levels]
                    changed.append(participant)
            if changed:
                self.save(*changed, conflict=(
                    f"Ett konto ändrades samtidigt; {len(report.changed) - len(changed)} "
                    "konton fick ny nivå innan dess. Kör igen: ingen nivå räknas två gånger."))
            progress("level-up", start + len(batch), len(candidates))
        return report

    def complete_preparation(self, participant_id: str, cmd: CompletePreparation,
                             actor: str | None = None) -> bool:
        participant = self.participant(participant_id)
        done = participant.complete_preparation(self.course(cmd.course_id), cmd.item_id, actor)
        if done:
            self.save(participant, conflict="Kontot ändrades samtidigt; försök igen.")
        return done

    def submit_deepening(self, participant_id: str, cmd: SubmitDeepening,
                         actor: str | None = None) -> bool:
        participant = self.participant(participant_id)
        done = participant.submit_deepening(self.course(cmd.course_id), cmd.task_id, actor)
        if done:
            self.save(participant, conflict="Kontot ändrades samtidigt; försök igen.")
        return done

    def erase_participant(self, participant_id: str, actor: str | None = None) -> bool:
        """Record the erasure and release the e-mail address in one transaction, then destroy
        the participant's key. Run again after a failure, it finishes the shredding."""
        participant = self.participant(participant_id)
        personal = self.personal_data(participant)  # read before the key goes: the claim's id
        changed: list[Aggregate] = [participant] if participant.erase(actor) else []
        if personal is not None:
            claim = self.email_claim(personal["email"], held_by=participant_id)
            if claim.participant_id == participant_id:
                claim.release(actor)
                changed.append(claim)
        if changed:
            self.save(*changed, conflict="Kontot ändrades samtidigt; försök igen.")
        self.vault.shred(participant_id)
        return participant in changed

    # -- trainers ---------------------------------------------------------------------------

    def register_trainer(self, cmd: RegisterTrainer, actor: str | None = None) -> str:
        """A trainer's account: a minted id, name and e-mail sealed with a key of its own
        (stored with the events), the address claimed for one trainer account nationally."""
        self._known_municipality(cmd.municipality_id)
        trainer_id = str(uuid.uuid4())
        key, store_key = self.vault.new_key(trainer_id)
        keys = self._claim_ids("trainer-email", cmd.email)
        if self._held_under_older_key(TrainerEmailClaim, keys):
            raise Conflict("E-postadressen används redan av ett annat utbildarkonto.",
                           field="email")
        claim = TrainerEmailClaim(keys[0])
        claim.claim(trainer_id, actor)
        trainer = Trainer.register(
            trainer_id, municipality_id=cmd.municipality_id,
            ciphertext=self.vault.seal(key, trainer_id, cmd.personal()),
            occurred_at=cmd.occurred_at, actor=actor)
        try:
            self.app.save(trainer, claim, statements=[store_key])
        except IntegrityError:
            raise Conflict("E-postadressen används redan av ett annat utbildarkonto.",
                           field="email") from None
        return trainer_id

    def find_trainer(self, trainer_id: str) -> Trainer | None:
        key = trainer_key(trainer_id)
        return self.app.load(Trainer, key) if self.app.exists(key) else None

    def trainer_view(self, trainer: Trainer, personal: bool,
                     reader: Reader | None = None) -> dict[str, Any]:
        shown = trainer.facts()
        if personal:
            if reader is not None:
                self.reads.record([trainer.trainer_id], reader)
            data = (self.vault.open(trainer.trainer_id, trainer.ciphertext)
                    if trainer.ciphertext else None) or {}
            shown |= {k: data.get(k) for k in ("name", "email")}
        return shown

    def trainers_of(self, municipality_id: str, personal: bool, limit: int = 100,
                    offset: int = 0, reader: Reader | None = None) -> list[dict[str, Any]]:
        self.directory.catch_up()
        rows = self.directory.trainers(municipality_id, limit, offset)
        found = [t for t in (self.find_trainer(r["trainer_id"]) for r in rows) if t is not None]
        if personal and reader is not None:
            self.reads.record([t.trainer_id for t in found], reader)
        return [self.trainer_view(t, personal) for t in found]

    def runner(self) -> CopyRunner:
        """What the `enrolment-catalogue` consumer applies the bus's envelopes with."""
        return CopyRunner(catalogue(), self.catalogue.db)

    def close(self) -> None:
        self.app.close()
        self.vault.db.close()
        if self.directory.db is not self.vault.db:
            self.directory.db.close()


PERSONAL_FIELDS = ("name", "email", "area_of_work")


def _personal_fields(personal: bool | Sequence[str]) -> tuple[str, ...]:
    if isinstance(personal, bool):
        return PERSONAL_FIELDS if personal else ()
    return tuple(f for f in PERSONAL_FIELDS if f in personal)


def _checked_as_of(as_of: dt.date | None) -> dt.date:
    today = utcnow().date()
    if as_of is None:
        return today
    if as_of > today:
        raise CommandRejected("Datumet får inte ligga i framtiden.", field="as_of")
    return as_of


def _batches(items: Sequence[str], size: int = BATCH) -> Iterable[tuple[int, Sequence[str]]]:
    for start in range(0, len(items), size):
        yield start, items[start:start + size]


def bootstrap(database_url: str | None = None, settings: Settings | None = None) -> Enrolment:
    settings = settings or Settings()
    url = database_url or settings.database_url_for("enrolment")
    schema.require("enrolment", url)
    app = EnrolmentApplication(url)
    db = Database(url)
    keys = load_keyring(settings)
    return Enrolment(app=app, vault=PersonalDataVault(db, keys), directory=Directory(db, app),
                     catalogue=Known(db, PREFIX), keys=keys, reads=ReadLog(db))


def migrate(database_url: str | None = None) -> None:
    """Bring the service's database to this code's schema (`services/enrolment/migrations`),
    then wrap any personal-data keys an older release kept in clear (a step that needs the
    keyring, which no revision has)."""
    url = database_url or Settings().database_url_for("enrolment")
    schema.upgrade("enrolment", url)
    db = Database(url)
    try:
        PersonalDataVault(db, load_keyring(Settings())).migrate()
    finally:
        db.close()
