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

Idempotent and resumable: an envelope whose id a store already holds is skipped, so running it
again, or after an interrupted run, writes only what is missing. The file is validated whole
before anything is written; a line that is not a valid envelope names its line number. Each
chunk is written per store in one transaction (COPY on PostgreSQL), chained like the services'
own saves (ADR 0008). An event type this code does not know is skipped and counted.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from services.certification.domain import new_verification_code
from shared.events import ContractError, UnknownEventType, stored_event_id_text
from shared.events.fast import decode_envelope
from shared.platform.store import (
    DomainEvent,
    PostgresRecorder,
    ServiceApplication,
    SQLiteRecorder,
    aggregate_id,
    contract_type_of,
)

SERVICES = ("enrolment", "scheduling", "certification", "billing")
CHUNK = 20_000

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
    # A revocation names only the certificate; without `stream_id` it gets an aggregate of
    # its own (the certification service records it on the completion).
    "CertificateRevoked": ("certificate", ("certificate_id",)),
    "EvaluationSubmitted": ("evaluation", ("respondent_id",)),
    "PriceListSet": ("price-list", ("region_id", "year")),
    "YearClosed": _REGION_YEAR,
    "PotDistributed": _REGION_YEAR,
}


class LogLineError(ValueError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line


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
    count = 0
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            decode_envelope(raw)
        except UnknownEventType:
            pass  # skipped on import, as a consumer skips it
        except ContractError as e:
            raise LogLineError(number, str(e)) from None
        count += 1
    return count


@dataclass
class _Planned:
    service: str
    originator: uuid.UUID
    event_id: str
    topic: str
    body: dict[str, Any]
    streamed: bool  # the originator came from `stream_id`: the id may derive from a version


class Importer:
    def __init__(self, stores: dict[str, ServiceApplication]) -> None:
        self.stores = stores
        self.classes = domain_classes()
        self.topics = {name: get_topic(cls) for name, (_, cls) in self.classes.items()}
        self.regions: dict[str, str] = {}  # occasion -> region, as the log plans them
        self._aggregates: dict[str, uuid.UUID] = {}  # many events share an aggregate

    def run(self, lines: Iterable[bytes], advance: Callable[[int], None] = lambda _: None,
            chunk: int = CHUNK) -> Report:
        report = Report()
        pending: list[dict[str, Any]] = []
        for raw in lines:
            if not raw.strip():
                continue
            pending.append(orjson.loads(raw))
            if len(pending) >= chunk:
                self._chunk(pending, report)
                advance(len(pending))
                pending = []
        if pending:
            self._chunk(pending, report)
            advance(len(pending))
        return report

    def _plan(self, env: dict[str, Any]) -> _Planned | None:
        known = self.classes.get(env["type"])
        if known is None:
            return None
        service, _ = known
        data = env["data"]
        stream = env.get("stream_id") or ""
        prefix, _, rest = stream.partition(":")
        if prefix == service and rest:
            originator, streamed = uuid.UUID(rest), True
        else:
            kind, keys = PLACEMENT[env["type"]]
            key = kind + ":" + "|".join(str(data[k]) for k in keys)
            originator = self._aggregates.get(key)  # type: ignore[assignment]
            if originator is None:
                originator = self._aggregates[key] = aggregate_id(*key.split(":", 1))
            streamed = False
        body = {"timestamp": env.get("recorded_at") or env["occurred_at"],
                "occurred_at": env["occurred_at"], "actor": env.get("actor"),
                "correlation_id": env.get("correlation_id"), **data}
        if env["type"] == "CourseOccasionPlanned":
            self.regions[data["occasion_id"]] = data["region_id"]
        elif env["type"] == "CertificateIssued":
            body.update(self._certificate_details(env))
        return _Planned(service, originator, env["id"], self.topics[env["type"]], body, streamed)

    def _certificate_details(self, env: dict[str, Any]) -> dict[str, Any]:
        """What only certification keeps about a certificate (the contract's event does not
        carry it), for one issued elsewhere: a verification code minted as certification
        mints them, the occasion's region, the completion date."""
        occasion = env["data"]["occasion_id"]
        return {"verification_code": new_verification_code(),
                "region_id": self.regions.get(occasion, ""),
                "completed_on": str(env["occurred_at"])[:10], "evidence": []}

    def _chunk(self, envelopes: list[dict[str, Any]], report: Report) -> None:
        per_store: dict[str, list[_Planned]] = defaultdict(list)
        for env in envelopes:
            planned = self._plan(env)
            if planned is None:
                report.unknown[env["type"]] = report.unknown.get(env["type"], 0) + 1
                continue
            per_store[planned.service].append(planned)
        for service, batch in per_store.items():
            events, present = self._stored(service, batch)
            report.present += present
            if events:
                recorder = self.stores[service].recorder
                assert isinstance(recorder, PostgresRecorder | SQLiteRecorder)
                recorder.insert_bulk(events)
                report.imported += len(events)

    def _stored(self, service: str, planned: list[_Planned]) -> tuple[list[StoredEvent], int]:
        """The events to write (versions after the aggregates' own, ids not held yet), and
        how many were held already."""
        versions, held = existing(self.stores[service], {p.originator for p in planned})
        events: list[StoredEvent] = []
        present = 0
        for p in planned:
            if p.event_id in held:
                present += 1
                continue
            held.add(p.event_id)
            version = versions.get(p.originator, 0) + 1
            derived = p.streamed and _version_of(p.originator, p.event_id, version)
            if derived:  # an export of ours: the version its id derives from
                version = derived
            else:  # an id of its own: kept beside the event
                p.body["event_id"] = p.event_id
            versions[p.originator] = version
            events.append(StoredEvent(originator_id=p.originator, originator_version=version,
                                      topic=p.topic, state=orjson.dumps(p.body)))
        return events, present


def _version_of(originator: uuid.UUID, event_id: str, start: int, reach: int = 64) -> int | None:
    """The version from `start` whose derived id is `event_id` (private events of the
    aggregate, never exported, leave gaps), if any within reach."""
    for version in range(start, start + reach):
        if stored_event_id_text(originator, version) == event_id:
            return version
    return None


def existing(app: ServiceApplication, originators: set[uuid.UUID]
             ) -> tuple[dict[uuid.UUID, int], set[str]]:
    """Per aggregate its last version, and the envelope ids its events have (kept or
    derived), for the aggregates named."""
    recorder = app.recorder
    versions: dict[uuid.UUID, int] = {}
    ids: set[str] = set()
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
        ids.add(kept or stored_event_id_text(originator, version))
    return versions, ids


def lines_of(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        yield from f


def import_command(log: Path) -> Report:
    """Validate the log, then import it with a progress bar on standard error."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from yrkesresan import processes

    total = check(lines_of(log))
    stores = {name: processes.services()[name].store() for name in SERVICES}
    console = Console(stderr=True)
    try:
        with Progress(TextColumn("import-log"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("händelser"), TimeElapsedColumn(), TimeRemainingColumn(),
                      console=console, disable=not sys.stderr.isatty()) as progress:
            task = progress.add_task("import", total=total)
            return Importer(stores).run(lines_of(log),
                                        lambda n: progress.advance(task, n))
    finally:
        for app in stores.values():
            app.close()
