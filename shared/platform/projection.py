"""A read model kept by a fold from `shared/projections`: the fold decides, this stores.

The fold (pure, in memory) says which keys an envelope touched; their rows are written in the
same transaction as the applied-envelope record, so the table is always exactly the fold's view
of everything applied. After a restart the fold is rebuilt from the applied envelopes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import orjson

from shared.events import Envelope
from shared.platform.db import Cursor, Database


class Fold(Protocol):
    def apply(self, env: Envelope) -> Any: ...


class FoldProjector:
    def __init__(
        self,
        name: str,
        topics: Sequence[str],
        make_fold: Callable[[], Any],
        touched: Callable[[Any, Any], Iterable[str]],
        row: Callable[[Any, str], dict[str, Any] | None],
        scope: Callable[[dict[str, Any]], str | None] = lambda _: None,
    ) -> None:
        self.name = name
        self.topics = topics
        self.table = f"view_{name}"
        self.tables: Sequence[str] = (self.table,)
        self._make_fold = make_fold
        self._touched = touched
        self._row = row
        self._scope = scope
        self.fold = make_fold()
        self.fold_source = type(self.fold).__module__  # what `fold_version` hashes
        self._deferred: set[str] | None = None

    def reset(self) -> None:
        self.fold = self._make_fold()
        self._deferred = None

    def defer_writes(self) -> None:
        """A rebuild from scratch: keep the keys the batches touch, write them at its end."""
        self._deferred = set()

    def write_deferred(self, cur: Cursor) -> None:
        keys, self._deferred = self._deferred or set(), None
        self._write(cur, sorted(keys))

    def snapshot_state(self) -> Any:
        return self.fold

    def restore_state(self, state: Any) -> None:
        self.fold = state

    def load(self, envelopes: Iterable[Envelope]) -> None:
        for env in envelopes:
            self.fold.apply(env)

    def apply(self, cur: Cursor, env: Envelope) -> None:
        self._write(cur, self._touched(self.fold, self.fold.apply(env)))

    def apply_many(self, cur: Cursor, envelopes: Iterable[Envelope]) -> None:
        """A batch folded first, then each row it touched written once (at the end of a
        rebuild that defers its writes)."""
        touched: set[str] = set() if self._deferred is None else self._deferred
        for env in envelopes:
            touched.update(self._touched(self.fold, self.fold.apply(env)))
        if self._deferred is None:
            self._write(cur, sorted(touched))

    def _write(self, cur: Cursor, keys: Iterable[str]) -> None:
        upserts, deletes = [], []
        for key in keys:
            row = self._row(self.fold, key)
            if row is None:
                deletes.append((key,))
            else:
                upserts.append((key, self._scope(row), orjson.dumps(row).decode()))
        cur.executemany(f"DELETE FROM {self.table} WHERE key = %s", deletes)
        cur.insert_rows(self.table, ("key", "scope", "body"), upserts, key=("key",),
                        update=("scope", "body"))

    # -- reading ----------------------------------------------------------------------------

    def get(self, db: Database, key: str) -> dict[str, Any] | None:
        rows = db.execute(f"SELECT body FROM {self.table} WHERE key = %s", (key,))
        return orjson.loads(rows[0][0]) if rows else None

    def list(self, db: Database, scope: str | Sequence[str] | None = None, limit: int = 1000,
             offset: int = 0) -> list[dict[str, Any]]:
        """Rows of one scope, of any of several (an empty list: none), or of all (None)."""
        if scope is None:
            rows = db.execute(
                f"SELECT body FROM {self.table} ORDER BY key LIMIT %s OFFSET %s", (limit, offset))
        else:
            scopes = [scope] if isinstance(scope, str) else list(scope)
            if not scopes:
                return []
            marks = ", ".join(["%s"] * len(scopes))
            rows = db.execute(
                f"SELECT body FROM {self.table} WHERE scope IN ({marks}) "
                "ORDER BY key LIMIT %s OFFSET %s", (*scopes, limit, offset))
        return [orjson.loads(r[0]) for r in rows]

    def count(self, db: Database) -> int:
        return int(db.execute(f"SELECT count(*) FROM {self.table}")[0][0])
