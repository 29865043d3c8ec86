"""Consumer base: applies contract envelopes exactly once to a read model.

Every applied envelope is recorded (its id and a sequence number, and the envelope itself until
a snapshot covers it) in the same transaction as its effect, so a redelivered event changes
nothing, and a projection restores its in-memory fold from its own database without the broker
(which may come back empty): from its latest snapshot and the envelopes applied after it
(ADR 0020). The ids are kept for a bounded window; what is older than the window and comes
again (a broker that came back empty and got everything re-published) is refused by the folds'
own idempotence (`shared.projections`) and the read models' upserts. Offsets are
committed after the transaction. A message that is not a valid envelope goes to the dead-letter
topic with the reason, and the consumer goes on.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import io
import logging
import math
import os
import pickle
import struct
import tempfile
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import orjson
import psycopg
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, NoOffsetForPartitionError, OffsetOutOfRangeError
from kafka.structs import OffsetAndMetadata

from shared.events import (
    DEADLETTER_TOPIC,
    ContractError,
    Envelope,
    UnknownEventType,
    parse_envelope,
)
from shared.platform.db import Cursor, Database
from shared.platform.fold_pickle import dump_fold
from shared.platform.lease import Lease, LeaseLost, stand_by_until_leased
from shared.platform.observability import (
    CONSUMER_LAG,
    EVENTS_APPLIED,
    EVENTS_DEADLETTERED,
    EVENTS_DUPLICATE,
    EVENTS_UNKNOWN_TYPE,
)
from shared.platform.settings import current_settings

log = logging.getLogger(__name__)

APPLIED_COLUMNS = ("consumer", "event_id", "seq", "envelope")


class Projector(Protocol):
    """A read model fed by envelopes. `apply` writes through the cursor it is given."""

    name: str
    topics: Sequence[str]
    tables: Sequence[str]
    """The tables it writes (created by its service's migrations), for a rebuild to wipe."""

    def reset(self) -> None: ...

    def load(self, envelopes: Iterable[Envelope]) -> None: ...

    def apply(self, cur: Cursor, env: Envelope) -> None: ...

    # Optional: `loaded_from`, the event types whose envelopes `load` learns from (a projector
    # restored from its applied log, not a snapshot: the regions' router); the applied log keeps
    # the bodies of those only, for good, and the window's ids (`AppliedLog.forget_ids`): its
    # tables must refuse an older envelope that comes again.
    #
    # Optional, for a rebuild from scratch (`ProjectionRunner.start_rebuild`): `defer_writes()`
    # makes `apply_many` fold only, keeping what it touched, and `write_deferred(cur)` writes
    # those rows once at the end; the rows depend on the fold's end state, not on the batches.
    #
    # Optional, for a rebuild from scratch of a projector whose applied log is written batch
    # by batch (`AppliedLog.stream`): `prepare_many(envelopes)` folds a batch and returns the
    # rows it decided, reading the database only through its own connections (what it wrote
    # is in the database or in the batches it prepared last), and `write_prepared(cur, rows)`
    # writes them. The runner writes a batch on a thread of its own while the next is folded
    # (`ProjectionRunner._apply_ahead`).


def _setting(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _uuid_text(number: int) -> str:
    """`str(uuid.UUID(int=number))` without the UUID object, a third of its time: a rebuild
    writes its window of ids (100,000 by default) for every projection."""
    h = f"{number:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class _Window:
    """The ids of the last `size` envelopes a rebuild applied, in the order applied, as their
    integers: a set and a queue hold them in about a third of the memory of an ordered mapping
    of their text to their numbers, which follow from the order (the last is `seq`)."""

    __slots__ = ("ids", "order", "size")

    def __init__(self, size: int) -> None:
        self.ids: set[int] = set()
        self.order: deque[int] = deque()
        self.size = size

    def add(self, key: int) -> None:
        """One more id applied (never one held: `fresh` leaves those out)."""
        self.ids.add(key)
        self.order.append(key)
        if len(self.order) > self.size:
            self.ids.discard(self.order.popleft())

    def extend(self, keys: list[int]) -> None:
        """Ids applied, in order, each new (`fresh`): as `add` of each, without a call per id
        (a rebuild adds every envelope to each projection's window)."""
        self.ids.update(keys)
        order = self.order
        order.extend(keys)
        excess = len(order) - self.size
        if excess > 0:
            popleft, discard = order.popleft, self.ids.discard
            for _ in range(excess):
                discard(popleft())


def envelope_text(env: Envelope) -> tuple[str, str]:
    """An envelope's id and JSON as text, as the logs that keep envelopes write them."""
    return str(env.id), env.to_json().decode()


class AppliedLog:
    """What a projector applied, in its own database: each envelope's id with a sequence
    number, and the envelope itself until a snapshot covers it. Ids older than the last
    `window` are forgotten at each snapshot. A projector restored from its applied log rather
    than a snapshot (the regions' router) keeps whole, for good, the envelopes of the types it
    learns from (`kept_types`: its state), and of the others only the window's ids, as the
    rest do (`forget_ids`)."""

    def __init__(self, db: Database, consumer: str, *, keeps_envelopes: bool = True,
                 kept_types: frozenset[str] | None = None) -> None:
        self.db = db
        self.consumer = consumer
        self.keeps_envelopes = keeps_envelopes
        self.kept_types = kept_types
        """Where not None, the event types whose envelopes are kept (the others: their ids
        only): what the projector's `load` learns from (`loaded_from`)."""
        self.window = _setting("YRKESRESAN_APPLIED_WINDOW", 100_000)
        self.seq: int | None = None
        self.deferred: _Window | None = None
        """During a rebuild from scratch (`defer`): the last `window` ids applied, written
        once at its end (`write_deferred`) instead of row by row."""
        self.streaming: _Window | None = None
        """During a rebuild from scratch of a log that keeps every envelope (`stream`): the
        last `window` ids applied, so that `fresh` asks the database nothing."""
        self.recorded: dict[int, tuple[Envelope, str, str | None]] = {}
        """The batch `record_many` streamed last, by each envelope's identity: the envelope,
        its id as text and its JSON (`recorded_text`)."""
        self._trimmed = 0
        """Up to where `forget_ids` dropped the ids without a body (0: not yet, in this
        process), so that each trim reads only the rows since the last one."""

    def defer(self) -> None:
        """A rebuild from scratch begins (the log is empty): number what is applied and keep
        only the window's ids in memory, for `write_deferred` at the end. Nothing applied
        before can come again, so `fresh` asks the database nothing."""
        self.seq = 0
        self.deferred = _Window(self.window)

    def stream(self) -> None:
        """A rebuild from scratch begins (the log is empty) for a projector restored from the
        envelopes it applied (no snapshot: the regions'): every envelope is still recorded
        with its body, batch by batch, but what this rebuild applied is known in memory (the
        window of ids, as `defer` keeps), so `fresh` asks the database nothing and
        `record_many` writes by COPY, with no `ON CONFLICT` to check against a log that holds
        only this rebuild's rows. Until `resume`."""
        self.seq = 0
        self.streaming = _Window(self.window)
        self._trimmed = 0

    @property
    def from_scratch(self) -> bool:
        """Whether a rebuild from scratch is under way (`defer` or `stream`): every envelope
        applied is new to the projector's tables, which held nothing when it began."""
        return self.deferred is not None or self.streaming is not None

    def write_deferred(self, cur: Cursor) -> None:
        """The window of ids a rebuild kept in memory, into the log (no envelopes: the
        snapshot written with them covers everything)."""
        assert self.deferred is not None
        self._copy_window(cur, self.deferred, set())
        self.deferred = None

    def _copy_window(self, cur: Cursor, window: _Window, written: set[int]) -> None:
        """The window's ids by COPY, numbered on to `seq`, but for the numbers `written`."""
        assert self.seq is not None
        first = self.seq - len(window.order) + 1  # the window's numbers run on to seq
        cur.copy_rows("applied_events", ("consumer", "event_id", "seq"),
                      ((self.consumer, _uuid_text(key), first + i)
                       for i, key in enumerate(window.order) if first + i not in written))

    def write_window(self, cur: Cursor) -> None:
        """The end of a streaming rebuild (`stream`): the ids of the window that it did not
        write with a body (`stage_many`), so that the log holds what a consumer's would after
        `forget_ids`: every body it keeps, and the last `window` ids."""
        assert self.streaming is not None and self.seq is not None
        written = {int(seq) for (seq,) in cur.execute(
            "SELECT seq FROM applied_events WHERE consumer = %s AND seq > %s",
            (self.consumer, self.seq - len(self.streaming.order)))}
        self._copy_window(cur, self.streaming, written)
        self._trimmed = max(self._trimmed, self.seq - self.window)  # nothing older to trim

    def _remember(self, envelopes: Iterable[Envelope]) -> None:
        assert self.deferred is not None and self.seq is not None
        keys = [env.id.int for env in envelopes]
        self.deferred.extend(keys)
        self.seq += len(keys)

    def last_seq(self) -> int:
        """The sequence number of the last envelope applied (0 for none): an index lookup."""
        rows = self.db.execute(
            "SELECT max(seq) FROM applied_events WHERE consumer = %s", (self.consumer,))
        return int(rows[0][0] or 0)

    def resume(self) -> int:
        self.streaming = None  # what the database holds is the truth again
        self.seq = self.last_seq()
        return self.seq

    def _next(self) -> int:
        if self.seq is None:
            self.resume()
        assert self.seq is not None
        self.seq += 1
        return self.seq

    def _body(self, env: Envelope) -> str | None:
        if not self.keeps_envelopes or (self.kept_types is not None
                                        and env.type not in self.kept_types):
            return None
        return env.to_json().decode()

    def record(self, cur: Cursor, env: Envelope) -> bool:
        """Record the envelope; False when it was applied before (within the window)."""
        if self.deferred is not None:
            if env.id.int in self.deferred.ids:
                return False
            self._remember((env,))
            return True
        if self.streaming is not None:
            if env.id.int in self.streaming.ids:
                return False
            self.record_many(cur, (env,))
            return True
        seq = self._next()
        cur.execute(
            "INSERT INTO applied_events (consumer, event_id, seq, envelope) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (consumer, event_id) DO NOTHING",
            (self.consumer, str(env.id), seq, self._body(env)))
        if cur.rowcount == 1:
            return True
        assert self.seq is not None
        self.seq -= 1
        return False

    def record_many(self, cur: Cursor, envelopes: Sequence[Envelope]) -> None:
        """Record envelopes known to be new (`fresh`)."""
        if self.deferred is not None:
            self._remember(envelopes)
            return
        if self.streaming is not None:
            cur.copy_rows("applied_events", APPLIED_COLUMNS, self.stage_many(envelopes))
            return
        cur.insert_rows(
            "applied_events", APPLIED_COLUMNS,
            [(self.consumer, str(env.id), self._next(), self._body(env)) for env in envelopes],
            key=("consumer", "event_id"))

    def stage_many(self, envelopes: Sequence[Envelope]) -> list[tuple[Any, ...]]:
        """In a rebuild from scratch (`defer`, `stream`): number envelopes known to be new
        and take them into the window; the rows of the log a streaming rebuild writes with
        their batch (`APPLIED_COLUMNS`): those it keeps whole. The ids without a body are
        written at the end, the window's only (`write_window`): the rest would be trimmed
        (`forget_ids`); one that writes its window at its end (`defer`) gets none."""
        if self.deferred is not None:
            self._remember(envelopes)
            return []
        assert self.streaming is not None
        seq, keys, rows, recorded = self.seq or 0, [], [], {}
        for env in envelopes:
            seq += 1
            keys.append(env.id.int)
            text, body = str(env.id), self._body(env)
            recorded[id(env)] = (env, text, body)
            if body is not None:
                rows.append((self.consumer, text, seq, body))
        self.streaming.extend(keys)
        self.recorded = recorded
        self.seq = seq
        return rows

    def recorded_text(self, env: Envelope) -> tuple[str, str]:
        """An envelope's id and JSON as text: as the last batch streamed made them (a
        projector that writes them again, the regions' log, need not make them twice: a
        Struct's JSON is made afresh at each call), else made now."""
        held = self.recorded.get(id(env))
        if held is not None and held[0] is env and held[2] is not None:
            return held[1], held[2]
        return envelope_text(env)

    def fresh(self, envelopes: Sequence[Envelope]) -> list[Envelope]:
        """The envelopes not applied before (within the window), each once."""
        window = self.deferred if self.deferred is not None else self.streaming
        if window is not None:  # a rebuild from scratch: only its own window to ask
            recent, unique = window.ids, dict[int, Envelope]()
            for env in envelopes:
                number = env.id.int
                if number not in recent:
                    unique.setdefault(number, env)
            return list(unique.values())
        ids = list(dict.fromkeys(str(env.id) for env in envelopes))
        seen = {r[0] for r in self.db.execute_among(
            "SELECT event_id FROM applied_events WHERE consumer = %s AND event_id {among}",
            (self.consumer,), ids)}
        fresh = []
        for env in envelopes:
            key = str(env.id)
            if key not in seen:
                seen.add(key)
                fresh.append(env)
        return fresh

    def envelopes(self, after: int = 0, page: int = 5000) -> Iterator[Envelope]:
        """The envelopes kept (those no snapshot covers yet), in the order applied."""
        while True:
            rows = self.db.execute(
                "SELECT seq, envelope FROM applied_events WHERE consumer = %s AND seq > %s "
                "AND envelope IS NOT NULL ORDER BY seq LIMIT %s", (self.consumer, after, page))
            for _, body in rows:
                yield parse_envelope(body)
            if len(rows) < page:
                return
            after = int(rows[-1][0])

    def forget(self, cur: Cursor, covered: int) -> None:
        """A snapshot covers everything up to `covered`: drop those envelopes, and the ids
        that fell out of the window."""
        cur.execute("UPDATE applied_events SET envelope = NULL WHERE consumer = %s "
                    "AND seq <= %s AND envelope IS NOT NULL", (self.consumer, covered))
        cur.execute("DELETE FROM applied_events WHERE consumer = %s AND seq <= %s",
                    (self.consumer, covered - self.window))

    def forget_ids(self, covered: int, slice: int = 1_000_000) -> None:
        """For a log whose bodies are its projector's state (no snapshot: `kept_types`): drop
        the ids without a body that fell out of the window by `covered`. What is older and
        comes again (a broker that came back empty, everything re-published) is refused by the
        projector's tables (the regions' log holds each event once per region), as the folds
        refuse it for the projections that keep a snapshot. Every body stays. A transaction
        for each `slice` of numbers: the first trim of a log that kept every id (before
        2026-12-03; 16 million at national size) is not one long transaction."""
        below = covered - self.window
        while self._trimmed < below:
            upto = min(below, self._trimmed + slice)
            with self.db.transaction() as cur:
                cur.execute("DELETE FROM applied_events WHERE consumer = %s AND seq > %s "
                            "AND seq <= %s AND envelope IS NULL",
                            (self.consumer, self._trimmed, upto))
            self._trimmed = upto

    def count(self) -> int:
        """How many envelopes were applied, ever (the last sequence number)."""
        return self.last_seq()


@dataclass(frozen=True)
class Snapshot:
    fold_version: str
    seq: int
    state: Any


_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
"""The signature of PostgreSQL's binary COPY format, no flags, no header extension."""


class Snapshots:
    """A projector's in-memory fold as of a sequence number of its applied log, pickled,
    with the version of the code that folded it (`fold_version`)."""

    def __init__(self, db: Database, consumer: str) -> None:
        self.db = db
        self.consumer = consumer

    def head(self) -> tuple[str, int] | None:
        """The snapshot's fold version and sequence number, without its state: one of another
        version (hundreds of MB at national size) is never read."""
        rows = self.db.execute("SELECT fold_version, seq FROM projection_snapshots "
                               "WHERE consumer = %s", (self.consumer,))
        return (str(rows[0][0]), int(rows[0][1])) if rows else None

    def state(self, version: str, seq: int) -> bytes | None:
        """The compressed fold of the snapshot `head` gave; None if it was replaced since."""
        rows = self.db.execute("SELECT state FROM projection_snapshots WHERE consumer = %s "
                               "AND fold_version = %s AND seq = %s",
                               (self.consumer, version, seq), binary=True)
        return bytes(rows[0][0]) if rows else None

    def save(self, cur: Cursor, version: str, seq: int, state: bytes | Spooled) -> None:
        """Replace the projector's snapshot. A spooled one (`_Deflating`) is streamed into
        PostgreSQL from its file by a binary COPY of the one row, so that it is never held in
        memory whole; SQLite (the embedded default, small) binds it as one value."""
        if isinstance(state, bytes) or cur.is_sqlite:
            value = state if isinstance(state, bytes) else b"".join(state.chunks())
            cur.execute(
                "INSERT INTO projection_snapshots (consumer, fold_version, seq, state) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (consumer) DO UPDATE SET "
                "fold_version = excluded.fold_version, seq = excluded.seq, "
                "state = excluded.state", (self.consumer, version, seq, value))
            return
        self.drop(cur)
        consumer, folded = self.consumer.encode(), version.encode()
        row = (_COPY_HEADER + struct.pack("!h", 4)
               + struct.pack("!i", len(consumer)) + consumer
               + struct.pack("!i", len(folded)) + folded
               + struct.pack("!iq", 8, seq) + struct.pack("!i", state.size))
        cur.copy_raw("COPY projection_snapshots (consumer, fold_version, seq, state) "
                     "FROM STDIN (FORMAT BINARY)",
                     (row, *state.chunks(), struct.pack("!h", -1)))

    def drop(self, cur: Cursor) -> None:
        cur.execute("DELETE FROM projection_snapshots WHERE consumer = %s", (self.consumer,))


class StorePositions:
    """How far the last rebuild read each service's store for a projector (the last
    notification id of each): what is at or below them the projector has applied (a rebuild
    feeds every store to its end), so the next rebuild reads only what came after. Wiped with
    the projector (`ProjectionRunner.start_rebuild`); without them a rebuild reads everything,
    and its applied ids and the folds' idempotence keep it from counting anything twice."""

    def __init__(self, db: Database, consumer: str) -> None:
        self.db = db
        self.consumer = consumer

    def load(self) -> dict[str, int]:
        return {str(store): int(position) for store, position in self.db.execute(
            "SELECT store, position FROM rebuild_positions WHERE consumer = %s",
            (self.consumer,))}

    def save(self, positions: dict[str, int]) -> None:
        with self.db.transaction() as cur:
            self.drop(cur)
            cur.executemany(
                "INSERT INTO rebuild_positions (consumer, store, position) VALUES (%s, %s, %s)",
                [(self.consumer, store, position) for store, position in positions.items()])

    def drop(self, cur: Cursor) -> None:
        cur.execute("DELETE FROM rebuild_positions WHERE consumer = %s", (self.consumer,))


def fold_version(projector: Any) -> str:
    """The version of the code that folds a projector's state: a hash of the rules
    (`shared/projections`) and of the projector's own module and its siblings (and its
    service's `domain.py`). A snapshot of another version is never loaded."""
    own = getattr(projector, "fold_source", None) or type(projector).__module__
    module = Path(__import__(own, fromlist=["_"]).__file__ or "")
    files = {*Path(__file__).parents[1].joinpath("projections").glob("*.py"),
             *module.parent.glob("*.py")}
    domain = module.parent.parent / "domain.py"
    if domain.exists():
        files.add(domain)
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off for the block (as it was before, after it): a fold pickled
    or unpickled, a rebuild's or an import's batches make millions of objects and little
    garbage, and the collector's passes over them took three quarters of a restore's time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Deflating:
    """A file that pickle writes a fold into, compressed as it comes (what `zlib.compress`
    of the whole would give), spooled to a temporary file: neither the fold's uncompressed
    pickle (a third of its size in memory) nor the compressed one is ever held whole. Over the
    dashboard's fold of a 1,620,789-event log the compressed pieces were 41 MB, and joining
    them, then binding them to the statement (psycopg's copy and libpq's), held them three
    times more: 4 x 41 MB of a rebuild's end, about 1.6 GB at national size."""

    def __init__(self) -> None:
        self._zlib = zlib.compressobj(1)
        self._file = tempfile.TemporaryFile(prefix="yrkesresan-snapshot-")
        self._size = 0

    def write(self, data: bytes) -> int:
        self._put(self._zlib.compress(data))
        return len(data)

    def _put(self, compressed: bytes) -> None:
        self._file.write(compressed)
        self._size += len(compressed)

    def finish(self) -> Spooled:
        self._put(self._zlib.flush())
        self._file.seek(0)
        return Spooled(self._file, self._size)


@dataclass(frozen=True)
class Spooled:
    """A pickled fold, compressed, in a temporary file (`_Deflating`); closed once saved."""

    file: IO[bytes]
    size: int

    def chunks(self, size: int = 1 << 20) -> Iterator[bytes]:
        self.file.seek(0)
        while chunk := self.file.read(size):
            yield chunk

    def close(self) -> None:
        self.file.close()


_INFLATED_CHUNK = 1 << 20


class _Inflating(io.RawIOBase):
    """A snapshot's compressed fold, read as the pickle it holds, inflated a chunk at a time
    (what `zlib.decompress` gives at once)."""

    def __init__(self, compressed: bytes) -> None:
        self._source = memoryview(compressed)
        self._at = 0
        self._zlib = zlib.decompressobj()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = len(buffer)
        while not self._pending:
            tail = self._zlib.unconsumed_tail
            if tail:
                self._pending = self._zlib.decompress(tail, size)
            elif self._at < len(self._source):
                chunk = self._source[self._at:self._at + _INFLATED_CHUNK]
                self._at += len(chunk)
                self._pending = self._zlib.decompress(chunk, size)
            else:
                self._pending = self._zlib.flush()
                if not self._pending:
                    return 0
        count = min(size, len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


class SnapshotOutdated(RuntimeError):
    """The snapshot was folded by other code, and the envelopes before it are gone."""


REBUILDING = "rebuilding"
"""The fold version of the mark a rebuild from scratch leaves until it ends: a consumer that
finds it (the rebuild stopped half-way) rebuilds again rather than trust a partial fold."""
SESSION_TIMEOUT_MS = 6000
"""The group session: a member that stops heartbeating is dropped after it (KAFKA.md)."""
HANDOVER_SECONDS = 2.0
"""How long a consumer that has just taken its lease waits before joining the group: the
instance that held the lease until a database restart notices its loss at its next check
(every second, between batches) and leaves; joining while it was still a member left the
group with part of its partitions on the local broker, and rejoining did not mend it."""
STUCK_GROUP_SECONDS = float(os.environ.get("YRKESRESAN_STUCK_GROUP_SECONDS", "30"))
"""How long a consumer holding its lease accepts a group that lacks some of its partitions,
or refuses its commits, before it leaves and joins afresh (EnvelopeConsumer._consume)."""


class ProjectionRunner:
    """Applies envelopes to one projector; used by the Kafka consumer and by rebuilds.

    A projector that keeps a fold in memory (`snapshot_state` and `restore_state`) gets a
    snapshot every `YRKESRESAN_SNAPSHOT_EVERY` envelopes (at most every
    `YRKESRESAN_SNAPSHOT_SECONDS`), and its applied log keeps only what came after it. A
    projector whose state is its tables keeps no envelopes at all (`CopyRunner`); one that
    has neither is restored from every envelope it applied, as before.
    """

    keeps_envelopes = True

    def __init__(self, projector: Projector, db: Database) -> None:
        self.projector = projector
        self.db = db
        self.snapshots_kept = hasattr(projector, "snapshot_state")
        self.applied = AppliedLog(db, projector.name, keeps_envelopes=self.keeps_envelopes,
                                  kept_types=getattr(projector, "loaded_from", None))
        self.snapshots = Snapshots(db, projector.name)
        self.positions = StorePositions(db, projector.name)
        self.every = _setting("YRKESRESAN_SNAPSHOT_EVERY", 20_000)
        self.min_seconds = _setting("YRKESRESAN_SNAPSHOT_SECONDS", 30)
        self.history: Callable[[], Iterable[Envelope]] | None = None
        """Every envelope from the source of truth (the services' stores), for when a snapshot
        of another fold version must be replaced; set by the process that runs the consumer."""
        self._covered = 0
        self._snapshot_at = 0.0
        self.version = fold_version(projector)
        """The version of the code that folds the projector's state, taken when the runner is
        made, from the code this process runs: taken when first needed (a rebuild's end), it
        read the files as they were then, and a national rebuild that ran while the checkout was
        updated under it labelled a fold of the old code with the new code's version (its next
        rebuild restored that fold rather than start afresh)."""
        self.owner: Any = None
        """What made this runner and holds its connections (a service bootstrapped for it),
        closed with it (`close`)."""
        self._writer: ThreadPoolExecutor | None = None
        self._writing: Future[None] | None = None

    def close(self) -> None:
        """Close what made this runner (its service's store and databases), now and on this
        thread: left to the collector, an application in a reference cycle was sometimes
        freed on one of its own pool's threads, which cannot join itself ("Exception ignored
        in Application.__del__ ... cannot join current thread" at the end of a rebuild)."""
        self.stop_writing()
        owner, self.owner = self.owner, None
        if owner is not None:
            owner.close()

    def restore(self) -> None:
        """Bring the in-memory fold to what this projector applied before: its snapshot, and
        the envelopes applied after it."""
        self.projector.reset()
        self.applied.resume()
        self._covered = 0
        held = self.snapshots.head()
        if held is not None and held[0] == REBUILDING:
            self._replace_outdated(REBUILDING)
            return
        if not self.keeps_envelopes:
            self.projector.load(())
            return
        if not self.snapshots_kept:
            held = None
        if held is not None and held[1] > (self.applied.seq or 0):
            held = None  # the log was wiped after it (a rebuild from scratch): not ours any more
        if held is not None:
            version, seq = held
            if version != self.version:
                self._replace_outdated(version)
                return
            state = self.snapshots.state(version, seq)
            if state is None:  # written anew since `head`
                self.restore()
                return
            if gc.get_freeze_count():  # a fold restored before (a batch rolled back): what
                gc.unfreeze()  # is left of it (its cycles) is collected, not frozen again
                gc.collect()
            with collector_paused():
                # inflated as the unpickler reads: the whole pickle beside the compressed one
                # and the fold was the restore's peak (the dashboard's at 30,000 participants:
                # 90 MiB of pickle for a 34 MiB snapshot)
                fold = pickle.load(io.BufferedReader(_Inflating(state), _INFLATED_CHUNK))
                del state
                # The fold lives as long as the process: frozen, no collection walks it (the
                # first, as the collector came back, was a fifth of certification's restore,
                # and each full one after it walked the whole fold again).
                gc.freeze()
            self.projector.restore_state(fold)  # type: ignore[attr-defined]
            self._covered = seq
        self.projector.load(self.applied.envelopes(after=self._covered))
        self._snapshot_at = time.monotonic()

    def _replace_outdated(self, version: str) -> None:
        if self.history is None:
            why = ("a rebuild of it stopped before its end" if version == REBUILDING else
                   f"its snapshot was folded by other code ({version}, this code "
                   f"{self.version})")
            raise SnapshotOutdated(
                f"{self.projector.name}: {why}; run `yrkesresan rebuild {self.projector.name}`")
        log.warning("fold changed: rebuilding from the stores",
                    extra={"consumer": self.projector.name, "snapshot": version,
                           "code": self.version})
        self.rebuild(self.history())

    @property
    def rebuilds_fast(self) -> bool:
        """Whether a rebuild from scratch may keep only the window of ids (its state at the end
        is in its tables or its snapshot), rather than every envelope applied."""
        return self.snapshots_kept or not self.keeps_envelopes

    def start_rebuild(self) -> None:
        """Wipe the projector's tables, applied log and snapshot, leaving the mark of a rebuild
        under way; what `apply_batch` applies from here on records its ids in memory only, and
        `finish_rebuild` writes the window of them with the snapshot."""
        with self.db.transaction() as cur:
            for table in self.projector.tables:
                cur.execute(f"DELETE FROM {table}")
            cur.execute("DELETE FROM applied_events WHERE consumer = %s", (self.projector.name,))
            self.snapshots.drop(cur)
            self.positions.drop(cur)
            if self.rebuilds_fast:
                self.snapshots.save(cur, REBUILDING, 0, b"")
        self.projector.reset()
        self._covered = 0
        if self.rebuilds_fast:
            self.applied.defer()
            defer_writes = getattr(self.projector, "defer_writes", None)
            if defer_writes is not None:
                defer_writes()
        else:
            self.applied.stream()

    def _apply_ahead(self, fresh: list[Envelope]) -> None:
        """A batch of a rebuild from scratch, for a projector that folds it apart from writing
        its rows (`prepare_many`, `write_prepared`): folded here, then written with its rows of
        the applied log in one transaction on the runner's writer thread, while the caller
        goes on to the next batch. One batch is written at a time, in order; the next waits
        for it (`written`), and a batch that failed fails the one after it, or the rebuild's
        end. The regions' rebuild had spent as long waiting on PostgreSQL as folding (over
        30,000 participants' 1,620,789 events, 74 s of its CPU and 102 s of the server's in
        172 s), one after the other."""
        try:
            rows = self.applied.stage_many(fresh)
            prepared = self.projector.prepare_many(fresh)  # type: ignore[attr-defined]
            self.written()
        except Exception:
            self.rolled_back()
            raise
        self.write_ahead(self._write_prepared, rows, prepared)

    def _write_prepared(self, cur: Cursor, rows: list[tuple[Any, ...]], prepared: Any) -> None:
        if rows:
            cur.copy_rows("applied_events", APPLIED_COLUMNS, rows)
        self.projector.write_prepared(cur, prepared)  # type: ignore[attr-defined]

    def write_ahead(self, write: Callable[..., None], *args: Any) -> None:
        """Run `write(cur, *args)` in a transaction on the runner's writer thread, after the
        batch written before it (which the caller has waited for: `written`)."""
        if self._writer is None:
            self._writer = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"write-{self.projector.name}")

        def transaction() -> None:
            with self.db.transaction() as cur:
                write(cur, *args)

        self._writing = self._writer.submit(transaction)

    def written(self) -> None:
        """Wait for the batch being written (`_apply_ahead`), raising what failed it."""
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.result()

    def stop_writing(self) -> None:
        """Wait for the batch being written, whatever becomes of it, and end the writer."""
        writing, self._writing = self._writing, None
        if writing is not None:
            wait([writing])
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.shutdown()

    def finish_rebuild(self) -> None:
        """The end of a rebuild: the rows a projector that defers its writes left for the end
        (each once, as its fold ended), the window of ids and the snapshot, in one
        transaction."""
        try:
            self.written()
        except Exception:
            self.rolled_back()
            raise
        self.stop_writing()
        if self.applied.deferred is None:
            if self.applied.streaming is not None:
                with self.db.transaction() as cur:
                    self.applied.write_window(cur)
            self.applied.streaming = None  # a live consumer's batches ask the database again
            self.applied.recorded = {}
            self.snapshot()
            return
        seq = self.applied.seq or 0
        with self.db.transaction() as cur:
            write_deferred = getattr(self.projector, "write_deferred", None)
            if write_deferred is not None:
                write_deferred(cur)
            state = self._pickled() if self.snapshots_kept else None
            if self.snapshots_kept and state is None:
                raise RuntimeError(f"{self.projector.name}: its fold cannot be pickled, and a "
                                   "rebuild keeps no envelopes to restore it from")
            self.applied.write_deferred(cur)
            if state is not None:
                with closing(state):
                    self.snapshots.save(cur, self.version, seq, state)
            else:
                self.snapshots.drop(cur)  # the mark
        self._covered = seq
        self._snapshot_at = time.monotonic()

    def rebuild(self, envelopes: Iterable[Envelope], batch: int = 5000) -> int:
        """Wipe the projector's tables, applied log and snapshot; apply `envelopes` afresh;
        end with a snapshot. Returns how many were applied."""
        self.start_rebuild()
        applied = 0
        pending: list[Envelope] = []
        for env in envelopes:
            pending.append(env)
            if len(pending) >= batch:
                applied += self.apply_batch(pending, snapshot=False)
                pending = []
        if pending:
            applied += self.apply_batch(pending, snapshot=False)
        self.finish_rebuild()
        return applied

    def _pickled(self) -> Spooled | None:
        deflating = _Deflating()
        try:
            with collector_paused():
                # without a memo entry for each object held once (`fold_pickle`): the
                # pickler's memo was 40% of the dashboard's fold again at a rebuild's end
                dump_fold(self.projector.snapshot_state(),  # type: ignore[attr-defined]
                          deflating)
                return deflating.finish()
        except (pickle.PicklingError, AttributeError, TypeError) as e:
            deflating.finish().close()
            log.warning("no snapshot: the fold cannot be pickled",
                        extra={"consumer": self.projector.name, "error": repr(e)})
            return None

    def rolled_back(self) -> None:
        """A batch's transaction rolled back: bring the fold back to what the database holds
        once the batch being written behind it has ended (in a rebuild from scratch, the
        rebuild fails instead: its mark stays)."""
        self.stop_writing()
        if self.applied.deferred is None:
            self.restore()

    def snapshot(self) -> None:
        """Write the fold as it stands, and forget what it covers."""
        seq = self.applied.seq or 0
        if not self.snapshots_kept:
            if not self.keeps_envelopes:  # only the window of ids to trim
                with self.db.transaction() as cur:
                    self.applied.forget(cur, seq)
            elif self.applied.kept_types is not None:  # its state: the bodies it keeps
                self.applied.forget_ids(seq)
            else:
                return
            self._covered = seq
            self._snapshot_at = time.monotonic()
            return
        state = self._pickled()
        if state is None:
            # A fold holding something pickle cannot take: restore from the whole log, as
            # before snapshots, rather than stop.
            self.snapshots_kept = False
            return
        with closing(state), self.db.transaction() as cur:
            self.snapshots.save(cur, self.version, seq, state)
            self.applied.forget(cur, seq)
        self._covered = seq
        self._snapshot_at = time.monotonic()

    def _snapshot_due(self) -> bool:
        return ((self.applied.seq or 0) - self._covered >= self.every
                and time.monotonic() - self._snapshot_at >= self.min_seconds)

    def apply_batch(self, envelopes: Sequence[Envelope], *, snapshot: bool = True) -> int:
        """Apply a batch in one transaction; return how many were new. A projector that can
        apply a batch at once (`apply_many`: each row it writes, once) is given the batch."""
        fresh = self.applied.fresh(envelopes)
        if self.applied.streaming is not None and hasattr(self.projector, "prepare_many"):
            self._apply_ahead(fresh)
            EVENTS_APPLIED.labels(self.projector.name).inc(len(fresh))
            EVENTS_DUPLICATE.labels(self.projector.name).inc(len(envelopes) - len(fresh))
            return len(fresh)
        try:
            with self.db.transaction() as cur:
                self.applied.record_many(cur, fresh)
                apply_many = getattr(self.projector, "apply_many", None)
                if apply_many is not None:
                    apply_many(cur, fresh)
                else:
                    for env in fresh:
                        self.projector.apply(cur, env)
        except Exception:
            self.rolled_back()  # the fold may hold part of a batch the database rolled back
            raise
        applied = len(fresh)
        EVENTS_APPLIED.labels(self.projector.name).inc(applied)
        EVENTS_DUPLICATE.labels(self.projector.name).inc(len(envelopes) - applied)
        if snapshot and self._snapshot_due():
            self.snapshot()
        return applied


def deadletter_value(record: Any, consumer: str, reason: str) -> bytes:
    raw: bytes = record.value or b""
    try:
        original: str = raw.decode()
        encoding = "utf-8"
    except UnicodeDecodeError:
        original, encoding = base64.b64encode(raw).decode(), "base64"
    return orjson.dumps({
        "reason": reason,
        "consumer": consumer,
        "source": {"topic": record.topic, "partition": record.partition, "offset": record.offset},
        "value": original,
        "value_encoding": encoding,
    })


def _cluster(consumer: Any) -> Any:
    """The metadata a kafka-python consumer holds (topic ids), or None."""
    return getattr(getattr(consumer, "_client", None), "cluster", None)


class EnvelopeConsumer:
    """A Kafka consumer group member feeding one projector."""

    def __init__(
        self,
        runner: ProjectionRunner,
        bootstrap: str,
        *,
        group_id: str | None = None,
        max_errors: int = 5,
        lease: bool = True,
    ) -> None:
        self.runner = runner
        self.bootstrap = bootstrap
        self.group_id = group_id or f"yrkesresan.{runner.projector.name}"
        self.max_errors = max_errors
        self.stopping = threading.Event()
        self.healthy = False
        # One working member per group, so that it has every partition (shared/platform/lease.py).
        self.lease = Lease(runner.db.url, f"consumer:{self.group_id}") if lease else None
        self.standing_by = False
        # Each assigned partition: the broker's id of its topic when its position was taken.
        self._incarnation: dict[TopicPartition, Any] = {}
        self._dlq: KafkaProducer | None = None

    def _consumer(self) -> KafkaConsumer:
        return KafkaConsumer(
            *self.runner.projector.topics,
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,
            client_id=f"{self.group_id}-{uuid.uuid4().hex[:6]}",
            enable_auto_commit=False,
            # No committed offset, or one out of range (the broker came back empty): we seek
            # to offset 0 ourselves (`_from_the_start`) rather than trust where the broker
            # says a log begins, which the local broker can get wrong after a restart.
            auto_offset_reset="none",
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=1500,
            max_poll_records=2000,
            fetch_max_wait_ms=current_settings().fetch_max_wait_ms,
            request_timeout_ms=30000,
            metadata_max_age_ms=10_000,  # a topic created again is seen within seconds
            # Topics are created with the partitions configured (ensure_topics, by the relays
            # and at start-up). A consumer asking for a topic a broker that came back empty
            # lacks would otherwise create it with the broker's default (4 on the local
            # broker, 3 configured); the relays then write to a partition the group had not
            # been assigned, and in the drills it stayed unassigned for minutes.
            allow_auto_create_topics=False,
        )

    def _deadletter(self, record: Any, reason: str) -> None:
        if self._dlq is None:
            self._dlq = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                      allow_auto_create_topics=False)
        self._dlq.send(DEADLETTER_TOPIC, key=record.key,
                       value=deadletter_value(record, self.runner.projector.name, reason))
        self._dlq.flush(timeout=30)
        EVENTS_DEADLETTERED.labels(self.runner.projector.name).inc()
        log.warning("message dead-lettered", extra={
            "topic": record.topic, "partition": record.partition, "offset": record.offset,
            "reason": reason})

    def process(self, records: Iterable[Any]) -> int:
        valid = []
        for record in records:
            try:
                valid.append(parse_envelope(record.value or b""))
            except UnknownEventType as e:  # a later minor version's type: skip, never poison
                EVENTS_UNKNOWN_TYPE.labels(self.runner.projector.name, e.type_name).inc()
            except ContractError as e:
                self._deadletter(record, str(e))
        return self.runner.apply_batch(valid)

    def run(self) -> None:
        """Stand by until this instance holds the group's lease, then consume. A lost lease
        (its database connection ended: a server restart) takes the consumer out of the
        group, and it stands by again, in the same process."""
        while not self.stopping.is_set():
            if not stand_by_until_leased(self):
                return
            if self.lease is not None:
                # The pool may have lived through a database outage and be waiting out its
                # reconnection backoff (seconds, doubling); the lease just showed that the
                # server answers, so work on fresh connections.
                self.runner.db.reset()
                if self.stopping.wait(HANDOVER_SECONDS):
                    return
            try:
                self._consume()
                return
            except LeaseLost:
                log.warning("lease lost; leaving the group to stand by",
                            extra={"group": self.group_id})
            except psycopg.OperationalError as e:
                if self.lease is None:
                    raise
                # The database went away before the lease check noticed (as the fold was
                # restored, or batch after batch): stand by again rather than exit.
                log.warning("database unavailable; standing by again",
                            extra={"group": self.group_id, "error": repr(e)})
            finally:
                if self.lease is not None:
                    self.lease.release()

    def _consume(self) -> None:
        started = time.monotonic()
        self.runner.restore()
        log.info("fold restored; joining the group", extra={
            "group": self.group_id, "seq": self.runner.applied.seq,
            "seconds": round(time.monotonic() - started, 3)})
        errors = 0
        consumer = self._consumer()
        partial_since: float | None = None
        refused_since: float | None = None  # commits refused since (a group rebalancing)
        try:
            while not self.stopping.is_set():
                if self.lease is not None:
                    self.lease.check()
                    partial_since = self._partial_since(consumer, partial_since)
                    stuck_since = min(t for t in (partial_since, refused_since, math.inf)
                                      if t is not None)
                    if time.monotonic() - stuck_since > STUCK_GROUP_SECONDS:
                        # The lease makes this the group's only member, so it should hold
                        # every partition of its topics. The local broker can leave a group
                        # rebalancing a partition that appeared under it (a topic created
                        # again with another partition count) for minutes; a member that
                        # joins afresh is given all of them at once.
                        log.warning("group holds part of its topics' partitions; joining afresh",
                                    extra={"group": self.group_id})
                        consumer.close()
                        # Our old member, and any other the broker still holds, is dropped
                        # once its session has passed: join after that, not beside it.
                        if self.stopping.wait(SESSION_TIMEOUT_MS / 1000 + 1):
                            return
                        consumer = self._consumer()
                        partial_since = refused_since = None
                        continue
                try:
                    batches = consumer.poll(timeout_ms=500)
                except (NoOffsetForPartitionError, OffsetOutOfRangeError) as e:
                    self._from_the_start(consumer, e.args[0] if e.args else ())
                    continue
                except KafkaError as e:
                    log.warning("poll failed; retrying", extra={"error": repr(e)})
                    self.stopping.wait(1)
                    continue
                # A position taken in a topic the broker has since created again means nothing
                # there: those partitions are read from the start, and what this poll fetched
                # from them at the old positions is left for that reading.
                stale = self._recreated(consumer)
                if stale:
                    log.warning("topics created again on the broker; reading them from the start",
                                extra={"topics": sorted({tp.topic for tp in stale})})
                    self._from_the_start(consumer, stale)
                records = [r for tp, batch in batches.items() if tp not in stale for r in batch]
                if records:
                    try:
                        self.process(records)
                    except Exception as e:
                        errors += 1
                        log.warning("batch not applied; it will be read again",
                                    extra={"error": repr(e), "errors_in_a_row": errors})
                        if errors >= self.max_errors:
                            raise
                        if isinstance(e, psycopg.OperationalError):
                            self.runner.db.reset()  # fresh connections, not a pool's backoff
                        self._rewind(consumer, records)
                        self.stopping.wait(min(2**errors * 0.1, 5))
                        continue
                    errors = 0
                    if self._commit(consumer, records):
                        refused_since = None
                    elif refused_since is None:
                        refused_since = time.monotonic()
                self.healthy = True
                self._update_lag(consumer)
        finally:
            consumer.close()
            if self._dlq is not None:
                self._dlq.close(timeout=1)

    @staticmethod
    def _partial_since(consumer: KafkaConsumer, since: float | None) -> float | None:
        """Since when the assignment has lacked a partition of a subscribed topic that the
        client's metadata knows (None while it holds them all)."""
        cluster = _cluster(consumer)
        if cluster is None:
            return None
        assigned = consumer.assignment()
        for topic in consumer.subscription() or ():
            for partition in cluster.partitions_for_topic(topic) or ():
                if TopicPartition(topic, partition) not in assigned:
                    return since if since is not None else time.monotonic()
        return None

    def _from_the_start(self, consumer: KafkaConsumer, partitions: Iterable[Any]) -> None:
        """Read these partitions from offset 0: what was applied before is skipped by id."""
        for tp in partitions:
            log.info("reading a partition from its start", extra={
                "topic": tp.topic, "partition": tp.partition})
            consumer.seek(tp, 0)
            # Offset 0 is right in any incarnation of the topic; its id is learned next poll.
            self._incarnation.pop(tp, None)

    def _recreated(self, consumer: KafkaConsumer) -> list[TopicPartition]:
        """The assigned partitions whose topic the broker now names by another id than when
        their position was taken (the broker lost the topic and it was created again).

        Checked per partition, against the id each position was taken under, so that a
        change seen while the group rebalances (no partitions assigned) is not lost: the
        client keeps a position across a rebalance for a partition it keeps. What is known
        of a partition not assigned now is kept: should it come back with a position the
        client kept, that position is checked; one taken from a committed offset since is
        read again from the start at worst."""
        cluster = _cluster(consumer)
        if cluster is None:
            return []
        stale = []
        for tp in consumer.assignment():
            now = cluster.topic_id(tp.topic)
            if now is None:
                continue
            known = self._incarnation.setdefault(tp, now)
            if known != now:
                stale.append(tp)
        return stale

    @staticmethod
    def _rewind(consumer: KafkaConsumer, records: Sequence[Any]) -> None:
        """Seek back to the first record of each partition: nothing of the batch was applied."""
        firsts: dict[tuple[str, int], int] = {}
        for r in records:
            key = (r.topic, r.partition)
            firsts[key] = min(firsts.get(key, r.offset), r.offset)
        for (topic, partition), offset in firsts.items():
            consumer.seek(TopicPartition(topic, partition), offset)

    @staticmethod
    def _commit(consumer: KafkaConsumer, records: Sequence[Any]) -> bool:
        """Commit past the records applied, for their partitions only. (Committing every
        assigned position would also commit positions of a topic created again that have not
        been moved back yet, and a member joining later would start there and skip what lies
        below them.)"""
        offsets: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            offsets[tp] = max(offsets.get(tp, 0), r.offset + 1)
        try:
            consumer.commit({tp: OffsetAndMetadata(offset, "", -1)
                             for tp, offset in offsets.items()})
        except KafkaError as e:
            # Applied already, with their ids: a redelivery after this changes nothing.
            log.warning("offset commit failed", extra={"error": repr(e)})
            return False
        return True

    def _update_lag(self, consumer: KafkaConsumer) -> None:
        lag = 0
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is not None:
                lag += max(0, high - consumer.position(tp))
        CONSUMER_LAG.labels(self.runner.projector.name).set(lag)

    def stop(self) -> None:
        self.stopping.set()
