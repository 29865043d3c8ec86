"""The replay decoder (`shared.events.fast`, msgspec Structs generated from the pydantic models)
against the contract's own validator (`parse_envelope`, pydantic).

Both must accept every example and give the same values; on hypothesis-generated mutations of
the examples they must agree, except where pydantic's lax mode accepts a value that the
contract's JSON Schema (`docs/contract/schemas/`) rejects: there replay is strict. The JSON
Schema is the arbiter of every disagreement, checked here by a small validator of the keywords
the generated schemas use. The intended differences are also listed one by one below.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import re
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.events import EVENT_TYPES, ContractError, parse_envelope
from shared.events.fast import ENVELOPE_STRUCTS, decode_envelope, fast_decoder
from shared.events.models import PriceComponents
from shared.events.schema import example_envelope
from tests.values import plain

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "contract" / "schemas"
SETTINGS = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- the two validators, and what they make of a line ---------------------------------------


def pydantic_reads(raw: bytes) -> Any:
    try:
        return parse_envelope(raw)
    except ContractError:
        return None


def fast_reads(raw: bytes) -> Any:
    try:
        return decode_envelope(raw)
    except ContractError:
        return None


def as_line(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()


EXAMPLES: dict[str, dict[str, Any]] = {
    name: json.loads(example_envelope(name).to_json()) for name in EVENT_TYPES
}


def without_defaults(name: str, doc: Any) -> Any:
    """The example with every optional field left out, in the envelope and nested parts."""
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())

    def strip(value: Any, node: dict[str, Any]) -> Any:
        node = resolve(schema, node)
        if isinstance(value, dict) and "properties" in node:
            required = set(node.get("required", ()))
            return {
                k: strip(v, node["properties"][k])
                for k, v in value.items()
                if k in required or k not in node["properties"]
            }
        if isinstance(value, list) and "items" in node:
            return [strip(v, node["items"]) for v in value]
        return value

    return strip(doc, schema)


# --- the arbiter: the generated JSON Schema ---------------------------------------------------

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$"
)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
_ANNOTATIONS = {"title", "description", "default", "$schema", "$defs"}


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].removeprefix("#/$defs/")]
    return node


def json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _format_ok(fmt: str, value: str) -> bool:
    if fmt == "uuid":
        return _UUID.match(value) is not None
    if fmt == "date":
        found = _DATE.match(value)
        try:
            return found is not None and bool(dt.date(*map(int, found.groups())))
        except ValueError:
            return False
    if fmt == "date-time":
        found = _RFC3339.match(value)
        if found is None:
            return False
        y, mo, d, h, mi, s = map(int, found.groups()[:6])
        offset = found.group(9)
        try:
            dt.datetime(y, mo, d, h, mi, min(s, 59))
        except ValueError:
            return False
        return s <= 60 and (offset is None or (int(offset) < 24 and int(found.group(10)) < 60))
    raise AssertionError(f"format {fmt!r} is not known to this test")


def _type_ok(kind: str, value: Any) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return {
        "integer": number and float(value).is_integer(),
        "number": number,
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "null": value is None,
    }[kind]


def schema_errors(doc: Any) -> list[str]:
    """Where `doc` breaks its type's generated JSON Schema (empty if it is valid)."""
    name = doc.get("type") if isinstance(doc, dict) else None
    if name not in EVENT_TYPES:
        return [f"type: not one of the event types: {name!r}"]
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    errors: list[str] = []

    def check(value: Any, node: dict[str, Any], path: str) -> None:
        node = resolve(schema, node)
        unknown = set(node) - _ANNOTATIONS - {
            "type", "format", "const", "enum", "anyOf", "properties", "required",
            "additionalProperties", "propertyNames", "items", "minItems", "minimum",
            "maximum", "minLength", "maxLength",
        }  # fmt: skip
        assert not unknown, f"keywords this test does not check: {unknown}"
        if "anyOf" in node:
            if not any(not sub_errors(value, option) for option in node["anyOf"]):
                errors.append(f"{path}: matches none of anyOf")
            return
        if "type" in node and not _type_ok(node["type"], value):
            errors.append(f"{path}: not {node['type']}")
            return
        if "const" in node and not json_equal(value, node["const"]):
            errors.append(f"{path}: not {node['const']!r}")
        if "enum" in node and not any(json_equal(value, e) for e in node["enum"]):
            errors.append(f"{path}: not one of {node['enum']}")
        if "format" in node and isinstance(value, str) and not _format_ok(node["format"], value):
            errors.append(f"{path}: not a {node['format']}")
        if "minimum" in node and value < node["minimum"]:
            errors.append(f"{path}: below {node['minimum']}")
        if "maximum" in node and value > node["maximum"]:
            errors.append(f"{path}: above {node['maximum']}")
        if isinstance(value, str):
            if len(value) < node.get("minLength", 0):
                errors.append(f"{path}: too short")
            if len(value) > node.get("maxLength", math.inf):
                errors.append(f"{path}: too long")
        if isinstance(value, list):
            if len(value) < node.get("minItems", 0):
                errors.append(f"{path}: too few items")
            for i, item in enumerate(value):
                check(item, node.get("items", {}), f"{path}.{i}")
        if isinstance(value, dict):
            for key in node.get("required", ()):
                if key not in value:
                    errors.append(f"{path}.{key}: missing")
            for key, item in value.items():
                if key in node.get("properties", {}):
                    check(item, node["properties"][key], f"{path}.{key}")
                elif "additionalProperties" in node:
                    check(item, node["additionalProperties"], f"{path}.{key}")
                if "propertyNames" in node:
                    check(key, node["propertyNames"], f"{path} key {key!r}")

    def sub_errors(value: Any, node: dict[str, Any]) -> list[str]:
        before = len(errors)
        check(value, node, "")
        found = errors[before:]
        del errors[before:]
        return found

    check(doc, schema, "$")
    return errors


