"""Which municipality a participant belongs to, at any time.

The history belongs to the person, not to the municipality: a participant who moves keeps
their completions, while each course day is charged to the municipality they belonged to on
that day. `ParticipantRegistered` and `ParticipantMoved` are the membership events; their
`occurred_at`, not their arrival, orders them.
"""

from __future__ import annotations

import datetime as dt
from sys import intern
from typing import cast

from shared.events import Envelope
from shared.events.models import ParticipantMoved, ParticipantRegistered
from shared.projections.versions import Timeline, packed_stamp, recorded_instant


class Memberships:
    """Per participant, the timeline of their municipality."""

    __slots__ = ("_timelines",)

    def __init__(self) -> None:
        self._timelines: dict[str, Timeline[str]] = {}

    def registered(self, env: Envelope) -> None:
        """Apply a `ParticipantRegistered` (the same event again changes nothing: its stamp
        is held)."""
        data = cast(ParticipantRegistered, env.data)
        self._record(env, data.participant_id, data.municipality_id)

    def moved(self, env: Envelope) -> None:
        """Apply a `ParticipantMoved` (the same event again changes nothing: its stamp is held)."""
        data = cast(ParticipantMoved, env.data)
        self._record(env, data.participant_id, data.to_municipality_id)

    def _record(self, env: Envelope, participant_id: str, municipality_id: str) -> None:
        timeline = self._timelines.get(participant_id)
        if timeline is None:
            timeline = self._timelines[intern(participant_id)] = Timeline()
        # one string per municipality (a few hundred), not one per participant
        timeline.record(packed_stamp(env), intern(municipality_id), recorded_instant(env))

    def current(self, participant_id: str) -> str | None:
        timeline = self._timelines.get(participant_id)
        return None if timeline is None else timeline.current()

    def at(
        self, participant_id: str, when: dt.datetime, cutoff: dt.datetime | None = None
    ) -> str | None:
        """The municipality charged for something the participant did at `when`; with a
        `cutoff`, as the events recorded by then tell (a closed year's view)."""
        timeline = self._timelines.get(participant_id)
        return None if timeline is None else timeline.at(when, cutoff)
