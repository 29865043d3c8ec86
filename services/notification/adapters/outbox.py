"""The notification process's own tables: notices due and what became of them, the calendar
entries each participant holds, and the summary recipient of each municipality.

A notice is written in the same transaction as the applied id of the event that made it due
(or, for reminders and summaries, under a key naming what it is about), with `ON CONFLICT DO
NOTHING`: a redelivered event or a second look at the clock adds nothing, so each message is
sent once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from services.notification.domain import Day
from services.notification.messages import Holding
from services.notification.policies import Notice
from shared.platform.db import Cursor, Database

PENDING, SENT, SKIPPED, FAILED = "pending", "sent", "skipped", "failed"
MAX_ATTEMPTS = 12


@dataclass(frozen=True, slots=True)
class Due:
    notice: Notice
    attempts: int


class Outbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def add(cur: Cursor, notices: Iterable[Notice], not_before: dt.datetime) -> int:
        added = 0
        for n in notices:
            cur.execute(
                "INSERT INTO notices (key, kind, notice, status, not_before, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (key) DO NOTHING",
                (n.key, n.kind.value, n.to_json(), PENDING, not_before.timestamp(),
                 not_before.timestamp()))
            added += cur.rowcount
        return added

    def add_now(self, notices: list[Notice], now: dt.datetime) -> int:
        if not notices:
            return 0
        with self.db.transaction() as cur:
            return self.add(cur, notices, now)

    def due(self, now: dt.datetime, limit: int = 100) -> list[Due]:
        rows = self.db.execute(
            "SELECT notice, attempts FROM notices WHERE status = %s AND not_before <= %s"
            " ORDER BY not_before, key LIMIT %s", (PENDING, now.timestamp(), limit))
        return [Due(Notice.from_json(r[0]), int(r[1])) for r in rows]

    def held(self, occasion_id: str, participant_id: str) -> Holding | None:
        rows = self.db.execute(
            "SELECT sequence, days, cancelled FROM calendars"
            " WHERE occasion_id = %s AND participant_id = %s", (occasion_id, participant_id))
        if not rows:
            return None
        sequence, days, cancelled = rows[0]
        return Holding(int(sequence), tuple(Day.from_dict(d) for d in orjson.loads(days)),
                       bool(cancelled))

    def sent(self, notice: Notice, holding: Holding | None, now: dt.datetime) -> None:
        with self.db.transaction() as cur:
            self._finish(cur, notice, SENT, None, now)
            if holding is not None:
                assert notice.occasion_id is not None and notice.participant_id is not None
                cur.execute(
                    "INSERT INTO calendars (occasion_id, participant_id, sequence, days,"
                    " cancelled) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (occasion_id,"
                    " participant_id) DO UPDATE SET sequence = excluded.sequence,"
                    " days = excluded.days, cancelled = excluded.cancelled",
                    (notice.occasion_id, notice.participant_id, holding.sequence,
                     orjson.dumps([d.as_dict() for d in holding.days]).decode(),
                     int(holding.cancelled)))

    def skipped(self, notice: Notice, reason: str, now: dt.datetime) -> None:
        with self.db.transaction() as cur:
            self._finish(cur, notice, SKIPPED, reason, now)

    def later(self, due: Due, reason: str, now: dt.datetime, delay: float) -> bool:
        """Try again after `delay` seconds; False when it has failed for good."""
        attempts = due.attempts + 1
        status = FAILED if attempts >= MAX_ATTEMPTS else PENDING
        self.db.execute(
            "UPDATE notices SET attempts = %s, status = %s, outcome = %s, not_before = %s,"
            " updated_at = %s WHERE key = %s",
            (attempts, status, reason, now.timestamp() + delay, now.timestamp(),
             due.notice.key))
        return status == PENDING

    def postpone(self, notice: Notice, reason: str, now: dt.datetime, delay: float) -> None:
        """Not yet sendable (a fact it needs has not arrived): look again later, no attempt
        counted."""
        self.db.execute(
            "UPDATE notices SET outcome = %s, not_before = %s, updated_at = %s WHERE key = %s",
            (reason, now.timestamp() + delay, now.timestamp(), notice.key))

    @staticmethod
    def _finish(cur: Cursor, notice: Notice, status: str, reason: str | None,
                now: dt.datetime) -> None:
        cur.execute("UPDATE notices SET status = %s, outcome = %s, updated_at = %s"
                    " WHERE key = %s", (status, reason, now.timestamp(), notice.key))

    def counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT status, count(*) FROM notices GROUP BY status")
        return {str(s): int(n) for s, n in rows}

    def status_of(self, key: str) -> tuple[str, str | None] | None:
        rows = self.db.execute("SELECT status, outcome FROM notices WHERE key = %s", (key,))
        return (str(rows[0][0]), rows[0][1]) if rows else None


class Recipients:
    """Who receives a municipality's weekly summary: one configured address per municipality
    (a function mailbox such as the municipality's Yrkesresan contact), set by an
    administrator with `yrkesresan notification recipient set`. Never logged."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def set(self, municipality_id: str, email: str) -> None:
        self.db.execute(
            "INSERT INTO summary_recipients (municipality_id, email) VALUES (%s, %s)"
            " ON CONFLICT (municipality_id) DO UPDATE SET email = excluded.email",
            (municipality_id, email))

    def remove(self, municipality_id: str) -> bool:
        return self.db.execute_count(
            "DELETE FROM summary_recipients WHERE municipality_id = %s", (municipality_id,)) > 0

    def get(self, municipality_id: str) -> str | None:
        rows = self.db.execute(
            "SELECT email FROM summary_recipients WHERE municipality_id = %s",
            (municipality_id,))
        return str(rows[0][0]) if rows else None

    def all(self) -> dict[str, str]:
        rows = self.db.execute("SELECT municipality_id, email FROM summary_recipients")
        return {str(m): str(e) for m, e in rows}
