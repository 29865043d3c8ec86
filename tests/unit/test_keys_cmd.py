"""`yrkesresan keys rotate` / `retire` as an operator runs them, on SQLite under a scratch
var/: the e-mail key retired only after its claims are made again under the current key (the
address still taken afterwards), a KEK only once nothing is wrapped by it, actor keys never."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.enrolment.application import (
    JoinMunicipality,
    RegisterParticipant,
    RegisterRegion,
    bootstrap,
    migrate,
)
from shared.platform.errors import Conflict
from shared.platform.keyring import Keyring
from shared.platform.settings import Settings
from yrkesresan.cli import app

ANNA = {"municipality_id": "falun", "name": "Anna Andersson", "email": "anna@falun.example.se",
        "role": "socialsekreterare", "years_in_profession": 1}


def test_an_operator_rotates_and_retires_keys(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    ring = tmp_path / "keyring.json"
    ring.write_text(Keyring.generate().to_json())
    monkeypatch.setenv("YRKESRESAN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("YRKESRESAN_KEYRING_FILE", str(ring))
    for name in ("YRKESRESAN_DATABASE_URL", "YRKESRESAN_ENROLMENT_DATABASE_URL",
                 "YRKESRESAN_KEYRING", "YRKESRESAN_KEK", "YRKESRESAN_KEK_FILE"):
        monkeypatch.delenv(name, raising=False)
    migrate()
    e = bootstrap(settings=Settings())
    e.register_region(RegisterRegion(region_id="rss-dalarna", name="RSS Dalarna"))
    e.join_municipality(JoinMunicipality(municipality_id="falun", name="Falun",
                                         region_id="rss-dalarna"))
    e.register_participant(RegisterParticipant(**ANNA))
    e.close()
    cli = CliRunner()

    def keys(*args: str) -> tuple[int, str]:
        result = cli.invoke(app, ["keys", *args])
        return result.exit_code, result.output

    assert keys("rotate", "email")[0] == 0
    assert keys("retire", "email", "email-2")[0] == 2  # the current one
    assert keys("retire", "actor", "actor-1")[0] == 2  # never
    code, said = keys("retire", "email", "email-1")
    assert code == 0, said
    assert "1 participant and 0 trainer addresses claimed again under email-2" in said
    assert list(json.loads(ring.read_text())["email"]["keys"]) == ["email-2"]
    e = bootstrap(settings=Settings())
    with pytest.raises(Conflict):  # registered under the retired key, still taken
        e.register_participant(RegisterParticipant(**ANNA))
    e.close()

    assert keys("rotate", "kek")[0] == 0
    code, said = keys("retire", "kek", "kek-1")
    assert code == 1 and "rewrap" in said  # it still wraps Anna's data key
    assert keys("rewrap")[0] == 0
    assert keys("retire", "kek", "kek-1")[0] == 0
    assert list(json.loads(ring.read_text())["kek"]["keys"]) == ["kek-2"]
    e = bootstrap(settings=Settings())
    assert e.personal_data(e.participant(e.register_participant(RegisterParticipant(
        **{**ANNA, "email": "bo@falun.example.se"}))))["email"] == (  # type: ignore[index]
        "bo@falun.example.se")
    e.close()
