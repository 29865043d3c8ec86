"""The contract documents, generated from the models: a JSON Schema per envelope type and an
AsyncAPI 3 document for the topics.

The models in `models.py` are the only source. The rendering is checked in under
`docs/contract/` so that a region can read the contract without running Python and so that a
review shows every change to it as a diff; `check_all` is what makes a stale rendering fail.
`docs/contract/v1-baseline.json` is the contract as frozen at v1 and is written once
(`freeze_baseline`), never by `write_all`: `compat.breaking_changes` compares against it.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shared.events import models as m
from shared.events.envelope import (
    DEADLETTER_TOPIC,
    ENVELOPE_TYPES,
    REGION_TOPIC,
    SCHEMA_VERSION,
    SERVICES,
    Envelope,
    new_envelope,
    topic_name,
)
from shared.events.models import DERIVED_TYPES, EventData

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
CONTRACT_VERSION = "1.0.0"

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "docs" / "contract"
SCHEMAS_DIR = "schemas"
ASYNCAPI_FILE = "asyncapi.json"
BASELINE_FILE = "v1-baseline.json"

_SERVICE_SUMMARIES = {
    "reference": "Reference data: regions, municipalities, courses and price lists.",
    "enrolment": "Participants: registration, moves, levels, preparations and deepening tasks.",
    "scheduling": "Course occasions, bookings, trainer assignments, attendance and delivery.",
    "certification": "Completions and certificates (derived from enrolment and scheduling "
    "facts) and course evaluations.",
    "billing": "Year closing and the distribution of the trainer pot (utbildarpott).",
}


def render_json(document: Any) -> str:
    """The one serialisation of every generated file: sorted keys, so output is deterministic."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def data_class(envelope: type[Envelope]) -> type[EventData]:
    annotation = envelope.model_fields["data"].annotation
    assert isinstance(annotation, type) and issubclass(annotation, EventData), annotation
    return annotation


def envelope_schema(name: str, envelope: type[Envelope] | None = None) -> dict[str, Any]:
    """The JSON Schema of one event type's full envelope (validation mode: what is accepted)."""
    envelope = envelope or ENVELOPE_TYPES[name]
    data = data_class(envelope)
    schema = envelope.model_json_schema()
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema["description"] = (
        f"Envelope of a `{name}` event, contract v{SCHEMA_VERSION}, on topic "
        f"`{topic_name(data.SERVICE)}` with partition key `data.{data.KEY}`."
    )
    return schema


def envelope_schemas(
    envelopes: Mapping[str, type[Envelope]] = ENVELOPE_TYPES,
) -> dict[str, dict[str, Any]]:
    return {name: envelope_schema(name, env) for name, env in envelopes.items()}


def contract_snapshot(
    envelopes: Mapping[str, type[Envelope]] = ENVELOPE_TYPES,
) -> dict[str, Any]:
    """Everything a v1 consumer relies on per event type: topic, key and envelope schema.

    This is the shape of `v1-baseline.json` and what `compat.breaking_changes` compares.
    """
    events = {}
    for name, env in envelopes.items():
        data = data_class(env)
        events[name] = {
            "topic": topic_name(data.SERVICE),
            "key": data.KEY,
            "schema": envelope_schema(name, env),
        }
    return {"contract": "yrkesresan", "schema_version": SCHEMA_VERSION, "events": events}


# --- Examples -------------------------------------------------------------------------------
# One example per type, shown in the AsyncAPI document and round-tripped by the tests. Only ids,
# never names of people: the contract carries none.

_EXAMPLE_AT = dt.datetime(2025, 3, 4, 9, 30, tzinfo=dt.UTC)
# Participant, trainer and certificate ids are minted by the services as UUIDs (v1.1).
_PARTICIPANT = "3f2b8c1e-6a4d-4e0b-9c57-1d2e3f4a5b6c"
_LEADER = "8a1f0d2c-3b4e-4f5a-8b6c-7d8e9f0a1b2c"
_TRAINER = "b7c6d5e4-f3a2-4b1c-9d0e-1f2a3b4c5d6e"
_CERTIFICATE = "c0ffee00-1234-4abc-8def-0123456789ab"

