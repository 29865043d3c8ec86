"""Each replay document has exactly the contract's shape (CONTRACT.md, "Replay from a log"):
the fields, their types, and the sort orders, over a realistic demo log."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

import orjson
import pytest
from pydantic import BaseModel, ConfigDict, StrictFloat, StrictInt, StrictStr

from yrkesresan.demo import REGION_ID, demo_log
from yrkesresan.replay import render, replay


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


Number = StrictInt | StrictFloat


class PotTrainer(Strict):
    trainer_id: StrictStr
    municipality_id: StrictStr
    points: Number
    amount_sek: StrictInt


class PotDocument(Strict):
    region_id: StrictStr
    year: StrictInt
    pot_sek: StrictInt
    total_points: Number
    trainers: list[PotTrainer]
    municipalities: dict[StrictStr, StrictInt]


class InvoiceRow(Strict):
    municipality_id: StrictStr
    participant_days: StrictInt
    gross_sek: StrictInt
    pot_credit_sek: StrictInt
    adjustment_days: StrictInt
    adjustment_sek: StrictInt
    net_sek: StrictInt


class InvoicesDocument(Strict):
    region_id: StrictStr
    year: StrictInt
    price_sek: StrictInt
    municipalities: list[InvoiceRow]


class ProgressionRow(Strict):
    participant_id: StrictStr
    municipality_id: StrictStr
    journey: StrictStr
    level: StrictStr
    completed_courses: list[StrictStr]
    certificates: StrictInt


class ProgressionDocument(Strict):
    participants: list[ProgressionRow]


class ModeRow(Strict):
    responses: StrictInt
    mean_scores: dict[StrictStr, StrictFloat]


class EvaluationRow(Strict):
    course_id: StrictStr
    completions: StrictInt
    responses: StrictInt
    response_rate: StrictFloat
    mean_scores: dict[StrictStr, StrictFloat]
    by_mode: dict[Literal["on_site", "digital", "mixed"], ModeRow]


class EvaluationsDocument(Strict):
    courses: list[EvaluationRow]


SHAPES: dict[str, type[Strict]] = {
    "pot": PotDocument,
    "invoices": InvoicesDocument,
    "progression": ProgressionDocument,
    "evaluations": EvaluationsDocument,
}


@cache
def document(projection: str) -> dict[str, Any]:
    lines = list(demo_log(60, seed=5))
    if projection in ("pot", "invoices"):
        return replay(projection, lines, REGION_ID, 2024)
    return replay(projection, lines)


def keys_in_order(model: type[Strict]) -> list[str]:
    return list(model.model_fields)


@pytest.mark.parametrize("projection", list(SHAPES))
def test_the_document_has_exactly_the_contracts_fields_and_types(projection: str) -> None:
    doc = document(projection)
    SHAPES[projection].model_validate(doc)
    assert list(doc) == keys_in_order(SHAPES[projection])
    assert orjson.loads(render(doc)) == doc  # printable as JSON as it stands


def test_pot_sorts_trainers_and_municipalities() -> None:
    doc = document("pot")
    ids = [t["trainer_id"] for t in doc["trainers"]]
    assert ids == sorted(ids) and ids
    assert list(doc["municipalities"]) == sorted(doc["municipalities"])
    assert all(t["points"] > 0 for t in doc["trainers"])


def test_invoices_sort_municipalities() -> None:
    ids = [r["municipality_id"] for r in document("invoices")["municipalities"]]
    assert ids == sorted(ids) and ids


def test_progression_sorts_participants_and_their_courses() -> None:
    rows = document("progression")["participants"]
    assert [r["participant_id"] for r in rows] == sorted(r["participant_id"] for r in rows)
    assert len(rows) == 60
    assert all(r["completed_courses"] == sorted(set(r["completed_courses"])) for r in rows)
    assert all(r["certificates"] >= len(r["completed_courses"]) for r in rows)
    assert any(r["completed_courses"] for r in rows)


def test_evaluations_sort_courses_and_questions() -> None:
    rows = document("evaluations")["courses"]
    assert [r["course_id"] for r in rows] == sorted(r["course_id"] for r in rows)
    for row in rows:
        assert list(row["mean_scores"]) == sorted(row["mean_scores"])
        assert row["response_rate"] == (
            row["responses"] / row["completions"] if row["completions"] else 0.0
        )
        assert all(1 <= mean <= 5 for mean in row["mean_scores"].values())
        assert list(row["by_mode"]) == sorted(row["by_mode"])
        assert sum(m["responses"] for m in row["by_mode"].values()) <= row["responses"]
