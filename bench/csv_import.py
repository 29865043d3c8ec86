"""CSV import of participant accounts next to the library's raw save rate, same run.

Generates a file of N accounts, imports it into a fresh PostgreSQL database through the very
function `yrkesresan enrolment import-csv` runs (progress bar on stderr), then saves the same
number of equivalent aggregates (a participant with its two events and an e-mail claim with
one, in the same batch size) straight into another fresh database: the library's own rate,
without validation, encryption, key storage or duplicate checks. Figures, no assertions.

    .venv/bin/python bench/csv_import.py [--rows N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import on_library_recorder, ratio_line, scratch_database  # noqa: E402
from services.enrolment.adapters.cli import import_file  # noqa: E402
from services.enrolment.application import (  # noqa: E402
    BATCH,
    Enrolment,
    EnrolmentApplication,
    JoinMunicipality,
    RegisterRegion,
    bootstrap,
    migrate,
)
from services.enrolment.domain import EmailClaim, Participant  # noqa: E402

MUNICIPALITY = "falun"


def write_file(path: Path, rows: int) -> None:
    roles = ["socialsekreterare"] * 9 + ["arbetsledare"]
    areas = ["mottagning", "utredning", "uppföljning", "familjehem"]
    with path.open("w", encoding="utf-8") as f:
        f.write("name,email,role,area_of_work,years_in_profession\n")
        for i in range(rows):
            f.write(f"Förnamn{i} Efternamn{i},person{i}@{MUNICIPALITY}.example.se,"
                    f"{roles[i % 10]},{areas[i % 4]},{(i * 0.7) % 12:.1f}\n")


def with_reference_data(url: str) -> Enrolment:
    migrate(url)
    enrolment = bootstrap(url)
    enrolment.register_region(RegisterRegion(region_id="rss-dalarna", name="RSS Dalarna"))
    enrolment.join_municipality(JoinMunicipality(municipality_id=MUNICIPALITY, name="Falun",
                                                 region_id="rss-dalarna"))
    return enrolment


def raw_save_rate(enrolment: Enrolment, rows: int) -> float:
    """Rows per second for the same aggregates and events, saved by the library alone."""
    ciphertext = "x" * 120  # about the size of a sealed name, address and area of work
    library = on_library_recorder(EnrolmentApplication)(enrolment.app.database_url)
    started = time.perf_counter()
    for start in range(0, rows, BATCH):
        participants, claims = [], []
        for i in range(start, min(rows, start + BATCH)):
            pid = str(uuid.uuid4())
            participants.append(Participant.register(
                pid, municipality_id=MUNICIPALITY, journey="barn_och_unga",
                role="socialsekreterare", years_in_profession=1, ciphertext=ciphertext))
            claim = EmailClaim(enrolment.email_key(f"raw{i}@example.se"))
            claim.claim(pid, None)
            claims.append(claim)
        library.save(*participants, *claims)
    rate = rows / (time.perf_counter() - started)
    library.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    rows = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "konton.csv"
        write_file(path, rows)
        with scratch_database() as url:
            enrolment = with_reference_data(url)
            started = time.perf_counter()
            report = import_file(enrolment, path, MUNICIPALITY)
            elapsed = time.perf_counter() - started
            assert len(report.imported) == rows, "the import must create every row"
            started = time.perf_counter()
            again = import_file(enrolment, path, MUNICIPALITY)
            again_elapsed = time.perf_counter() - started
            assert len(again.skipped) == rows and not again.imported
            events = enrolment.app.recorder.max_notification_id()
            enrolment.close()
        with scratch_database() as url:
            enrolment = with_reference_data(url)
            raw = raw_save_rate(enrolment, rows)
            enrolment.close()
    rate = rows / elapsed
    print(f"rows: {rows} accounts, one CSV file, fresh PostgreSQL database, batches of {BATCH}")
    print(f"import-csv (validate all, seal, store keys, save): {elapsed:.2f} s, "
          f"{rate:,.0f} rows/s, {events} events stored (goal: under 30 s)")
    print(f"same file again (every row already there, nothing created): {again_elapsed:.2f} s")
    print(f"raw library save of the same aggregates: {raw:,.0f} rows/s")
    print(ratio_line("import-csv / raw save", rate, raw, 0.5))


if __name__ == "__main__":
    main()
