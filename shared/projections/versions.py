"""How state that changes over time is read, written once for every projection.

The contract says that where state depends on time, the event with the latest `occurred_at`
wins, not the one that arrived last. Two events may carry the same `occurred_at`; the event id
then breaks the tie, so that the outcome never depends on delivery order.
"""

from __future__ import annotations

import bisect
import datetime as dt
from typing import Generic, TypeVar

from shared.events import Envelope

K = TypeVar("K")
V = TypeVar("V")

Stamp = tuple[dt.datetime, int]
"""(occurred_at, id as int): a total order on events that every consumer agrees on."""


def stamp_of(env: Envelope) -> Stamp:
    return (env.occurred_at, env.id.int)


class LatestBy(Generic[K, V]):
    """Per key, the value of the event with the greatest stamp (latest `occurred_at`).

    `values` is the plain mapping of what stands, for readers on a hot path; only `offer`
    changes it.
    """

    __slots__ = ("_stamps", "values")

    def __init__(self) -> None:
        self._stamps: dict[K, Stamp] = {}
        self.values: dict[K, V] = {}

    def offer(self, key: K, stamp: Stamp, value: V) -> bool:
        """Keep `value` if it is newer than what is held; True when it now stands."""
        held = self._stamps.get(key)
        if held is not None and held >= stamp:
            return False
        self._stamps[key] = stamp
        self.values[key] = value
        return True

    def get(self, key: K) -> V | None:
        return self.values.get(key)

    def stamp(self, key: K) -> Stamp | None:
        return self._stamps.get(key)

    def items(self) -> list[tuple[K, V]]:
        return list(self.values.items())

    def __contains__(self, key: object) -> bool:
        return key in self.values

    def __len__(self) -> int:
        return len(self.values)


class Timeline(Generic[V]):
    """The history of one value (a participant's municipality or level), read at any time."""

    __slots__ = ("_stamps", "_values")

    def __init__(self) -> None:
        self._stamps: list[Stamp] = []
        self._values: list[V] = []

    def record(self, stamp: Stamp, value: V) -> None:
        """Insert in stamp order: deliveries arrive in any order, history must not care. The
        same event again (same stamp) changes nothing."""
        i = bisect.bisect_left(self._stamps, stamp)
        if i < len(self._stamps) and self._stamps[i] == stamp:
            return
        self._stamps.insert(i, stamp)
        self._values.insert(i, value)

    def current(self) -> V:
        return self._values[-1]

    def at(self, when: dt.datetime) -> V:
        """The value in force at `when`: the latest event at or before it.

        When `when` predates every event (an attendance reported with an `occurred_at` before
        the participant's registration), the earliest known value is used: the participant
        must be charged somewhere, and the municipality that registered them is the one that
        brought them to the course.
        """
        if len(self._values) == 1:
            return self._values[0]
        i = bisect.bisect_right(self._stamps, (when, 1 << 128))
        return self._values[max(i - 1, 0)]

    def __len__(self) -> int:
        return len(self._values)
