"""`yrkesresan import-log --log FILE`: a contract log into the services' stores, the inverse of
`yrkesresan export` (for example the history kept by the learning platform in use today).

Each envelope becomes a stored event of the service and aggregate that would have recorded it:
the ones its `stream_id` names where it has one (a log this system exported), else those its
type and key give (a participant's events go to the participant, an occasion's to the occasion:
the aggregates the services' commands use). Its version follows the aggregate's. An id that
derives from stream and version, as ours do, comes back by itself; any other id is kept in the
stored event (`event_id`), so the export after an import carries the ids of the input, with its
`occurred_at`, `recorded_at`, `actor`, `correlation_id` and data (`position` is the new store's
own).

Idempotent and resumable: an envelope whose id its aggregate already holds is skipped, so
running it again, or after an interrupted run, writes only what is missing. The file is
validated whole before anything is written; a line that is not a valid envelope names its line
number. Each store's share is written in one transaction per `commit` envelopes (`--batch`),
chained like the services' own saves (ADR 0008); on PostgreSQL the rows stream into it by
binary COPY chunk after chunk, so the server inserts while the next chunk is prepared. An
aggregate's last version and ids are read from its store once, when the import first meets it
(not at all while the store was empty when the import began and nothing has been dropped), and
kept while in use within a budget of ids in memory; into a store that was empty, an import
whose validation noted the ids the log repeats (`survey`) keeps only those ids and each
aggregate's version, drops nothing and never reads the store. An event type this code does not
know is skipped and counted. With `--processes N` the four stores are dealt out to N processes, each
reading the whole log and writing its stores' share, committing as above; they die with the
command.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import inspect
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import uuid
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import msgspec
import orjson
from eventsourcing.utils import get_topic

from services.certification.domain import new_verification_code
from shared.events import ContractError, UnknownEventType, stored_event_id_text
from shared.events.fast import decode_envelope
from shared.platform.consumer import collector_paused
from shared.platform.store import (
    BulkRow,
    DomainEvent,
    PostgresRecorder,
    ServiceApplication,
    SQLiteRecorder,
    aggregate_id,
    contract_type_of,
)

SERVICES = ("enrolment", "scheduling", "certification", "billing")
CHUNK = 20_000
COMMIT = 200_000  # envelopes per transaction of each store
MEMO = 1_000_000  # placement keys whose aggregate id is remembered; then forgotten at once
PARALLEL_FROM = 100_000
"""Envelopes from which `import-log` shares the stores out to processes by default (below,
starting them costs about what they save)."""
BUDGET = 2_000_000
"""Envelope ids the import keeps in memory (over all stores) for the aggregates it touched
lately: about 100 MB."""

# The aggregate a service's command records each type in: (kind, key fields), as
# `aggregate_id(kind, "|".join(keys))`; where a log has `stream_id`, that wins.
_PARTICIPANT = ("participant", ("participant_id",))
_OCCASION = ("occasion", ("occasion_id",))
_COMPLETION = ("completion", ("participant_id", "course_id", "occasion_id"))
_REGION_YEAR = ("region-year", ("region_id", "year"))
PLACEMENT: dict[str, tuple[str, tuple[str, ...]]] = {
    "RegionRegistered": ("region", ("region_id",)),
    "MunicipalityJoined": ("municipality", ("municipality_id",)),
    "TrainerRegistered": ("trainer", ("trainer_id",)),
    **dict.fromkeys(("ParticipantRegistered", "ParticipantMoved", "ParticipantLevelChanged",
                     "ParticipantErased", "PreparationCompleted", "DeepeningSubmitted"),
                    _PARTICIPANT),
    "CoursePublished": ("course", ("course_id",)),
    **dict.fromkeys(("CourseOccasionPlanned", "CourseOccasionRescheduled",
                     "CourseOccasionCancelled", "ParticipantBooked", "BookingCancelled",
                     "TrainerAssigned", "TrainerUnassigned", "CourseDayAttended",
                     "TrainerDayDelivered", "AttendanceWithdrawn"), _OCCASION),
    "CourseCompleted": _COMPLETION,
    "CertificateIssued": _COMPLETION,
    # A revocation names only the certificate: it goes on the completion that issued it, as
    # the certification service records it (`Importer.issued_on`); one whose issue is not in
    # the log gets an aggregate of its own.
    "CertificateRevoked": ("certificate", ("certificate_id",)),
    "EvaluationSubmitted": ("evaluation", ("respondent_id",)),
    "PriceListSet": ("price-list", ("region_id", "year")),
    "YearClosed": _REGION_YEAR,
    "PotDistributed": _REGION_YEAR,
}


class LogLineError(ValueError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line, self.reason = line, reason

    def __reduce__(self) -> tuple[type[LogLineError], tuple[int, str]]:
        return LogLineError, (self.line, self.reason)  # from a survey's process


@dataclass
class Report:
    imported: int = 0
    present: int = 0  # already in a store (or twice in the log)
    unknown: dict[str, int] = field(default_factory=dict)  # types this code does not know

    @property
    def read(self) -> int:
        return self.imported + self.present + sum(self.unknown.values())


def domain_classes() -> dict[str, tuple[str, type[DomainEvent]]]:
    """Per contract type, the service that records it and its stored event class."""
    found: dict[str, tuple[str, type[DomainEvent]]] = {}
    for service in SERVICES:
        module = importlib.import_module(f"services.{service}.domain")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, DomainEvent) and cls.__module__ == module.__name__:
                contract = contract_type_of(cls)
                if contract is not None:
                    found[contract.__name__] = (service, cls)
    return found


def check(lines: Iterable[bytes]) -> int:
    """Validate every line; the number of envelopes. LogLineError names the first bad line."""
    return survey(lines).envelopes


@dataclass(frozen=True)
class Survey:
    """What validating a log found: its envelopes; the keys (`id_key`) that more than one of
    them has, the only ids that can be twice in the log (an import into empty stores that
    knows them need not remember any other id to find an envelope it has written already);
    and per envelope, in order, the store its type goes to (`tag_of`), so that a process
    importing some stores passes over the others' lines without reading them."""

    envelopes: int
    repeated: frozenset[int]
    tags: bytes


