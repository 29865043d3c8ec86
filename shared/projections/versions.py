"""How state that changes over time is read, written once for every projection.

The contract says that where state depends on time, the event with the latest `occurred_at`
wins, not the one that arrived last. Two events may carry the same `occurred_at`; the event id
then breaks the tie, so that the outcome never depends on delivery order.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterator
from typing import Any, Generic, TypeVar, cast

from shared.events import Envelope

K = TypeVar("K")
V = TypeVar("V")

Stamp = tuple[dt.datetime, int]
"""(occurred_at, id as int): a total order on events that every consumer agrees on."""


def stamp_of(env: Envelope) -> Stamp:
    return (env.occurred_at, env.id.int)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def instant(when: dt.datetime) -> int:
    """An aware datetime as the folds keep it: microseconds since 1970, UTC (one int; a
    datetime as pydantic parses it is two objects with its tzinfo, about 90 bytes, pickled with
    a reduce each)."""
    return (when - _EPOCH) // _MICROSECOND


def from_instant(micros: int) -> dt.datetime:
    """A time kept by `instant`, as a datetime (UTC): the same instant."""
    return _EPOCH + micros * _MICROSECOND


def packed_stamp(env: Envelope) -> int:
    """`stamp_of` as one int, in the same order: the `occurred_at` in microseconds since
    1970 (UTC), then the id's 128 bits. For a fold that keeps a stamp per participant or per
    booking: a tuple of a datetime and an int is three objects, and unpickling the datetime
    is a call; the int is one object, read by the unpickler itself."""
    return instant(env.occurred_at) << 128 | env.id.int


def recorded_of(env: Envelope) -> dt.datetime:
    """An event's recording time (CONTRACT.md, closed years): its `recorded_at`, or its
    `occurred_at` where the log has no `recorded_at`."""
    return env.recorded_at or env.occurred_at


def recorded_instant(env: Envelope) -> int:
    """`recorded_of` as `instant` keeps it: how `AsOfMap` and `Timeline` hold a recording time."""
    return instant(env.recorded_at or env.occurred_at)


_LAST_ID = (1 << 128) - 1


def seen_by(recorded: dt.datetime, cutoff: dt.datetime | None) -> bool:
    """Whether a fact recorded at `recorded` is in the view of the log as recorded by `cutoff`
    (a closed year's view); `cutoff` None is the whole log."""
    return cutoff is None or recorded <= cutoff


class LatestBy(Generic[K, V]):
    """Per key, the value of the event with the greatest stamp (latest `occurred_at`).

    The stamps are `stamp_of`'s or `packed_stamp`'s (the same order), one kind per
    instance. `values` is the plain mapping of what stands, for readers on a hot path; only
    `offer` changes it.
    """

    __slots__ = ("_stamps", "values")

    def __init__(self) -> None:
        self._stamps: dict[K, Any] = {}
        self.values: dict[K, V] = {}

    def offer(self, key: K, stamp: Stamp | int, value: V) -> bool:
        """Keep `value` if it is newer than what is held; True when it now stands."""
        held = self._stamps.get(key)
        if held is not None and held >= stamp:
            return False
        self._stamps[key] = stamp
        self.values[key] = value
        return True

    def get(self, key: K) -> V | None:
        return self.values.get(key)

    def stamp(self, key: K) -> Stamp | int | None:
        return self._stamps.get(key)

    def items(self) -> list[tuple[K, V]]:
        return list(self.values.items())

    def __contains__(self, key: object) -> bool:
        return key in self.values

    def __len__(self) -> int:
        return len(self.values)


Versions = tuple[Any, ...]
"""The versions of one value as `AsOfMap` keeps them: one flat tuple of (stamp,
recording time, value) for each, ``(stamp, recorded, value, stamp, recorded, value, ...)``."""


def offer_version(held: Versions, stamp: int, recorded: int, value: Any) -> tuple[Versions, bool]:
    """`held` with a version offered (`packed_stamp`, `recorded_instant`), and whether it is
    now the one in force in the whole log. A version that another has both outranked (greater
    or equal stamp) and preceded (recorded no later) can never be the answer, so it is not
    kept: one version is the common case. `held` itself when the version is not kept."""
    for i in range(0, len(held), 3):
        if held[i] >= stamp and held[i + 1] <= recorded:
            return held, False
    wins = all(held[i] < stamp for i in range(0, len(held), 3))
    kept = [item for i in range(0, len(held), 3)
            if not (stamp >= held[i] and recorded <= held[i + 1]) for item in held[i:i + 3]]
    return (*kept, stamp, recorded, value), wins


def latest_version(held: Versions, cutoff: dt.datetime | None = None) -> Any:
    """The value in force in the whole log (`cutoff` None) or as recorded by `cutoff`."""
    by = None if cutoff is None else instant(cutoff)
    best = -1
    for i in range(0, len(held), 3):
        if (by is None or held[i + 1] <= by) and (best < 0 or held[i] > held[best]):
            best = i
    return None if best < 0 else held[best + 2]


class AsOfMap(Generic[K, V]):
    """Per key, the versions of its value, each with its stamp and recording time, read in the
    whole log (the greatest stamp wins, as `LatestBy`) or in the log as recorded by a cutoff
    (the greatest stamp among the versions recorded by then): a closed year's view
    (`offer_version`, `latest_version`). The stamp is `packed_stamp`'s and the recording time
    `recorded_instant`'s: two ints, where a `stamp_of` and a datetime were a tuple, two
    datetimes with their tzinfos and an int.

    A key's versions are one flat tuple (`Versions`). An object per key (`AsOf`, with its list
    and a tuple for each version) was four objects a key, each with a memo entry of the
    snapshot's pickler, since a container of objects other than plain values is written with
    the memo (`fold_pickle`); a dict of tuples of ints and interned strings is written without
    one. Over the 30,000-participant log the billing facts' 40,057 trainer-days took 16.5 MiB
    and 203,288 memo entries."""

    __slots__ = ("_versions",)

    def __init__(self) -> None:
        self._versions: dict[K, Versions] = {}

    def offer(self, key: K, stamp: int, recorded: int, value: V) -> bool:
        """Keep a version of `key`'s value; True when it is now the one in force."""
        held = self._versions.get(key, ())
        kept, wins = offer_version(held, stamp, recorded, value)
        if kept is not held:
            self._versions[key] = kept
        return wins

    def latest(self, key: K, cutoff: dt.datetime | None = None) -> V | None:
        """`key`'s value in force in the whole log, or as recorded by `cutoff`."""
        held = self._versions.get(key)
        return None if held is None else cast("V | None", latest_version(held, cutoff))

    def latest_of_each(self, cutoff: dt.datetime | None = None) -> Iterator[tuple[K, V]]:
        """(key, its value in force) for every key that has one (as recorded by `cutoff`)."""
        for key, held in self._versions.items():
            value = latest_version(held, cutoff)
            if value is not None:
                yield key, value

    def __contains__(self, key: object) -> bool:
        return key in self._versions

    def __iter__(self) -> Iterator[K]:
        return iter(self._versions)


class Timeline(Generic[V]):
    """The history of one value (a participant's municipality or level), read at any time,
    in the whole log or in the log as recorded by a cutoff (a closed year's view). Stamps are
    `packed_stamp`'s and recording times `recorded_instant`'s (ints, as `AsOfMap` keeps them)."""

    __slots__ = ("_last_recorded", "_recorded", "_stamps", "_values")

    def __init__(self) -> None:
        self._stamps: list[int] = []
        self._values: list[V] = []
        self._recorded: list[int] = []
        self._last_recorded: int | None = None

    def __getstate__(self) -> tuple[Any, ...]:  # one tuple, not a tuple and a dict
        return self._stamps, self._values, self._recorded, self._last_recorded

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # the default's (None, slots)
            state = tuple(state[1][name] for name in (
                "_stamps", "_values", "_recorded", "_last_recorded"))
        self._stamps, self._values, self._recorded, self._last_recorded = state

    def record(self, stamp: int, value: V, recorded: int | None = None) -> None:
        """Insert in stamp order: deliveries arrive in any order, history must not care. The
        same event again (same stamp) changes nothing. `recorded` None: as `stamp`'s time."""
        i = bisect.bisect_left(self._stamps, stamp)
        if i < len(self._stamps) and self._stamps[i] == stamp:
            return
        recorded = stamp >> 128 if recorded is None else recorded
        self._stamps.insert(i, stamp)
        self._values.insert(i, value)
        self._recorded.insert(i, recorded)
        if self._last_recorded is None or recorded > self._last_recorded:
            self._last_recorded = recorded

    def current(self) -> V:
        return self._values[-1]

    def at(self, when: dt.datetime, cutoff: dt.datetime | None = None) -> V | None:
        """The value in force at `when`: the latest event at or before it.

        When `when` predates every event (an attendance reported with an `occurred_at` before
        the participant's registration), the earliest known value is used: the participant
        must be charged somewhere, and the municipality that registered them is the one that
        brought them to the course. With a `cutoff`, only the events recorded by then count;
        None if there were none.
        """
        if cutoff is not None and self._last_recorded is not None:
            by = instant(cutoff)
            if self._last_recorded > by:
                return self._as_recorded_by(by).at(when)
        if len(self._values) == 1:
            return self._values[0]
        i = bisect.bisect_right(self._stamps, instant(when) << 128 | _LAST_ID)
        return self._values[max(i - 1, 0)]

    def _as_recorded_by(self, cutoff: int) -> Timeline[V]:
        view: Timeline[V] = Timeline()
        for stamp, value, recorded in zip(self._stamps, self._values, self._recorded,
                                          strict=True):
            if recorded <= cutoff:
                view.record(stamp, value)
        if not view._values:
            return _EMPTY_TIMELINE
        return view

    def __len__(self) -> int:
        return len(self._values)


class _EmptyTimeline(Timeline[Any]):
    def at(self, when: dt.datetime, cutoff: dt.datetime | None = None) -> None:
        return None


_EMPTY_TIMELINE = _EmptyTimeline()


def add_once(index: dict[str, tuple[str, ...]], key: str, item: str) -> None:
    """`item` among `key`'s in `index`, once: an index of ids kept as tuples, not sets (a set
    of a few ids takes 216-728 bytes, a tuple 48 and 8 an id); a redelivery changes nothing."""
    held = index.get(key)
    if held is None:
        index[key] = (item,)
    elif item not in held:
        index[key] = (*held, item)
