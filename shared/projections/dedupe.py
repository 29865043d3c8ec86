"""The contract's idempotency rule, written once: an event seen twice is applied once."""

from __future__ import annotations

from shared.events import Envelope


class SeenIds:
    """Remembers the ids of the events a fold has applied.

    Ids are kept as their 128-bit integers: hashing an int is much cheaper than hashing a
    `uuid.UUID`, and replay calls this once per event.
    """

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: set[int] = set()

    def first_time(self, env: Envelope) -> bool:
        """True the first time an id is offered, False for every redelivery."""
        key = env.id.int
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def __len__(self) -> int:
        return len(self._seen)
