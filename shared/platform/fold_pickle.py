"""Pickling a fold for its snapshot without a memo entry for every object in it.

A pickler keeps every object it has written in its memo until its end (an entry of 16 bytes in
a table sized to a power of two, and the object held), so that an object met again is written
as a reference. Over the dashboard's fold of a 162,545-event log that memo was 31 MB on top of
the fold's 41 (about 190 bytes an event of the log): at national size more than a gigabyte, at
the end of a rebuild, on top of the whole fold. Most of a fold's objects are held once, in one
place (the tuples, dicts and ints of its large indexes); marshal writes only objects held more
than once as references, and so does this, for the large plain containers of a fold:

- the fold is pickled as usual, except that each large container held by one attribute of one
  of the folds' own objects (a dict, list, set or tuple of at least `LARGE` items, held nowhere
  else) is left out and written at the end, after everything else;
- each of those containers is walked first: every object in it that is held more than once (its
  reference count says so) is written with the memo as usual, as it is met (`_Sink`: no list
  of them is made); then, if the container holds plain values only (containers, str, int,
  float, bytes, None), the memo is switched off (`fast`) while it is written: an object held
  once is met once, so it needs no memo entry, and one held more than once is in the memo
  already and written as a reference. A container that holds anything else is written with
  the memo, as pickle would.

What is loaded is the same graph of objects: the same objects shared, each container in its
attribute. `pickle.loads` reads it as it reads any pickle (no code of this module is needed but
`_Filler`, which puts the containers back, and `_Sink`, which drops what was written only to
be in the memo).

The objects held more than once were first gathered in a mapping of their ids, all at once
before the containers: over the dashboard's fold of a 1,620,789-event log, 869,655 objects
among 6,691,000 references, which with the pickler's memo made the pickling 163 MB of a
rebuild's end (above the fold) and its peak.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Iterator
from typing import Any, Protocol


class _Writes(Protocol):
    def write(self, data: bytes, /) -> int: ...


LARGE = 256
"""The least number of items of a container worth writing without the memo."""

_PLAIN = frozenset({str, int, float, bytes, bool, type(None)})
_CONTAINERS = frozenset({dict, list, set, frozenset, tuple})
_OWN = ("shared.", "services.")


def dump_fold(fold: Any, file: _Writes) -> None:
    """`pickle.dump(fold, file)` with the large plain containers written without the memo."""
    _FoldPickler(file, protocol=pickle.HIGHEST_PROTOCOL).dump(_Assembled(fold))


def _large(attributes: dict[str, Any]) -> list[tuple[str, Any, int]]:
    """The large containers among an object's attributes, each with its reference count as
    seen here (the owner's, its state's if that is another dict, this loop's and the call's)."""
    return [(name, value, sys.getrefcount(value)) for name, value in attributes.items()
            if type(value) in _CONTAINERS and len(value) >= LARGE]


class _Slotted:
    __slots__ = ("held",)

    held: Any


class _Plain:
    held: Any


def _calibrated() -> tuple[int, int]:
    """The reference count `_large` sees of a container held by one attribute and nothing else:
    of an object with slots, of one with a `__dict__`."""
    counts = []
    probe: _Slotted | _Plain
    for probe in (_Slotted(), _Plain()):
        probe.held = [None] * LARGE
        state: Any = probe.__reduce_ex__(pickle.HIGHEST_PROTOCOL)[2]
        counts.append(_large(state[1] if isinstance(state, tuple) else state)[0][2])
    return counts[0], counts[1]


def _scan(items: Any, stack: list[Any], found: list[Any]) -> bool:
    """Whether `items` are plain values; pushes on `stack` the containers held once, adds to
    `found` the objects held more than once (written with the memo)."""
    plain, containers, getrefcount = _PLAIN, _CONTAINERS, sys.getrefcount
    for one in items:
        kind = type(one)
        if kind is int or kind is float or one is None or kind is bool:
            continue  # never in a memo
        if kind in plain:
            if getrefcount(one) > _ONCE:
                found.append(one)
        elif kind in containers:
            if getrefcount(one) > _ONCE:
                found.append(one)  # written with the memo, with what it holds
            else:
                stack.append(one)
        else:
            return False
    return True


def _held_once() -> int:
    counts: list[int] = []
    probe = [object()]
    for one in probe:
        counts.append(sys.getrefcount(one))
    return counts[0]


_ONCE = _held_once()
"""The reference count `_scan` sees of an object that one container holds and nothing else."""


class _Assembled:
    """The root written: the fold, then what was left out of it (`_Rest`)."""

    def __init__(self, fold: Any) -> None:
        self.fold = fold


class _Rest:
    """What was left out of the fold, written once the fold is."""


class _Sink:
    """Loaded from what a container's walk wrote (`_Shares`): the objects it holds more than
    once, each written with the memo, read into the unpickler's memo and dropped here."""

    def extend(self, _items: Any) -> None:
        pass

    def append(self, _item: Any) -> None:
        pass


