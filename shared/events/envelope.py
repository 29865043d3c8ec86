"""The envelope every event travels in, on the bus, in exports and in replay logs."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self, Union

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
)

from shared.events.models import EVENT_TYPES, EventData

SCHEMA_VERSION: Literal[1] = 1
SERVICES = ("reference", "enrolment", "scheduling", "certification", "billing")
DEADLETTER_TOPIC = "yrkesresan.deadletter.v1"

# Namespace for ids derived from stored events: the same stored event always yields the same
# envelope id, so a re-publish is recognised as a duplicate by every consumer.
EVENT_ID_NAMESPACE = uuid.UUID("6f1d1c2e-5a55-4c59-9a0e-0e7d1f3b2a01")
_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes


def topic_name(service: str) -> str:
    if service not in SERVICES:
        raise ValueError(f"unknown service topic {service!r}; expected one of {SERVICES}")
    return f"yrkesresan.{service}.v1"


ALL_TOPICS = tuple(topic_name(s) for s in SERVICES)
# Each region's own stream (services/regions): the contract's envelopes, keyed as on the service
# topics, of that region only.
REGION_TOPIC = "yrkesresan.region.{region_id}.v1"


class Envelope(BaseModel):
    """Common fields. `data` is typed per event type in the generated subclasses below."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: uuid.UUID
    type: str
    schema_version: Literal[1]
    occurred_at: AwareDatetime
    data: EventData
    recorded_at: AwareDatetime | None = None
    actor: str | None = None
    stream_id: str | None = None
    position: int | None = None
    correlation_id: str | None = None
    causation_id: str | None = None

    @property
    def topic(self) -> str:
        return topic_name(self.data.SERVICE)

    def key(self) -> str:
        return self.data.key()

    def to_json(self) -> bytes:
        """The envelope as JSON, made once (it is frozen): a rebuild writes one envelope into
        several projections' tables (the regions' log and applied log, certification's history,
        billing's), and serialising it again for each was 8% of the rebuild's CPU."""
        return self._json

    @functools.cached_property
    def _json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False
                   ) -> Self:
        """A copy, without the JSON made of this one (an update changes what it says)."""
        copied = super().model_copy(update=update, deep=deep)
        copied.__dict__.pop("_json", None)
        return copied

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def _typed_envelope(name: str, data_cls: type[EventData]) -> type[Envelope]:
    fields: dict[str, Any] = {"type": (Literal[name], ...), "data": (data_cls, ...)}
    model: type[Envelope] = create_model(
        f"{name}Envelope", __base__=Envelope, __module__=__name__, **fields
    )
    return model


ENVELOPE_TYPES: dict[str, type[Envelope]] = {
    name: _typed_envelope(name, cls) for name, cls in EVENT_TYPES.items()
}
AnyEnvelope: Any = Annotated[
    Union[tuple(ENVELOPE_TYPES.values())],  # noqa: UP007 - built from the registry at import
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[Envelope] = TypeAdapter(AnyEnvelope)


class ContractError(ValueError):
    """A message that is not a valid v1 envelope; the text names what is wrong."""


class UnknownEventType(ContractError):
    """A well-formed envelope of a type this code does not know (added in a later minor
    version). The contract says: skip it and count it, never dead-letter it for that alone."""

    def __init__(self, type_name: str) -> None:
        super().__init__(f"type: unknown event type {type_name!r} (skipped)")
        self.type_name = type_name


class _AnyTypeEnvelope(BaseModel):
    """The common fields of an envelope of any type, to tell an unknown type from garbage."""

    model_config = ConfigDict(extra="ignore")
    id: uuid.UUID
    type: Annotated[str, Field(min_length=1, max_length=200)]
    schema_version: Literal[1]
    occurred_at: AwareDatetime
    data: dict[str, Any]


_ANY_TYPE: TypeAdapter[_AnyTypeEnvelope] = TypeAdapter(_AnyTypeEnvelope)


def _unknown_type(validate: Any, raw: Any) -> UnknownEventType | None:
    """An `UnknownEventType` when `raw` is a well-formed envelope of a type not in the
    contract as this code knows it; None otherwise (then it is simply invalid)."""
    try:
        common = validate(raw)
    except ValidationError:
        return None
    return None if common.type in ENVELOPE_TYPES else UnknownEventType(common.type)


def _describe(error: ValidationError) -> str:
    parts = []
    for e in error.errors(include_url=False):
        where = ".".join(str(p) for p in e["loc"] if not str(p).endswith("Envelope"))
        parts.append(f"{where or 'envelope'}: {e['msg']}")
    return "; ".join(parts)


def parse_envelope(raw: bytes | str) -> Envelope:
    """Validate one JSON envelope; raise ContractError naming every problem."""
    try:
        return _ADAPTER.validate_json(raw)
    except ValidationError as e:
        raise _unknown_type(_ANY_TYPE.validate_json, raw) or ContractError(_describe(e)) from None


def parse_envelope_dict(obj: Any) -> Envelope:
    try:
        return _ADAPTER.validate_python(obj)
    except ValidationError as e:
        raise (_unknown_type(_ANY_TYPE.validate_python, obj)
               or ContractError(_describe(e))) from None


def new_envelope(
    data: EventData,
    *,
    occurred_at: dt.datetime | None = None,
    id: uuid.UUID | None = None,
    **provenance: Any,
) -> Envelope:
    """Wrap event data in a validated envelope (a fresh random id unless one is given)."""
    name = type(data).__name__
    return ENVELOPE_TYPES[name](
        id=id or uuid.uuid4(),
        type=name,
        schema_version=SCHEMA_VERSION,
        occurred_at=occurred_at or dt.datetime.now(dt.UTC),
        data=data,
        **provenance,
    )


def stored_event_id(originator_id: uuid.UUID, originator_version: int) -> uuid.UUID:
    """The envelope id of a stored event: stable across re-publishing. A UUID version 5 (RFC
    4122: SHA-1 of the namespace and the name) of "<originator id>:<version>"."""
    return uuid.UUID(stored_event_id_text(originator_id, originator_version))


def stored_event_id_text(originator_id: uuid.UUID | str, originator_version: int) -> str:
    """`stored_event_id` as text, computed without building UUID objects (`uuid.uuid5` spends
    most of its time in them): the relay derives one per event it publishes."""
    digest = bytearray(
        hashlib.sha1(_NAMESPACE_BYTES + f"{originator_id}:{originator_version}".encode()).digest()
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
