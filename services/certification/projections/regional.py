"""Evaluation statistics per region: the `Evaluations` fold once per region, fed the events
of that region's occasions.

A region's statistics are the national rows (per course, with response rates and the split
by occasion mode) over its own occasions only. Rather than write the rule a second time with a
region filter, each region gets an `Evaluations` fold of its own, fed what concerns its
occasions (their plans, days attended or withdrawn, responses), the published courses, and the
preparations of the participants of its occasions: a preparation counts only with days
attended, so it goes to the regions of its participant's occasions, not to every region's fold
(a third of the national log is preparations, and there are 21 regions). So `yrkesresan replay
evaluations` over a log holding only the region's occasions prints the region's rows.

An occasion's region is that of its plan in force, as the national completion fold holds it
(the latest plan wins there); the events of an occasion whose plan has not arrived wait for
it. Should a later plan move an occasion to another region, the two regions' folds are built
again from the events kept. They are kept as their JSON (a fraction of a parsed envelope's
memory, and what a snapshot can pickle), only the fields the rule reads (id, type, time
occurred, data; not where and when each was recorded: most of the certification consumer's
memory is these), and parsed again in the rare case they are re-fed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.events import Envelope
from shared.events.fast import decode_envelope
from shared.projections.evaluations import Evaluations
from shared.projections.occasions import Plan

_READ = {"id", "type", "schema_version", "occurred_at", "data"}
"""What `Evaluations` reads of an event."""


def _kept(env: Envelope) -> bytes:
    return env.model_dump_json(include=_READ, exclude_none=True).encode()


class RegionalEvaluations:
    def __init__(self, plan_of: Callable[[str], Plan | None]) -> None:
        self._plan_of = plan_of  # the national fold's plan in force, applied before us
        self._types = frozenset(Evaluations().appliers)
        self._folds: dict[str, Evaluations] = {}
        self._general: list[bytes] = []  # concerning no occasion and no one: every region's
        self._prepared: dict[str, list[bytes]] = {}  # participant -> theirs concerning no
        # occasion (preparations): the regions of their occasions'
        self._by_occasion: dict[str, list[bytes]] = {}
        self._region_of: dict[str, str] = {}  # occasion -> the region its events went to
        self._occasions_of: dict[str, set[str]] = {}  # participant -> their occasions
        self._participants_of: dict[str, set[str]] = {}  # occasion -> its participants

    def apply(self, env: Envelope) -> set[str]:
        """Apply one event (after the national folds); the regions whose rows may change."""
        if env.type not in self._types:
            return set()
        occasion_id: str | None = getattr(env.data, "occasion_id", None)
        participant_id: str | None = getattr(env.data, "participant_id", None)
        if occasion_id is None and participant_id is None:
            self._general.append(_kept(env))
            return {region for region, fold in self._folds.items() if fold.apply(env)}
        if occasion_id is None:
            assert participant_id is not None
            self._prepared.setdefault(participant_id, []).append(_kept(env))
            return {region for region in self._regions_of(participant_id)
                    if self._folds[region].apply(env)}
        self._by_occasion.setdefault(occasion_id, []).append(_kept(env))
        joins = False  # the participant's first event of the occasion
        if participant_id is not None:
            theirs = self._occasions_of.setdefault(participant_id, set())
            joins = occasion_id not in theirs
            theirs.add(occasion_id)
            self._participants_of.setdefault(occasion_id, set()).add(participant_id)
        plan = self._plan_of(occasion_id)
        if plan is None:
            return set()  # waits for the occasion's plan
        region, held = plan.region_id, self._region_of.get(occasion_id)
        if held == region:
            fold = self._fold(region)
            changed = bool(fold.apply(env))
            if joins and participant_id and self._new_in(participant_id, region, occasion_id):
                changed = self._feed_prepared(fold, participant_id) or changed
            return {region} if changed else set()
        if held is None:
            known = region in self._folds
            self._region_of[occasion_id] = region
            fold = self._fold(region)  # a new fold is fed the occasion's events here
            if known:
                for waiting in self._by_occasion[occasion_id]:
                    fold.apply(decode_envelope(waiting))
                for participant in sorted(self._participants_of.get(occasion_id, ())):
                    if self._new_in(participant, region, occasion_id):
                        self._feed_prepared(fold, participant)
            return {region}
        self._region_of[occasion_id] = region
        for moved in (held, region):  # the occasion changed region
            self._folds.pop(moved, None)
            self._fold(moved)
        return {held, region}

    def _regions_of(self, participant_id: str) -> set[str]:
        """The regions of the participant's occasions (those whose plan has come)."""
        held = self._region_of
        return {held[o] for o in self._occasions_of.get(participant_id, ()) if o in held}

    def _new_in(self, participant_id: str, region: str, occasion_id: str) -> bool:
        """Whether no other occasion of the participant's is in the region: their
        preparations are then not yet in its fold."""
        held = self._region_of
        return not any(held.get(o) == region for o in self._occasions_of[participant_id]
                       if o != occasion_id)

    def _feed_prepared(self, fold: Evaluations, participant_id: str) -> bool:
        changed = False
        for raw in self._prepared.get(participant_id, ()):
            changed = bool(fold.apply(decode_envelope(raw))) or changed
        return changed

    def result(self, region_id: str) -> dict[str, list[dict[str, Any]]]:
        """The `evaluations` document over the region's occasions."""
        fold = self._folds.get(region_id)
        return fold.result() if fold is not None else {"courses": []}

    def _fold(self, region_id: str) -> Evaluations:
        fold = self._folds.get(region_id)
        if fold is None:
            fold = self._folds[region_id] = Evaluations()
            for raw in self._general:
                fold.apply(decode_envelope(raw))
            participants: set[str] = set()
            for occasion_id, region in self._region_of.items():
                if region == region_id:
                    for raw in self._by_occasion[occasion_id]:
                        fold.apply(decode_envelope(raw))
                    participants |= self._participants_of.get(occasion_id, set())
            for participant_id in sorted(participants):
                self._feed_prepared(fold, participant_id)
        return fold
