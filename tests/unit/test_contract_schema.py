"""The generated contract documents: checked in, up to date, coherent, and free of personal data."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from shared.events import (
    ALL_TOPICS,
    DEADLETTER_TOPIC,
    ENVELOPE_TYPES,
    EVENT_TYPES,
    REGION_TOPIC,
    parse_envelope,
    topic_name,
)
from shared.events import schema as contract
from yrkesresan.cli import app

DOCS = Path(__file__).resolve().parents[2] / "docs" / "contract"


@pytest.fixture(scope="module")
def asyncapi() -> dict[str, Any]:
    return json.loads((DOCS / contract.ASYNCAPI_FILE).read_text(encoding="utf-8"))


# --- Checked in and up to date --------------------------------------------------------------


def test_checked_in_documents_equal_freshly_generated_ones() -> None:
    assert contract.DEFAULT_DIR == DOCS
    assert contract.check_all(DOCS) == []


def test_there_is_one_schema_file_per_event_type() -> None:
    files = {p.stem for p in (DOCS / contract.SCHEMAS_DIR).glob("*.json")}
    assert files == set(EVENT_TYPES)


def test_generation_is_deterministic() -> None:
    assert contract.rendered_documents() == contract.rendered_documents()


def test_check_all_reports_a_changed_a_missing_and_a_stale_file(tmp_path: Path) -> None:
    contract.write_all(tmp_path)
    assert contract.check_all(tmp_path) == []

    changed = tmp_path / "schemas" / "ParticipantMoved.json"
    changed.write_text(changed.read_text().replace("to_municipality_id", "to_kommun_id"))
    (tmp_path / "asyncapi.json").unlink()
    (tmp_path / "schemas" / "ParticipantRenamed.json").write_text("{}\n")

    problems = contract.check_all(tmp_path)
    assert len(problems) == 3
    assert any(p.startswith("schemas/ParticipantMoved.json: differs") for p in problems)
    assert any(p.startswith("asyncapi.json: missing") for p in problems)
    assert any(p.startswith("schemas/ParticipantRenamed.json") for p in problems)

    contract.write_all(tmp_path)
    assert contract.check_all(tmp_path) == []
    assert not (tmp_path / "schemas" / "ParticipantRenamed.json").exists()


def test_write_all_never_writes_the_baseline(tmp_path: Path) -> None:
    written = contract.write_all(tmp_path)
    assert all(p.name != contract.BASELINE_FILE for p in written)
    assert not (tmp_path / contract.BASELINE_FILE).exists()


def test_the_baseline_is_written_once_and_never_overwritten(tmp_path: Path) -> None:
    path = contract.freeze_baseline(tmp_path)
    before = path.read_text()
    with pytest.raises(FileExistsError):
        contract.freeze_baseline(tmp_path)
    assert path.read_text() == before


def test_cli_check_passes_on_the_checked_in_documents() -> None:
    result = CliRunner().invoke(app, ["contract", "check"])
    assert result.exit_code == 0, result.output


def test_cli_check_fails_listing_drift_and_a_missing_baseline(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["contract", "export", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (tmp_path / "schemas" / "YearClosed.json").write_text("{}\n")

    result = CliRunner().invoke(app, ["contract", "check", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "drift: schemas/YearClosed.json: differs" in result.output
    assert "missing baseline" in result.output


# --- AsyncAPI -------------------------------------------------------------------------------


def _resolve_local(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_asyncapi_has_one_channel_per_topic_and_the_deadletter_topic(
    asyncapi: dict[str, Any],
) -> None:
    assert asyncapi["asyncapi"] == "3.0.0"
    addresses = {c["address"] for c in asyncapi["channels"].values()}
    assert addresses == {*ALL_TOPICS, DEADLETTER_TOPIC, REGION_TOPIC}
    assert len(ALL_TOPICS) == 5
    for channel in asyncapi["channels"].values():
        if channel["address"] != REGION_TOPIC:  # a topic per region: named by its parameter
            assert channel["bindings"]["kafka"]["topic"] == channel["address"]
    assert set(asyncapi["channels"]["region"]["messages"]) == set(EVENT_TYPES)


def test_every_event_type_is_a_message_on_its_own_topic_with_its_key(
    asyncapi: dict[str, Any],
) -> None:
    placed: dict[str, str] = {}
    for channel in asyncapi["channels"].values():
        if channel["address"] == REGION_TOPIC:  # every type, routed to its region's stream
            continue
        for name in channel["messages"]:
            placed[name] = channel["address"]
    for name, cls in EVENT_TYPES.items():
        assert placed[name] == topic_name(cls.SERVICE)
        message = asyncapi["components"]["messages"][name]
        assert message["x-partition-key"] == f"data.{cls.KEY}"
        assert f"data.{cls.KEY}" in message["bindings"]["kafka"]["key"]["description"]
        assert message["payload"] == {"$ref": f"schemas/{name}.json"}


def test_every_reference_in_the_asyncapi_document_resolves(asyncapi: dict[str, Any]) -> None:
    refs = _refs(asyncapi)
    assert refs
    for ref in refs:
        if ref.startswith("#/"):
            assert _resolve_local(asyncapi, ref) is not None
        else:
            assert (DOCS / ref).is_file(), ref


def test_every_operation_sends_or_receives_messages_of_its_channel(
    asyncapi: dict[str, Any],
) -> None:
    actions: dict[str, set[str]] = {}
    for operation in asyncapi["operations"].values():
        channel_ref = operation["channel"]["$ref"]
        assert operation["action"] in ("send", "receive")
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel_ref + "/messages/")
        actions.setdefault(_resolve_local(asyncapi, channel_ref)["address"], set()).add(
            operation["action"]
        )
    assert actions == {t: {"send", "receive"}
                       for t in (*ALL_TOPICS, DEADLETTER_TOPIC, REGION_TOPIC)}


# --- Examples round-trip and match their schema ---------------------------------------------


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "null": type(None),
}


def _schema_errors(value: Any, node: dict[str, Any], defs: dict[str, Any], at: str) -> list[str]:
    """The subset of JSON Schema that pydantic emits for these models (jsonschema is not a
    dependency): enough to show that the serialised envelope is what the schema describes."""
    if "$ref" in node:
        node = {**defs[node["$ref"].rsplit("/", 1)[-1]], **node}
        node.pop("$ref")
    if "anyOf" in node:
        options = [_schema_errors(value, option, defs, at) for option in node["anyOf"]]
        return [] if any(not o for o in options) else [f"{at}: matches no anyOf option"]
    errors = []
    expected = node.get("type")
    if expected and (
        not isinstance(value, _TYPES[expected])
        or (expected in ("integer", "number") and isinstance(value, bool))
    ):
        return [f"{at}: {value!r} is not {expected}"]
    if "const" in node and value != node["const"]:
        errors.append(f"{at}: {value!r} != {node['const']!r}")
    if "enum" in node and value not in node["enum"]:
        errors.append(f"{at}: {value!r} not in {node['enum']}")
    if "minimum" in node and value < node["minimum"]:
        errors.append(f"{at}: below minimum")
    if "maximum" in node and value > node["maximum"]:
        errors.append(f"{at}: above maximum")
    if "minLength" in node and len(value) < node["minLength"]:
        errors.append(f"{at}: too short")
    if "maxLength" in node and len(value) > node["maxLength"]:
        errors.append(f"{at}: too long")
    if "minItems" in node and len(value) < node["minItems"]:
        errors.append(f"{at}: too few items")
    fmt = {"date": _DATE, "date-time": _DATETIME, "uuid": _UUID}.get(node.get("format", ""))
    if fmt and not fmt.match(value):
        errors.append(f"{at}: {value!r} is not a {node['format']}")
    if expected == "object":
        for field in node.get("required", []):
            if field not in value:
                errors.append(f"{at}.{field}: required but missing")
        properties = node.get("properties", {})
        for field, item in value.items():
            if field in properties:
                errors += _schema_errors(item, properties[field], defs, f"{at}.{field}")
            elif isinstance(node.get("additionalProperties"), dict):
                errors += _schema_errors(item, node["additionalProperties"], defs, f"{at}.{field}")
            else:
                errors.append(f"{at}.{field}: not described by the schema")
    if expected == "array" and "items" in node:
        for i, item in enumerate(value):
            errors += _schema_errors(item, node["items"], defs, f"{at}[{i}]")
    return errors


def test_there_is_an_example_of_every_event_type() -> None:
    assert set(contract.EXAMPLE_DATA) == set(EVENT_TYPES)


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_example_round_trips_and_matches_its_generated_schema(name: str) -> None:
    envelope = contract.example_envelope(name)
    parsed = parse_envelope(envelope.to_json())
    assert type(parsed) is ENVELOPE_TYPES[name]
    assert parsed == envelope
    assert ENVELOPE_TYPES[name].model_validate_json(envelope.to_json()) == envelope

    schema = json.loads((DOCS / "schemas" / f"{name}.json").read_text(encoding="utf-8"))
    as_json = json.loads(envelope.to_json())
    assert _schema_errors(as_json, schema, schema.get("$defs", {}), "envelope") == []


def test_the_schema_check_notices_a_message_that_does_not_fit() -> None:
    schema = contract.envelope_schema("CourseDayAttended")
    bad = contract.example_envelope("CourseDayAttended").to_dict()
    bad["data"]["day"] = "one"
    del bad["occurred_at"]
    errors = _schema_errors(bad, schema, schema["$defs"], "envelope")
    assert len(errors) == 2


def test_asyncapi_examples_are_the_example_envelopes(asyncapi: dict[str, Any]) -> None:
    for name in EVENT_TYPES:
        (example,) = asyncapi["components"]["messages"][name]["examples"]
        envelope = contract.example_envelope(name)
        assert example["payload"] == envelope.to_dict()
        assert example["key"] == envelope.key()


# --- No personal data -----------------------------------------------------------------------

# Organisations have names; people never appear by anything but their ids (CONTRACT.md).
NAME_ALLOWED = {"RegionRegistered", "MunicipalityJoined"}
FORBIDDEN_TOKENS = {
    "name",
    "email",
    "mail",
    "personnummer",
    "phone",
    "telephone",
    "mobile",
    "address",
    "street",
    "postal",
    "zip",
    "birth",
    "birthdate",
    "dob",
    "ssn",
    "identity",
    "personal",
    "firstname",
    "lastname",
    "surname",
    "fornamn",
    "efternamn",
    "adress",
    "telefon",
}


def _field_names(node: Any) -> set[str]:
    if isinstance(node, dict):
        own = set(node["properties"]) if isinstance(node.get("properties"), dict) else set()
        return own | {n for v in node.values() for n in _field_names(v)}
    if isinstance(node, list):
        return {n for v in node for n in _field_names(v)}
    return set()


def _looks_personal(field: str) -> bool:
    tokens = set(field.lower().split("_")) | {field.lower().replace("_", "")}
    return bool(tokens & FORBIDDEN_TOKENS)


@pytest.mark.parametrize(
    "field",
    [
        "email",
        "e_mail",
        "personnummer",
        "personal_identity_number",
        "first_name",
        "last_name",
        "full_name",
        "phone",
        "home_address",
        "date_of_birth",
    ],
)
def test_personal_data_detector_recognises(field: str) -> None:
    assert _looks_personal(field)


def test_personal_data_detector_lets_ids_and_domain_fields_through() -> None:
    for field in ("participant_id", "respondent_id", "trainer_id", "years_in_profession", "role"):
        assert not _looks_personal(field)


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_no_event_carries_personal_data(name: str) -> None:
    data_schema = contract.envelope_schema(name)["$defs"]
    fields = _field_names(data_schema)
    if name in NAME_ALLOWED:
        fields.discard("name")
    assert sorted(f for f in fields if _looks_personal(f)) == []
