"""The billing consumer and the view the API answers from.

The `billing` consumer (`yrkesresan consume billing`) reads reference data, enrolment,
scheduling and billing's own topic. Every new envelope of a type the billing folds read
(`shared.projections`: participant-days, trainer-days, plans, memberships, price lists, closed
years, withdrawals, whatever the folds apply) is appended to `billing_facts`, in the same
transaction as its id in `applied_events` and the copy's rows (regions, municipalities,
trainers, teams: who may read what); a redelivered envelope changes nothing.

The API process folds `billing_facts` in memory (`BillingView`), caught up from the last
position read on every request: each answer is the fold's over every fact applied so far, the
same fold `yrkesresan replay` runs over an exported log. The consumer is the only writer of
`billing_facts`, so its positions commit in order and the view never skips one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from shared.events import Envelope, topic_name
from shared.events.fast import decode_envelope
from shared.platform.copies import (
    ASSIGNMENTS,
    MUNICIPALITIES,
    MUNICIPALITY_NAMES,
    REGIONS,
    TRAINERS,
    Alongside,
    Copy,
    CopyRunner,
)
from shared.platform.db import Cursor, Database
from shared.platform.observability import EVENTS_APPLIED, EVENTS_DUPLICATE
from shared.projections import Invoices

NAME = "billing"
PREFIX = "billing_copy"
TOPICS = tuple(topic_name(s) for s in ("reference", "enrolment", "scheduling", "billing"))
COPY_FACTS = (REGIONS, MUNICIPALITIES, MUNICIPALITY_NAMES, TRAINERS, ASSIGNMENTS)
PAGE = 5000
T = TypeVar("T")


def fold() -> Invoices:
    """The fold billing answers from: the invoices fold, whose facts the pot fold reads too
    (`shared.projections.pot.distribute`)."""
    return Invoices()


class FactsLog:
    """A projector (`shared.platform.consumer.Projector`) appending billing's facts to a table;
    it keeps nothing in memory."""

    def __init__(self, sqlite: bool) -> None:
        self.name = NAME
        self.topics: Sequence[str] = TOPICS
        self.tables: Sequence[str] = ("billing_facts",)
        self.types = frozenset(fold().appliers)
        self._sqlite = sqlite

    def reset(self) -> None:
        """Nothing in memory: the table is the state."""

    def load(self, envelopes: Iterable[Envelope]) -> None:
        """Nothing to fold here: the API folds the table."""

    def apply(self, cur: Cursor, env: Envelope) -> None:
        if env.type in self.types:
            cur.execute("INSERT INTO billing_facts (envelope) VALUES (%s)",
                        (env.to_json().decode(),))


def billing_consumer(db: Database) -> Alongside:
    return Alongside(FactsLog(db.is_sqlite), Copy(NAME, PREFIX, COPY_FACTS))


class BillingRunner(CopyRunner):
    """The runner of `yrkesresan consume billing` and `yrkesresan rebuild billing`: a batch's
    new envelopes (ids not applied before) are recorded, appended and copied in one
    transaction, the appends as one statement (most of a year's facts are attendance)."""

    projector: Alongside

    def apply_batch(self, envelopes: Sequence[Envelope], *, snapshot: bool = True) -> int:
        fresh = self.applied.fresh(envelopes)
        log, copy = self.projector.main, self.projector.copy
        assert isinstance(log, FactsLog)
        try:
            with self.db.transaction() as cur:
                self.applied.record_many(cur, fresh)
                cur.insert_rows("billing_facts", ("envelope",),
                                [(env.to_json().decode(),) for env in fresh
                                 if env.type in log.types])
                copy.apply_many(cur, fresh)
        except Exception:
            self.rolled_back()  # the numbers taken for a batch that was rolled back
            raise
        EVENTS_APPLIED.labels(self.projector.name).inc(len(fresh))
        EVENTS_DUPLICATE.labels(self.projector.name).inc(len(envelopes) - len(fresh))
        if snapshot and self._snapshot_due():
            self.snapshot()
        return len(fresh)


def billing_runner(db: Database) -> BillingRunner:
    """What `yrkesresan consume billing` and `yrkesresan rebuild billing` apply with."""
    return BillingRunner(billing_consumer(db), db)


class BillingView:
    """The billing fold over `billing_facts`, in memory, caught up on every read."""

    def __init__(self, db: Database, make: Callable[[], Invoices] = fold) -> None:
        self.db = db
        self.fold = make()
        self.position = 0
        self._lock = threading.Lock()

    def read(self, query: Callable[[Invoices], T]) -> T:
        """`query` over the fold as it stands with every fact applied so far."""
        with self._lock:
            self._catch_up()
            return query(self.fold)

    def _catch_up(self) -> None:
        while True:
            rows = self.db.execute(
                "SELECT seq, envelope FROM billing_facts WHERE seq > %s ORDER BY seq LIMIT %s",
                (self.position, PAGE))
            for seq, raw in rows:
                self.fold.apply(_decoded(raw))
                self.position = int(seq)
            if len(rows) < PAGE:
                return


def _decoded(raw: str) -> Any:
    """An envelope as the folds read it (the msgspec Structs replay uses)."""
    return decode_envelope(raw.encode())
