"""Bulk imports from CSV files: participant accounts, regions, municipalities.

All or nothing in what matters to the person importing: every row is validated first (the
command model per row, duplicates inside the file, addresses and ids already taken), and a file
with any bad row imports nothing and reports every bad row as `rad N: fält: orsak` (the header
is line 1). A clean file is then written in batches of `BATCH` rows, one transaction each. Should
a concurrent write (say, the same address registered through the API a moment ago) make a batch
conflict, that batch records nothing, the earlier batches stay imported, and the error says so;
running the same file again finishes the job, because rows that are already there (same
municipality, same data) are skipped, never created twice.

Accounts are registered through the API's own handler (`Enrolment.register_participants`, a
batch per call): the same command, the same minted ids, the personal-data keys stored in the
same transaction as the events. A file has no id column: ids are minted, never imported.

Personal data never appears in a reason: rows are named by line number and field only.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from eventsourcing.persistence import IntegrityError
from pydantic import BaseModel, ValidationError

from services.enrolment.application import (
    BATCH,
    Enrolment,
    JoinMunicipality,
    Progress,
    RegisterParticipant,
    RegisterRegion,
    no_progress,
)
from services.enrolment.domain import (
    EmailClaim,
    Municipality,
    MunicipalityJoined,
    Region,
    RegionRegistered,
    municipality_key,
    region_key,
)
from shared.platform.errors import CommandRejected, Conflict, TooLarge, swedish_reason
from shared.platform.settings import current_settings
from shared.platform.store import Aggregate

# --- Reporting --------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class RowError:
    line: int
    field: str | None
    reason: str

    def __str__(self) -> str:
        return f"rad {self.line}: {self.field}: {self.reason}" if self.field else \
            f"rad {self.line}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "reason": self.reason,
                "message": str(self)}


class ImportRejected(CommandRejected):
    """The file has bad rows; nothing was imported."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = sorted(errors)
        rows = len({e.line for e in self.errors})
        super().__init__(f"Filen har fel på {rows} rad(er); inget importerades.")


class ImportInterrupted(Conflict):
    """A batch conflicted with a concurrent write: earlier batches are imported, the rest not."""

    def __init__(self, imported: int, first_line: int, last_line: int) -> None:
        super().__init__(
            f"Importen avbröts på raderna {first_line}–{last_line}: en samtidig ändring krockade "
            f"(till exempel samma e-postadress registrerad under tiden). {imported} rader före "
            "dem importerades, inga efter. Kör samma fil igen: rader som redan finns hoppas över.")
        self.imported = imported
        self.first_line = first_line
        self.last_line = last_line


@dataclass
class ImportReport:
    imported: list[tuple[int, str]] = field(default_factory=list)  # (line, id)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # already there: (line, id)

    def as_dict(self) -> dict[str, Any]:
        rows = [{"line": n, "id": i, "status": "imported"} for n, i in self.imported]
        rows += [{"line": n, "id": i, "status": "already_there"} for n, i in self.skipped]
        return {"imported": len(self.imported), "skipped": len(self.skipped),
                "rows": sorted(rows, key=lambda r: r["line"])}


# --- Reading a file ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Columns:
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)


PARTICIPANT_COLUMNS = Columns(
    required=("name", "email", "role", "years_in_profession"),
    optional=("area_of_work", "journey"),
    aliases={"namn": "name", "e-post": "email", "epost": "email", "e-mail": "email",
             "roll": "role", "arbetsområde": "area_of_work", "år_i_yrket": "years_in_profession",
             "år i yrket": "years_in_profession", "yrkesår": "years_in_profession",
             "resa": "journey"},
)
REGION_COLUMNS = Columns(required=("region_id", "name"), aliases={"namn": "name"})
MUNICIPALITY_COLUMNS = Columns(required=("municipality_id", "name", "region_id"),
                               aliases={"namn": "name", "kommun_id": "municipality_id"})


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252")  # Excel's "CSV" on Swedish Windows


