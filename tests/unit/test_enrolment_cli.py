"""`yrkesresan enrolment ...` as an administrator runs it (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.enrolment.application import bootstrap
from yrkesresan.cli import app


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("YRKESRESAN_ENROLMENT_DATABASE_URL", database_url)
    runner = CliRunner()
    assert runner.invoke(app, ["migrate", "--service", "enrolment"]).exit_code == 0
    return runner


def test_import_reference_data_and_accounts_then_level_up(
    cli: CliRunner, tmp_path: Path, database_url: str,
) -> None:
    regions = tmp_path / "regions.csv"
    regions.write_text("region_id,name\nrss-dalarna,RSS Dalarna\n")
    municipalities = tmp_path / "municipalities.csv"
    municipalities.write_text("municipality_id;name;region_id\nfalun;Falun;rss-dalarna\n")
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("name,email,role,area_of_work,years_in_profession\n"
                        "Anna,anna@falun.example.se,socialsekreterare,utredning,1\n"
                        "Bo,bo@falun.example.se,chef,,3\n")

    r = cli.invoke(app, ["enrolment", "import-regions", str(regions)])
    assert r.exit_code == 0, r.output
    assert "importerade: 1" in r.stdout
    r = cli.invoke(app, ["enrolment", "import-municipalities", str(municipalities)])
    assert r.exit_code == 0, r.output
    r = cli.invoke(app, ["enrolment", "import-csv", str(accounts), "--municipality", "falun"])
    assert r.exit_code == 0, r.output
    assert "importerade: 2, fanns redan: 0" in r.stdout
    assert "import" in r.stderr  # the progress bar
    r = cli.invoke(app, ["enrolment", "import-csv", str(accounts), "-m", "falun"])
    assert "importerade: 0, fanns redan: 2" in r.stdout

    r = cli.invoke(app, ["enrolment", "level-up", "--as-of", "2020-01-01"])
    assert r.exit_code == 0, r.output
    assert "per 2020-01-01: 1 konton kontrollerade, 0 fick ny nivå" in r.stdout

    e = bootstrap(database_url)
    try:
        assert len(e.participants_of("falun", personal=False)) == 2
    finally:
        e.close()


def test_a_bad_file_exits_non_zero_listing_every_bad_row(cli: CliRunner, tmp_path: Path) -> None:
    regions = tmp_path / "regions.csv"
    regions.write_text("region_id,name\nrss-dalarna,RSS Dalarna\nbad id,X\n,Y\n")
    r = cli.invoke(app, ["enrolment", "import-regions", str(regions)])
    assert r.exit_code == 1
    assert "rad 3: region_id:" in r.stderr and "rad 4: region_id:" in r.stderr
    assert "inget importerades" in r.stderr
    r = cli.invoke(app, ["enrolment", "import-csv", str(regions), "-m", "atlantis"])
    assert r.exit_code == 1 and "Kommunen atlantis finns inte" in r.stderr