def test_the_arbiter_accepts_every_example_and_knows_a_bad_one() -> None:
    for name, doc in EXAMPLES.items():
        assert schema_errors(doc) == [], name
        assert schema_errors(without_defaults(name, doc)) == [], name
    bad = copy.deepcopy(EXAMPLES["CourseDayAttended"])
    bad["data"]["day"] = "1"
    assert schema_errors(bad) == ["$.data.day: not integer"]


# --- every type: both accept, with the same values ---------------------------------------------


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_every_example_decodes_to_the_same_values(name: str) -> None:
    full = dict(
        EXAMPLES[name],
        actor="service:scheduling",
        stream_id="3f1e2d4c-0000-4000-8000-000000000001",
        position=7,
        correlation_id="c-1",
        causation_id="c-0",
    )
    for doc in (EXAMPLES[name], without_defaults(name, EXAMPLES[name]), full):
        raw = as_line(doc)
        slow: Any = parse_envelope(raw)
        fast: Any = decode_envelope(raw)
        struct = type(fast)
        assert struct is ENVELOPE_STRUCTS[name]
        assert plain(fast) == plain(slow)
        assert (fast.type, fast.topic, fast.key()) == (slow.type, slow.topic, slow.key())
        assert (fast.data.SERVICE, fast.data.KEY) == (slow.data.SERVICE, slow.data.KEY)
        assert fast.to_json() == slow.to_json()  # what the projections keep, byte for byte


def test_parts_keep_the_properties_the_folds_read() -> None:
    doc = copy.deepcopy(EXAMPLES["PriceListSet"])
    doc["data"]["components"] = {"venue_and_fika": 1, "trainer_pot": 7}
    fast, slow = decode_envelope(as_line(doc)), parse_envelope(as_line(doc))
    assert fast.data.components.price == slow.data.components.price  # type: ignore[attr-defined]
    assert fast.data.components.price == PriceComponents(venue_and_fika=1, trainer_pot=7).price


def test_the_structs_are_frozen() -> None:
    fast = decode_envelope(as_line(EXAMPLES["CourseDayAttended"]))
    with pytest.raises(AttributeError):
        fast.data.day = 2


# --- mutations: both agree, or the JSON Schema sides with replay ------------------------------


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += paths(item, (*prefix, i))
    return found


def _timestamp(parts: tuple[dt.datetime, str, str, str]) -> str:
    when, separator, fraction, offset = parts
    return when.strftime(f"%Y-%m-%d{separator}%H:%M:%S") + fraction + offset


timestamps = st.tuples(
    st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)),
    st.sampled_from(["T", "t", " ", "_"]),
    st.sampled_from(["", ".5", ".123456", ",5", "."]),  # at most microseconds: see below
    st.sampled_from(["", "Z", "z", "+01:00", "-05:30", "+0100", "+01", "+24:00", "+00:60"]),
).map(_timestamp)

