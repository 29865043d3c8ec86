"""Reading the services' event stores as contract envelopes: for rebuilding a projection without
the broker, and for exporting a contract log (JSON Lines) that `yrkesresan replay` reads."""

from __future__ import annotations

import ctypes
import gc
import heapq
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, Protocol

import orjson
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from shared.events import Envelope, parse_envelope_dict
from shared.events.fast import DECODE_ERRORS, decode_envelope, fast_decoder
from shared.platform.consumer import ProjectionRunner, SnapshotOutdated, collector_paused
from shared.platform.relay import StoredRow, message_of, stored_envelope_fields, stored_row
from shared.platform.store import PydanticMapper, ServiceApplication
from yrkesresan.store_reader import StoreReader

BATCH = 10_000
"""Envelopes per transaction of a rebuild: each row a batch touches is written once."""


PAGE = 5_000
"""Stored events read per statement. The stores are merged, so a page of each is held at once:
a process that reads and parses the 162,545 events of a 21-region log and feeds nothing
peaked at 224 MB with pages of 20,000 (205 MB after its first batch, more as the stores'
pages filled up), at 160 MB with pages of 5,000 (159 MB over a 54,787-event log: it no longer
grows with the log)."""


def _notifications(app: ServiceApplication, page: int = PAGE, after: int = 0
                   ) -> Iterator[Any]:
    position: int | None = after or None
    while True:
        notes = app.recorder.select_notifications(
            start=position, limit=page, inclusive_of_start=position is None)
        if not notes:
            return
        yield from notes
        position = notes[-1].id


def store_envelopes(app: ServiceApplication, page: int = PAGE) -> Iterator[bytes]:
    """Every published event of one store, in the order recorded, as envelope JSON (the
    relay's bytes)."""
    for _, raw in _messages(app, page):
        yield raw


def _messages(app: ServiceApplication, page: int = PAGE) -> Iterator[tuple[str, bytes]]:
    """(recording time, the relay's bytes) of every published event of one store, read as
    `merged_read` reads it."""
    mapper = app.mapper
    assert isinstance(mapper, PydanticMapper)
    stream = app.service
    for position, originator, version, topic, state in _rows(app, page):
        made = stored_envelope_fields(mapper, stream, position, originator, version, topic,
                                      state)
        message = message_of(made)
        if message is not None:
            assert made is not None
            yield made[2]["recorded_at"], message[2]


def merged_envelopes(apps: Iterable[ServiceApplication]) -> Iterator[bytes]:
    """All stores merged by recording time (each store keeps its own order), as JSON: what
    `yrkesresan export` writes and `audit` reads (as `merged_read` merges them)."""

    def keyed(i: int, app: ServiceApplication) -> Iterator[tuple[str, int, bytes]]:
        for recorded_at, raw in _messages(app):
            yield recorded_at, i, raw

    for _, _, raw in heapq.merge(*(keyed(i, a) for i, a in enumerate(apps))):
        yield raw


def merged_parsed(apps: Iterable[ServiceApplication]) -> Iterator[Envelope]:
    """`merged_envelopes`, parsed as the consumers parse what the relays publish: the same
    envelopes in the same order (what rebuilds read; `merged_read` with their topics)."""
    for _, env in merged_read(apps):
        yield env


def _rows(app: ServiceApplication, page: int = PAGE, after: int = 0) -> Iterator[StoredRow]:
    """Every stored event of one store (after notification id `after`), in the order
    recorded, as plain rows. On PostgreSQL
    one statement per page of the five columns an envelope needs, in binary, as tuples:
    the library's `select_notifications` selects every column (the chain's too), as dicts
    in text (the state hex-encoded), and makes a `Notification` and a UUID of each row,
    which cost more than the rest of an envelope's reading together."""
    recorder = app.recorder
    if not isinstance(recorder, PostgresApplicationRecorder):  # SQLite: the library's read
        for note in _notifications(app, page, after):
            yield stored_row(note)
        return
    select = SQL("SELECT notification_id, originator_id::text, originator_version, topic, "
                 "state FROM {schema}.{table} WHERE notification_id > %s "
                 "ORDER BY notification_id LIMIT %s").format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name))
    position = after
    while True:
        with recorder.datastore.get_connection() as conn, conn.cursor(
                row_factory=tuple_row, binary=True) as curs:
            curs.execute(select, (position, page), prepare=True)
            rows: list[StoredRow] = curs.fetchall()
        if not rows:
            return
        yield from rows
        position = rows[-1][0]


