"""What every service's commands and parameters are made of: validated at the edge, extra
fields refused, every value bounded.

The same types serve request bodies, query parameters and path parameters (FastAPI reads the
constraints from the annotations), so an odd value is a 422 naming the field wherever it comes
in, and the event stores and read models never see a value they would choke on: no NUL byte or
other control character (PostgreSQL refuses NUL in text), no lone surrogate (not encodable as
UTF-8), no integer beyond what SQLite and PostgreSQL take.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

# Control characters (tab and line breaks allowed in free text), DEL, and lone surrogates.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def printable(value: str) -> str:
    """Refuse what no person types and no database stores as text."""
    if _UNPRINTABLE.search(value):
        raise ValueError("får inte innehålla styrtecken eller ogiltiga tecken")
    return value


# An identifier a person types or a system sends: letters, digits and . _ : -
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100,
                                        pattern=r"^[A-Za-z0-9_.:-]+$")]

# A name, a title, a venue: what people write, bounded, without control characters.
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                 AfterValidator(printable)]

# The largest offset a list endpoint takes: a 32-bit integer, which every driver and database
# here binds as a plain integer (a larger Python int overflows SQLite's INTEGER).
MAX_OFFSET = 2**31 - 1

# Paging of list endpoints: `limit` rows from `offset`.
Limit = Annotated[int, Field(ge=1, le=10_000, description="Högst så många rader.")]
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET,
                              description="Hoppa över så många rader först.")]


class Command(BaseModel):
    """An imperative request; a command that does not validate records nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)


T = TypeVar("T")


def page(rows: Sequence[T], limit: int, offset: int) -> list[T]:
    """One page of a list in its own order: every list an API answers is bounded by `Limit`."""
    return list(rows[offset:offset + limit])
