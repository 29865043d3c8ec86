"""Every consumer's fold survives a snapshot (ADR 0020): pickled half-way through a log and
restored, it answers exactly as the fold that was never pickled, then and after the rest of
the log. The folds hold no functions a pickle cannot take (their handler tables are made
again on restore) and no parsed envelopes."""

from __future__ import annotations

import datetime as dt
import io
import pickle
from collections.abc import Callable
from typing import Any

import pytest

from services.certification.projections.facts import CertificationFacts
from services.certification.projections.routes import route
from services.dashboard.figures import Figures
from services.notification.domain import Facts
from shared.events import Envelope
from shared.platform import fold_pickle
from shared.projections import Progression
from shared.projections.completions import Completions
from shared.projections.evaluations import Evaluations
from yrkesresan.demo import demo_envelopes

ENVELOPES = list(demo_envelopes(60, seed=17))
HALF = len(ENVELOPES) // 2


def _certification(facts: CertificationFacts) -> Any:
    completions = facts.completions.result()["completions"]
    regions = sorted({plan.region_id for plan in facts.completions._plans.values()})
    return (
        completions,
        facts.evaluations.result(),
        [facts.regional.result(r) for r in regions],
        [route(facts, p) for p in sorted(facts.people)],
        [facts.evidence(c["participant_id"], c["course_id"], c["occasion_id"])
         for c in completions],
    )


PARTICIPANTS = sorted({e.data.participant_id for e in ENVELOPES  # type: ignore[attr-defined]
                       if e.type == "ParticipantRegistered"})


def _notification(facts: Facts) -> Any:
    plans = sorted(facts.plans(), key=repr)
    return ([(repr(p), facts.booked_on(p.occasion_id)) for p in plans],
            [(p, facts.municipality_of(p)) for p in PARTICIPANTS],
            sorted(facts.done), sorted(facts.completions.items()), sorted(facts.revoked))


FOLDS: dict[str, tuple[Callable[[], Any], Callable[[Any], Any]]] = {
    "progression": (Progression, lambda f: f.result()),
    "completions": (Completions, lambda f: f.result()),
    "evaluations": (Evaluations, lambda f: f.result()),
    "certification": (CertificationFacts, _certification),
    "notification": (Facts, _notification),
    "dashboard": (Figures, lambda f: f.cells()),
}


def _pickled(fold: Any) -> bytes:
    return pickle.dumps(fold, protocol=pickle.HIGHEST_PROTOCOL)


def _dumped(fold: Any) -> bytes:
    out = io.BytesIO()
    fold_pickle.dump_fold(fold, out)
    return out.getvalue()


def _apply(fold: Any, envelopes: list[Envelope]) -> None:
    for env in envelopes:
        fold.apply(env)


# pickle's own; the folds' pickler; and that with every container of more than one item
# written without the memo
@pytest.mark.parametrize(("dump", "large"), [(_pickled, None), (_dumped, None), (_dumped, 2)])
@pytest.mark.parametrize("name", FOLDS)
def test_a_fold_restored_from_its_snapshot_answers_as_the_one_never_pickled(
        name: str, dump: Callable[[Any], bytes], large: int | None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if large is not None:
        monkeypatch.setattr(fold_pickle, "LARGE", large)
    make, answer = FOLDS[name]
    kept, restored_from = make(), make()
    _apply(kept, ENVELOPES[:HALF])
    _apply(restored_from, ENVELOPES[:HALF])
    restored = pickle.loads(dump(restored_from))
    assert answer(restored) == answer(kept)
    _apply(kept, ENVELOPES[HALF:])
    _apply(restored, ENVELOPES[HALF:])
    assert answer(restored) == answer(kept)
    assert answer(kept) != answer(make())  # the log changed the fold: a comparison that can fail
    _apply(restored, ENVELOPES[:HALF])  # delivered again after the restore: changes nothing
    assert answer(restored) == answer(kept)


def test_the_certification_fold_keeps_no_parsed_envelopes() -> None:
    facts = CertificationFacts()
    _apply(facts, ENVELOPES)
    seen: set[int] = set()

    def walk(value: Any) -> None:
        if id(value) in seen or isinstance(value, str | bytes | int | float | dt.datetime):
            return
        seen.add(id(value))
        assert not isinstance(value, Envelope), "an envelope kept in the fold"
        if isinstance(value, dict):
            for k, v in value.items():
                walk(k)
                walk(v)
        elif isinstance(value, list | tuple | set | frozenset):
            for v in value:
                walk(v)
        elif hasattr(value, "__dict__"):
            walk(vars(value))
        elif hasattr(value, "__slots__"):
            for slot in value.__slots__:
                walk(getattr(value, slot, None))

    walk(facts)