Merged = tuple[str, int, str, dict[str, Any]]
"""An envelope's fields as a store yields them to the merge: its recording time, the store's
index, its topic, the fields."""


def merged_read(apps: Iterable[ServiceApplication], *, structs: bool = False,
                after: dict[str, int] | None = None, read: dict[str, int] | None = None
                ) -> Iterator[tuple[str, Any]]:
    """Every published event of every store, merged by recording time (each store keeps its
    own order), parsed as the consumers parse what the relays publish: (its topic, the
    envelope), each made from the fields the relay writes as JSON (`merged_fields`).

    pydantic's envelope is validated from those fields, not from their JSON: the stored state
    is already the JSON's values (`model_dump(mode="json")`), so encoding it to validate the
    bytes again cost twice the validation itself. With `structs` (what a rebuild feeds), the
    fields' JSON is decoded into the contract's msgspec Structs instead, as `yrkesresan replay`
    reads a log and the relay checks what it publishes (`shared.events.fast`): 6 against 8 us
    an envelope read over the 162,545-event log. The folds take either (replay feeds them
    Structs), a Struct's `to_json()` is pydantic's byte for byte, and the events whose data
    the projections keep as models (`KEPT_AS_MODELS`) stay pydantic's. A rebuild over
    PostgreSQL reads the same in a process of its own (`store_reader.StoreReader`).

    `after`: per store (by service), the notification id to read from (what follows it);
    `read`: filled with the last notification id read of each store, once it is read to its
    end (what a rebuild records in `StorePositions`)."""
    merged = merged_fields(apps, after=after, read=read)
    if not structs:
        for _, _, topic, fields in merged:
            yield topic, parse_envelope_dict(fields)
        return
    decode = fast_decoder()
    for _, _, topic, fields in merged:
        if fields["type"] in KEPT_AS_MODELS:
            yield topic, parse_envelope_dict(fields)
        else:
            yield topic, as_struct(decode, orjson.dumps(fields))


def merged_fields(apps: Iterable[ServiceApplication], *, after: dict[str, int] | None = None,
                  read: dict[str, int] | None = None) -> Iterator[Merged]:
    """Every published event of every store as the fields the relay writes as JSON
    (`stored_envelope_fields`), merged by recording time: `merged_read`'s, before parsing."""

    def keyed(i: int, app: ServiceApplication) -> Iterator[Merged]:
        mapper = app.mapper
        assert isinstance(mapper, PydanticMapper)
        stream = app.service
        first = position = (after or {}).get(stream, 0)
        for position, originator, version, topic, state in _rows(app, after=first):
            made = stored_envelope_fields(mapper, stream, position, originator, version,
                                          topic, state)
            if made is not None:
                fields = made[2]
                yield fields["recorded_at"], i, made[0], fields
        if read is not None:
            read[stream] = position

    # By recording time, then the stores' order, as a stable merge by time alone: the heap
    # holds one item of each store, so no two are ever equal to their topic and fields.
    return heapq.merge(*(keyed(i, a) for i, a in enumerate(apps)))


def as_struct(decode: Callable[[bytes], Any], raw: bytes) -> Any:
    """An envelope's JSON as the contract's Structs (`decode`: `fast_decoder()`), or as
    pydantic says it is not one."""
    try:
        return decode(raw)
    except DECODE_ERRORS:
        return decode_envelope(raw)  # pydantic's verdict, in its words


KEPT_AS_MODELS = frozenset({"CoursePublished", "PriceListSet"})
"""Event types a rebuild feeds as pydantic's envelopes, not Structs: the projections keep
their data as it came (certification's facts and the copies write a published course's
`model_dump`, the billing facts keep each price list's components and points, pickled with the
folds' snapshots): 27 of the 162,545 events of a 3,000-participant log."""


def export_log(apps: Iterable[ServiceApplication], out: IO[bytes]) -> int:
    count = 0
    for raw in merged_envelopes(apps):
        out.write(raw + b"\n")
        count += 1
    return count


def _start(runner: ProjectionRunner) -> bool:
    """Bring a runner to what it applied before; True when it starts from scratch (nothing
    applied yet, or a fold of other code or a rebuild that stopped half-way: wiped): then only
    its window of ids is recorded, at the end, with its snapshot."""
    try:
        runner.restore()
        if runner.applied.seq:
            return False
    except SnapshotOutdated:
        pass
    runner.start_rebuild()
    return True


