"""Errors a command can be rejected with. The message is shown to people, so it is Swedish;
the HTTP adapters map each kind to its status code."""

from __future__ import annotations


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