EXAMPLE_DATA: dict[str, EventData] = {
    "RegionRegistered": m.RegionRegistered(region_id="rss-dalarna", name="RSS Dalarna"),
    "MunicipalityJoined": m.MunicipalityJoined(
        municipality_id="falun", name="Falu kommun", region_id="rss-dalarna"
    ),
    "CoursePublished": m.CoursePublished(
        course_id="bou-ny-handlaggning",
        journey="barn-och-unga",
        level=m.Level.NY,
        title="Handläggning med barnet i centrum",
        preparations=(
            m.Preparation(item_id="handbok-kap-3", title="Handbok kap. 3", mandatory=True),
        ),
        deepening_tasks=(m.DeepeningTask(task_id="reflektion", title="Reflektion i arbetsgrupp"),),
    ),
    "PriceListSet": m.PriceListSet(
        region_id="rss-dalarna", year=2025, components=m.PriceComponents(), points=m.Points()
    ),
    "ParticipantRegistered": m.ParticipantRegistered(
        participant_id=_PARTICIPANT,
        municipality_id="falun",
        journey="barn-och-unga",
        role="socialsekreterare",
        level=m.Level.NY,
        years_in_profession=1.5,
    ),
    "ParticipantMoved": m.ParticipantMoved(
        participant_id=_PARTICIPANT, to_municipality_id="borlange"
    ),
    "ParticipantLevelChanged": m.ParticipantLevelChanged(
        participant_id=_PARTICIPANT, level=m.Level.VAN
    ),
    "PreparationCompleted": m.PreparationCompleted(
        participant_id=_PARTICIPANT, course_id="bou-ny-handlaggning", item_id="handbok-kap-3"
    ),
    "DeepeningSubmitted": m.DeepeningSubmitted(
        participant_id=_PARTICIPANT, course_id="bou-ny-handlaggning", task_id="reflektion"
    ),
    "ParticipantErased": m.ParticipantErased(participant_id=_PARTICIPANT),
    "TrainerRegistered": m.TrainerRegistered(trainer_id=_LEADER, municipality_id="mora"),
    "CourseOccasionPlanned": m.CourseOccasionPlanned(
        occasion_id="occ-2025-1",
        course_id="bou-ny-handlaggning",
        region_id="rss-dalarna",
        capacity=24,
        days=(
            m.CourseDay(day=1, date=dt.date(2025, 4, 1), mode=m.DayMode.ON_SITE),
            m.CourseDay(day=2, date=dt.date(2025, 4, 2), mode=m.DayMode.DIGITAL),
        ),
    ),
    "ParticipantBooked": m.ParticipantBooked(occasion_id="occ-2025-1", participant_id=_PARTICIPANT),
    "BookingCancelled": m.BookingCancelled(occasion_id="occ-2025-1", participant_id=_PARTICIPANT),
    "TrainerAssigned": m.TrainerAssigned(
        occasion_id="occ-2025-1",
        trainer_id=_LEADER,
        municipality_id="mora",
        role=m.TrainerRole.LEADER,
    ),
    "CourseDayAttended": m.CourseDayAttended(
        participant_id=_PARTICIPANT, occasion_id="occ-2025-1", day=1
    ),
    "TrainerDayDelivered": m.TrainerDayDelivered(
        occasion_id="occ-2025-1",
        day=1,
        trainer_id=_LEADER,
        municipality_id="mora",
        role=m.DeliveryRole.LEADER,
    ),
    "AttendanceWithdrawn": m.AttendanceWithdrawn(
        participant_id=_PARTICIPANT,
        occasion_id="occ-2025-1",
        day=2,
        reason="Rapporterad av misstag",
    ),
    "CourseOccasionRescheduled": m.CourseOccasionRescheduled(
        occasion_id="occ-2025-1",
        days=(
            m.CourseDay(day=1, date=dt.date(2025, 4, 1), mode=m.DayMode.ON_SITE),
            m.CourseDay(day=2, date=dt.date(2025, 4, 9), mode=m.DayMode.ON_SITE),
        ),
    ),
    "CourseOccasionCancelled": m.CourseOccasionCancelled(
        occasion_id="occ-2025-2", reason="För få anmälda"
    ),
    "TrainerUnassigned": m.TrainerUnassigned(occasion_id="occ-2025-1", trainer_id=_TRAINER),
    "CourseCompleted": m.CourseCompleted(
        participant_id=_PARTICIPANT, course_id="bou-ny-handlaggning", occasion_id="occ-2025-1"
    ),
    "CertificateIssued": m.CertificateIssued(
        certificate_id=_CERTIFICATE,
        participant_id=_PARTICIPANT,
        course_id="bou-ny-handlaggning",
        occasion_id="occ-2025-1",
    ),
    "CertificateRevoked": m.CertificateRevoked(
        certificate_id=_CERTIFICATE,
        reason="En kursdag återkallades",
        participant_id=_PARTICIPANT,
    ),
    "EvaluationSubmitted": m.EvaluationSubmitted(
        occasion_id="occ-2025-1",
        course_id="bou-ny-handlaggning",
        respondent_id="r-5c21",
        answers={"q1": 5, "q2": 4},
    ),
    "YearClosed": m.YearClosed(region_id="rss-dalarna", year=2025),
    "PotDistributed": m.PotDistributed(
        region_id="rss-dalarna",
        year=2025,
        pot_sek=20000,
        total_points=2.5,
        trainers=(
            m.PotShare(trainer_id=_LEADER, municipality_id="mora", points=1.5, amount_sek=12000),
            m.PotShare(trainer_id=_TRAINER, municipality_id="falun", points=1.0, amount_sek=8000),
        ),
    ),
}