def rebuild(runner: ProjectionRunner, apps: Iterable[ServiceApplication],
            batch: int = BATCH) -> int:
    """Feed a projection from the stores through the same runner the Kafka consumer uses;
    envelopes it already applied are skipped by id (and by its fold). A projection whose
    snapshot was folded by other code is wiped and rebuilt whole. Ends with a snapshot.
    Returns how many were new."""
    return dict(_feed({"one": runner}, apps, batch))["one"]


class RebuildProgress(Protocol):
    """What a rebuild tells of its progress (`rebuild_projections`): a national rebuild takes
    half an hour, in passes of minutes each, and its lines of what was applied come only at
    each projection's end."""

    def begun(self, names: list[str], total: int) -> None:
        """A pass begins: the projections it feeds, and how many stored events it reads at
        most (the stores' last notification ids past where it starts: an event the relays do
        not publish is not fed)."""

    def read(self, count: int) -> None:
        """`count` more envelopes of the pass fed to its projections."""

    def ending(self, name: str) -> None:
        """The stores are read; the end of `name` (its rows, window of ids, snapshot) is
        being written."""


def _feed(runners: dict[str, ProjectionRunner], apps: Iterable[ServiceApplication],
          batch: int, *, release: bool = False,
          reader: Callable[[], StoreReader] | None = None,
          progress: RebuildProgress | None = None) -> Iterator[tuple[str, int]]:
    """Read the stores once, feeding every runner each batch of the envelopes on its topics
    (what its consumer reads; the applied log of a rebuild holds nothing a live consumer would
    not), as the contract's msgspec Structs but for `KEPT_AS_MODELS` (`merged_read`); (name,
    events applied). With `release` (no caller keeps the runners), each fold is
    dropped once its end is written: a rebuild's peak is at the ends (the dashboard's recount
    of every cell, pickling a snapshot), and the folds already written need not be held
    through the next one's. With a `reader`, the stores (`apps`'s) are read in a process it
    starts: started before the runners' starts, which its own start overlaps, and ended once
    the stores are read, so that the ends, the peak, hold no reader beside them (about 180 MB
    at national size). `progress` is told how far the pass has come."""
    apps = list(apps)
    if reader is None:
        yield from _fed(runners, apps, batch, release, None, progress)
        return
    with reader() as started:  # ended here too if the pass fails before its read's end
        yield from _fed(runners, apps, batch, release, started, progress)


