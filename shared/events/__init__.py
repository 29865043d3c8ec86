"""The public integration contract v1.1 as code (docs/contract/ holds the generated schemas)."""

from shared.events.envelope import (
    ALL_TOPICS,
    DEADLETTER_TOPIC,
    ENVELOPE_TYPES,
    REGION_TOPIC,
    SCHEMA_VERSION,
    SERVICES,
    ContractError,
    Envelope,
    UnknownEventType,
    new_envelope,
    parse_envelope,
    parse_envelope_dict,
    stored_event_id,
    stored_event_id_text,
    topic_name,
)
from shared.events.models import *  # noqa: F403
from shared.events.models import DERIVED_TYPES, EVENT_TYPES, EventData

__all__ = [
    "ALL_TOPICS",
    "DEADLETTER_TOPIC",
    "DERIVED_TYPES",
    "ENVELOPE_TYPES",
    "EVENT_TYPES",
    "REGION_TOPIC",
    "SCHEMA_VERSION",
    "SERVICES",
    "ContractError",
    "Envelope",
    "UnknownEventType",
    "EventData",
    "new_envelope",
    "parse_envelope",
    "parse_envelope_dict",
    "stored_event_id",
    "stored_event_id_text",
    "topic_name",
]
