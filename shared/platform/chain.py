"""The hash chain that makes each service's event store tamper-evident (ADR 0008).

Every stored event carries its place in the chain (`chain_seq`: 1, 2, 3, ... in notification
order) and `chain_hash` = SHA-256 of the previous event's hash followed by the event's own
content: its chain position, originator id, originator version, topic and state (the stored
bytes). Changing any of these in a row, removing a row or inserting one breaks the chain from
there on, and `verify` walks it in notification order and names the first event where it
breaks. Someone who can write the database can of course recompute every hash after their
change; the chain head the relay publishes on the bus (`yrkesresan.audit.v1`) is what holds
the service to the history it had already shown.

The hash is computed where the event is written, inside the write's lock (PostgreSQL: the
insert function created by `yrkesresan migrate`; SQLite: the write transaction), from the
formula below. `link` and `LINK_SQL` are the same formula in Python and in SQL; a test holds
them to each other.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import struct
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

AUDIT_TOPIC = "yrkesresan.audit.v1"
"""Where each relay publishes its store's chain head: not a contract topic, no event type."""

GENESIS = bytes(32)
"""The "previous hash" of the first event."""

LINK_SQL = (
    "sha256(prev || int8send(seq) || uuid_send(originator_id) || int8send(originator_version)"
    " || int4send(octet_length(convert_to(topic, 'UTF8'))) || convert_to(topic, 'UTF8')"
    " || state)"
)
"""`link` in PostgreSQL, over arguments of those names: the body of the per-table function."""


def link(prev: bytes, seq: int, originator_id: uuid.UUID, version: int, topic: str,
         state: bytes) -> bytes:
    """One event's chain hash. Fixed-width fields, and the topic's length before the topic, so
    that no two different events give the same bytes (the state comes last)."""
    return link_bytes(prev, seq, originator_id.bytes, version, topic.encode(), state)


LINK_FIXED = struct.Struct(">32sq16sqi")
"""`link`'s fixed-width fields: prev, seq, originator id, version, the topic's length."""


def link_bytes(prev: bytes, seq: int, originator_id: bytes, version: int, topic: bytes,
               state: bytes) -> bytes:
    """`link` over the originator id's 16 bytes and the topic's UTF-8, for a writer that has
    them already (`PostgresRecorder.insert_bulk` writes them too)."""
    return hashlib.sha256(LINK_FIXED.pack(prev, seq, originator_id, version, len(topic)) + topic
                          + state).digest()


@dataclass(frozen=True, slots=True)
class ChainedRow:
    """One stored event as the chain sees it (the chain columns may be missing: NULL)."""

    notification_id: int
    originator_id: uuid.UUID
    originator_version: int
    topic: str | None
    state: bytes | None
    chain_seq: int | None
    chain_hash: bytes | None

    @property
    def event_type(self) -> str | None:
        """The event's type as the row names it (`module:Type` or `module.Type`)."""
        if not self.topic:
            return None
        return self.topic.rpartition(":")[2].rpartition(".")[2] or None

    def follows(self, seq: int, prev: bytes) -> bool:
        """Whether this row is the event at chain position `seq` after hash `prev`."""
        if self.chain_seq != seq or self.topic is None or self.state is None:
            return False
        return self.chain_hash == link(prev, seq, self.originator_id, self.originator_version,
                                       self.topic, self.state)


Kind = Literal["changed", "inserted", "removed"]


@dataclass(frozen=True, slots=True)
class Break:
    """The first place where a store's chain does not hold."""

    service: str
    notification_id: int
    originator_id: str | None  # None: the event is gone
    originator_version: int | None
    kind: Kind
    detail: str
    event_type: str | None = None  # as the row stores it (its topic's last part)

    def describe(self) -> str:
        event = ("the event is gone" if self.originator_id is None else
                 f"originator {self.originator_id}, version {self.originator_version}"
                 + (f", a {self.event_type} event" if self.event_type else ""))
        return (f"{self.service}: chain broken at notification {self.notification_id} "
                f"({event}): {self.kind}: {self.detail}")


@dataclass(frozen=True, slots=True)
class Head:
    """The last event of an intact chain: what the relay publishes."""

    notification_id: int
    seq: int
    hash: bytes