def _fed(runners: dict[str, ProjectionRunner], apps: list[ServiceApplication], batch: int,
         release: bool, reader: StoreReader | None,
         progress: RebuildProgress | None = None) -> Iterator[tuple[str, int]]:
    """`_feed`'s pass; the `reader` is closed once the stores are read."""
    scratch = {name for name, runner in runners.items() if _start(runner)}
    applied = dict.fromkeys(runners, 0)
    topics = {name: frozenset(runner.projector.topics) for name, runner in runners.items()}
    # Each store is read from where the runner that read least of it stopped at its last
    # rebuild (none for one rebuilt from scratch); a runner that read further is given only
    # what follows its own position. What came after is skipped by id or by the folds, as
    # before: a projection up to date reads only what was recorded since.
    floors = {name: {} if name in scratch else runner.positions.load()
              for name, runner in runners.items()}
    start = {app.service: min(floors[name].get(app.service, 0) for name in runners)
             for app in apps}
    ahead = {name: {store: at for store, at in floor.items() if at > start.get(store, 0)}
             for name, floor in floors.items()}
    read: dict[str, int] = {}
    if progress is not None:
        progress.begun(list(runners), sum(
            max(0, (app.recorder.max_notification_id() or 0) - start.get(app.service, 0))
            for app in apps))

    def feed(name: str, runner: ProjectionRunner, envelopes: list[tuple[str, Envelope]]) -> int:
        own = [env for topic, env in envelopes if topic in topics[name]]
        if ahead[name]:
            own = [env for env in own if not _read_before(env, ahead[name])]
        return runner.apply_batch(own, snapshot=False) if own else 0

    # The cycle collector is paused: the folds grow to millions of objects, and the
    # collector's full passes over them, every time they had grown by a quarter, were 28% of
    # a rebuild's CPU (36.2 -> 26.2 s of a 162k-event log with it off). A batch leaves next to
    # no cycles: collecting the young generations after each, as was done, found 297 objects
    # in all over the 162,545-event log's three passes and cost 0.85 s of CPU (walking each
    # batch's survivors, the folds' growth, once). What is left in cycles is collected at the
    # ends: the full pass after a dropped fold, or the young generations' after each end.
    #
    # Each runner applies its part of a batch in a thread of its own: a runner's batch is one
    # transaction on a connection of its own, and most of a rebuild's wall time was spent
    # waiting on PostgreSQL's side of those statements, one runner after another, while the
    # process's own core stood idle. Python runs one thread at a time, so the folds' work is
    # not shared out; what overlaps is one runner's wait with another's work. A runner gets
    # its batches one after the other, in order, so each applies the same envelopes in the
    # same order as before. The next batch is read once every runner is done with the last
    # (reading it meanwhile held two batches: 23 MB more at the peak over a 162k-event log).
    with collector_paused(), ThreadPoolExecutor(
            max_workers=len(runners), thread_name_prefix="rebuild") as pool:

        def apply_all(envelopes: list[tuple[str, Envelope]]) -> None:
            running = [(name, pool.submit(feed, name, runner, envelopes))
                       for name, runner in runners.items()]
            for name, done in running:
                applied[name] += done.result()
            if progress is not None:
                progress.read(len(envelopes))

        pending: list[tuple[str, Envelope]] = []
        envelopes = (reader.read(after=start, read=read) if reader is not None
                     else merged_read(apps, structs=True, after=start, read=read))
        for topic, env in envelopes:
            pending.append((topic, env))
            if len(pending) >= batch:
                apply_all(pending)
                pending = []
        if reader is not None:
            reader.close()
        if progress is not None and pending:
            progress.read(len(pending))

        def end(name: str, runner: ProjectionRunner) -> None:
            if pending:
                applied[name] += feed(name, runner, pending)
            if name in scratch:
                runner.finish_rebuild()
            else:
                runner.snapshot()
            # after its end is written: a rebuild stopped before it reads those again
            runner.positions.save({store: max(at, floors[name].get(store, 0))
                                   for store, at in read.items()})

        # The ends, in order, the next begun as soon as one is: most of an end's time is
        # PostgreSQL's (the window of ids, the rows left for the end and the snapshot written
        # by COPY and their indexes built), and the next end's recount and pickling overlap
        # it. Two at a time at most: an end holds more than its fold (the dashboard's
        # recount of every cell, a pickler's memo), and the largest are not next to each other.
        names = list(runners)
        ends: deque[tuple[str, Future[None]]] = deque()
        for i, name in enumerate(names):
            for following in names[len(ends) + i:i + 2]:
                ends.append((following, pool.submit(end, following, runners[following])))
            ended, done = ends.popleft()
            assert ended == name
            if progress is not None:
                progress.ending(name)
            done.result()
            runner = runners[name]
            if release:
                runner.projector.reset()
                # A fold holds cycles (its handlers are its bound methods), so it is freed by
                # a full pass of the collector, which walks every fold still held: only for a
                # projector that holds its state in memory (a snapshot's). Over a
                # 162,335-event log, read once for all seven, the seven passes took 1.95 s of
                # CPU; those after the scheduling registry, the enrolment catalogue, billing
                # (whose facts are its tables) and the regions (0.24, 0.25, 0.22 and 0.12 s)
                # found nothing to free.
                if runner.snapshots_kept:
                    gc.collect()
                    _give_back_freed()
            else:
                gc.collect(1)
            yield name, applied[name]


def _read_before(env: Envelope, positions: dict[str, int]) -> bool:
    """Whether a store's envelope is at or below the position a runner's last rebuild read
    that store to (`stream_id` is `<service>:<aggregate>`, `position` its notification id)."""
    assert env.stream_id is not None and env.position is not None
    at = positions.get(env.stream_id.partition(":")[0])
    return at is not None and env.position <= at


