"""Progression: where each participant stands on their journey.

One row per registered participant: their current municipality and level (latest
`occurred_at` wins), the courses they have completed and the number of certificates (one per
completion, so a course completed on two occasions counts two). Completions come from the
completion fold, never from `CourseCompleted` events. Erased participants stay: the erasure
removes personal data kept elsewhere, the pseudonymous facts still count.

Duplicates: every fact this fold reads is kept in a form that an event delivered again cannot
change (sets of days and items, the latest value by `occurred_at` and id, a timeline that
ignores an event it holds), so it keeps no set of the ids it applied. On a million-event log
such a set cost 18% of the fold's time and 40 MB; the property tests redeliver events
(same id) and re-report facts (new ids) and compare the documents. The live consumer records
applied ids in its database anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from sys import intern
from typing import Any, cast

from shared.events import Envelope
from shared.events.models import (
    ParticipantLevelChanged,
    ParticipantMoved,
    ParticipantRegistered,
)
from shared.projections.completions import NO_CHANGES, Completions
from shared.projections.memberships import Memberships
from shared.projections.versions import LatestBy, packed_stamp

Changed = set[str] | frozenset[str]
_UNCHANGED: frozenset[str] = frozenset()


class Progression:
    """The `progression` projection as a fold."""

    def __init__(self, completions: Completions | None = None,
                 memberships: Memberships | None = None) -> None:
        """`completions`: a completion fold that another fold feeds (the dashboard's
        evaluations), read here rather than kept twice; this fold's `appliers` then still
        name its completion facts, and the caller feeds them to one of the two.
        `memberships`: another fold's (the dashboard's billing facts'), kept once; both feed
        it the same registrations and moves, and the same event again changes nothing."""
        self._completions = Completions() if completions is None else completions
        self._memberships = Memberships() if memberships is None else memberships
        self._levels: LatestBy[str, str] = LatestBy()
        self._journeys: LatestBy[str, str] = LatestBy()
        self._wire()

    def _wire(self) -> None:
        # type -> (is it a completion fact, its handler): one look-up per event
        self._dispatch: dict[str, tuple[bool, Callable[[Envelope], Any]]] = {
            "ParticipantRegistered": (False, self._registered),
            "ParticipantMoved": (False, self._moved),
            "ParticipantLevelChanged": (False, self._level_changed),
            **{name: (True, handler)
               for name, handler in self._completions.fact_handlers.items()},
        }

    def __getstate__(self) -> dict[str, object]:
        """The facts; the dispatch table of bound methods is made again on unpickling."""
        state = dict(self.__dict__)
        del state["_dispatch"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._wire()

    @property
    def appliers(self) -> dict[str, Callable[[Envelope], object]]:
        """Per event type this fold does anything with, the function that applies it, for a
        loop that needs no change report (replay): the handlers `apply` calls, without the
        report (its completion facts go straight to the completion fold)."""
        return {name: handler for name, (_, handler) in self._dispatch.items()}

    def apply(self, env: Envelope) -> Changed:
        """Apply one event; the participants whose row may have changed."""
        entry = self._dispatch.get(env.type)
        if entry is None:
            return _UNCHANGED
        fact, handler = entry
        if not fact:
            return handler(env)  # type: ignore[no-any-return]
        changes = handler(env)  # the participants whose completions changed
        return _UNCHANGED if changes is NO_CHANGES else changes.participants()  # type: ignore[no-any-return]

    def participant(self, participant_id: str) -> dict[str, Any] | None:
        """The participant's row in the contract's shape; None if never registered."""
        journey = self._journeys.get(participant_id)
        if journey is None:
            return None
        completed = self._completions.of_participant(participant_id)
        return {
            "participant_id": participant_id,
            "municipality_id": self._memberships.current(participant_id),
            "journey": journey,
            "level": self._levels.get(participant_id),
            "completed_courses": sorted(set(completed.values())),
            "certificates": len(completed),
        }

    def result(self) -> dict[str, list[dict[str, Any]]]:
        """The contract's replay document: every registered participant, sorted by id."""
        rows = (self.participant(p) for p, _ in sorted(self._journeys.items()))
        return {"participants": [row for row in rows if row is not None]}

    @property
    def completions(self) -> Completions:
        return self._completions

    def _registered(self, env: Envelope) -> Changed:
        data = cast(ParticipantRegistered, env.data)
        participant_id = intern(data.participant_id)  # one string per participant and value
        self._journeys.offer(participant_id, packed_stamp(env), intern(data.journey))
        self._memberships.registered(env)
        self._levels.offer(participant_id, packed_stamp(env), intern(data.level))
        return {participant_id}

    def _moved(self, env: Envelope) -> Changed:
        self._memberships.moved(env)
        return {cast(ParticipantMoved, env.data).participant_id}

    def _level_changed(self, env: Envelope) -> Changed:
        data = cast(ParticipantLevelChanged, env.data)
        self._levels.offer(intern(data.participant_id), packed_stamp(env), intern(data.level))
        return {data.participant_id}
