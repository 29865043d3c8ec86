"""A snapshot writes every date and datetime as an int the pickler keeps no memo of: each
comes back equal, with a tzinfo of the same kind and offset, and prints the same."""

from __future__ import annotations

import datetime as dt
import pickle
import tracemalloc
from typing import Any

from shared.events.envelope import parse_envelope, parse_envelope_dict
from shared.platform import foldpickle
from yrkesresan.demo import demo_envelopes


def _parsed_times() -> list[dt.datetime]:
    """Datetimes as pydantic makes them (each with a `TzInfo` of its own), as folds hold them."""
    envs = list(demo_envelopes(10, seed=3))
    times = [env.occurred_at for env in envs]
    raw = envs[0].model_dump(mode="json")
    for stamp in ("2024-03-31T01:59:59.999999+01:00", "1969-12-31T23:59:59.5-05:30",
                  "2025-06-01T00:00:00Z"):
        times.append(parse_envelope_dict({**raw, "occurred_at": stamp}).occurred_at)
    return times


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dt.datetime):
        return (a == b and type(a) is type(b) and a.isoformat() == b.isoformat()
                and type(a.tzinfo) is type(b.tzinfo) and a.utcoffset() == b.utcoffset()
                and (a.tzinfo is None or a.tzname() == b.tzname()) and a.fold == b.fold)
    return bool(a == b and type(a) is type(b))


def test_dates_and_times_come_back_as_they_were() -> None:
    values: list[Any] = [
        *_parsed_times(),
        dt.datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
        dt.datetime(1901, 12, 13, 20, 45, 52, tzinfo=dt.timezone(dt.timedelta(hours=-11))),
        dt.datetime(2025, 1, 2, 3, 4, 5),  # naive: pickled as usual
        dt.datetime(2025, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=1), "CET")),  # named
        dt.datetime(2025, 10, 26, 2, 30, fold=1, tzinfo=dt.UTC),
        dt.date(2025, 2, 28), dt.date(1, 1, 1), dt.date(9999, 12, 31),
    ]
    back = foldpickle.loads(foldpickle.dumps(values))
    assert len(back) == len(values)
    for before, after in zip(values, back, strict=True):
        assert _same(before, after), (before, after)
    assert not _same(values[0], values[1])  # a comparison that can fail
    assert back[-8].tzinfo is dt.UTC  # the singleton, as `dt.timezone(timedelta(0))` gives it


def test_a_plain_pickle_written_before_loads() -> None:
    values = [*_parsed_times(), {"k": (dt.date(2024, 1, 1), [1, "a"])}]
    back = foldpickle.loads(pickle.dumps(values, protocol=pickle.HIGHEST_PROTOCOL))
    assert all(_same(a, b) for a, b in zip(values[:-1], back[:-1], strict=True))
    assert back[-1] == values[-1]


def test_pickling_many_datetimes_keeps_no_memo_of_them() -> None:
    times = [parse_envelope(env.to_json()).occurred_at  # as a consumer parses them
             for env in demo_envelopes(60, seed=5)]
    assert len(times) > 1000
    pickled: list[int] = []
    for dump in (lambda f: pickle.dump(times, f, protocol=pickle.HIGHEST_PROTOCOL),
                 lambda f: foldpickle.dump(times, f)):
        class Null:
            def write(self, data: bytes) -> int:
                return len(data)
        tracemalloc.start()
        dump(Null())
        pickled.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    plain, ours = pickled
    assert ours * 10 < plain, pickled
