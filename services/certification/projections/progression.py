"""The progression read model: one row per participant, kept by the shared progression fold,
and beside it certification's copy of which region each municipality belongs to (readers are
scoped by it), fed by the same consumer in the same transactions."""

from __future__ import annotations

from typing import Any

from shared.events import topic_name
from shared.platform.copies import MUNICIPALITIES, Alongside, Copy
from shared.platform.projection import FoldProjector
from shared.projections.progression import Progression

TOPICS = tuple(topic_name(s) for s in ("reference", "enrolment", "scheduling", "certification"))
PLACES = "certification_copy"  # the copy's table prefix


def progression_projector() -> FoldProjector:
    return FoldProjector(
        name="progression",
        topics=TOPICS,
        make_fold=Progression,
        touched=lambda _fold, changed: changed,
        row=lambda fold, key: fold.participant(key),
        scope=_municipality,
    )


def _municipality(row: dict[str, Any]) -> str | None:
    value = row.get("municipality_id")
    return str(value) if value is not None else None


def progression_consumer(projector: FoldProjector) -> Alongside:
    """What the progression consumer applies: the fold and the copy of municipalities."""
    return Alongside(projector, Copy("progression-places", PLACES, (MUNICIPALITIES,)))
