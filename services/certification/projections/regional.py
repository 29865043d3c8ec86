"""Evaluation statistics per region: the national `Evaluations` fold's document over the
region's occasions only.

A region's statistics are the national rows (per course, with response rates and the split
by occasion mode) over its own occasions only: what `yrkesresan replay evaluations` prints
over a log holding only the events of the region's occasions (with the published courses and
the preparations of their participants). The rule is `Evaluations.result`, given the region's
occasions; this module keeps only which occasions are in which region, and says which
regions an event may have changed.

An occasion's region is that of its plan in force, as the national completion fold holds it
(the latest plan wins there); an occasion whose plan has not arrived is in no region yet.

Before, each region had an `Evaluations` fold of its own, fed the events of its occasions
kept as JSON: 21 more completion folds and most of the consumer's memory and snapshot, for
the same answer (every completion and response of an occasion depends only on the events of
that occasion, the published courses and its participants' preparations).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from shared.events import Envelope
from shared.events.fields import field_of
from shared.projections.completions import NO_CHANGES, CompletionChanges
from shared.projections.evaluations import PLAN_EVENTS, Evaluations


class RegionalEvaluations:
    def __init__(self, evaluations: Evaluations) -> None:
        self._evaluations = evaluations  # the national fold, applied before us
        self._region_of: dict[str, str] = {}  # occasion -> the region of its plan in force
        self._occasions: dict[str, set[str]] = {}  # region -> its occasions

    def apply(self, env: Envelope, courses: set[str] | frozenset[str],
              changes: CompletionChanges) -> set[str]:
        """After the national fold applied `env` (the courses whose rows it changed, and
        the completions it gained and lost): the regions whose rows may have changed."""
        if not courses and changes is NO_CHANGES:
            return set()
        regions: set[str] = set()
        region_of = self._region_of
        for _, _, completed_on in (*changes.added, *changes.removed):
            region = region_of.get(completed_on)
            if region is not None:
                regions.add(region)
        occasion_id: str | None = field_of(env.data, "occasion_id")
        if occasion_id is None:
            return regions
        if env.type in PLAN_EVENTS:
            held = region_of.get(occasion_id)
            if held is not None:
                regions.add(held)  # it may lose the occasion, or its mode changed
            plan = self._evaluations.completions.plan(occasion_id)
            if plan is not None and plan.region_id != held:
                if held is not None:
                    self._occasions[held].discard(occasion_id)
                region_of[occasion_id] = plan.region_id
                self._occasions.setdefault(plan.region_id, set()).add(occasion_id)
        region = region_of.get(occasion_id)
        if region is not None:
            regions.add(region)
        return regions

    def result(self, region_id: str, courses: Collection[str] | None = None
               ) -> dict[str, list[dict[str, Any]]]:
        """The `evaluations` document over the region's occasions (the rows of `courses`
        only, if given)."""
        return self._evaluations.result(self._occasions.get(region_id, ()), courses)
