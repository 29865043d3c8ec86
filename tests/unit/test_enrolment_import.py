"""CSV import of participant accounts: all or nothing, every bad row reported, idempotent
(SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.enrolment.application import (
    Enrolment,
    JoinMunicipality,
    RegisterParticipant,
    RegisterRegion,
    bootstrap,
    migrate,
)
from services.enrolment.csv_import import (
    Columns,
    ImportInterrupted,
    ImportRejected,
    RowError,
    import_participants,
    read_rows,
)
from services.enrolment.domain import Level
from shared.platform.errors import NotFound

HEADER = "name,email,role,area_of_work,years_in_profession\n"


@pytest.fixture
def enrolment(database_url: str) -> Iterator[Enrolment]:
    migrate(database_url)
    e = bootstrap(database_url)
    e.register_region(RegisterRegion(region_id="rss-dalarna", name="RSS Dalarna"))
    for mid, name in (("falun", "Falun"), ("mora", "Mora")):
        e.join_municipality(JoinMunicipality(municipality_id=mid, name=name,
                                             region_id="rss-dalarna"))
    yield e
    e.close()


def _file(n: int, start: int = 1) -> str:
    rows = [f"Person {i},person{i}@falun.example.se,socialsekreterare,utredning,{i % 7}"
            for i in range(start, start + n)]
    return HEADER + "\n".join(rows) + "\n"


def _events(e: Enrolment) -> int:
    return e.app.recorder.max_notification_id() or 0


def test_a_clean_file_imports_every_row(enrolment: Enrolment) -> None:
    report = import_participants(enrolment, "falun", _file(1200), actor="cli")
    assert len(report.imported) == 1200 and report.skipped == []
    assert [line for line, _ in report.imported] == list(range(2, 1202))
    line, pid = report.imported[5]
    p = enrolment.participant(pid)
    assert (line, p.municipality_id, p.level) == (7, "falun", Level.ERFAREN)  # 6 years
    assert enrolment.personal_data(p) == {
        "name": "Person 6", "email": "person6@falun.example.se", "area_of_work": "utredning"}


def test_importing_the_same_file_twice_creates_nobody_twice(enrolment: Enrolment) -> None:
    first = import_participants(enrolment, "falun", _file(30))
    events = _events(enrolment)
    again = import_participants(enrolment, "falun", _file(30))
    assert again.imported == [] and sorted(again.skipped) == sorted(first.imported)
    assert _events(enrolment) == events
    # A longer file of which the first part is there: only the new rows are created.
    longer = import_participants(enrolment, "falun", _file(40))
    assert len(longer.imported) == 10 and len(longer.skipped) == 30


def test_a_file_with_bad_rows_imports_nothing_and_reports_every_one(
    enrolment: Enrolment,
) -> None:
    enrolment.register_participant(RegisterParticipant(
        municipality_id="mora", name="Taken", email="taken@mora.example.se",
        role="socialsekreterare", years_in_profession=1))
    events = _events(enrolment)
    text = HEADER + "\n".join([
        "Anna,anna@falun.example.se,socialsekreterare,utredning,1",       # 2 ok
        ",not-an-address,socialsekreterare,,1",                            # 3 name, email
        "Bo,bo@falun.example.se,social sekreterare,,-1",                   # 4 role, years
        "Ce,ce@falun.example.se,socialsekreterare,,två",                   # 5 years
        "Di,ANNA@falun.example.se,socialsekreterare,,1",                   # 6 same as row 2
        "Ed,taken@mora.example.se,socialsekreterare,,1",                   # 7 another account
        "Fi,fi@falun.example.se,socialsekreterare,1",                      # 8 too few columns
        "",                                                                # 9 blank, skipped
        "Gu,gu@falun.example.se,socialsekreterare,,71",                    # 10 years
    ]) + "\n"
    with pytest.raises(ImportRejected) as caught:
        import_participants(enrolment, "falun", text)
    messages = [str(e) for e in caught.value.errors]
    assert messages == [
        "rad 3: email: ogiltig e-postadress",
        "rad 3: name: får inte vara tomt",
        "rad 4: role: får bara innehålla a–z, A–Z, 0–9 och _ . : -",
        "rad 4: years_in_profession: måste vara minst 0",
        "rad 5: years_in_profession: måste vara ett tal",
        "rad 6: email: samma e-postadress som rad 2",
        "rad 7: email: e-postadressen används redan av ett annat konto",
        "rad 8: fel antal kolumner: 4, väntade 5",
        "rad 10: years_in_profession: får vara högst 70",
    ]
    assert "fel på 7 rad" in caught.value.message
    assert _events(enrolment) == events
    # Reasons name the line and field, never the value (no personal data in a report).
    assert not any("anna@" in m.lower() or "taken@" in m for m in messages)


def test_the_same_address_in_another_municipality_is_an_error_not_a_skip(
    enrolment: Enrolment,
) -> None:
    import_participants(enrolment, "falun", _file(3))
    with pytest.raises(ImportRejected) as caught:
        import_participants(enrolment, "mora", _file(3))
    assert [e.line for e in caught.value.errors] == [2, 3, 4]


def test_the_same_address_with_other_data_is_an_error(enrolment: Enrolment) -> None:
    import_participants(enrolment, "falun", _file(2))
    changed = _file(2).replace("Person 2", "Person Två")
    with pytest.raises(ImportRejected) as caught:
        import_participants(enrolment, "falun", changed)
    assert [(e.line, e.field) for e in caught.value.errors] == [(3, "email")]


def test_an_erased_persons_address_can_be_imported_again(enrolment: Enrolment) -> None:
    first = import_participants(enrolment, "falun", _file(2))
    erased = first.imported[0][1]
    enrolment.erase_participant(erased)
    again = import_participants(enrolment, "falun", _file(2))
    assert [line for line, _ in again.imported] == [2] and again.imported[0][1] != erased
    assert [line for line, _ in again.skipped] == [3]


def test_semicolons_swedish_headers_decimal_commas_and_windows_1252(
    enrolment: Enrolment,
) -> None:
    text = ("Namn;E-post;Roll;Arbetsområde;År i yrket\r\n"
            "Åsa Öberg;asa@falun.example.se;Chef;;2,5\r\n")
    report = import_participants(enrolment, "falun", text.encode("cp1252"))
    p = enrolment.participant(report.imported[0][1])
    assert (p.role, p.level, p.years_in_profession) == ("chef", Level.CHEF, 2.5)
    assert enrolment.personal_data(p) == {
        "name": "Åsa Öberg", "email": "asa@falun.example.se", "area_of_work": None}


def test_header_problems_are_reported_on_line_one(enrolment: Enrolment) -> None:
    with pytest.raises(ImportRejected) as caught:
        import_participants(enrolment, "falun", "name,e-mail,shoe_size\nA,a@b.se,42\n")
    assert [str(e) for e in caught.value.errors] == [
        "rad 1: role: kolumnen saknas",
        "rad 1: shoe_size: okänd kolumn",
        "rad 1: years_in_profession: kolumnen saknas",
    ]
    with pytest.raises(ImportRejected) as caught:
        import_participants(enrolment, "falun", "")
    assert caught.value.errors == [RowError(1, None, "filen är tom (rubrikraden saknas)")]


def test_an_unknown_municipality_is_not_found(enrolment: Enrolment) -> None:
    with pytest.raises(NotFound):
        import_participants(enrolment, "atlantis", _file(1))


def test_quoted_fields_span_lines_and_line_numbers_follow_the_file() -> None:
    rows, errors = read_rows('name,email\n"A\nB",a@b.se\n\nC,c@d.se\n',
                             Columns(required=("name", "email")))
    assert errors == []
    assert [(n, v["name"]) for n, v in rows] == [(2, "A\nB"), (5, "C")]


def test_a_concurrent_write_stops_the_import_at_a_batch_and_a_rerun_finishes_it(
    enrolment: Enrolment,
) -> None:
    """Rows are validated before anything is written; should someone take an address of the
    file between validation and writing, that batch records nothing, the batches before it
    stay, and the error says where it stopped."""
    text = _file(600)  # two batches: lines 2–501 and 502–601

    def meanwhile(phase: str, done: int, total: int) -> None:
        if phase == "import" and done == 0:  # validated, not yet written
            enrolment.register_participant(RegisterParticipant(
                municipality_id="mora", name="Snabbare", email="person550@falun.example.se",
                role="socialsekreterare", years_in_profession=1))

    with pytest.raises(ImportInterrupted) as caught:
        import_participants(enrolment, "falun", text, progress=meanwhile)
    stop = caught.value
    assert (stop.status, stop.imported, stop.first_line, stop.last_line) == (409, 500, 502, 601)
    assert len(enrolment.participants_of("falun", personal=False, limit=1000)) == 500
    # Run again: the first batch is there, the taken address is now an error of its own.
    with pytest.raises(ImportRejected) as rejected:
        import_participants(enrolment, "falun", text)
    assert [str(e) for e in rejected.value.errors] == [
        "rad 551: email: e-postadressen används redan av ett annat konto"]
    without = "\n".join(line for line in text.split("\n") if "person550@" not in line)
    report = import_participants(enrolment, "falun", without)
    assert (len(report.imported), len(report.skipped)) == (99, 500)
