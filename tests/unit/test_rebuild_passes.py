"""A rebuild feeds each fold held in memory in a pass of its own (its peak is the largest
fold's, not the sum), the largest first, and every projection exactly once."""

from types import SimpleNamespace
from typing import Any

from yrkesresan.stores import _passes


def runner(fold: bool) -> Any:
    return SimpleNamespace(snapshots_kept=fold)


def test_each_fold_has_a_pass_of_its_own_largest_first_tables_with_the_last() -> None:
    runners = {"progression": runner(True), "certification": runner(True),
               "scheduling-registry": runner(False), "billing": runner(False),
               "dashboard": runner(True), "regions": runner(False)}
    passes = _passes(runners)
    assert [list(p) for p in passes] == [
        ["dashboard"], ["certification"],
        ["progression", "scheduling-registry", "billing", "regions"]]
    assert all(p[name] is runners[name] for p in passes for name in p)


def test_tables_alone_are_one_pass_and_nothing_is_no_pass() -> None:
    runners = {"billing": runner(False), "regions": runner(False)}
    assert [list(p) for p in _passes(runners)] == [["billing", "regions"]]
    assert _passes({}) == []
    one = {"progression": runner(True)}
    assert [list(p) for p in _passes(one)] == [["progression"]]
