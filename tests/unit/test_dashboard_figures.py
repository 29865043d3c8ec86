"""The dashboard's figures: one answer for any delivery order and any redelivery, and no
personal data in them."""

from __future__ import annotations

import random

import orjson

from services.dashboard.figures import Figures
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


def test_figures_kept_batch_by_batch_equal_a_recount() -> None:
    """What `changed_cells` keeps up to date, batch after batch, is what counting everything
    afresh gives, whatever the order and the batch sizes (redeliveries included)."""
    envs = list(demo_envelopes(25, seed=4))
    shuffled = envs + envs[:300]
    random.Random(9).shuffle(shuffled)
    fold = Figures()
    rng = random.Random(2)
    position = 0
    while position < len(shuffled):
        size = rng.choice([1, 7, 50, 400])
        for env in shuffled[position:position + size]:
            fold.apply(env)
        position += size
        fold.changed_cells()
        if rng.random() < 0.1:
            kept = fold.cells()
            assert kept == fold.recount()
    assert fold.cells() == fold.recount() == _document(envs)["cells"]
