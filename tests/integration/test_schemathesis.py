"""Schemathesis over the four services' OpenAPI documents, in process, on SQLite and on
PostgreSQL: every operation gets generated requests, valid and invalid (its examples, the
boundary values of each parameter, and a bounded number of random ones), each sent with the
token of one role after another (or none), once more with the seeded ids in place of the
generated ones so that requests reach past "unknown id", and once more with one path or query
parameter set to an odd value (NUL, 5000 characters, a 30-digit number, ...). A request fails
the run when the answer is a 5xx, or a status, content type or body its operation does not
document.

The run is bounded (`MAX_EXAMPLES` random cases per operation, 8, fixed seed; the boundary
values and the odd ones come on top) so that all eight runs take two minutes or so: the random
cases were most of the suite's longest file at 15. `YRKESRESAN_SCHEMATHESIS_EXAMPLES` raises it
for a deeper run.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis import Case
from schemathesis.checks import load_all_checks
from schemathesis.schemas import BaseSchema

from tests.integration.apis import COURSE_ID, DALARNA, SERVICES, Seeded, seeded

pytestmark = pytest.mark.integration

MAX_EXAMPLES = int(os.environ.get("YRKESRESAN_SCHEMATHESIS_EXAMPLES", "8"))
# Values that once got a 500 or that a database chokes on, mixed into generated parameters:
# integers past 64 bits, NUL bytes, strings longer than any column (lone surrogates break
# schemathesis itself; test_bad_input.py sends those).
ODD_VALUES: list[str | int] = [2**63, 10**30, -(2**63) - 1, 2**31, "\x00", "a\x00b",
                               "x" * 100_000, "%00", "../../etc"]
CONFIG = schemathesis.Config.from_dict({
    "seed": 8,
    "dictionaries": {"odd": {"values": ODD_VALUES}},
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True,
                   "dictionaries": {kind: {"dictionary": "odd", "probability": 0.2}
                                    for kind in ("integer", "number", "string")}},
    # Stateful sequences would need OpenAPI links, which the documents do not declare.
    "phases": {"stateful": {"enabled": False}},
})

load_all_checks()
from schemathesis.checks import (  # noqa: E402 (registered by load_all_checks)
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
ROLES = ("system", "municipal_admin", "regional_coordinator", "participant", "trainer",
         "national_analyst", "auditor", "name_reader", "address_reader")


@pytest.fixture(scope="module")
def world(module_database_url: str) -> Iterator[Seeded]:
    yield from seeded(module_database_url)


@pytest.fixture(params=SERVICES)
def api_schema(request: pytest.FixtureRequest, world: Seeded) -> BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", world.apis[request.param],
                                          config=CONFIG)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_no_request_gets_a_5xx_or_an_undocumented_answer(case: Case, world: Seeded) -> None:
    case.call_and_validate(headers=_next_caller(world), checks=CHECKS)
    if _with_seeded_ids(case, world):
        case.call_and_validate(headers=_next_caller(world), checks=CHECKS)
    if _with_an_odd_parameter(case):
        case.call_and_validate(headers=_next_caller(world), checks=CHECKS)


_turn = itertools.count()


def _next_caller(world: Seeded) -> dict[str, str]:
    """The roles take turns, and every tenth request has no token: each role gets a share
    of every operation's cases, at the cost of one request per case."""
    role = (*ROLES, None)[next(_turn) % (len(ROLES) + 1)]
    return world.headers(role) if role else {}


def _seed_ids(world: Seeded) -> dict[str, str]:
    return {"participant_id": world.participants[0], "occasion_id": world.occasion_id,
            "course_id": COURSE_ID, "trainer_id": world.trainer_id, "municipality_id": "falun",
            "region_id": DALARNA}


def _with_seeded_ids(case: Case, world: Seeded) -> bool:
    """Put the seeded ids where the case has parameters (or top-level body fields) of those
    names; False when it has none."""
    ids = _seed_ids(world)
    changed = False
    for values in (case.path_parameters, case.query, case.body):
        if isinstance(values, dict):
            changed |= _replace(values, ids)
    return changed


# Schemathesis leaves NUL out of path parameters, and rarely sends the rest there: one path or
# query parameter of each case gets one of these, in turn.
ODD_PARAMETERS = ("a\x00b", "\x00", "x" * 5000, "9" * 30, "-1", "ñ😀", "a\nb", "a b", "%")
_odd = itertools.count()


def _with_an_odd_parameter(case: Case) -> bool:
    names = [(where, name) for where in (case.path_parameters, case.query)
             if isinstance(where, dict) for name in where]
    if not names:
        return False
    turn = next(_odd)
    where, name = names[turn % len(names)]
    where[name] = ODD_PARAMETERS[turn % len(ODD_PARAMETERS)]
    return True


def _replace(values: dict[str, Any], ids: dict[str, str]) -> bool:
    found = [name for name in values if name in ids]
    for name in found:
        values[name] = ids[name]
    return bool(found)