def read_rows(data: bytes | str, columns: Columns, max_rows: int | None = None,
              ) -> tuple[list[tuple[int, dict[str, str]]], list[RowError]]:
    """(line number, values by column) per data row, and the file's structural errors.

    The delimiter is `,`, `;` or tab, whichever the header uses; `;` is what Swedish Excel
    writes. Blank lines are skipped but counted, so line numbers are those an editor shows.
    A file with more than `max_rows` data rows (default: the setting `max_csv_rows`) is
    refused as a whole (413) as soon as the row past the limit is read."""
    limit = max_rows or current_settings().max_csv_rows
    text = _decode(data)
    header_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=header_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return _rows(reader, columns, limit)
    except csv.Error:
        line = reader.line_num or 1
        return [], [RowError(line, None, "raden kan inte läsas som CSV "
                                         "(ett för långt fält eller ett citattecken som saknas)")]


def _rows(reader: Any, columns: Columns, limit: int,
          ) -> tuple[list[tuple[int, dict[str, str]]], list[RowError]]:
    header = next(reader, None)
    if not header:
        return [], [RowError(1, None, "filen är tom (rubrikraden saknas)")]
    names = [columns.aliases.get(h.strip().lower(), h.strip().lower()) for h in header]
    errors = [RowError(1, c, "kolumnen saknas") for c in columns.required if c not in names]
    known = set(columns.required) | set(columns.optional)
    errors += [RowError(1, n or "(tom)", "okänd kolumn") for n in names if n not in known]
    errors += [RowError(1, n, "kolumnen finns två gånger")
               for n in sorted({n for n in names if names.count(n) > 1})]
    if errors:
        return [], errors
    rows: list[tuple[int, dict[str, str]]] = []
    line = reader.line_num
    for values in reader:
        start, line = line + 1, reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(rows) + len(errors) >= limit:
            raise TooLarge(f"Filen har för många rader: högst {_thousands(limit)} rader kan "
                           "importeras åt gången. Dela upp den i flera filer.")
        if len(values) != len(names):
            errors.append(RowError(start, None,
                                   f"fel antal kolumner: {len(values)}, väntade {len(names)}"))
            continue
        rows.append((start, {n: v.strip() for n, v in zip(names, values, strict=True)}))
    return rows, errors


def _thousands(n: int) -> str:
    return f"{n:,}".replace(",", " ")


M = TypeVar("M", bound=BaseModel)


def _validated(model: type[M], line: int, values: dict[str, Any],
               errors: list[RowError]) -> M | None:
    try:
        return model.model_validate(values)
    except ValidationError as e:
        for err in e.errors(include_url=False):
            where = ".".join(str(p) for p in err["loc"]) or None
            errors.append(RowError(line, where, swedish_reason(err)))
        return None


def _duplicates(rows: Iterable[tuple[int, str]], field_name: str,
                what: str) -> list[RowError]:
    first: dict[str, int] = {}
    errors = []
    for line, key in rows:
        if key in first:
            errors.append(RowError(line, field_name, f"{what} som rad {first[key]}"))
        else:
            first[key] = line
    return errors


# --- Participant accounts ---------------------------------------------------------------------


@dataclass(frozen=True)
class _NewAccount:
    line: int
    cmd: RegisterParticipant
    claim: EmailClaim | None  # an existing, released claim to take again; None: a new one
    claim_ids: list[uuid.UUID]  # the address's claim id under each e-mail key (computed once)