class PublishedHead(BaseModel):
    """The message on `AUDIT_TOPIC` (keyed by service): the service's chain, up to
    `notification_id` at chain position `chain_seq`, ends in `hash`. Whoever keeps these
    messages can later check the store still has that hash there (`yrkesresan audit verify
    --against-bus`): rewriting or cutting off history already published then shows."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    service: str
    notification_id: int
    chain_seq: int
    hash: Annotated[str, Field(pattern="^[0-9a-f]{64}$")]
    published_at: AwareDatetime

    @classmethod
    def of(cls, service: str, head: Head, now: dt.datetime | None = None) -> PublishedHead:
        return cls(service=service, notification_id=head.notification_id, chain_seq=head.seq,
                   hash=head.hash.hex(), published_at=now or dt.datetime.now(dt.UTC))


@dataclass(frozen=True, slots=True)
class Verdict:
    service: str
    events: int
    head: Head | None
    broken: Break | None = None

    @property
    def intact(self) -> bool:
        return self.broken is None


def walk(service: str, rows: Iterable[ChainedRow]) -> Verdict:
    """Follow the chain over `rows` (in notification order) to its head or its first break.

    At a break, the row after it tells what happened: if it continues the chain from the last
    good event, the breaking row was inserted; a chain position beyond the next one means
    events were removed before the row; otherwise the row itself was changed.
    """
    seq, prev = 0, GENESIS
    head: Head | None = None
    pending = _lookahead(rows)
    for row, after in pending:
        if row.follows(seq + 1, prev):
            seq, prev = seq + 1, row.chain_hash or GENESIS
            head = Head(row.notification_id, seq, prev)
            continue
        return Verdict(service, seq, head, _diagnose(service, row, after, seq, prev, head))
    return Verdict(service, seq, head)


def _diagnose(service: str, row: ChainedRow, after: ChainedRow | None, seq: int, prev: bytes,
              head: Head | None) -> Break:
    since = f"after notification {head.notification_id}" if head else "at the start"

    def broken(kind: Kind, detail: str) -> Break:
        return Break(service, row.notification_id, str(row.originator_id),
                     row.originator_version, kind, detail, row.event_type)

    if after is not None and after.follows(seq + 1, prev):
        return broken("inserted", f"this event is not in the chain; notification "
                      f"{after.notification_id} continues it {since}")
    if row.chain_seq is not None and row.chain_seq > seq + 1:
        missing = row.chain_seq - seq - 1
        return broken("removed", f"{missing} event(s) removed before it, {since} "
                      f"(chain positions {seq + 1}-{row.chain_seq - 1} are gone)")
    if row.chain_seq is None or row.chain_seq <= seq:
        return broken("inserted", f"chain position {row.chain_seq} is not the next one "
                      f"({seq + 1}) {since}")
    return broken("changed", "its content no longer matches the hash recorded with it")


def _lookahead(rows: Iterable[ChainedRow]) -> Iterator[tuple[ChainedRow, ChainedRow | None]]:
    it = iter(rows)
    current = next(it, None)
    while current is not None:
        following = next(it, None)
        yield current, following
        current = following


class ChainSource(Protocol):
    """A store's recorder, as the chain reads it (`shared.platform.store`'s recorders)."""

    def select_chain(self, after: int, limit: int) -> list[ChainedRow]: ...

    def chain_head(self, upto: int) -> Head | None: ...


def chained_rows(source: ChainSource, page: int = 5000) -> Iterator[ChainedRow]:
    """Every stored event with its chain columns, in notification order, a page at a time."""
    after = 0
    while rows := source.select_chain(after, page):
        yield from rows
        after = rows[-1].notification_id


def verify(service: str, source: ChainSource) -> Verdict:
    """Walk one store's whole chain: its head, or the first event where it breaks."""
    return walk(service, chained_rows(source))


def hold_to(source: ChainSource, heads: Iterable[PublishedHead]) -> Break | None:
    """The first published head (by chain position) the store no longer has: an event it
    named was removed, or the chain up to it was rewritten (hashes computed anew)."""
    for head in sorted(heads, key=lambda h: h.chain_seq):
        rows = source.select_chain(head.notification_id - 1, 1)
        row = rows[0] if rows else None
        when = f"published as chain head at {head.published_at.isoformat()}"
        if row is None or row.notification_id != head.notification_id:
            return Break(head.service, head.notification_id, None, None, "removed",
                         f"this event, {when}, is no longer in the store")
        if row.chain_seq != head.chain_seq or (row.chain_hash or b"").hex() != head.hash:
            return Break(head.service, row.notification_id, str(row.originator_id),
                         row.originator_version, "changed",
                         f"the chain up to here differs from the head {when}: history "
                         "was rewritten", row.event_type)
    return None
