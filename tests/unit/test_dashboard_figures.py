"""The dashboard's figures: one answer for any delivery order and any redelivery, and no
personal data in them."""

from __future__ import annotations

import random

import orjson

from services.dashboard.figures import Figures, occasion_mode
from yrkesresan.demo import demo_envelopes


def _document(envs: list) -> dict:  # type: ignore[type-arg]
    fold = Figures()
    for env in envs:
        fold.apply(env)
    return fold.document()


def test_any_order_and_redelivery_give_the_same_figures() -> None:
    envs = list(demo_envelopes(30, seed=3))
    shuffled = envs + envs[:200]
    random.Random(5).shuffle(shuffled)
    assert _document(shuffled) == _document(envs)


def test_the_figures_name_no_participant_trainer_or_respondent() -> None:
    envs = list(demo_envelopes(30, seed=3))
    ids = {getattr(env.data, field) for env in envs
           for field in ("participant_id", "trainer_id", "respondent_id")
           if hasattr(env.data, field)}
    text = orjson.dumps(_document(envs)).decode()
    assert not [i for i in ids if i in text]


def test_nation_adds_up_its_regions_and_municipalities() -> None:
    cells = _document(list(demo_envelopes(30, seed=3)))["cells"]
    nation = cells["nation:SE"]
    municipalities = [c for c in cells.values() if c["dimension"] == "municipality"]
    assert sum(c["participant_days"] for c in municipalities) == nation["participant_days"]
    assert sum(c["registered"] for c in municipalities) == nation["registered"]
    assert sum(c["certificates"] for c in municipalities) == nation["certificates"]


def test_occasion_mode_is_the_contracts() -> None:
    assert occasion_mode(["on_site", "on_site"]) == "on_site"
    assert occasion_mode(["digital"]) == "digital"
    assert occasion_mode(["digital", "on_site"]) == "mixed"