uuids = st.uuids().flatmap(
    lambda u: st.sampled_from(
        [str(u), str(u).upper(), u.hex, "{" + str(u) + "}", "urn:uuid:" + str(u), str(u)[:-1]]
    )
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 60),
    st.sampled_from([70, 71, 1999, 2000, 2200, 2201, 2**63, 2**64, -(2**70)]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, 1.0, 2.0, 5.0, 1.5, 70.0, 2024.0, -0.0, 1e20]),
    st.text(max_size=3),
    st.sampled_from(["", " ", "1", "2", "1.0", "true", "yes", "x" * 200, "x" * 201]),
    st.sampled_from(["2024-01-08", "2024-02-30", "2024-1-8", "20240108", "1704672000"]),
    st.sampled_from(sorted(EVENT_TYPES) + ["Nope", "courseDayAttended"]),
    st.sampled_from(["ny", "van", "chef", "NY", "on_site", "digital", "leader", "reserve"]),
    timestamps,
    uuids,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=5,
)


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, Any]:
    """One example with one change: a value replaced, a field dropped, or a field added."""
    name = draw(st.sampled_from(sorted(EVENT_TYPES)))
    doc = copy.deepcopy(
        draw(st.sampled_from([EXAMPLES[name], without_defaults(name, EXAMPLES[name])]))
    )
    path = draw(st.sampled_from(paths(doc)))
    how = draw(st.sampled_from(["replace", "drop", "add"]))
    if not path:
        return f"{name} replaced by a value", draw(json_values)
    *parent_path, last = path
    parent = doc
    for step in parent_path:
        parent = parent[step]
    if how == "replace":
        parent[last] = draw(json_values)
    elif how == "drop":
        del parent[last]
    elif isinstance(parent[last], dict):
        parent[last][draw(st.text(min_size=1, max_size=8))] = draw(json_values)
    else:
        parent[last] = draw(json_values)
    return f"{name}: {how} at {path}", doc


@SETTINGS
@given(mutations())
def test_both_agree_on_mutations_or_the_schema_sides_with_replay(mutation: tuple[str, Any]) -> None:
    what, doc = mutation
    raw = as_line(doc)
    slow, fast = pydantic_reads(raw), fast_reads(raw)
    if slow is not None and fast is not None:
        assert plain(fast) == plain(slow), what
        assert fast.to_json() == slow.to_json(), what
    elif slow is None:
        assert fast is None, f"replay accepts what the contract rejects: {what}"
    else:
        assert schema_errors(doc), f"replay rejects a valid event: {what}"


def test_mutations_reach_every_kind_of_outcome() -> None:
    """The mutation strategy is not vacuous: it finds agreement both ways and the strict cases
    (derandomized, so that this holds on every run, not just on most)."""
    outcomes: set[str] = set()

    @settings(max_examples=1000, deadline=None, database=None, derandomize=True)
    @given(mutations())
    def collect(mutation: tuple[str, Any]) -> None:
        raw = as_line(mutation[1])
        slow, fast = pydantic_reads(raw), fast_reads(raw)
        outcomes.add(
            {(True, True): "both accept", (False, False): "both reject"}.get(
                (slow is not None, fast is not None), "only pydantic accepts"
            )
        )

    collect()
    assert outcomes == {"both accept", "both reject", "only pydantic accepts"}


# --- the differences, one by one --------------------------------------------------------------


