"""A fold pickled by `fold_pickle.dump_fold` loads as `pickle` would have it: the same values,
the same objects shared, each container its own where it was its own; and its large plain
containers are written without a memo entry for each object held once."""

from __future__ import annotations

import io
import pickle
import tracemalloc
from typing import Any

import pytest

from shared.platform import fold_pickle


class Part:  # a fold's own kind of object (this module is in neither `shared` nor `services`)
    def __init__(self, **attributes: Any) -> None:
        self.__dict__.update(attributes)


class Slotted:
    __slots__ = ("index", "other")


def _loaded(fold: Any) -> Any:
    out = io.BytesIO()
    fold_pickle.dump_fold(fold, out)
    return pickle.loads(out.getvalue())


@pytest.fixture(autouse=True)
def _ours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fold_pickle, "_OWN", (__name__, *fold_pickle._OWN))


def test_shared_objects_stay_shared_and_aliased_containers_stay_one() -> None:
    shared_tuple = ("course_day", "o1", 3)
    name = "".join(["participant", "-1"])  # not interned: one object held in many places
    index = {i: (name, shared_tuple, i) for i in range(400)}
    aliased = {i: i for i in range(400)}
    slotted = Slotted()
    slotted.index = [(name, i) for i in range(400)]
    slotted.other = aliased
    fold = Part(index=index, aliased=aliased, again=aliased, slotted=slotted, name=name,
                sets={i: {i, i + 1} for i in range(300)}, floats=[i / 3 for i in range(300)],
                mixed=[Part(x=i) for i in range(300)])
    restored = _loaded(fold)
    assert restored.index == index and restored.slotted.index == slotted.index
    assert restored.sets == fold.sets and restored.floats == fold.floats
    assert [p.x for p in restored.mixed] == list(range(300))
    assert restored.aliased is restored.again is restored.slotted.other  # held thrice: kept one
    values = list(restored.index.values())
    assert all(v[1] is values[0][1] for v in values)  # the shared tuple: one
    assert all(v[0] is restored.name for v in values)  # the shared string: one
    assert all(v[0] is restored.name for v in restored.slotted.index)


def test_a_class_with_its_own_setstate_is_pickled_as_pickle_would() -> None:
    class Own(Part):
        def __setstate__(self, state: dict[str, Any]) -> None:
            self.__dict__.update(state, restored=True)

    globals()["Own"] = Own
    Own.__qualname__ = "Own"
    try:
        restored = _loaded(Part(own=Own(index=list(range(500)))))
    finally:
        del globals()["Own"]
    assert restored.own.index == list(range(500)) and restored.own.restored


def test_the_memo_holds_what_is_shared_only() -> None:
    fold = Part(index={i: (str(i), i, (i, i)) for i in range(50_000)})

    def peak(dump: Any) -> int:
        tracemalloc.start()
        dump()
        held = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return held

    plain = peak(lambda: pickle.dump(fold, io.BytesIO(), protocol=pickle.HIGHEST_PROTOCOL))
    ours = peak(lambda: fold_pickle.dump_fold(fold, io.BytesIO()))
    assert ours < plain / 2
    assert _loaded(fold).index == fold.index


def test_containers_holding_more_than_plain_values_are_written_with_the_memo() -> None:
    one = Part(x=1)  # held by two large containers: still one object once loaded
    late = Part(index=list(range(300)))  # reached only through a left-out container
    fold = Part(first=[*range(300), one], second=[*range(300), one, late],
                third={i: ("shared", one) if i == 7 else i for i in range(300)})
    restored = _loaded(fold)
    assert restored.first[:300] == list(range(300)) == restored.second[:300]
    assert restored.first[-1] is restored.second[300] is restored.third[7][1]
    assert restored.first[-1].x == 1
    assert restored.second[-1].index == list(range(300))  # its own left-out list, put back
