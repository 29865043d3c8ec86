"""Certification's read tables, written by its consumer and read by its API.

- `certificates`: one row per certificate as its aggregate stands (valid or revoked), with its
  verification code and evidence; found by id, by code, by participant.
- `cert_views`: JSON documents by kind and key: `route` per participant (scoped by their
  municipality), `course` per published course (with its questionnaire), `evaluation` per
  course (the `Evaluations` fold's row), `evaluation@<region>` per course over the region's
  occasions only (`RegionalEvaluations`).
- `cert_history`: the envelopes a completion can rest on, by the subject they concern
  (`projections/history.py`), for the audit trail.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from services.certification.domain import CertifiedCompletion
from shared.platform.db import Cursor, Database

COLUMNS = ("certificate_id", "participant_id", "course_id", "occasion_id", "region_id",
           "status", "verification_code", "completed_on", "issued_at", "revoked_at", "reason",
           "evidence")
VALID, REVOKED = "valid", "revoked"
EVALUATION = "evaluation"  # kind of a course's statistics; per region `evaluation@<region>`


CertificateRows = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]


def write_certificates(cur: Cursor, completions: Iterable[CertifiedCompletion]) -> None:
    """The rows of the completions' certificates as their aggregates now stand."""
    write_certificate_rows(cur, certificate_rows(completions))


def certificate_rows(completions: Iterable[CertifiedCompletion]) -> CertificateRows:
    """(issued, revoked): the rows `write_certificate_rows` writes."""
    issued: list[tuple[Any, ...]] = []
    revoked: list[tuple[Any, ...]] = []
    for c in completions:
        if c.active and c.issued_at is not None:
            issued.append((c.certificate_id, c.participant_id, c.course_id, c.occasion_id,
                           c.region_id, VALID, c.verification_code, str(c.completed_on),
                           c.issued_at.isoformat(), None, None,
                           orjson.dumps(c.evidence).decode()))
        revoked += [(REVOKED, when.isoformat(), reason, certificate_id)
                    for certificate_id, (reason, when) in c.revoked.items()]
    return issued, revoked


def write_certificate_rows(cur: Cursor, rows: CertificateRows) -> None:
    issued, revoked = rows
    cur.insert_rows("certificates", COLUMNS, issued, key=("certificate_id",))
    cur.executemany("UPDATE certificates SET status = %s, revoked_at = %s, reason = %s "
                    "WHERE certificate_id = %s", revoked)


View = tuple[str, str, dict[str, Any] | None, str | None]
"""(kind, key, body or None to delete, scope)"""


def write_views(cur: Cursor, rows: Iterable[View]) -> None:
    upserts, deletes = [], []
    for kind, key, body, scope in rows:
        if body is None:
            deletes.append((kind, key))
        else:
            upserts.append((kind, key, scope, orjson.dumps(body).decode()))
    cur.delete_keys("cert_views", ("kind", "key"), deletes)
    cur.insert_rows("cert_views", ("kind", "key", "scope", "body"), upserts,
                    key=("kind", "key"), update=("scope", "body"))


def write_history(cur: Cursor, rows: Iterable[tuple[str, str, str, str]], *,
                  new: bool = False) -> None:
    """(subject, event id, recording time, envelope): kept once each. `new`: none of them is
    kept yet (a rebuild from scratch that began with no history kept, each envelope once), so
    they are written as they are, where each batch was otherwise copied into a table of its own
    and inserted from there, checking each key: the history is the largest table a rebuild
    writes (14.4 million rows over the national log)."""
    columns = ("subject", "event_id", "recorded", "envelope")
    if new:
        cur.copy_rows("cert_history", columns, rows)
    else:
        cur.insert_rows("cert_history", columns, rows, key=("subject", "event_id"))


# -- reading ----------------------------------------------------------------------------------


def history_kept(db: Database | Cursor) -> bool:
    """Whether the history holds any row."""
    return bool(db.execute("SELECT 1 FROM cert_history LIMIT 1"))


def _certificate(row: tuple[Any, ...]) -> dict[str, Any]:
    found = dict(zip(COLUMNS, row, strict=True))
    found["evidence"] = orjson.loads(found["evidence"])
    return found


def certificate(db: Database, certificate_id: str) -> dict[str, Any] | None:
    rows = db.execute(f"SELECT {', '.join(COLUMNS)} FROM certificates "
                      "WHERE certificate_id = %s", (certificate_id,))
    return _certificate(rows[0]) if rows else None


def certificate_by_code(db: Database, code: str) -> dict[str, Any] | None:
    rows = db.execute(f"SELECT {', '.join(COLUMNS)} FROM certificates "
                      "WHERE verification_code = %s", (code.strip().upper(),))
    return _certificate(rows[0]) if rows else None


def certificates_of(db: Database, participant_id: str) -> list[dict[str, Any]]:
    rows = db.execute(f"SELECT {', '.join(COLUMNS)} FROM certificates "
                      "WHERE participant_id = %s ORDER BY issued_at, certificate_id",
                      (participant_id,))
    return [_certificate(r) for r in rows]


def certificates_of_many(db: Database, participant_ids: list[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for start in range(0, len(participant_ids), 500):
        chunk = participant_ids[start:start + 500]
        rows = db.execute(
            f"SELECT {', '.join(COLUMNS)} FROM certificates WHERE participant_id IN "
            f"({', '.join(['%s'] * len(chunk))}) ORDER BY issued_at, certificate_id", chunk)
        found += [_certificate(r) for r in rows]
    return found


def view(db: Database, kind: str, key: str) -> dict[str, Any] | None:
    rows = db.execute("SELECT body FROM cert_views WHERE kind = %s AND key = %s", (kind, key))
    return orjson.loads(rows[0][0]) if rows else None


def views(db: Database, kind: str, scope: str | None = None) -> list[dict[str, Any]]:
    if scope is None:
        rows = db.execute("SELECT body FROM cert_views WHERE kind = %s ORDER BY key", (kind,))
    else:
        rows = db.execute("SELECT body FROM cert_views WHERE kind = %s AND scope = %s "
                          "ORDER BY key", (kind, scope))
    return [orjson.loads(r[0]) for r in rows]


def count(db: Database, table: str = "certificates") -> int:
    return int(db.execute(f"SELECT count(*) FROM {table}")[0][0])


def history(db: Database, subjects: list[str], until: str | None = None) -> list[str]:
    """The kept envelopes (JSON) of these subjects, recorded not after `until` (a sort key
    of `projections.history`) where given."""
    found: list[str] = []
    for start in range(0, len(subjects), 500):
        chunk = subjects[start:start + 500]
        sql = (f"SELECT envelope FROM cert_history WHERE subject IN "
               f"({', '.join(['%s'] * len(chunk))})")
        params: list[str] = list(chunk)
        if until is not None:
            sql += " AND recorded <= %s"
            params.append(until)
        found += [r[0] for r in db.execute(sql, params)]
    return found