def _with(name: str, path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(EXAMPLES[name])
    *parent_path, last = path
    parent = doc
    for step in parent_path:
        parent = parent[step]
    parent[last] = value
    return doc


STRICT_IN_REPLAY = [
    # a number or a boolean written as a string; a boolean for a number; a number for a boolean
    ("CourseDayAttended", ("data", "day"), "2", "data.day: Expected `int`, got `str`"),
    ("ParticipantRegistered", ("data", "years_in_profession"), "1.5", "Expected `float`"),
    ("CoursePublished", ("data", "preparations", 0, "mandatory"), "true", "Expected `bool`"),
    ("CourseDayAttended", ("data", "day"), True, "data.day: Expected `int`, got `bool`"),
    ("CourseDayAttended", ("schema_version",), True, "schema_version: Expected `int`"),
    ("CoursePublished", ("data", "preparations", 0, "mandatory"), 1, "preparations.0.mandatory"),
    ("EvaluationSubmitted", ("data", "answers", "q1"), True, "data.answers[...]"),
    # a timestamp or a date written as a number, or not in RFC 3339 form
    ("CourseDayAttended", ("occurred_at",), 1741080600, "occurred_at: Expected `datetime`"),
    ("CourseDayAttended", ("occurred_at",), "1741080600", "occurred_at: Invalid RFC3339"),
    ("CourseDayAttended", ("occurred_at",), "2025-03-04T09:30+01:00", "Invalid RFC3339"),
    ("CourseDayAttended", ("occurred_at",), "2025-03-04T09:30:00,5Z", "Invalid RFC3339"),
    ("CourseOccasionPlanned", ("data", "days", 0, "date"), "2025-04-01T00:00:00", "days.0.date"),
    ("CourseOccasionPlanned", ("data", "days", 0, "date"), 1743465600, "Expected `date`"),
    # a UUID with braces or as a URN
    ("CourseDayAttended", ("id",), "{d2c3e1a0-8f5e-4c1e-9a7e-5b0c2f1d3e4a}", "id: Invalid UUID"),
    ("CourseDayAttended", ("id",), "urn:uuid:d2c3e1a0-8f5e-4c1e-9a7e-5b0c2f1d3e4a", "Invalid UUID"),
]


@pytest.mark.parametrize(("name", "path", "value", "says"), STRICT_IN_REPLAY)
def test_replay_is_strict_where_pydantic_is_lax(
    name: str, path: tuple[Any, ...], value: Any, says: str
) -> None:
    """Intended: the JSON Schema rejects these, pydantic's lax mode coerces them, replay (and
    only replay) refuses them, naming the field."""
    doc = _with(name, path, value)
    assert schema_errors(doc)
    parse_envelope(as_line(doc))  # pydantic accepts it
    with pytest.raises(ContractError) as raised:
        decode_envelope(as_line(doc))
    assert says in str(raised.value)


@pytest.mark.parametrize(
    ("name", "path", "value"),
    [
        ("CourseDayAttended", ("data", "day"), 1.0),
        ("CourseDayAttended", ("schema_version",), 1.0),
        ("EvaluationSubmitted", ("data", "answers", "q1"), 5.0),
        ("PotDistributed", ("data", "pot_sek"), 20000.0),
    ],
)
def test_an_integral_float_is_an_integer_for_both(
    name: str, path: tuple[Any, ...], value: float
) -> None:
    """JSON Schema counts 1.0 as an integer, and so does pydantic; msgspec's strict decoder
    does not, so `decode_envelope` takes a second look and agrees with pydantic."""
    raw = as_line(_with(name, path, value))
    assert schema_errors(json.loads(raw)) == []
    with pytest.raises(msgspec.ValidationError):
        fast_decoder()(raw)
    assert plain(decode_envelope(raw)) == plain(parse_envelope(raw))


@pytest.mark.parametrize(
    "raw",
    [
        b'"day":0,"day":1',  # the last of duplicated keys counts, for both
        b'"day":1,"day":0',
        b'"day":1,"day":2',
    ],
)
def test_duplicated_keys_read_the_same(raw: bytes) -> None:
    line = as_line(EXAMPLES["CourseDayAttended"]).replace(b'"day": 1', raw.replace(b":", b": "))
    assert raw.replace(b":", b": ") in line
    assert plain(fast_reads(line)) == plain(pydantic_reads(line))


def test_a_duplicated_type_reads_the_same() -> None:
    line = as_line(EXAMPLES["ParticipantBooked"]).replace(
        b'"type": "ParticipantBooked"', b'"type": "BookingCancelled", "type": "ParticipantBooked"'
    )
    assert parse_envelope(line).type == decode_envelope(line).type == "ParticipantBooked"


def test_sub_microsecond_digits_round_in_replay_and_truncate_in_pydantic() -> None:
    """Intended, and harmless: RFC 3339 allows any number of fractional digits, Python keeps
    microseconds. msgspec rounds the rest, pydantic truncates it; the services write at most
    six digits, so no log they wrote differs."""
    raw = as_line(_with("CourseDayAttended", ("occurred_at",), "2025-03-04T09:30:00.1234567Z"))
    assert parse_envelope(raw).occurred_at.microsecond == 123456
    assert decode_envelope(raw).occurred_at.microsecond == 123457


# --- errors read as the live consumers report them --------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        b"{not json",
        b"",
        b'{"id": "x", "type": "CourseDayAttended"}',
        as_line(_with("CourseDayAttended", ("data", "day"), 0)),
        as_line(_with("CourseDayAttended", ("type",), "Nope")),
        as_line(_with("CourseDayAttended", ("schema_version",), 2)),
        as_line(_with("CourseDayAttended", ("occurred_at",), "2025-03-04T09:30:00")),
        as_line(_with("CourseDayAttended", ("data", "participant_id"), "")),
        b'{"id": "\xff"}',
    ],
)
def test_an_invalid_line_gets_pydantics_message(line: bytes) -> None:
    with pytest.raises(ContractError) as slow:
        parse_envelope(line)
    with pytest.raises(ContractError) as fast:
        decode_envelope(line)
    assert str(fast.value) == str(slow.value)


def test_the_fast_decoder_alone_raises_what_the_replay_loop_catches() -> None:
    from shared.events.fast import DECODE_ERRORS

    for line in (b"{", b'{"id": "\xff"}', as_line(_with("CourseDayAttended", ("data", "day"), 0))):
        with pytest.raises(DECODE_ERRORS):
            fast_decoder()(line)


