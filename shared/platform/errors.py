"""Errors a command can be rejected with. The message is shown to people, so it is Swedish;
the HTTP adapters map each kind to its status code."""

from __future__ import annotations

from typing import Any

from pydantic_core import ErrorDetails


class CommandRejected(Exception):
    status = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(CommandRejected):
    status = 404


class Conflict(CommandRejected):
    status = 409


class Forbidden(CommandRejected):
    status = 403


class TooLarge(CommandRejected):
    """More than one request may carry (rows of a file, for instance)."""

    status = 413


_REASONS = {
    "missing": "saknas",
    "string_too_short": "får inte vara tomt",
    "string_type": "måste vara en text",
    "string_pattern_mismatch": "får bara innehålla a–z, A–Z, 0–9 och _ . : -",
    "string_unicode": "innehåller ogiltiga tecken",
    "float_parsing": "måste vara ett tal",
    "float_type": "måste vara ett tal",
    "finite_number": "måste vara ett ändligt tal",
    "int_parsing": "måste vara ett heltal",
    "int_type": "måste vara ett heltal",
    "int_from_float": "måste vara ett heltal",
    "int_parsing_size": "är ett för stort tal",
    "bool_parsing": "måste vara true eller false",
    "bool_type": "måste vara true eller false",
    "date_parsing": "måste vara ett datum (ÅÅÅÅ-MM-DD)",
    "date_from_datetime_parsing": "måste vara ett datum (ÅÅÅÅ-MM-DD)",
    "datetime_parsing": "måste vara en tidpunkt med tidszon (ISO 8601)",
    "datetime_from_date_parsing": "måste vara en tidpunkt med tidszon (ISO 8601)",
    "timezone_aware": "måste ha en tidszon",
    "json_invalid": "är inte giltig JSON",
    "model_attributes_type": "måste vara ett objekt",
    "dict_type": "måste vara ett objekt",
    "list_type": "måste vara en lista",
    "tuple_type": "måste vara en lista",
    "extra_forbidden": "okänt fält",
    "string_sub_type": "måste vara en text",
    "bytes_type": "måste vara en text",
    "uuid_parsing": "måste vara ett UUID",
    "uuid_type": "måste vara ett UUID",
    "url_parsing": "måste vara en webbadress",
    "url_scheme": "måste vara en webbadress som börjar med http:// eller https://",
    "decimal_parsing": "måste vara ett tal",
    "decimal_type": "måste vara ett tal",
    "list_type_with_default": "måste vara en lista",
    "frozen_instance": "får inte ändras",
    "is_instance_of": "har fel typ",
    "model_type": "måste vara ett objekt",
    "none_required": "ska utelämnas",
    "date_type": "måste vara ett datum (ÅÅÅÅ-MM-DD)",
    "date_future": "måste ligga i framtiden",
    "date_past": "måste ligga bakåt i tiden",
    "datetime_type": "måste vara en tidpunkt med tidszon (ISO 8601)",
    "time_parsing": "måste vara ett klockslag (TT:MM)",
    "time_type": "måste vara ett klockslag (TT:MM)",
    "union_tag_invalid": "har en okänd typ",
    "union_tag_not_found": "saknar uppgift om typ",
    "recursion_loop": "är för djupt nästlat",
    "value_error": "är ogiltigt",
    "assertion_error": "är ogiltigt",
}

# For a pydantic error type without a reason of its own: a Swedish sentence rather than
# pydantic's English one (which goes to people).
UNKNOWN_REASON = "är ogiltigt"


def swedish_reason(error: ErrorDetails) -> str:
    """A pydantic error as a reason for people (the value itself is never repeated)."""
    ctx = error.get("ctx") or {}
    match error["type"]:
        case "string_too_long":
            return f"får ha högst {ctx.get('max_length')} tecken"
        case "too_long":
            return f"får ha högst {ctx.get('max_length')} element"
        case "too_short":
            return f"måste ha minst {ctx.get('min_length')} element"
        case "greater_than_equal":
            return f"måste vara minst {_number(ctx.get('ge'))}"
        case "greater_than":
            return f"måste vara större än {_number(ctx.get('gt'))}"
        case "less_than_equal":
            return f"får vara högst {_number(ctx.get('le'))}"
        case "less_than":
            return f"måste vara mindre än {_number(ctx.get('lt'))}"
        case "enum" | "literal_error":
            return f"måste vara en av {ctx.get('expected')}"
        case "value_error" if ctx.get("error") is not None:
            # Our validators raise Swedish reasons (`shared.platform.commands.printable`).
            return str(ctx["error"])
        case kind:
            return _REASONS.get(kind, UNKNOWN_REASON)


def swedish_message(field: str | None, reason: str) -> str:
    """One sentence for people naming the field at fault and why."""
    return f"Fältet {field}: {reason}." if field else f"Begärans innehåll: {reason}."


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