def import_participants(
    enrolment: Enrolment, municipality_id: str, data: bytes | str, actor: str | None = None,
    progress: Progress = no_progress,
) -> ImportReport:
    """Create the accounts of a CSV file (name, email, role, years_in_profession, and
    optionally area_of_work and journey) in one municipality."""
    enrolment.municipality(municipality_id, field="municipality_id")
    rows, errors = read_rows(data, PARTICIPANT_COLUMNS)
    progress("kontroll", 0, len(rows))
    commands: list[tuple[int, RegisterParticipant]] = []
    for line, values in rows:
        values = {k: v for k, v in values.items() if v != "" or k in PARTICIPANT_COLUMNS.required}
        if "years_in_profession" in values:
            values["years_in_profession"] = values["years_in_profession"].replace(",", ".")
        cmd = _validated(RegisterParticipant, line,
                         {**values, "municipality_id": municipality_id}, errors)
        if cmd is not None:
            commands.append((line, cmd))
    errors += _duplicates(((n, c.email) for n, c in commands), "email", "samma e-postadress")
    duplicate_lines = {e.line for e in errors}
    report = ImportReport()
    accounts = _against_existing(
        enrolment, municipality_id, [(n, c) for n, c in commands if n not in duplicate_lines],
        errors, report, lambda done: progress("kontroll", done, len(rows)))
    if errors:
        raise ImportRejected(errors)
    progress("kontroll", len(rows), len(rows))
    _write_accounts(enrolment, accounts, actor, report, progress)
    return report


def _against_existing(
    enrolment: Enrolment, municipality_id: str, commands: list[tuple[int, RegisterParticipant]],
    errors: list[RowError], report: ImportReport, checked: Callable[[int], None],
) -> list[_NewAccount]:
    """Rows to create; rows already there go to the report, rows whose address another
    account holds to the errors."""
    enrolment.directory.catch_up()
    # Under each e-mail key, the current one first: an address claimed before a rotation of
    # the key is found under the older key's id.
    keys = {line: enrolment.email_keys(cmd.email) for line, cmd in commands}
    claims = enrolment.directory.claims(k for ks in keys.values() for k in ks)
    holders = enrolment.directory.participants_where(p for p in claims.values() if p)
    held = {line: next((claims[k] for k in keys[line] if claims.get(k)), None)
            for line, _ in commands}
    # The personal data of every holder whose facts match the row, opened in batches (a file
    # imported again compares each row with its account: one key query per batch, not two
    # queries per row).
    personal = enrolment.personal_data_of([
        pid for line, cmd in commands if (pid := held[line]) is not None
        and _same_facts(holders.get(pid), municipality_id, cmd)])
    accounts = []
    for done, (line, cmd) in enumerate(commands):
        if done % BATCH == 0:
            checked(done)
        holder = held[line]
        if holder is None:
            current = keys[line][0]
            # released when its account was erased: free to take again
            released = enrolment.app.load(EmailClaim, current) if current in claims else None
            accounts.append(_NewAccount(line, cmd, released, keys[line]))
        elif holder in personal and personal[holder] == cmd.personal():
            report.skipped.append((line, holder))  # the account this row describes
        else:
            errors.append(RowError(line, "email",
                                   "e-postadressen används redan av ett annat konto"))
    return accounts


def _same_facts(holder: dict[str, Any] | None, municipality_id: str,
                cmd: RegisterParticipant) -> bool:
    """The account holding the row's address has the row's municipality and facts (whether
    its name and address match too is for the personal data to say)."""
    if holder is None or holder["erased"] or holder["municipality_id"] != municipality_id:
        return False
    return (holder["role"], holder["journey"], holder["years_in_profession"]) == (
        cmd.role, cmd.journey, cmd.years_in_profession)


def _write_accounts(enrolment: Enrolment, accounts: list[_NewAccount], actor: str | None,
                    report: ImportReport, progress: Progress) -> None:
    progress("import", 0, len(accounts))
    for start in range(0, len(accounts), BATCH):
        batch = accounts[start:start + BATCH]
        try:
            ids = enrolment.register_participants([a.cmd for a in batch], actor,
                                                  [a.claim for a in batch],
                                                  [a.claim_ids for a in batch])
        except Conflict:
            raise ImportInterrupted(len(report.imported), batch[0].line,
                                    batch[-1].line) from None
        report.imported += [(a.line, pid) for a, pid in zip(batch, ids, strict=True)]
        progress("import", start + len(batch), len(accounts))


# --- Regions and municipalities ---------------------------------------------------------------

UNKNOWN_REGION = "regionen finns inte, eller ligger utanför ditt område"


