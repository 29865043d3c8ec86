"""Billing's API in process, on SQLite and on PostgreSQL: facts fed to its consumer's runner as
the bus would bring them (`tests.feeding`), answers compared with `yrkesresan replay` over the
same envelopes, price lists and the year close recorded in its store."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from services.billing import application as billing_app
from services.billing.adapters.http import create_api
from shared.events import Envelope, new_envelope
from shared.events import models as m
from shared.platform.auth import Principal, Role
from tests.feeding import pump
from tests.tokens import mint
from yrkesresan.replay import replay
from yrkesresan.stores import store_envelopes

pytestmark = pytest.mark.integration

DALARNA, SKANE = "rss-dalarna", "rss-skane"
UTC = dt.UTC


def at(month: int, day: int, year: int = 2025) -> dt.datetime:
    return dt.datetime(year, month, day, 9, tzinfo=UTC)


def bearer(**claims: str) -> dict[str, str]:
    principal = Principal(subject="t", **claims)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {mint(principal)}"}


COORDINATOR = bearer(role=Role.REGIONAL_COORDINATOR, region_id=DALARNA)
SKANE_COORDINATOR = bearer(role=Role.REGIONAL_COORDINATOR, region_id=SKANE)


def year_of_facts() -> list[Envelope]:
    """Dalarna with Falun and Mora; five participants; one occasion of two days in 2025 (day
    one five present, day two four); Karin (Falun) leads both days, Ulf (Mora) trains day one."""
    facts: list[m.EventData] = [
        m.RegionRegistered(region_id=DALARNA, name="RSS Dalarna"),
        m.RegionRegistered(region_id=SKANE, name="RSS Skåne"),
        m.MunicipalityJoined(municipality_id="falun", name="Falun", region_id=DALARNA),
        m.MunicipalityJoined(municipality_id="mora", name="Mora", region_id=DALARNA),
        m.MunicipalityJoined(municipality_id="malmo", name="Malmö", region_id=SKANE),
        m.TrainerRegistered(trainer_id="karin", municipality_id="falun"),
        m.TrainerRegistered(trainer_id="ulf", municipality_id="mora"),
        m.CourseOccasionPlanned(occasion_id="occ-1", course_id="bou-ny-samtal",
                                region_id=DALARNA, capacity=20, days=(
                                    m.CourseDay(day=1, date=dt.date(2025, 3, 7), mode="digital"),
                                    m.CourseDay(day=2, date=dt.date(2025, 3, 14),
                                                mode="on_site"))),
    ]
    envs = [new_envelope(f, occurred_at=at(1, 2)) for f in facts]
    for n in range(5):
        envs.append(new_envelope(m.ParticipantRegistered(
            participant_id=f"p{n}", municipality_id="falun" if n < 3 else "mora",
            journey="barn_och_unga", role="socialsekreterare", level="ny",
            years_in_profession=1), occurred_at=at(1, 3)))
    for day, present in ((1, range(5)), (2, range(4))):
        when = at(3, 7 if day == 1 else 14)
        envs += [new_envelope(m.CourseDayAttended(participant_id=f"p{n}", occasion_id="occ-1",
                                                  day=day), occurred_at=when) for n in present]
        envs.append(new_envelope(m.TrainerDayDelivered(
            occasion_id="occ-1", day=day, trainer_id="karin", municipality_id="falun",
            role="leader"), occurred_at=when))
    envs.append(new_envelope(m.TrainerDayDelivered(
        occasion_id="occ-1", day=1, trainer_id="ulf", municipality_id="mora", role="trainer"),
        occurred_at=at(3, 7)))
    return envs


@pytest.fixture
def billing(database_url: str) -> Iterator[billing_app.Billing]:
    billing_app.migrate(database_url)
    service = billing_app.bootstrap(database_url)
    service.clock = lambda: dt.datetime(2026, 2, 1, tzinfo=UTC)
    yield service
    service.close()


@pytest.fixture
def client(billing: billing_app.Billing) -> TestClient:
    return TestClient(create_api(billing))


def fed(billing: billing_app.Billing, envelopes: list[Envelope]) -> list[bytes]:
    """Apply the envelopes twice (a redelivery of every one), and the billing store's own
    events as its relay would publish them; the log a replay reads."""
    runner = billing.runner()
    assert runner.apply_batch(envelopes) == len(envelopes)
    assert runner.apply_batch(envelopes) == 0
    pump(runner, billing.app)
    return [e.to_json() for e in envelopes] + list(store_envelopes(billing.app))


def test_pot_and_invoices_equal_replay(billing: billing_app.Billing, client: TestClient) -> None:
    log = fed(billing, year_of_facts())
    pot = client.get(f"/regions/{DALARNA}/years/2025/pot", headers=COORDINATOR)
    assert pot.status_code == 200
    assert pot.json() == replay("pot", log, DALARNA, 2025) | {"closed": False}
    assert pot.json()["pot_sek"] == 9 * 400
    assert {t["trainer_id"]: t["amount_sek"] for t in pot.json()["trainers"]} == {
        "karin": 2700, "ulf": 900}


def test_price_list_set_by_the_coordinator(billing: billing_app.Billing,
                                           client: TestClient) -> None:
    facts = year_of_facts()
    fed(billing, facts)
    url = f"/regions/{DALARNA}/years/2025/price-list"
    assert client.get(url, headers=COORDINATOR).json()["price_sek"] == 1250  # GR's model
    r = client.put(url, headers=COORDINATOR, json={"components": {"trainer_pot": 500}})
    assert r.status_code == 200, r.text
    assert r.json()["price_sek"] == 1350
    before = billing.app.recorder.max_notification_id()
    assert client.put(url, headers=SKANE_COORDINATOR, json={}).status_code == 404
    assert client.put(url, headers=COORDINATOR,
                      json={"components": {"buffer": -1}}).status_code == 422
    assert billing.app.recorder.max_notification_id() == before
    log = [e.to_json() for e in facts] + fed(billing, [])
    assert client.get(url, headers=COORDINATOR).json()["price_sek"] == 1350
    pot = client.get(f"/regions/{DALARNA}/years/2025/pot", headers=COORDINATOR).json()
    assert pot["pot_sek"] == 9 * 500 == replay("pot", log, DALARNA, 2025)["pot_sek"]


def test_closing_a_year_records_its_pot_once(billing: billing_app.Billing,
                                             client: TestClient) -> None:
    fed(billing, year_of_facts())
    url = f"/regions/{DALARNA}/years/2025/close"
    assert client.post(url, headers=SKANE_COORDINATOR).status_code == 404
    assert client.post(url, headers=bearer(role=Role.TRAINER, trainer_id="karin")
                       ).status_code == 403
    r = client.post(url, headers=COORDINATOR)
    assert r.status_code == 201, r.text
    recorded = [orjson.loads(raw) for raw in store_envelopes(billing.app)]
    assert [e["type"] for e in recorded] == ["YearClosed", "PotDistributed"]
    distributed = recorded[1]["data"]
    assert distributed["pot_sek"] == 3600
    assert sum(t["amount_sek"] for t in distributed["trainers"]) == 3600
    before = billing.app.recorder.max_notification_id()
    again = client.post(url, headers=COORDINATOR)
    assert again.status_code == 409
    assert "redan stängt" in again.json()["detail"]
    assert billing.app.recorder.max_notification_id() == before
    prices = client.put(f"/regions/{DALARNA}/years/2025/price-list", headers=COORDINATOR,
                        json={"components": {"trainer_pot": 500}})
    assert prices.status_code == 409 and "stängt" in prices.json()["detail"]
    future = client.post(f"/regions/{DALARNA}/years/2027/close", headers=COORDINATOR)
    assert future.status_code == 422
    assert billing.app.recorder.max_notification_id() == before


FALUN_ADMIN = bearer(role=Role.MUNICIPAL_ADMIN, municipality_id="falun")
INVOICES = f"/regions/{DALARNA}/years/2025/invoices"


def test_the_invoice_basis_equals_replay_and_lists_its_days(billing: billing_app.Billing,
                                                            client: TestClient) -> None:
    log = fed(billing, year_of_facts())
    expected = replay("invoices", log, DALARNA, 2025)
    region = client.get(INVOICES, headers=COORDINATOR)
    assert region.status_code == 200 and region.json() == expected
    falun = client.get(f"{INVOICES}/falun", headers=FALUN_ADMIN)
    assert falun.status_code == 200, falun.text
    doc = falun.json()
    (row,) = [r for r in expected["municipalities"] if r["municipality_id"] == "falun"]
    assert {k: doc[k] for k in row} == row
    assert doc["participant_days"] == len(doc["lines"]) == 6
    assert doc["net_sek"] == 6 * 1250 - 2700
    assert doc["lines"][0] == {"occasion_id": "occ-1", "day": 1, "date": "2025-03-07",
                               "participant_id": "p0"}
    assert doc["municipality_name"] == "Falun" and doc["region_name"] == "RSS Dalarna"
    assert client.get(f"{INVOICES}/mora", headers=FALUN_ADMIN).status_code == 404
    assert client.get(f"{INVOICES}/falun", headers=SKANE_COORDINATOR).status_code == 404
    assert client.get(f"{INVOICES}/falun", headers=COORDINATOR).json() == doc


def test_the_invoice_basis_as_csv_for_swedish_excel_and_as_pdf(
        billing: billing_app.Billing, client: TestClient, tmp_path: Path) -> None:
    fed(billing, year_of_facts())
    csv = client.get(f"{INVOICES}/falun/fakturaunderlag.csv", headers=FALUN_ADMIN)
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel reads UTF-8 by
    text = csv.content.decode("utf-8-sig")
    rows = [line.split(";") for line in text.split("\r\n")]
    assert rows[0][:4] == ["Region", "Kommun", "År", "Kurstillfälle"]
    assert rows[0][-1] == "Anmärkning"  # every column of every row has a heading
    assert rows[1] == [DALARNA, "falun", "2025", "occ-1", "1", "2025-03-07", "p0", "1250,00",
                       ""]
    assert ["Att fakturera (kr)", "4800,00"] in rows
    pdf = client.get(f"{INVOICES}/falun/fakturaunderlag.pdf", headers=FALUN_ADMIN)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    out = tmp_path / "fakturaunderlag.pdf"
    out.write_bytes(pdf.content)
    if shutil.which("pdftotext"):  # poppler: what a reader of the page sees
        seen = subprocess.run(["pdftotext", "-layout", str(out), "-"], check=True,
                              capture_output=True, text=True).stdout
        assert "Fakturaunderlag 2025" in seen and "Falun (falun)" in seen
        assert "Att fakturera" in seen and "4 800 kr" in seen.replace("\u00a0", " ")


def test_plattformen_shows_a_trainer_their_own_year(billing: billing_app.Billing,
                                                     client: TestClient) -> None:
    log = fed(billing, [*year_of_facts(), new_envelope(m.TrainerAssigned(
        occasion_id="occ-1", trainer_id="karin", municipality_id="falun", role="leader"),
        occurred_at=at(2, 1))])
    karin = bearer(role=Role.TRAINER, trainer_id="karin")
    r = client.get("/trainers/karin/years/2025", headers=karin)
    assert r.status_code == 200, r.text
    page = r.json()
    pot = replay("pot", log, DALARNA, 2025)
    (share,) = [t for t in pot["trainers"] if t["trainer_id"] == "karin"]
    assert page["points"] == share["points"] == 3.0
    assert page["expected_share_sek"] == share["amount_sek"] == 2700
    assert page["municipality_id"] == "falun"
    assert [(d["occasion_id"], d["day"], d["role"], d["points"])
            for d in page["days_delivered"]] == [("occ-1", 1, "leader", 1.5),
                                                 ("occ-1", 2, "leader", 1.5)]
    assert page["assignments"] == [{"occasion_id": "occ-1", "role": "leader",
                                    "course_id": "bou-ny-samtal", "region_id": DALARNA,
                                    "dates": ["2025-03-07", "2025-03-14"]}]
    assert page["pots"] == [{"region_id": DALARNA, "closed": False, "pot_sek": 3600,
                             "total_points": 4.0, "points": 3.0, "expected_share_sek": 2700}]
    assert client.get("/trainers/ulf/years/2025", headers=karin).status_code == 404
    assert client.get("/trainers/nobody/years/2025", headers=karin).status_code == 404
    assert client.get("/trainers/karin/years/2025", headers=COORDINATOR).json() == page
    assert client.get("/trainers/karin/years/2025",
                      headers=SKANE_COORDINATOR).status_code == 404
    assert client.get("/trainers/karin/years/2025", headers=FALUN_ADMIN).status_code == 403