class _Shares:
    """Written before a left-out container: the objects in it held more than once, as items
    appended to a `_Sink`, taken from its walk as they are met (`shared`); `plain` tells,
    once they are written, whether the walk met plain values only."""

    def __init__(self, container: Any) -> None:
        self.container = container
        self.plain = True

    def shared(self) -> Iterator[Any]:
        stack: list[Any] = [self.container]
        found: list[Any] = []
        seen: set[int] = set()
        while stack:
            held = stack.pop()
            for items in (held.keys(), held.values()) if type(held) is dict else (held,):
                plain = _scan(items, stack, found)
                for one in found:
                    # each once per container: a reference written again costs 5 bytes of
                    # the pickle (the names of the dashboard's cells are held by most of its
                    # parts), and a mapping of what every container shares is what this avoids
                    key = id(one)
                    if key not in seen:
                        seen.add(key)
                        yield one
                found.clear()
                if not plain:
                    self.plain = False
                    return


class _Fast:
    """Met around a left-out container: the memo off before it (if its walk met plain values
    only), on again after it."""

    def __init__(self, shares: _Shares, on: bool) -> None:
        self.shares, self.on = shares, on


class _FoldPickler(pickle.Pickler):
    _owned: tuple[int, int] | None = None

    def __init__(self, file: _Writes, protocol: int) -> None:
        super().__init__(file, protocol=protocol)
        self._protocol = protocol
        self._left: list[tuple[Any, str, Any]] = []
        if _FoldPickler._owned is None:
            _FoldPickler._owned = _calibrated()

    def reducer_override(self, obj: Any) -> Any:  # noqa: C901 - one dispatch
        kind = type(obj)
        if kind is _Assembled:
            return _assembled, (obj.fold, _Rest())
        if kind is _Rest:
            # everything else is written: each left-out container, what it shares first
            return _Filler, (), None, self._steps()
        if kind is _Shares:
            return _Sink, (), None, obj.shared()
        if kind is _Fast:
            self.fast = obj.on and obj.shares.plain
            return _nothing, ()
        if not kind.__module__.startswith(_OWN) or getattr(kind, "__setstate__", None):
            return NotImplemented
        reduced = obj.__reduce_ex__(self._protocol)
        if not isinstance(reduced, tuple) or len(reduced) < 3:
            return NotImplemented
        state = reduced[2]
        if isinstance(state, dict):
            kept = self._leave_out(obj, state, self._owned[1])  # type: ignore[index]
            if kept is state:
                return NotImplemented
            return (*reduced[:2], kept, *reduced[3:])
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
            slots = self._leave_out(obj, state[1], self._owned[0])  # type: ignore[index]
            if slots is state[1]:
                return NotImplemented
            return (*reduced[:2], (state[0], slots), *reduced[3:])
        return NotImplemented

    def _steps(self) -> Iterator[Any]:
        """What `_Rest` writes, taken as it is written: a container written with the memo (it
        holds more than plain values) may hold objects of the folds whose own containers are
        left out, and they are written in turn."""
        left = self._left
        while left:
            owner, name, value = left.pop()
            shares = _Shares(value)
            yield shares
            yield _Fast(shares, True)
            yield owner, name, value
            yield _Fast(shares, False)

    def _leave_out(self, obj: Any, attributes: dict[str, Any], owned: int) -> dict[str, Any]:
        left = [(name, value) for name, value, held in _large(attributes) if held <= owned]
        if not left:
            return attributes
        kept = dict(attributes)
        for name, value in left:
            kept[name] = None
            self._left.append((obj, name, value))
        return kept


def _nothing() -> None:
    return None


class _Filler:
    """Loaded from `_Rest`: puts each left-out container back into its attribute."""

    def extend(self, steps: Any) -> None:
        for step in steps:
            self.append(step)

    def append(self, step: Any) -> None:
        if type(step) is tuple:
            owner, name, value = step
            object.__setattr__(owner, name, value)


def _assembled(fold: Any, _rest: None) -> Any:
    return fold
