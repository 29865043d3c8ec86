"""Comparing what two validators made of one envelope: pydantic's models and the contract's
msgspec Structs (`shared.events.fast`), value for value and type for type."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from pydantic import BaseModel


def plain(value: Any) -> Any:
    """A pydantic model or a Struct as comparable builtins, with types (1 and 1.0 differ)."""
    if isinstance(value, BaseModel):
        return {name: plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, msgspec.Struct):
        fields = {name: plain(getattr(value, name)) for name in value.__struct_fields__}
        tag_field = value.__struct_config__.tag_field
        if tag_field is not None:
            fields[tag_field] = plain(getattr(value, tag_field))
        return fields
    if isinstance(value, tuple | list):
        return (type(value).__name__, [plain(v) for v in value])
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, dt.datetime):
        return ("datetime", value, value.utcoffset())
    return (type(value).__name__, value)
