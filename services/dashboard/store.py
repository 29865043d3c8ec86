"""Where the figures last: the dashboard's own database (SQLite or PostgreSQL).

faust's own answer, a Table with its changelog topic, does not survive a worker restart on the
local broker (its recovery reads to the end offsets, which tansu reports wrongly; KAFKA.md), and
a broker restart loses the topics anyway. So the worker keeps, as every consumer does
(`ProjectionRunner`, ADR 0020), in one transaction per batch: every envelope it applied (its id:
a redelivery is applied once; the envelope until a snapshot of the fold covers it: the fold is
restored from them after a restart, without the broker) and the figures of every cell that
changed. The web application reads the cells, and the version that says they changed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from services.dashboard.figures import Figures
from shared.events import ALL_TOPICS, Envelope
from shared.platform.db import Cursor, Database

log = logging.getLogger(__name__)

CONSUMER = "dashboard"


class FiguresStore:
    """The worker's side, a projector like every consumer's (`ProjectionRunner`: the applied
    log, batches in one transaction, snapshots of the fold, `yrkesresan rebuild dashboard`):
    applies envelopes to the fold and stores the cells that changed."""

    name = CONSUMER
    topics: Sequence[str] = ALL_TOPICS
    tables: Sequence[str] = ("dashboard_cells",)

    def __init__(self, db: Database) -> None:
        self.db = db
        self.fold = Figures()
        self._written: dict[str, bytes] = {}
        self._deferring = False

    def reset(self) -> None:
        self.fold = Figures()
        self._written = {}
        self._deferring = False

    def defer_writes(self) -> None:
        """A rebuild from scratch: the cells are counted and written once, at its end."""
        self._deferring = True
        self.fold.count_at_the_end()

    def write_deferred(self, cur: Cursor) -> None:
        self._deferring = False
        self._write(cur)

    def snapshot_state(self) -> Figures:
        self.fold.changed_cells()  # nothing pending in what is pickled
        return self.fold

    def restore_state(self, state: Figures) -> None:
        self.fold = state

    def load(self, envelopes: Iterable[Envelope]) -> None:
        """The fold from the envelopes applied after its snapshot (any order: the folds do
        not care), and the stored cells brought up to it."""
        count = 0
        for env in envelopes:
            self.fold.apply(env)
            count += 1
        self._written = {key: body.encode() for key, body in self.db.execute(
            "SELECT key, body FROM dashboard_cells")}
        with self.db.transaction() as cur:
            self._write(cur, everything=True)
        log.info("dashboard figures restored", extra={"envelopes": count})

    def apply(self, cur: Cursor, env: Envelope) -> None:
        self.apply_many(cur, [env])

    def apply_many(self, cur: Cursor, envelopes: Sequence[Envelope]) -> None:
        """Apply the new envelopes of a batch (the runner records their ids in the same
        transaction) and write the cells they changed."""
        for env in envelopes:
            self.fold.apply(env)
        if envelopes and not self._deferring:
            self._write(cur)

    def _write(self, cur: Cursor, everything: bool = False) -> None:
        """Write the cells that changed since the last write (`everything`: compare every cell
        with what is stored, after a restart)."""
        if everything:
            docs: dict[str, dict[str, Any] | None] = dict(self.fold.cells())
            docs |= dict.fromkeys(self._written.keys() - docs.keys())
        else:
            docs = self.fold.changed_cells()
        deletes, upserts = [], []
        for key, cell in docs.items():
            if cell is None:
                deletes.append((key,))
                self._written.pop(key, None)
                continue
            body = orjson.dumps(cell)
            if self._written.get(key) == body:
                continue
            upserts.append((key, cell["dimension"], cell.get("region_id"), body.decode()))
            self._written[key] = body
        cur.executemany("DELETE FROM dashboard_cells WHERE key = %s", deletes)
        cur.insert_rows("dashboard_cells", ("key", "dimension", "parent", "body"), upserts,
                        key=("key",), update=("dimension", "parent", "body"))
        if deletes or upserts:
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