_PLAN_TAG, _NO_STORE = len(SERVICES), 255


def tag_of(classes: dict[str, tuple[str, type[DomainEvent]]]) -> dict[str, int]:
    """Per type a store records, its survey tag: the store's index in SERVICES, or `_PLAN_TAG`
    for an occasion's plan (scheduling's, and read by certification's importer for its
    region); any other type is `_NO_STORE`."""
    tags = {name: SERVICES.index(service) for name, (service, _) in classes.items()}
    tags[_PLAN] = _PLAN_TAG
    return tags


ID_KEY_BITS = 48


def id_key(event_id: str) -> int:
    """An envelope id's last 48 bits, read from its text (both forms the contract takes end in
    its last 12 hex digits): equal for equal ids, whatever their case or form."""
    return int(event_id[-12:], 16)


def survey(lines: Iterable[bytes]) -> Survey:
    """Validate every line (LogLineError names the first bad line), tag it with its store and
    find the id keys that repeat. The keys are kept 8 bytes each in arrays by their low 8
    bits (about 130 MB for the national log's 16 million, while validating; 65,536 arrays of
    4 bytes took twice the time a line, 0.6 us, the processor's cache missed more), and only
    the arrays that hold a key twice are looked into."""
    part = _survey_part(lines)
    return _surveyed([part])


@dataclass
class _Part:
    """What surveying some consecutive lines of a log found (`survey`, `survey_log`)."""

    lines: int  # blank ones too
    envelopes: int
    tags: bytes
    buckets: list[array[int]]  # the id keys by their low 8 bits


def _survey_part(lines: Iterable[bytes]) -> _Part:
    """`survey`'s reading: LogLineError names a bad line by its number among `lines`."""
    count = number = 0
    buckets = [array("Q") for _ in range(256)]
    mask = (1 << ID_KEY_BITS) - 1
    tags = bytearray()
    tag, append = tag_of(domain_classes()).get, tags.append
    for number, raw in enumerate(lines, 1):  # noqa: B007 (the last number is the count)
        if not raw.strip():
            continue
        try:
            env = decode_envelope(raw)
            key = env.id.int
            buckets[key & 0xFF].append(key & mask)
            append(tag(env.type, _NO_STORE))
        except UnknownEventType:
            append(_NO_STORE)  # skipped on import, as a consumer skips it
        except ContractError as e:
            raise LogLineError(number, str(e)) from None
        count += 1
    return _Part(number, count, bytes(tags), buckets)