def _one_malloc_arena() -> None:
    """glibc's allocator gives each thread that allocates beside another an arena of its own,
    whose freed memory only that arena reuses. Python runs one thread at a time, so the
    rebuild's threads gain nothing from them and the folds' memory, grown from every thread,
    was held apart: over a 162,335-event log the rebuild's peak was 424 MB with them, 408
    with one arena for the process (MALLOC_ARENA_MAX=1, while the next batch was read beside
    the runners'; 386 MB with this, without that, against 375 before the threads). Set before
    any thread allocates: an arena made before stays in use. Not glibc: nothing to do."""
    try:
        ctypes.CDLL(None).mallopt(-8, 1)  # M_ARENA_MAX
    except (AttributeError, OSError):
        pass


def _give_back_freed() -> None:
    """Return to the system the pages of the heap a dropped fold freed (glibc's
    `malloc_trim`): the allocator keeps them otherwise, and the next pass's fold, whose
    objects come in other sizes and order, reuses only part of them. Over the national stores
    the certification pass started with about 0.65 GiB of the dashboard's fold still held,
    and peaked at 3.62 GiB where certification alone peaks at 3.08; with it, the process fell
    to 351 MB after the dashboard's pass and certification's peaked at 3.12. Over 30,000
    participants' log (1,620,789 events) the certification pass starts at 269 MB with it, 360
    without, and the last pass peaks at 404 MB, 466 without. Not glibc: nothing to do."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (AttributeError, OSError):
        pass


def history() -> Iterator[Envelope]:
    """Every published event of every service's store, parsed: what a consumer whose fold
    changed rebuilds from (`ProjectionRunner.history`)."""
    from yrkesresan import processes

    apps = [spec.store() for spec in processes.services().values()]
    try:
        yield from merged_parsed(apps)
    finally:
        for app in apps:
            app.close()


def rebuild_projections(names: Iterable[str] | None = None, batch: int = BATCH,
                        progress: RebuildProgress | None = None
                        ) -> Iterator[tuple[str, int]]:
    """Rebuild the named projections (default: every one in `processes.rebuildable()`, the
    consumers' registry, the dashboard and the regions' logs) from every service's store,
    reading the stores once for each pass (`_passes`): (name, events applied). One whose
    snapshot was folded by other code is wiped first and rebuilt whole. `progress` is told
    of each pass as it goes."""
    from yrkesresan import processes

    _one_malloc_arena()  # before the stores' and runners' pools start their threads
    registry = processes.rebuildable()
    apps = [spec.store() for spec in processes.services().values()]
    made: dict[str, ProjectionRunner] = {}
    # a process of its own for each pass's read (SQLite's stores are read in this one)
    postgres = all(isinstance(app.recorder, PostgresApplicationRecorder) for app in apps)
    try:
        for name in names or list(registry):
            made[name] = registry[name]()
        for runners in _passes(made):
            yield from _feed(runners, apps, batch, release=True,
                             reader=StoreReader if postgres else None, progress=progress)
    finally:
        for runner in made.values():
            runner.close()
        for app in apps:
            app.close()


LARGEST_FOLDS = ("dashboard", "certification")
"""The folds a rebuild feeds first, largest first (over 3,000 participants' log, each alone:
the dashboard 248 MB, certification 240, progression 180; 137 over empty stores): what a pass
frees is mostly kept by the process, and the smaller ones that follow fit in more of it (all
seven: 269 MB in this order, 279 with certification first)."""


def _passes(runners: dict[str, ProjectionRunner]) -> list[dict[str, ProjectionRunner]]:
    """The runners in the groups a rebuild feeds one after the other, reading the stores once
    for each: every projection that holds its fold in memory (it keeps snapshots) has a pass of
    its own, the largest first (`LARGEST_FOLDS`), and those whose state is their tables go with
    the last. The folds are most of a rebuild's memory and each is dropped once written, so the
    peak is the largest fold's, not the sum of all of them; each pass more reads and parses the
    stores again (2.9 s of CPU of the 22 s that all seven took over 162,335 events)."""
    order = {name: i for i, name in enumerate(LARGEST_FOLDS)}
    folds = sorted(({name: runner} for name, runner in runners.items()
                    if runner.snapshots_kept), key=lambda one: order.get(next(iter(one)), 99))
    tables = {name: runner for name, runner in runners.items() if not runner.snapshots_kept}
    if not folds:
        return [tables] if tables else []
    return [*folds[:-1], folds[-1] | tables]


def write_log(path: Path, lines: Iterable[bytes]) -> None:
    with path.open("wb") as f:
        for line in lines:
            f.write(line + b"\n")