def test_an_unknown_field_is_ignored_by_both() -> None:
    doc = copy.deepcopy(EXAMPLES["CourseDayAttended"])
    doc["data"]["room"] = "B12"
    doc["trace"] = {"span": 1}
    raw = as_line(doc)
    assert plain(decode_envelope(raw)) == plain(parse_envelope(raw))


def test_ids_compare_as_uuids() -> None:
    raw = as_line(EXAMPLES["CourseDayAttended"])
    assert decode_envelope(raw).id == parse_envelope(raw).id
    assert isinstance(decode_envelope(raw).id, uuid.UUID)


# --- in replay -------------------------------------------------------------------------------


def test_replay_folds_a_line_that_needs_the_second_look() -> None:
    """An integral float for an integer is valid: replay's loop passes what msgspec alone
    refuses to `decode_envelope`, and the document is the one the plain log gives."""
    from tests.unit.test_seed_example import REGION, seed_log
    from yrkesresan.replay import replay

    lines = seed_log()
    changed = [line.replace(b'"day":1', b'"day":1.0') for line in lines]
    assert changed != lines
    with pytest.raises(msgspec.ValidationError):
        for line in changed:
            fast_decoder()(line)
    assert replay("pot", changed, REGION, 2024) == replay("pot", lines, REGION, 2024)


def test_the_installed_command_replays_a_large_log(tmp_path: Path) -> None:
    """Large enough for the command to freeze what the fold built before it exits: the same
    document as the small log whose events it repeats (every repeat is a duplicate)."""
    import subprocess
    import sys

    from tests.unit.test_seed_example import seed_log
    from yrkesresan.replay import FREEZE_FROM_BYTES, render, replay

    lines = seed_log()
    log = tmp_path / "large.jsonl"
    log.write_bytes(b"".join(lines) * (FREEZE_FROM_BYTES // len(b"".join(lines)) + 1))
    assert log.stat().st_size >= FREEZE_FROM_BYTES
    command = Path(sys.executable).parent / "yrkesresan"
    done = subprocess.run(
        [str(command), "replay", "progression", "--log", str(log)], capture_output=True, check=True
    )
    assert done.stdout == render(replay("progression", lines))


@given(st.uuids(), st.integers(min_value=1, max_value=2**40))
def test_stored_event_ids_are_uuid5_of_originator_and_version(originator: uuid.UUID,
                                                             version: int) -> None:
    from shared.events import stored_event_id, stored_event_id_text
    from shared.events.envelope import EVENT_ID_NAMESPACE

    expected = uuid.uuid5(EVENT_ID_NAMESPACE, f"{originator}:{version}")
    assert stored_event_id(originator, version) == expected
    assert stored_event_id_text(originator, version) == str(expected)


@pytest.mark.parametrize("value", [1e16, 1.5e300, 123456789012345678.0, 9.999e15, 2e-7])
def test_a_large_float_is_written_as_pydantic_writes_it(value: float) -> None:
    """msgspec writes 1e16 where pydantic (and orjson) write 1e+16; a Struct's JSON is kept by
    the projections in place of pydantic's, so it must be the same bytes."""
    doc = copy.deepcopy(EXAMPLES["PotDistributed"])
    doc["data"]["total_points"] = value
    doc["data"]["trainers"][0]["points"] = value
    raw = as_line(doc)
    slow, fast = pydantic_reads(raw), fast_reads(raw)
    assert slow is not None and fast is not None
    assert fast.to_json() == slow.to_json()


def test_an_integer_beyond_64_bits_is_written_as_pydantic_writes_it() -> None:
    """An occasion's days hold nulls (no venue), so its JSON is made the slow way, where orjson
    cannot write an integer of 2^64 or more; pydantic can, and so must a Struct."""
    doc = copy.deepcopy(EXAMPLES["CourseOccasionPlanned"])
    doc["data"]["capacity"] = 2**64
    raw = as_line(doc)
    slow, fast = pydantic_reads(raw), fast_reads(raw)
    assert slow is not None and fast is not None
    assert fast.to_json() == slow.to_json()


def test_the_types_looked_at_for_an_exponent_are_those_holding_a_float() -> None:
    """The search for msgspec's unsigned exponent runs only on these (`_WITH_FLOATS`): a float
    nested in a part (`PotShare.points`) counts too."""
    from shared.events.fast import _WITH_FLOATS

    assert _WITH_FLOATS == {"ParticipantRegistered", "PotDistributed", "PriceListSet"}