def import_regions(enrolment: Enrolment, data: bytes | str, actor: str | None = None,
                   progress: Progress = no_progress) -> ImportReport:
    """Register the regions of a CSV file (region_id, name); those already there are skipped."""
    rows, errors = read_rows(data, REGION_COLUMNS)
    commands = [(n, c) for n, v in rows if (c := _validated(RegisterRegion, n, v, errors))]
    errors += _duplicates(((n, c.region_id) for n, c in commands), "region_id", "samma region")
    enrolment.directory.catch_up()
    existing = enrolment.directory.existing("regions", (c.region_id for _, c in commands))
    report, new = ImportReport(), []
    for line, cmd in commands:
        there = existing.get(cmd.region_id)
        if there is None:
            new.append((line, cmd))
        elif there["name"] == cmd.name:
            report.skipped.append((line, cmd.region_id))
        else:
            errors.append(RowError(line, "name", "regionen finns redan med ett annat namn"))
    if errors:
        raise ImportRejected(errors)
    aggregates: list[Aggregate] = []
    for _, cmd in new:
        region = Region(region_key(cmd.region_id))
        region.trigger(RegionRegistered, region_id=cmd.region_id, name=cmd.name, actor=actor)
        aggregates.append(region)
    _write_reference(enrolment, [(n, c.region_id) for n, c in new], aggregates, report,
                     progress)
    return report


def import_municipalities(
    enrolment: Enrolment, data: bytes | str, actor: str | None = None,
    only_region: str | None = None, progress: Progress = no_progress,
) -> ImportReport:
    """Join the municipalities of a CSV file (municipality_id, name, region_id) to their
    regions. With `only_region` (a regional coordinator's scope), a row naming any other
    region is a bad row, reported as a region that does not exist is (nothing imported)."""
    rows, errors = read_rows(data, MUNICIPALITY_COLUMNS)
    commands = [(n, c) for n, v in rows if (c := _validated(JoinMunicipality, n, v, errors))]
    errors += _duplicates(((n, c.municipality_id) for n, c in commands), "municipality_id",
                          "samma kommun")
    enrolment.directory.catch_up()
    regions = enrolment.directory.existing("regions", (c.region_id for _, c in commands))
    existing = enrolment.directory.existing(
        "municipalities", (c.municipality_id for _, c in commands))
    report, new = ImportReport(), []
    for line, cmd in commands:
        there = existing.get(cmd.municipality_id)
        if cmd.region_id not in regions or only_region not in (None, cmd.region_id):
            errors.append(RowError(line, "region_id", UNKNOWN_REGION))
        elif there is None:
            new.append((line, cmd))
        elif (there["name"], there["region_id"]) == (cmd.name, cmd.region_id):
            report.skipped.append((line, cmd.municipality_id))
        else:
            errors.append(RowError(line, "municipality_id",
                                   "kommunen finns redan med andra uppgifter"))
    if errors:
        raise ImportRejected(errors)
    aggregates: list[Aggregate] = []
    for _, cmd in new:
        municipality = Municipality(municipality_key(cmd.municipality_id))
        municipality.trigger(MunicipalityJoined, municipality_id=cmd.municipality_id,
                             name=cmd.name, region_id=cmd.region_id, actor=actor)
        aggregates.append(municipality)
    _write_reference(enrolment, [(n, c.municipality_id) for n, c in new], aggregates, report,
                     progress)
    return report


def _write_reference(enrolment: Enrolment, rows: list[tuple[int, str]],
                     aggregates: Sequence[Aggregate], report: ImportReport,
                     progress: Progress) -> None:
    """Save new regions or municipalities in batches; `rows` are their (line, id)."""
    progress("import", 0, len(aggregates))
    for start in range(0, len(aggregates), BATCH):
        batch = aggregates[start:start + BATCH]
        try:
            enrolment.app.save(*batch)
        except IntegrityError:
            raise ImportInterrupted(len(report.imported), rows[start][0],
                                    rows[start + len(batch) - 1][0]) from None
        report.imported += rows[start:start + len(batch)]
        progress("import", start + len(batch), len(aggregates))
