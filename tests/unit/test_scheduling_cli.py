"""`yrkesresan scheduling ...` against a SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from services.scheduling import application as scheduling_app
from services.scheduling.adapters import cli as scheduling_cli
from shared.events import models as contract
from tests.feeding import feed

runner = CliRunner()
app = typer.Typer()  # the sub-app alone, as `yrkesresan` registers it
scheduling_cli.register(app)


@app.callback()
def main() -> None:
    """Keeps `scheduling` a sub-command even with one sub-app."""

CSV = """occasion_id,course_id,region_id,capacity,day,date,mode,venue
hbc-ht25-1,bou-ny-handlaggning,rss-dalarna,24,1,2025-09-04,on_site,Folkets hus Falun
hbc-ht25-1,bou-ny-handlaggning,rss-dalarna,24,2,2025-09-05,digital,
hbc-ht25-1,bou-ny-handlaggning,rss-dalarna,24,3,2025-09-18,digital,
hbc-ht25-1,bou-ny-handlaggning,rss-dalarna,24,4,2025-09-19,on_site,Folkets hus Falun
vald-ht25-1,bou-ny-vald,rss-dalarna,24,1,2025-10-02,digital,
vald-ht25-1,bou-ny-vald,rss-dalarna,24,2,2025-10-09,on_site,Kulturhuset Mora
bad-1,bou-ny-verktyg,rss-dalarna,60,1,2025-10-20,on_site,Aulan
"""


def test_publish_plan_and_estimate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'scheduling.sqlite'}"
    scheduling_app.migrate(url)
    s = scheduling_app.bootstrap(url)
    feed(s.runner(), contract.RegionRegistered(region_id="rss-dalarna", name="RSS Dalarna"))
    s.close()
    result = runner.invoke(app, ["scheduling", "publish-catalogue", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "bou-ny-handlaggning" in result.output and "published" in result.output

    plan_file = tmp_path / "occasions.csv"
    plan_file.write_text(CSV, encoding="utf-8")
    result = runner.invoke(app, ["scheduling", "plan-occasions", str(plan_file),
                                 "--database-url", url])
    assert result.exit_code == 1
    assert "planerade: 2, fanns redan: 0, fel: 1" in result.output
    assert "bad-1" in result.output and "digitalt" in result.output

    result = runner.invoke(app, ["scheduling", "plan-occasions", str(plan_file),
                                 "--database-url", url])
    assert "planerade: 0, fanns redan: 2, fel: 1" in result.output

    s = scheduling_app.bootstrap(url)
    try:
        assert [o["occasion_id"] for o in s.occasions("rss-dalarna")] == [
            "hbc-ht25-1", "vald-ht25-1"]
        assert s.occasion("vald-ht25-1").venues == {2: "Kulturhuset Mora"}
    finally:
        s.close()

    result = runner.invoke(app, ["scheduling", "estimate", "--region", "rss-dalarna",
                                 "--year", "2026", "--ny", "120", "--van", "10",
                                 "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "totalt" in result.output and "van" in result.output


def test_demand_from_the_bus_and_compared_with_the_survey(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'scheduling.sqlite'}"
    scheduling_app.migrate(url)
    s = scheduling_app.bootstrap(url)
    feed(s.runner(), contract.RegionRegistered(region_id="rss-dalarna", name="RSS Dalarna"),
         contract.MunicipalityJoined(municipality_id="falun", name="Falun",
                                     region_id="rss-dalarna"),
         *(contract.ParticipantRegistered(
             participant_id=f"p{i}", municipality_id="falun", journey="barn_och_unga",
             role="socialsekreterare", level="ny", years_in_profession=1) for i in range(30)),
         contract.CourseCompleted(participant_id="p0", course_id="bou-ny-samtal",
                                  occasion_id="o"))
    s.publish_catalogue(actor="test")
    s.close()
    result = runner.invoke(app, ["scheduling", "demand", "--region", "rss-dalarna",
                                 "--year", "2026", "--database-url", url])
    assert result.exit_code == 0 and "från händelserna" in result.output, result.output
    result = runner.invoke(app, ["scheduling", "demand", "--region", "rss-dalarna",
                                 "--year", "2026", "--json", "--database-url", url])
    samtal = next(c for c in json.loads(result.output)["courses"]
                  if c["course_id"] == "bou-ny-samtal")
    assert samtal["from_the_bus"] == {"registered": 30, "completed": 1, "booked": 0,
                                      "waitlisted": 0}
    assert (samtal["participants"], samtal["occasions"]) == (29, 2)  # 24 places each
    result = runner.invoke(app, ["scheduling", "compare", "--region", "rss-dalarna",
                                 "--year", "2026", "--ny", "100", "--database-url", url])
    assert result.exit_code == 0 and "enkäten och händelserna" in result.output, result.output
    result = runner.invoke(app, ["scheduling", "compare", "--region", "rss-dalarna",
                                 "--year", "2026", "--ny", "100", "--json",
                                 "--database-url", url])
    samtal = next(c for c in json.loads(result.output)["courses"]
                  if c["course_id"] == "bou-ny-samtal")
    assert (samtal["survey"]["participants"], samtal["bus"]["participants"],
            samtal["difference"]["participants"]) == (100, 29, -71)
    assert (samtal["survey"]["occasions"], samtal["bus"]["occasions"]) == (5, 2)
    result = runner.invoke(app, ["scheduling", "demand", "--region", "rss-dalarna",
                                 "--year", "1900", "--database-url", url])
    assert result.exit_code == 2 and "year" in result.output
