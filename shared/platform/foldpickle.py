"""How a fold is pickled for its snapshot: pickle, with every date and time as one int.

A pickler keeps every object it has written in its memo until the end, and what it wrote for
an object pickled by reduce (a datetime: its arguments' tuple and bytes, and its tzinfo, which
pydantic makes afresh for every datetime it parses, with its own reduce) stays there too. A
fold holds a datetime for most facts (a participant-day's report, a certificate, a stamp), so
pickling the dashboard's fold over a 54,577-event log took 17 MB above the fold's own 21 MB,
most of it for its 19,000 datetimes (about 750 bytes each, against 63 for a tuple). Here a
date or datetime is written as a persistent id, an int, which the pickler neither memoizes nor
keeps; it comes back equal, with a tzinfo of the same kind and offset (one per offset), so
an aware datetime compares, hashes and prints as the one pickled.
"""

from __future__ import annotations

import datetime as dt
import io
import pickle
from typing import IO, Any, Protocol

from pydantic_core import TzInfo

_EPOCH = dt.datetime(1970, 1, 1)
_MICROSECOND = dt.timedelta(microseconds=1)
_SECOND = dt.timedelta(seconds=1)
_OFFSET_BITS = 18  # an offset in seconds, biased: |offset| < 24 h < 2**17 s
_BIAS = 1 << (_OFFSET_BITS - 1)
# The kind of a persistent id, in its lowest two bits.
_PYDANTIC, _TIMEZONE, _DATE = 0, 1, 2


class Writer(Protocol):
    def write(self, data: bytes, /) -> int: ...


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> int | None:
        kind = type(obj)
        if kind is dt.datetime:
            tz = obj.tzinfo
            if type(tz) is TzInfo:
                tag = _PYDANTIC
            elif type(tz) is dt.timezone and tz == dt.timezone(tz.utcoffset(None)) and \
                    tz.tzname(None) == dt.timezone(tz.utcoffset(None)).tzname(None):  # no name
                tag = _TIMEZONE
            else:
                return None  # naive, or another tzinfo: pickled as usual
            offset = tz.utcoffset(None)
            seconds, rest = divmod(offset, _SECOND)
            if rest or obj.fold:
                return None
            wall = (obj.replace(tzinfo=None) - _EPOCH) // _MICROSECOND
            return ((wall << _OFFSET_BITS | seconds + _BIAS) << 2) | tag
        if kind is dt.date:
            return obj.toordinal() << 2 | _DATE
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(file)
        self._zones: dict[tuple[int, int], dt.tzinfo] = {}

    def persistent_load(self, pid: Any) -> Any:
        tag = pid & 3
        if tag == _DATE:
            return dt.date.fromordinal(pid >> 2)
        value = pid >> 2
        seconds = (value & ((1 << _OFFSET_BITS) - 1)) - _BIAS
        tz = self._zones.get((tag, seconds))
        if tz is None:
            tz = self._zones[tag, seconds] = (
                TzInfo(seconds) if tag == _PYDANTIC else dt.timezone(dt.timedelta(seconds=seconds)))
        wall = _EPOCH + (value >> _OFFSET_BITS) * _MICROSECOND
        return wall.replace(tzinfo=tz)


def dump(fold: Any, file: Writer) -> None:
    """Pickle `fold` into `file` (a snapshot)."""
    _Pickler(file, protocol=pickle.HIGHEST_PROTOCOL).dump(fold)


def dumps(fold: Any) -> bytes:
    buffer = io.BytesIO()
    dump(fold, buffer)
    return buffer.getvalue()


def loads(data: bytes) -> Any:
    """A fold from what `dump` wrote (or from a plain pickle: snapshots written before)."""
    return _Unpickler(io.BytesIO(data)).load()