_EXAMPLE_NAMESPACE = uuid.UUID("0b6c7c55-3f0e-4a57-9d7e-2f4b1f0c9e11")


def example_envelope(name: str) -> Envelope:
    """A deterministic example envelope of one type (fixed id and times)."""
    return new_envelope(
        EXAMPLE_DATA[name],
        id=uuid.uuid5(_EXAMPLE_NAMESPACE, name),
        occurred_at=_EXAMPLE_AT,
        recorded_at=_EXAMPLE_AT + dt.timedelta(seconds=2),
    )


# --- AsyncAPI -------------------------------------------------------------------------------


def _channel_id(topic: str) -> str:
    return topic.split(".")[1]


def _message(name: str, envelope: type[Envelope]) -> dict[str, Any]:
    data = data_class(envelope)
    derived = (
        " Derived: emitted by a service from other events; projections give the same result "
        "with or without it."
        if name in DERIVED_TYPES
        else ""
    )
    example = example_envelope(name) if name in EXAMPLE_DATA else None
    message: dict[str, Any] = {
        "name": name,
        "title": name,
        "summary": f"`{name}` on `{topic_name(data.SERVICE)}`, keyed by `data.{data.KEY}`.",
        "description": (
            f"The value is the UTF-8 JSON envelope; the Kafka key is the value of "
            f"`data.{data.KEY}`.{derived}"
        ),
        "contentType": "application/json",
        "payload": {"$ref": f"{SCHEMAS_DIR}/{name}.json"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"The value of `data.{data.KEY}`."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "x-partition-key": f"data.{data.KEY}",
    }
    if example is not None:
        message["examples"] = [
            {"name": f"{name}Example", "key": example.key(), "payload": example.to_dict()}
        ]
    return message


# The dead-letter value as `shared/platform/consumer.py:deadletter_value` writes it. It is not an
# event type and has no model in this package yet, so it is described here; keep the two in step.
_DEADLETTER_MESSAGE = {
    "name": "DeadLetter",
    "title": "DeadLetter",
    "summary": "A message a consumer could not process, parked with the reason.",
    "description": (
        "The original message (often not a valid envelope: that may be why it is here) wrapped "
        "with the reason, the consumer and where it was read. The key is the original key."
    ),
    "contentType": "application/json",
    "payload": {
        "type": "object",
        "required": ["reason", "consumer", "source", "value", "value_encoding"],
        "properties": {
            "reason": {"type": "string", "description": "Why the consumer gave up on it."},
            "consumer": {"type": "string", "description": "The consumer (projection) name."},
            "source": {
                "type": "object",
                "required": ["topic", "partition", "offset"],
                "properties": {
                    "topic": {"type": "string"},
                    "partition": {"type": "integer"},
                    "offset": {"type": "integer"},
                },
            },
            "value": {
                "type": "string",
                "description": "The original value: its UTF-8 text, or base64 when not UTF-8.",
            },
            "value_encoding": {"type": "string", "enum": ["utf-8", "base64"]},
        },
    },
    "bindings": {
        "kafka": {
            "key": {"type": "string", "description": "The original message key."},
            "bindingVersion": KAFKA_BINDING_VERSION,
        }
    },
}


def asyncapi_document(
    envelopes: Mapping[str, type[Envelope]] = ENVELOPE_TYPES,
) -> dict[str, Any]:
    """AsyncAPI 3.0.0: one channel per topic, one message per event type, send and receive."""
    by_topic: dict[str, list[str]] = {topic_name(s): [] for s in SERVICES}
    messages: dict[str, Any] = {}
    for name, env in envelopes.items():
        by_topic[topic_name(data_class(env).SERVICE)].append(name)
        messages[name] = _message(name, env)
    messages["DeadLetter"] = _DEADLETTER_MESSAGE

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for service in SERVICES:
        topic = topic_name(service)
        names = by_topic[topic]
        channels[service] = _channel(topic, _SERVICE_SUMMARIES[service], names)
        operations[f"publish_{service}"] = _operation(
            "send", service, names, f"The {service} service's relay publishes its stored events."
        )
        operations[f"consume_{service}"] = _operation(
            "receive",
            service,
            names,
            "A consumer group (a projection, another service, a region's own system) reads the "
            "topic. Envelopes are delivered at least once: deduplicate by `id`.",
        )
    every = list(envelopes)
    channels["region"] = _region_channel(every)
    operations["publish_region"] = _operation(
        "send", "region", every,
        "The regions process routes the service topics into each region's stream: a "
        "participant's events to the region of their municipality at the time, an occasion's "
        "to the occasion's region, the catalogue to every region (docs/regions.md).")
    operations["consume_region"] = _operation(
        "receive", "region", every,
        "A region's own consumer group (`region.<region_id>.*`, its SCRAM user confined to it by "
        "ACLs) reads its stream. At least once: deduplicate by `id`; skip unknown types.")
    dead = _channel_id(DEADLETTER_TOPIC)
    channels[dead] = _channel(
        DEADLETTER_TOPIC, "Messages that a consumer could not process.", ["DeadLetter"]
    )
    operations["park_deadletter"] = _operation(
        "send", dead, ["DeadLetter"], "A consumer parks a message it cannot process."
    )
    operations["inspect_deadletter"] = _operation(
        "receive", dead, ["DeadLetter"], "An operator inspects and replays parked messages."
    )

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Yrkesresan integration contract",
            "version": CONTRACT_VERSION,
            "description": (
                "Generated from `shared/events/models.py`; do not edit. Every message value is "
                "a UTF-8 JSON envelope `{id, type, schema_version, occurred_at, data, ...}`. "
                "Within v1 fields are only added, optionally; nothing is renamed or removed. "
                "No event carries names, e-mail addresses or personal identity numbers."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "production": {
                "host": "kafka:9092",
                "protocol": "kafka",
                "description": (
                    "Apache Kafka (see deploy/). Locally the Kafka-compatible tansu broker on "
                    "127.0.0.1:9092. Clients take the address from KAFKA_BOOTSTRAP."
                ),
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def _channel(topic: str, description: str, names: list[str]) -> dict[str, Any]:
    return {
        "address": topic,
        "description": description,
        "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
        "bindings": {"kafka": {"topic": topic, "bindingVersion": KAFKA_BINDING_VERSION}},
    }


def _region_channel(names: list[str]) -> dict[str, Any]:
    return {
        "address": REGION_TOPIC,
        "description": (
            "One region's stream: the envelopes of the service topics that belong to the region, "
            "unchanged and keyed as there. The same log is served over HTTP as server-sent "
            "events by the region feed. See docs/regions.md."),
        "parameters": {"region_id": {"description": "The region's `region_id`."}},
        "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
        "bindings": {"kafka": {"bindingVersion": KAFKA_BINDING_VERSION}},
    }


def _operation(action: str, channel: str, names: list[str], description: str) -> dict[str, Any]:
    return {
        "action": action,
        "description": description,
        "channel": {"$ref": f"#/channels/{channel}"},
        "messages": [{"$ref": f"#/channels/{channel}/messages/{n}"} for n in names],
    }


# --- Files ----------------------------------------------------------------------------------


def rendered_documents() -> dict[str, str]:
    """Relative path -> content of every generated file (the baseline is not one of them)."""
    files = {
        f"{SCHEMAS_DIR}/{name}.json": render_json(schema)
        for name, schema in envelope_schemas().items()
    }
    files[ASYNCAPI_FILE] = render_json(asyncapi_document())
    return files


def write_all(target_dir: Path = DEFAULT_DIR) -> list[Path]:
    """Write the generated documents and remove schema files of types that no longer exist."""
    target_dir = Path(target_dir)
    documents = rendered_documents()
    written = []
    for relative, content in documents.items():
        path = target_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    for stale in _stale_schema_files(target_dir, documents):
        stale.unlink()
    return written


def check_all(target_dir: Path = DEFAULT_DIR) -> list[str]:
    """How the checked-in documents differ from what the models generate (empty: no drift)."""
    target_dir = Path(target_dir)
    documents = rendered_documents()
    problems = []
    for relative, expected in documents.items():
        path = target_dir / relative
        if not path.exists():
            problems.append(f"{relative}: missing (run `yrkesresan contract export`)")
            continue
        actual = path.read_text(encoding="utf-8")
        if actual != expected:
            diff = difflib.unified_diff(
                actual.splitlines(), expected.splitlines(), "checked in", "generated", lineterm=""
            )
            excerpt = "\n    ".join(list(diff)[:20])
            problems.append(
                f"{relative}: differs from the models (run `yrkesresan contract export`)\n"
                f"    {excerpt}"
            )
    for stale in _stale_schema_files(target_dir, documents):
        problems.append(
            f"{stale.relative_to(target_dir)}: no event type generates it (removed type?)"
        )
    return problems


def _stale_schema_files(target_dir: Path, documents: Mapping[str, str]) -> list[Path]:
    schemas = target_dir / SCHEMAS_DIR
    if not schemas.is_dir():
        return []
    return sorted(p for p in schemas.glob("*.json") if f"{SCHEMAS_DIR}/{p.name}" not in documents)


def load_baseline(target_dir: Path = DEFAULT_DIR) -> dict[str, Any]:
    with open(Path(target_dir) / BASELINE_FILE, encoding="utf-8") as f:
        baseline: dict[str, Any] = json.load(f)
    return baseline


def freeze_baseline(target_dir: Path = DEFAULT_DIR) -> Path:
    """Write the v1 baseline once. It is never overwritten: a baseline regenerated after a
    change would hide exactly the breaks it exists to catch."""
    path = Path(target_dir) / BASELINE_FILE
    if path.exists():
        raise FileExistsError(f"{path} exists; the v1 baseline is frozen and is not rewritten")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_json(contract_snapshot()), encoding="utf-8")
    return path
