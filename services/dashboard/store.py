"""Where the figures last: the dashboard's own database (SQLite or PostgreSQL).

faust's own answer, a Table with its changelog topic, does not survive a worker restart on the
local broker (its recovery reads to the end offsets, which tansu reports wrongly; KAFKA.md), and
a broker restart loses the topics anyway. So the worker keeps, in one transaction per batch:
every envelope it applied (its id: a redelivery is applied once; the envelope: the fold is
rebuilt from them after a restart, without the broker) and the figures of every cell that
changed. The web application reads the cells, and the version that says they changed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson

from services.dashboard.figures import Figures
from shared.events import Envelope
from shared.platform.consumer import AppliedLog
from shared.platform.db import Cursor, Database

log = logging.getLogger(__name__)

CONSUMER = "dashboard"


class FiguresStore:
    """The worker's side: applies batches of envelopes to the fold and stores the figures."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.applied = AppliedLog(db, CONSUMER)
        self.fold = Figures()
        self._written: dict[str, bytes] = {}

    def restore(self) -> int:
        """Rebuild the fold from the envelopes applied before (any order: the folds do not
        care) and bring the stored cells up to it; the number of envelopes."""
        self.fold = Figures()
        count = 0
        for env in self.applied.envelopes():
            self.fold.apply(env)
            count += 1
        self._written = {key: body.encode() for key, body in self.db.execute(
            "SELECT key, body FROM dashboard_cells")}
        with self.db.transaction() as cur:
            self._write(cur, everything=True)
        log.info("dashboard figures restored", extra={"envelopes": count})
        return count

    def apply_batch(self, envelopes: Sequence[Envelope]) -> int:
        """Apply a batch in one transaction with its ids; how many were new."""
        try:
            with self.db.transaction() as cur:
                new = [env for env in envelopes if self.applied.record(cur, env)]
                for env in new:
                    self.fold.apply(env)
                if new:
                    self._write(cur)
        except Exception:
            self.restore()  # the fold may hold part of a batch the database rolled back
            raise
        return len(new)

    def _write(self, cur: Cursor, everything: bool = False) -> None:
        """Write the cells that changed since the last write (`everything`: compare every cell
        with what is stored, after a restart)."""
        if everything:
            docs: dict[str, dict[str, Any] | None] = dict(self.fold.cells())
            docs |= dict.fromkeys(self._written.keys() - docs.keys())
        else:
            docs = self.fold.changed_cells()
        changed = False
        for key, cell in docs.items():
            if cell is None:
                cur.execute("DELETE FROM dashboard_cells WHERE key = %s", (key,))
                self._written.pop(key, None)
                changed = True
                continue
            body = orjson.dumps(cell)
            if self._written.get(key) == body:
                continue
            cur.execute(
                "INSERT INTO dashboard_cells (key, dimension, parent, body) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (key) DO UPDATE SET dimension = excluded.dimension,"
                " parent = excluded.parent, body = excluded.body",
                (key, cell["dimension"], cell.get("region_id"), body.decode()))
            self._written[key] = body
            changed = True
        if changed:
            cur.execute("UPDATE dashboard_state SET value = value + 1 WHERE name = 'version'")


class FiguresReader:
    """The web application's side: reads what the worker stored."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def version(self) -> int:
        rows = self.db.execute("SELECT value FROM dashboard_state WHERE name = 'version'")
        return int(rows[0][0]) if rows else 0

    def cell(self, key: str) -> dict[str, Any] | None:
        rows = self.db.execute("SELECT body FROM dashboard_cells WHERE key = %s", (key,))
        return orjson.loads(rows[0][0]) if rows else None

    def cells(self, dimension: str, parent: str | None = None) -> list[dict[str, Any]]:
        if parent is None:
            rows = self.db.execute(
                "SELECT body FROM dashboard_cells WHERE dimension = %s ORDER BY key", (dimension,))
        else:
            rows = self.db.execute(
                "SELECT body FROM dashboard_cells WHERE dimension = %s AND parent = %s "
                "ORDER BY key", (dimension, parent))
        return [orjson.loads(r[0]) for r in rows]

    def document(self) -> dict[str, Any]:
        """Every stored cell, as `Figures.document` gives them (to compare with a replay)."""
        rows = self.db.execute("SELECT key, body FROM dashboard_cells ORDER BY key")
        return {"cells": {key: orjson.loads(body) for key, body in rows}}
