"""Reference data: regions and municipalities, one at a time and from CSV files
(SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.enrolment.application import (
    Enrolment,
    JoinMunicipality,
    RegisterRegion,
    bootstrap,
    migrate,
)
from services.enrolment.csv_import import ImportRejected, import_municipalities, import_regions
from shared.platform.errors import Conflict, NotFound

REGIONS = "region_id;name\nrss-dalarna;RSS Dalarna\nregion-sormland;Region Sörmland\n"
MUNICIPALITIES = ("municipality_id,name,region_id\nfalun,Falun,rss-dalarna\n"
                  "mora,Mora,rss-dalarna\nnykoping,Nyköping,region-sormland\n")


@pytest.fixture
def enrolment(database_url: str) -> Iterator[Enrolment]:
    migrate(database_url)
    e = bootstrap(database_url)
    yield e
    e.close()


def _events(e: Enrolment) -> int:
    return e.app.recorder.max_notification_id() or 0


def test_regions_and_municipalities_are_imported_once(enrolment: Enrolment) -> None:
    assert len(import_regions(enrolment, REGIONS).imported) == 2
    report = import_municipalities(enrolment, MUNICIPALITIES)
    assert report.imported == [(2, "falun"), (3, "mora"), (4, "nykoping")]
    events = _events(enrolment)
    assert len(import_regions(enrolment, REGIONS).skipped) == 2
    assert len(import_municipalities(enrolment, MUNICIPALITIES).skipped) == 3
    assert _events(enrolment) == events
    assert [r["region_id"] for r in enrolment.regions()] == ["region-sormland", "rss-dalarna"]
    assert [m["municipality_id"] for m in enrolment.municipalities("rss-dalarna")] == [
        "falun", "mora"]
    assert enrolment.municipality("nykoping").region_id == "region-sormland"


def test_a_bad_municipality_file_imports_nothing(enrolment: Enrolment) -> None:
    import_regions(enrolment, REGIONS)
    import_municipalities(enrolment, "municipality_id,name,region_id\nfalun,Falun,rss-dalarna\n")
    events = _events(enrolment)
    bad = ("municipality_id,name,region_id\nmora,Mora,rss-dalarna\nfalun,Falun,region-sormland\n"
           "x,X,atlantis\nmora,Mora igen,rss-dalarna\nbad id,Bad,rss-dalarna\n")
    with pytest.raises(ImportRejected) as caught:
        import_municipalities(enrolment, bad)
    assert [str(e) for e in caught.value.errors] == [
        "rad 3: municipality_id: kommunen finns redan med andra uppgifter",
        "rad 4: region_id: regionen finns inte, eller ligger utanför ditt område",
        "rad 5: municipality_id: samma kommun som rad 2",
        "rad 6: municipality_id: får bara innehålla a–z, A–Z, 0–9 och _ . : -",
    ]
    assert _events(enrolment) == events


def test_a_coordinator_imports_only_their_own_region(enrolment: Enrolment) -> None:
    import_regions(enrolment, REGIONS)
    events = _events(enrolment)
    with pytest.raises(ImportRejected) as e:  # another region reads as one that does not exist
        import_municipalities(enrolment, MUNICIPALITIES, only_region="rss-dalarna")
    assert [str(err) for err in e.value.errors] == [
        "rad 4: region_id: regionen finns inte, eller ligger utanför ditt område"]
    assert _events(enrolment) == events
    own = "municipality_id,name,region_id\nfalun,Falun,rss-dalarna\n"
    assert len(import_municipalities(enrolment, own, only_region="rss-dalarna").imported) == 1


def test_one_at_a_time_duplicates_conflict_and_unknown_regions_are_not_found(
    enrolment: Enrolment,
) -> None:
    enrolment.register_region(RegisterRegion(region_id="rss-dalarna", name="RSS Dalarna"))
    events = _events(enrolment)
    with pytest.raises(Conflict):
        enrolment.register_region(RegisterRegion(region_id="rss-dalarna", name="Igen"))
    with pytest.raises(NotFound) as e:
        enrolment.join_municipality(JoinMunicipality(municipality_id="falun", name="Falun",
                                                     region_id="atlantis"))
    assert e.value.field == "region_id"
    assert _events(enrolment) == events
