"""Reading a field that only some event types have."""

from __future__ import annotations

from typing import Any

_HAS: dict[tuple[type, str], bool] = {}


def field_of(data: Any, name: str) -> Any:
    """`getattr(data, name, None)`, without the exception that a type lacking the field raises
    each time: whether a type has it is asked once. On a pydantic model a missing attribute
    costs about 3 us (its `__getattr__` looks in its private and extra attributes before it
    raises), and the regions' router asks each event for three or four fields that most
    types lack. Works on the models and on their msgspec Structs (`shared.events.fast`)."""
    key = (type(data), name)
    has = _HAS.get(key)
    if has is None:
        has = _HAS[key] = hasattr(data, name)
    return getattr(data, name) if has else None
