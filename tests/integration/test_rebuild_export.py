"""Rebuild and export read the stores through the same mapping and fold as the live path."""

from __future__ import annotations

import io

import pytest

from services.certification import application as certification
from services.enrolment import application as enrolment
from services.enrolment.application import JoinMunicipality, RegisterParticipant, RegisterRegion
from yrkesresan import stores
from yrkesresan.replay import replay

pytestmark = pytest.mark.integration


def test_rebuild_from_stores_equals_replay_of_the_export(pg_url: str) -> None:
    enrolment.migrate(pg_url)
    certification.migrate(pg_url)
    e = enrolment.bootstrap(pg_url)
    e.register_region(RegisterRegion(region_id="r1", name="RSS Test"))
    e.join_municipality(JoinMunicipality(municipality_id="m1", name="Testby", region_id="r1"))
    for i in range(25):
        e.register_participant(RegisterParticipant(
            municipality_id="m1", name=f"Hemlig Person {i}", email=f"hemlig{i}@example.se",
            role="chef" if i % 5 == 0 else "socialsekreterare", years_in_profession=i % 8))

    out = io.BytesIO()
    assert stores.export_log([e.app], out) == 27  # region, municipality, 25 registrations
    log = out.getvalue()
    assert b"Hemlig" not in log and b"@example.se" not in log  # nothing personal exported

    cert = certification.bootstrap(pg_url)
    runner = cert.runner()
    assert stores.rebuild(runner, [e.app]) == 27
    assert stores.rebuild(runner, [e.app]) == 0  # a second rebuild applies nothing twice
    rows = cert.progression.list(cert.db)

    replayed = replay("progression", log.splitlines(), None, None)
    assert replayed["participants"] == rows
    assert {r["level"] for r in rows} == {"chef", "ny", "van", "erfaren"}
    e.close()
    cert.close()