def _surveyed(parts: list[_Part]) -> Survey:
    """The survey of a log from its parts' in order."""
    repeated = set()
    for low in range(256):
        bucket = parts[0].buckets[low]
        for part in parts[1:]:
            bucket += part.buckets[low]
        if len(set(bucket)) < len(bucket):
            seen: set[int] = set()
            for key in bucket:
                if key in seen:
                    repeated.add(key)
                seen.add(key)
    return Survey(sum(p.envelopes for p in parts), frozenset(repeated),
                  b"".join(p.tags for p in parts))


SURVEY_SPLIT_FROM = 64 << 20
"""Bytes of log from which `survey_log` surveys parts of it in processes at once."""


def survey_log(log: Path, processes: int = 1, split_from: int = SURVEY_SPLIT_FROM) -> Survey:
    """`survey` of a log file: from `split_from` bytes, in `processes` parts of about equal
    size at once, the first in this process and each other in a process of its own (forked,
    killed with the command). The result is the same, a bad line named by its number in the
    file; the survey of the national log is then not one core's 25 s before the import
    begins."""
    size = log.stat().st_size
    if processes < 2 or size < split_from:
        return survey(lines_of(log))
    starts = [0]
    with log.open("rb") as f:
        for i in range(1, processes):
            f.seek(max(size * i // processes - 1, starts[-1]))
            f.readline()  # to the start of the next line (or this one, after a line end)
            starts.append(max(f.tell(), starts[-1]))
    bounds = list(zip(starts, [*starts[1:], size], strict=True))
    context = multiprocessing.get_context("fork")
    pipes: list[tuple[Connection, multiprocessing.process.BaseProcess]] = []
    parent = os.getpid()
    try:
        for start, end in bounds[1:]:
            ours, theirs = context.Pipe(duplex=False)
            worker = context.Process(target=_survey_some, daemon=True, name="import-log survey",
                                     args=(log, start, end, parent, theirs))
            worker.start()
            theirs.close()
            pipes.append((ours, worker))
        results: list[_Part | LogLineError] = []
        try:
            results.append(_survey_part(_lines_between(log, *bounds[0])))
        except LogLineError as error:
            results.append(error)
        for pipe, process in pipes:
            try:
                results.append(pipe.recv())
            except EOFError:
                process.join()
                raise RuntimeError(f"{process.name}: ended without a result "
                                   f"(exit code {process.exitcode})") from None
    finally:
        for pipe, process in pipes:
            if process.is_alive():
                process.kill()
            process.join()
            pipe.close()
    before = 0  # lines of the parts before
    for result in results:
        if isinstance(result, LogLineError):
            raise LogLineError(before + result.line, result.reason)
        if not isinstance(result, _Part):
            raise result
        before += result.lines
    return _surveyed([r for r in results if isinstance(r, _Part)])


def _lines_between(log: Path, start: int, end: int) -> Iterator[bytes]:
    """The lines of a log from byte `start` (a line's start) to `end` (another's, or the
    end)."""
    with log.open("rb") as f:
        f.seek(start)
        at = start
        for raw in f:
            if at >= end:
                return
            yield raw
            at += len(raw)


def _die_with(parent: int) -> None:
    """A worker process of this command is killed when the command dies, however it dies
    (Linux's parent-death signal), and ends at once if the command died before that was set."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def _survey_some(log: Path, start: int, end: int, parent: int, pipe: Connection) -> None:
    """A process of `survey_log`: its part's survey, its LogLineError or its error."""
    _die_with(parent)
    try:
        pipe.send(_survey_part(_lines_between(log, start, end)))
    except Exception as error:
        pipe.send(error)
    finally:
        pipe.close()


class _Aggregate:
    """What the importer knows of one aggregate: its id, last version and the envelope ids
    its events have (kept or derived): all of them, or, in a store that was empty when an
    import that knows the log's repeated ids began, only those (None while there are none)."""

    __slots__ = ("held", "originator", "version")

    def __init__(self, originator: uuid.UUID, version: int = 0,
                 held: set[str] | None = None) -> None:
        self.originator = originator
        self.version = version
        self.held = held


class _Store:
    """One service's store as the import sees it: the aggregates it touched lately, in an
    order of last use, within a budget of envelope ids held in memory.

    An aggregate the cache does not hold is read from the store once (its last version and
    its events' ids), in one query for all of a chunk's, then kept while it is in use: no
    aggregate is loaded event by event, and no event of it is read twice while it stays. One
    that falls out of the cache is read again if it comes back. While the store held nothing
    when the import began and nothing has fallen out yet, an aggregate the cache does not
    hold cannot be in the store, and is not looked for.

    Such a store, when the import knows which ids the log repeats (`Survey.repeated`), keeps
    no other id (an envelope whose id is not among them is once in the log and was not in the
    store) and so drops nothing: it holds each aggregate's id and version, no more, for the
    whole import, and never reads the store. Before, the ids of a national log outgrew the
    budget, and from then on each chunk read back from the store the aggregates it had
    dropped, and looked there for every new one."""

    def __init__(self, app: ServiceApplication, budget: int,
                 repeated: frozenset[int] | None = None) -> None:
        self.app = app
        self.budget = budget
        self.aggregates: dict[str, _Aggregate] = {}  # by id as text, least recent first
        self.held = 0  # envelope ids held in memory, over all cached aggregates
        self.complete = is_empty(app)  # the cache knows every aggregate the store has
        # Lean: empty when the import began, and the log's repeated ids known: it holds only
        # those ids (none in a log without repeats), and every aggregate it meets (`meet`).
        self.lean = self.complete and repeated is not None
        # a lean store's aggregates by id (all), and by placement key (the recent ones)
        self.by_id: dict[uuid.UUID, _Aggregate] = {}
        self.by_key: dict[str, _Aggregate] = {}

    def meet(self, key: str, originator: uuid.UUID) -> _Aggregate:
        """A lean store's aggregate that `key` places (its id `originator`), new unless another
        key named it; found by `key` from here on. (By the id itself, not its text: about 460
        bytes an aggregate with the text, 2.7 million of them in the national log's
        scheduling and certification.)"""
        agg = self.by_id.get(originator)
        if agg is None:
            agg = self.by_id[originator] = _Aggregate(originator)
        self.by_key[key] = agg
        return agg

    def load(self, wanted: dict[str, uuid.UUID]) -> None:
        """Bring the aggregates named (id as text -> id) into the cache, from the store."""
        if self.complete:
            for text, originator in wanted.items():
                self.aggregates[text] = _Aggregate(originator, 0, set())
            return
        versions, held = existing(self.app, set(wanted.values()))
        for text, originator in wanted.items():
            ids = held.get(originator, set())
            self.aggregates[text] = _Aggregate(originator, versions.get(originator, 0), ids)
            self.held += len(ids)

    def evict(self) -> None:
        """Drop the least recently used aggregates while over the budget (a lean store drops
        none: it would not find them again in the store it writes)."""
        if self.lean:
            return
        aggregates = self.aggregates
        while self.held > self.budget and aggregates:
            key = next(iter(aggregates))
            self.held -= len(aggregates.pop(key).held or ())
            self.complete = False


class Importer:
    """Imports a log into the stores given: all four, or some of them while other processes
    import the rest (`import_log`'s `processes`); the envelopes of the others are passed
    over."""

    def __init__(self, stores: dict[str, ServiceApplication], budget: int = BUDGET,
                 surveyed: Survey | None = None) -> None:
        """`surveyed`: what validating the log found (`survey`), if it was."""
        repeated = surveyed.repeated if surveyed is not None else None
        self.stores = {name: _Store(app, budget // len(stores), repeated)
                       for name, app in stores.items()}
        self.repeated = repeated or frozenset()
        self.classes = domain_classes()
        # per type of these stores: its service, stored topic and placement (kind, key fields)
        self.types = {name: (service, get_topic(cls), PLACEMENT[name])
                      for name, (service, cls) in self.classes.items() if service in stores}
        # with some stores only, a line's type is read first, so that the others' lines are
        # not parsed whole; but the occasions' plans are, for certification's regions
        self.peek = None if len(self.types) == len(self.classes) else _TYPE_OF.decode
        # with the survey's tags instead: the lines of these stores, the plans and the lines
        # of no store (counted as unknown) are read, the rest not even peeked at
        self.tags: bytes | None = None
        if surveyed is not None and self.peek is not None:
            self.peek, self.tags = None, surveyed.tags
        self.wanted = {SERVICES.index(name) for name in stores} | {_PLAN_TAG, _NO_STORE}
        self.regions: dict[str, str] = {}  # occasion -> region, as the log plans them
        # placement key -> aggregate id and its text (the cache's key: a str keeps its hash)
        self.originators: dict[str, tuple[uuid.UUID, str]] = {}
        # certificate -> the placement key of the completion that issued it: its revocation
        # is recorded there, where certification's policy counts a completion's revocations
        self.issued_on: dict[str, str] = {}

    def run(self, lines: Iterable[bytes], advance: Callable[[int], None] = lambda _: None,
            chunk: int = CHUNK, commit: int = COMMIT) -> Report:
        """Import the envelopes of `lines`, `chunk` at a time, committing every store about
        every `commit` envelopes; `advance(n)` after each chunk."""
        report = Report()
        chunks = _chunks(lines, chunk)
        # The cycle collector is paused: what the import makes holds no cycles, and collecting
        # rescanned the growing cache of aggregates every few thousand of them.
        with collector_paused():
            self._run(chunks, report, advance, commit)
        return report

    def _run(self, chunks: Iterator[list[bytes]], report: Report,
             advance: Callable[[int], None], commit: int) -> None:
        more = True
        tags, wanted, seen = self.tags, self.wanted, 0
        while more:
            # One transaction per store, open over several chunks: the server inserts one
            # chunk's rows while the next is prepared.
            with ExitStack() as transactions:
                writers: dict[str, Callable[[Iterable[BulkRow]], None]] = {}
                read = 0
                while read < commit:
                    part = next(chunks, None)
                    if part is None:
                        more = False
                        break
                    if tags is not None:  # the lines of these stores (and plans, and none's)
                        ours = [raw for raw, tag in zip(part, tags[seen:seen + len(part)],
                                                        strict=True) if tag in wanted]
                    self._chunk(ours if tags is not None else part, report, writers,
                                transactions)
                    advance(len(part))
                    read += len(part)
                    seen += len(part)
            for store in self.stores.values():
                store.evict()
            gc.collect(1)  # what was made since the last batch: the cache survives in the oldest

    def _chunk(self, lines: list[bytes], report: Report,
               writers: dict[str, Callable[[Iterable[BulkRow]], None]],
               transactions: ExitStack) -> None:
        """Place a chunk's envelopes and send each store's share to its transaction (opened on
        its first rows). In a lean store (`_Store.lean`) each envelope becomes its row as it
        is read, while it is in the processor's cache; in the others, the chunk's envelopes
        wait until their aggregates are brought into the cache, one query per store."""
        per_store: dict[str, list[tuple[tuple[uuid.UUID, str], dict[str, Any], str, bool]]] = \
            defaultdict(list)
        made: dict[str, list[BulkRow]] = defaultdict(list)  # the lean stores' rows
        types, unknown, originators = self.types, report.unknown, self.originators
        peek, classes, regions, stores = self.peek, self.classes, self.regions, self.stores
        repeated = self.repeated
        if len(originators) > MEMO:
            originators.clear()
        for store in stores.values():
            if len(store.by_key) > MEMO:
                store.by_key.clear()
        for raw in lines:
            if peek is not None:  # some stores only: the others' lines are passed over
                kind = peek(raw).type
                if kind not in types and kind != _PLAN and kind in classes:
                    continue
            env = orjson.loads(raw)
            kind = env["type"]
            if kind == _PLAN:  # the occasion's region, for certificates issued on it
                regions[env["data"]["occasion_id"]] = env["data"]["region_id"]
            known = types.get(kind)
            if known is None:
                if kind not in classes:
                    unknown[kind] = unknown.get(kind, 0) + 1
                continue
            service, topic, (aggregate, fields) = known
            stream = env.get("stream_id")
            streamed = False
            if stream:
                prefix, _, rest = stream.partition(":")
                streamed = prefix == service and bool(rest)
            if streamed:
                key = stream
            else:
                data = env["data"]
                if len(fields) == 1:  # most: one id, a str
                    value = data[fields[0]]
                    key = aggregate + ":" + (value if value.__class__ is str else str(value))
                else:
                    key = aggregate + ":" + "|".join([str(data[f]) for f in fields])
                if kind == _ISSUED:
                    self.issued_on[data["certificate_id"]] = key
                elif kind == _REVOKED:
                    key = self.issued_on.get(data["certificate_id"], key)
            store = stores[service]
            if store.lean:
                agg = store.by_key.get(key)
                if agg is None:
                    agg = store.meet(key, uuid.UUID(rest) if streamed
                                     else aggregate_id(*key.split(":", 1)))
                if repeated:  # an id the log has more than once: written once
                    event_id = env["id"]
                    if id_key(event_id) in repeated:
                        held = agg.held
                        if held is None:
                            held = agg.held = set()
                        if event_id in held:
                            report.present += 1
                            continue
                        held.add(event_id)
                        store.held += 1
                made[service].append(self._row(env, agg, topic, streamed))
                continue
            named = originators.get(key)
            if named is None:
                originator = uuid.UUID(rest) if streamed else aggregate_id(*key.split(":", 1))
                named = originators[key] = (originator, str(originator))
            per_store[service].append((named, env, topic, streamed))
        for service, planned in per_store.items():
            store = stores[service]
            cached = store.aggregates
            wanted = {text: originator for (originator, text), _, _, _ in planned
                      if text not in cached}
            if wanted:
                store.load(wanted)
            made[service] = self._rows(store, planned, report)
        for service, rows in made.items():
            if rows:
                write = writers.get(service)
                if write is None:
                    recorder = stores[service].app.recorder
                    assert isinstance(recorder, PostgresRecorder | SQLiteRecorder)
                    write = writers[service] = transactions.enter_context(
                        recorder.bulk_writer())
                write(rows)
                report.imported += len(rows)

    def _rows(self, store: _Store,
              planned: list[tuple[tuple[uuid.UUID, str], dict[str, Any], str, bool]],
              report: Report) -> list[BulkRow]:
        """The events to write of a store that holds every id of its cached aggregates
        (versions after the aggregates' own, ids not held yet)."""
        rows: list[BulkRow] = []
        cached = store.aggregates
        for (_, text), env, topic, streamed in planned:
            agg = cached.pop(text)
            cached[text] = agg  # the most recently used, last
            held = agg.held
            assert held is not None
            event_id = env["id"]
            if event_id in held:
                report.present += 1
                continue
            held.add(event_id)
            store.held += 1
            rows.append(self._row(env, agg, topic, streamed))
        return rows

    def _row(self, env: dict[str, Any], agg: _Aggregate, topic: str, streamed: bool) -> BulkRow:
        """The stored event of an envelope, the next of its aggregate's (the parsed envelope
        is not used again: its data becomes the body)."""
        version = agg.version + 1
        # the stored event's fields: the data's, with the envelope's provenance beside it
        body = env["data"]
        occurred = env["occurred_at"]
        body["timestamp"] = env.get("recorded_at") or occurred
        body["occurred_at"] = occurred
        body["actor"] = env.get("actor")
        body["correlation_id"] = env.get("correlation_id")
        if env.get("causation_id"):
            body["causation_id"] = env["causation_id"]
        event_id = env["id"]
        derived = streamed and _version_of(agg.originator, event_id, version)
        if derived:  # an export of ours: the version its id derives from
            version = derived
        else:  # an id of its own: kept beside the event
            body["event_id"] = event_id
        if env["type"] == "CertificateIssued":
            body.update(self._certificate_details(env))
        agg.version = version
        return (agg.originator, version, topic, orjson.dumps(body))

    def _certificate_details(self, env: dict[str, Any]) -> dict[str, Any]:
        """What only certification keeps about a certificate (the contract's event does not
        carry it), for one issued elsewhere: a verification code minted as certification
        mints them, the occasion's region, the completion date."""
        occasion = env["data"]["occasion_id"]
        return {"verification_code": new_verification_code(),
                "region_id": self.regions.get(occasion, ""),
                "completed_on": str(env["occurred_at"])[:10], "evidence": []}


_PLAN = "CourseOccasionPlanned"
_ISSUED, _REVOKED = "CertificateIssued", "CertificateRevoked"


class _TypeOf(msgspec.Struct):
    type: str


_TYPE_OF = msgspec.json.Decoder(_TypeOf)


def _chunks(lines: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    """The non-blank lines, `size` at a time."""
    part: list[bytes] = []
    for raw in lines:
        if len(raw) > 2 or raw.strip():  # an envelope is longer than a line end
            part.append(raw)
            if len(part) >= size:
                yield part
                part = []
    if part:
        yield part


def _version_of(originator: uuid.UUID, event_id: str, start: int, reach: int = 64) -> int | None:
    """The version from `start` whose derived id is `event_id` (private events of the
    aggregate, never exported, leave gaps), if any within reach."""
    for version in range(start, start + reach):
        if stored_event_id_text(originator, version) == event_id:
            return version
    return None


def is_empty(app: ServiceApplication) -> bool:
    """Whether a store holds no event at all."""
    return not app.recorder.select_notifications(start=None, limit=1, inclusive_of_start=True)


def existing(app: ServiceApplication, originators: set[uuid.UUID]
             ) -> tuple[dict[uuid.UUID, int], dict[uuid.UUID, set[str]]]:
    """Per aggregate named that the store has: its last version, and the envelope ids its
    events have (kept or derived)."""
    recorder = app.recorder
    versions: dict[uuid.UUID, int] = {}
    ids: dict[uuid.UUID, set[str]] = {}
    if isinstance(recorder, PostgresRecorder):
        table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
        with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(f"SELECT originator_id, originator_version, "
                         f"convert_from(state, 'UTF8')::json->>'event_id' AS event_id "
                         f"FROM {table} WHERE originator_id = ANY(%s)", (list(originators),))
            rows = [(r["originator_id"], r["originator_version"], r["event_id"])
                    for r in curs.fetchall()]
    else:
        assert isinstance(recorder, SQLiteRecorder)
        keys = [o.hex for o in originators]
        rows = []
        with recorder.datastore.transaction(commit=False) as c:
            for start in range(0, len(keys), 500):
                part = keys[start:start + 500]
                c.execute(f"SELECT originator_id, originator_version, "
                          f"json_extract(state, '$.event_id') FROM "
                          f"{recorder.events_table_name} WHERE originator_id IN "
                          f"({', '.join('?' * len(part))})", part)
                rows += [(uuid.UUID(r[0]), r[1], r[2]) for r in c.fetchall()]
    for originator, version, kept in rows:
        versions[originator] = max(versions.get(originator, 0), version)
        ids.setdefault(originator, set()).add(
            kept or stored_event_id_text(originator, version))
    return versions, ids


def lines_of(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        yield from f


def import_log(log: Path, batch: int = COMMIT, processes: int = 1,
               advance: Callable[[int], None] = lambda _: None,
               surveyed: Survey | None = None) -> Report:
    """Import a log (validated already) into the services' stores, committing each store every
    `batch` envelopes, in one process or in `processes` (up to one per store); `surveyed`:
    what `survey` found in it, if it was surveyed."""
    from yrkesresan import processes as registry

    if processes > 1:
        with _Workers(log, batch, processes, surveyed) as workers:
            return workers.gather(advance)
    stores = {name: registry.services()[name].store() for name in SERVICES}
    try:
        return Importer(stores, surveyed=surveyed).run(
            lines_of(log), advance, chunk=min(CHUNK, batch), commit=batch)
    finally:
        for app in stores.values():
            app.close()


BY_VOLUME = ("scheduling", "enrolment", "certification", "billing")
"""The stores by the share of a log they usually take (a national log: about 36%, 38%, 26%
and 0.1%), so that stores dealt out in turn to fewer processes than stores share them out
about evenly."""


class _Workers:
    """Processes (forked) that import a log, each into some of the stores: each reads the whole
    log and writes its stores' envelopes, committing as the import does in one process, so a
    run killed in any of them is resumed the same way. They die with the command (kill -9
    included), and their open transactions with them."""

    def __init__(self, log: Path, batch: int, processes: int,
                 surveyed: Survey | None = None) -> None:
        context = multiprocessing.get_context("fork")
        groups = [BY_VOLUME[i::processes] for i in range(min(processes, len(SERVICES)))]
        self.pipes: dict[Connection, multiprocessing.process.BaseProcess] = {}
        parent = os.getpid()
        for group in groups:
            ours, theirs = context.Pipe(duplex=False)
            worker = context.Process(
                target=_import_some, daemon=True, name=f"import-log {'+'.join(group)}",
                args=(group, log, batch, BUDGET * len(group) // len(SERVICES), surveyed,
                      parent, theirs))
            worker.start()
            theirs.close()
            self.pipes[ours] = worker

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, *_: object) -> None:
        for worker in self.pipes.values():
            if worker.is_alive():
                worker.kill()
            worker.join()

    def gather(self, advance: Callable[[int], None]) -> Report:
        """Wait for every process's report; `advance` by the log's envelopes read (on average
        over the processes, as each reads them all). A process's error is raised here."""
        reports: list[Report] = []
        pending = dict(self.pipes)
        read = shown = 0
        while pending:
            for ready in multiprocessing.connection.wait(list(pending)):
                assert isinstance(ready, Connection)
                try:
                    message = ready.recv()
                except EOFError:
                    worker = pending[ready]
                    worker.join()
                    raise RuntimeError(f"{worker.name}: ended without a report "
                                       f"(exit code {worker.exitcode})") from None
                if isinstance(message, int):
                    read += message
                    advance(read // len(self.pipes) - shown)
                    shown = read // len(self.pipes)
                elif isinstance(message, Report):
                    reports.append(message)
                    del pending[ready]
                else:
                    raise message
        # every process read every line: the unknown types are each one's count
        return Report(imported=sum(r.imported for r in reports),
                      present=sum(r.present for r in reports), unknown=reports[0].unknown)


def _import_some(services: tuple[str, ...], log: Path, batch: int, budget: int,
                 surveyed: Survey | None, parent: int, pipe: Connection) -> None:
    """A worker of `_Workers`: these stores' share of the log; sends the lines read as it
    goes, then its report or its error."""
    _die_with(parent)
    from yrkesresan import processes

    stores: dict[str, ServiceApplication] = {}
    try:
        stores = {name: processes.services()[name].store() for name in services}
        report = Importer(stores, budget, surveyed).run(lines_of(log), pipe.send,
                                                        chunk=min(CHUNK, batch), commit=batch)
        pipe.send(report)
    except Exception as error:
        try:
            pipe.send(error)
        except Exception:  # not picklable: its text
            pipe.send(RuntimeError(f"{type(error).__name__}: {error}"))
    finally:
        for app in stores.values():
            app.close()
        pipe.close()


_PR_SET_PDEATHSIG = 1


def import_command(log: Path, batch: int = COMMIT, processes: int | None = None) -> Report:
    """Validate the log, then import it with a progress bar on standard error, committing
    each store every `batch` envelopes, in `processes` processes: by default one per core (at
    most one per store) from `PARALLEL_FROM` envelopes, else one."""
    from yrkesresan.progress import events_bar

    surveyed = survey_log(log, processes or min(len(SERVICES), os.cpu_count() or 1))
    total = surveyed.envelopes
    if processes is None:
        processes = min(len(SERVICES), os.cpu_count() or 1) if total >= PARALLEL_FROM else 1
    with ExitStack() as stack:
        # the processes are forked before the progress bar starts its thread
        workers = stack.enter_context(_Workers(log, batch, processes, surveyed)) \
            if processes > 1 else None
        progress = stack.enter_context(events_bar("import-log"))
        task = progress.add_task("import", total=total)
        advance: Callable[[int], None] = lambda n: progress.advance(task, n)  # noqa: E731
        return workers.gather(advance) if workers else import_log(log, batch, 1, advance,
                                                                  surveyed)
