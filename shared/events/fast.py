"""The contract's envelopes as msgspec Structs, generated from the pydantic models: for replay.

`yrkesresan replay` validates every line of a log of a million events or more. pydantic builds
an envelope in about 1.7 us; msgspec decodes and validates the same line into Structs in about
0.55 us, against 0.45 us for merely parsing it with orjson. The pydantic models in `models.py`
and `envelope.py` stay the one definition of the contract: at import this module walks each
model's `model_fields` and builds the matching Struct (types, constraints, defaults, enum values
as `Literal`s, nested parts, the envelope's common fields), copies the models' properties,
methods and class variables (`SERVICE`, `KEY`, `PriceComponents.price`) onto it, and refuses,
with a TypeError at import, any annotation or constraint it cannot translate exactly: it never
validates less than the models do. The envelope Structs are a tagged union on `type`; `.type`
reads as on the pydantic envelopes, so the folds in `shared.projections` take either.

`decode_envelope(raw)` accepts what `parse_envelope(raw)` accepts and gives the same field
values, except where pydantic's lax mode coerces a value that the contract's JSON Schema
(`docs/contract/schemas/`) does not allow. There replay is strict and rejects the line:

- a number or boolean written as a string (`"day": "2"`, `"mandatory": "true"`), a boolean for
  a number or for the constant 1 (`"day": true`, `"schema_version": true`), a number for a
  boolean (`"mandatory": 1`);
- a timestamp written as a number or a string of digits (`1741080600`), or not in RFC 3339
  form (no seconds: `"2025-03-04T09:30+01:00"`; a decimal comma); a date written as a number
  or as a timestamp (`"date": "2025-04-01T00:00:00"`);
- a UUID in braces or as a URN (the canonical 36 characters and the 32 hex digits are read
  by both).

One difference is not about validity: RFC 3339 allows any number of fractional digits and
Python keeps microseconds; msgspec rounds the rest, pydantic truncates it. The services write
at most six digits, so no log they wrote reads differently.

`tests/unit/test_contract_fast.py` asserts each of these differences explicitly, and that the
two validators otherwise agree, value for value, on every event type and on many mutations of
them, with the generated JSON Schema as the arbiter of any disagreement.

A line msgspec rejects gets a second look, so that nothing valid is lost and errors read the
same everywhere: if pydantic rejects it too, the error is pydantic's, word for word as the live
consumers report it. If pydantic accepts it, it may still be valid JSON Schema that strict
msgspec refuses: an integral float for an integer (`"day": 1.0`), or a key given twice (both
keep the last). The line is then read again with integral floats written as integers and the
last of duplicated keys kept; only if that fails is it rejected, with msgspec's message naming
the field the way pydantic does (`data.day: Expected `int`, got `str``). Invalid lines are rare
(a replay stops at the first), so the second look costs nothing on a valid log.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import types
import uuid
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, ClassVar, Literal, Union, cast, get_args, get_origin

import annotated_types as at
import msgspec
import msgspec.inspect
import orjson
from pydantic import AwareDatetime, BaseModel, NaiveDatetime, StringConstraints
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from shared.events.envelope import ContractError, Envelope, parse_envelope
from shared.events.models import EVENT_TYPES

__all__ = [
    "DATA_TYPES",
    "DECODE_ERRORS",
    "ENVELOPE_STRUCTS",
    "FastEnvelope",
    "decode_envelope",
    "describe",
    "fast_decoder",
    "struct_of",
]

_CONFIG: dict[str, Any] = {"frozen": True, "kw_only": True, "gc": False}
"""Frozen like the models; kw_only keeps the models' field order whatever has a default; the
events hold no reference cycles, so the collector need not track them."""

_AWARE = Annotated[dt.datetime, msgspec.Meta(tz=True)]
_NAIVE = Annotated[dt.datetime, msgspec.Meta(tz=False)]
_SCALARS = (str, int, float, bool, dt.date, dt.datetime, uuid.UUID, type(None))

_STRUCTS: dict[type[BaseModel], type[msgspec.Struct]] = {}


# --- constraints ----------------------------------------------------------------------------


def _meta(metadata: list[Any] | tuple[Any, ...]) -> dict[str, Any]:
    """msgspec.Meta keywords for pydantic/annotated-types constraints; TypeError if any
    constraint has no exact msgspec equivalent."""
    meta: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, FieldInfo):
            meta.update(_meta(item.metadata))
        elif isinstance(item, StringConstraints):
            unsupported = {
                name: getattr(item, name)
                for name in ("strip_whitespace", "to_upper", "to_lower", "strict", "ascii_only")
                if getattr(item, name)
            }
            if unsupported:
                raise TypeError(f"no msgspec equivalent for string constraints {unsupported}")
            for name in ("min_length", "max_length", "pattern"):
                value = getattr(item, name)
                if value is not None:
                    meta[name] = value if name != "pattern" else _pattern(value)
        elif isinstance(item, at.Ge | at.Gt | at.Le | at.Lt):
            name = type(item).__name__.lower()
            meta[name] = getattr(item, name)
        elif isinstance(item, at.MinLen | at.MaxLen):
            name = "min_length" if isinstance(item, at.MinLen) else "max_length"
            meta[name] = getattr(item, name)
        else:
            raise TypeError(f"no msgspec equivalent for the constraint {item!r}")
    return meta


def _pattern(value: str | re.Pattern[str]) -> str:
    return value if isinstance(value, str) else value.pattern


def _constrained(tp: Any, meta: dict[str, Any]) -> Any:
    return Annotated[tp, msgspec.Meta(**meta)] if meta else tp


# --- types ----------------------------------------------------------------------------------


def _convert(annotation: Any, metadata: list[Any] | tuple[Any, ...] = ()) -> Any:
    """The msgspec type of a pydantic field annotation with its constraints."""
    meta = _meta(metadata)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _convert(args[0], [*args[1:], *metadata])
    if annotation is AwareDatetime:
        return _constrained(_AWARE, meta)
    if annotation is NaiveDatetime:
        return _constrained(_NAIVE, meta)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if meta:
            raise TypeError(f"constraints on a nested model: {annotation.__name__} {meta}")
        return struct_of(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        # the models keep enum values (use_enum_values), so a Literal of them is the same
        return _constrained(Literal[tuple(m.value for m in annotation)], meta)
    if annotation in _SCALARS:
        return _constrained(annotation, meta)
    if origin is Literal:
        return _constrained(annotation, meta)
    if origin in (Union, types.UnionType):
        if meta:
            raise TypeError(f"constraints on a union: {annotation} {meta}")
        members = tuple(_convert(a) for a in args)
        return Union[members]  # noqa: UP007 - built at run time
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return _constrained(tuple[_convert(args[0]), ...], meta)  # type: ignore[misc]
        return _constrained(types.GenericAlias(tuple, tuple(_convert(a) for a in args)), meta)
    if origin is dict:
        key, value = args
        return _constrained(dict[_convert(key), _convert(value)], meta)  # type: ignore[misc]
    raise TypeError(f"no msgspec equivalent for the annotation {annotation!r}")


def _fields(model: type[BaseModel], skip: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    fields: list[tuple[Any, ...]] = []
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        if info.alias not in (None, name) or info.validation_alias not in (None, name):
            raise TypeError(f"{model.__name__}.{name}: aliases are not translated")
        tp = _convert(info.annotation, info.metadata)
        if info.default_factory is not None:
            if info.default_factory_takes_validated_data:
                raise TypeError(f"{model.__name__}.{name}: a default factory taking the data")
            factory = cast(Callable[[], Any], info.default_factory)
            fields.append((name, tp, msgspec.field(default_factory=factory)))
        elif info.default is PydanticUndefined:
            fields.append((name, tp))
        else:
            fields.append((name, tp, info.default))
    return fields


def _namespace(model: type[BaseModel]) -> dict[str, Any]:
    """The model's own properties, methods and class variables (e.g. `PriceComponents.price`,
    `EventData.key`, `SERVICE`, `KEY`), which read fields by attribute and so work on a
    Struct as they do on the model."""
    namespace: dict[str, Any] = {}
    for cls in reversed(model.__mro__):
        if not issubclass(cls, BaseModel) or cls is BaseModel:
            continue
        for name, value in vars(cls).items():
            if name.startswith(("_", "model_")):
                continue
            if isinstance(value, property | types.FunctionType):
                namespace[name] = value
    for name in getattr(model, "__class_vars__", ()):
        if hasattr(model, name):
            namespace[name] = getattr(model, name)
    return namespace


def struct_of(model: type[BaseModel]) -> type[msgspec.Struct]:
    """The Struct for one pydantic model (an event's data or a nested part), made once."""
    made = _STRUCTS.get(model)
    if made is None:
        if model.model_config.get("extra", "ignore") != "ignore":
            raise TypeError(f"{model.__name__}: only extra='ignore' models are translated")
        made = _STRUCTS[model] = _importable(msgspec.defstruct(
            model.__name__,
            _fields(model),
            namespace=_namespace(model),
            module=__name__,
            **_CONFIG,
        ))
    return made


def _importable(struct: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """The Struct as an attribute of this module, by its name, so that pickle finds it: a
    fold that keeps an event's data (or a part of it) can be snapshotted when a rebuild fed
    it Structs."""
    if globals().setdefault(struct.__name__, struct) is not struct:
        raise TypeError(f"{struct.__name__}: a name this module already holds")
    return struct


def _envelope_struct(name: str, data: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """The envelope of one event type: the common fields of `Envelope`, `data` typed, and the
    type as the tag. `type` is a class variable as well, so `env.type` reads as on pydantic's
    envelopes."""
    fields = _fields(Envelope, skip=("type",))
    fields = [(f[0], data, *f[2:]) if f[0] == "data" else f for f in fields]
    namespace = {
        "type": name,
        "__annotations__": {"type": ClassVar[str]},
        "topic": Envelope.topic,
        "key": Envelope.key,
        "to_json": _to_json,
    }
    _TAGS[name] = b'{"type":' + orjson.dumps(name) + b","
    return _importable(msgspec.defstruct(
        f"{name}Envelope",
        fields,
        namespace=namespace,
        module=__name__,
        tag_field="type",
        tag=name,
        omit_defaults=True,  # the optional fields, all None by default: as pydantic omits them
        **_CONFIG,
    ))


_JSON_ORDER = tuple(Envelope.model_fields)
"""The envelope's fields in the order pydantic writes them (`type` among them, where msgspec
writes a tag first)."""


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_without_none(v) for v in value]
    return value


def _to_json(self: Any) -> bytes:
    """The envelope's JSON byte for byte as the pydantic envelope's `to_json()` writes it
    (`model_dump_json(exclude_none=True)`: the fields in the model's order, no null at any
    depth), for the projections that keep an envelope's JSON (the regions' log, the applied
    logs, certification's history, billing's facts). msgspec writes the tag first and, the
    envelope's optional fields being omitted when None (`omit_defaults`, their default), the
    rest in the model's order: `type` is moved after `id`. A null left in it (a part of the
    data that is None, or the text "null" in a value) takes the slow way. Not kept: a Struct
    holds only its fields. So does a number with a positive exponent, which msgspec writes
    without its sign (`1e16`) and pydantic and orjson with it (`1e+16`): a float of 10^16 or
    more (a text that looks like one also takes the slow way, which writes it as it is)."""
    raw = _ENCODE(self)
    if b"null" not in raw and (self.type not in _WITH_FLOATS
                               or _POSITIVE_EXPONENT.search(raw) is None):
        tag = _TAGS[self.type]
        end = len(tag) + _ID_LENGTH
        return b"{" + raw[len(tag):end] + tag[1:] + raw[end:]
    built = msgspec.to_builtins(self)
    try:
        return orjson.dumps({name: _without_none(built[name]) for name in _JSON_ORDER
                             if built.get(name) is not None})
    except TypeError:  # an integer of 2^64 or more, which orjson cannot write: pydantic's
        return parse_envelope(raw).to_json()  # own reading and writing of msgspec's JSON


_ENCODE = msgspec.json.Encoder().encode
_POSITIVE_EXPONENT = re.compile(rb"[:,\[]-?\d+(?:\.\d+)?e\d")
"""A JSON number with an unsigned exponent, as msgspec writes 1e16 (a number follows a colon,
a comma or an opening bracket: msgspec writes no spaces). Looked for only in the envelopes
whose data holds a float (`_WITH_FLOATS`): the search took 2.6 us of an envelope's 4.1."""
_ID_LENGTH = len(b'"id":"00000000-0000-0000-0000-000000000000",')
_TAGS: dict[str, bytes] = {}


DATA_TYPES: dict[str, type[msgspec.Struct]] = {
    name: struct_of(model) for name, model in EVENT_TYPES.items()
}
ENVELOPE_STRUCTS: dict[str, type[msgspec.Struct]] = {
    name: _envelope_struct(name, data) for name, data in DATA_TYPES.items()
}


def _holds_float(info: Any, seen: set[int] | None = None) -> bool:
    """Whether a msgspec type (`msgspec.inspect.type_info`) can hold a float anywhere in it."""
    seen = set() if seen is None else seen
    if isinstance(info, msgspec.inspect.FloatType):
        return True
    if id(info) in seen:
        return False
    seen.add(id(info))
    inner = [getattr(info, name) for name in ("item_type", "key_type", "value_type")
             if hasattr(info, name)]
    inner += [*getattr(info, "types", ()), *getattr(info, "item_types", ()),
              *(field.type for field in getattr(info, "fields", ()))]
    return any(_holds_float(one, seen) for one in inner)


_WITH_FLOATS = frozenset(name for name, struct in DATA_TYPES.items()
                         if _holds_float(msgspec.inspect.type_info(struct)))
"""The event types whose data can hold a float: the only ones msgspec may write with an
unsigned exponent (`_POSITIVE_EXPONENT`)."""

FastEnvelope: Any = Union[tuple(ENVELOPE_STRUCTS.values())]  # noqa: UP007
"""Any v1 envelope, as a Struct: what `decode_envelope` returns."""

_DECODER = msgspec.json.Decoder(FastEnvelope)

DECODE_ERRORS = (msgspec.MsgspecError, UnicodeDecodeError)
"""What `fast_decoder()`'s function raises on a line it does not accept as it stands."""


# --- decoding -------------------------------------------------------------------------------


def fast_decoder() -> Callable[[bytes | str], Any]:
    """msgspec's decoder alone, for a hot loop: it raises one of DECODE_ERRORS for any line it
    does not accept as it stands; pass such a line to `decode_envelope` for the second look
    (the verdict) and the message."""
    return _DECODER.decode


def decode_envelope(raw: bytes | str) -> Any:
    """Decode and validate one JSON envelope into Structs; ContractError naming the problem.

    Fields read as on `parse_envelope`'s result (`env.type`, `env.id.int`, `env.data.day`).
    """
    try:
        return _DECODER.decode(raw)
    except DECODE_ERRORS as error:
        return _second_look(raw, error)


def _second_look(raw: bytes | str, error: Exception) -> Any:
    """A line msgspec rejects: pydantic's verdict and words, or an integral float for an
    integer (see the module's docstring)."""
    parse_envelope(raw)  # raises ContractError, in pydantic's words, if pydantic rejects it too
    # pydantic accepted it, so it is JSON; the standard library reads any size of integer and,
    # like pydantic, keeps the last of duplicated keys
    rewritten = json.dumps(_integral_floats_as_ints(json.loads(raw)), ensure_ascii=False)
    try:
        return _DECODER.decode(rewritten.encode())
    except DECODE_ERRORS:
        raise ContractError(describe(error)) from None


def _integral_floats_as_ints(value: Any) -> Any:
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {k: _integral_floats_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(v) for v in value]
    return value


_AT = re.compile(r"^(?P<problem>.*?)(?: - at (?P<key>`key` in )?`\$(?P<path>[^`]*)`)?$", re.DOTALL)


def describe(error: Exception) -> str:
    """msgspec's message with the path first as pydantic names it: `data.day: Expected ...`."""
    found = _AT.match(str(error))
    assert found is not None  # the pattern matches any text
    path = (found["path"] or "").lstrip(".")
    path = re.sub(r"\[(\d+)\]", r".\1", path)  # tuple items as pydantic numbers them
    if found["key"]:
        path += " (a key)"
    return f"{path or 'envelope'}: {found['problem']}"
