"""Who read whose personal data: every time the API shows a person's name or e-mail, one row
per person shown, written before the data is decrypted (no row, no data).

A row holds the person's id, the reader as a pseudonym (`role:key-id:hash`, as recorded with
events: never the token's subject), when (UTC) and why (the endpoint, `GET /participants/{id}`).
The auditor lists them per person (`GET /participants/{id}/reads`, `GET /trainers/{id}/reads`).
The table is not an event store: reading is not a fact of the domain, and these rows are kept
apart from the events (they hold no personal data, only ids and pseudonyms).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shared.platform.db import Database
from shared.platform.store import utcnow


@dataclass(frozen=True)
class Reader:
    """Who reads (pseudonymous) and through which endpoint."""

    actor: str
    endpoint: str


class ReadLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, subject_ids: Sequence[str], reader: Reader) -> None:
        if not subject_ids:
            return
        at = utcnow().isoformat()
        with self.db.transaction() as cur:
            cur.executemany(
                "INSERT INTO personal_data_reads (read_id, subject_id, read_at, actor, endpoint)"
                " VALUES (%s, %s, %s, %s, %s)",
                [(str(uuid.uuid4()), sid, at, reader.actor, reader.endpoint)
                 for sid in subject_ids])

    def of(self, subject_id: str, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """The reads of one person's data, newest first."""
        rows = self.db.execute(
            "SELECT read_at, actor, endpoint FROM personal_data_reads WHERE subject_id = %s "
            "ORDER BY read_at DESC, read_id LIMIT %s OFFSET %s", (subject_id, limit, offset))
        return [{"read_at": at, "actor": actor, "endpoint": endpoint}
                for at, actor, endpoint in rows]
