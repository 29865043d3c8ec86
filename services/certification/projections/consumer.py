"""The certification consumer: facts from the bus in, certificates and read rows out.

Per batch of new envelopes (ids not applied before):
1. the facts are applied in memory (`CertificationFacts`: the shared folds and plain facts);
2. the completion changes are acted on in certification's event store (`CertificatePolicy`),
   whose relay then publishes `CourseCompleted`, `CertificateIssued` and `CertificateRevoked`;
3. the envelopes' ids and the read rows are written in one transaction.

A stop between 2 and 3 loses nothing and doubles nothing: the batch is delivered again, the
policy finds the completions already certified in the store, and step 3 happens then. After a
restart the facts are rebuilt from the envelopes applied before, without acting again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from services.certification import views
from services.certification.domain import CertifiedCompletion
from services.certification.policy import CertificatePolicy
from services.certification.projections import history
from services.certification.projections.facts import CertificationFacts, Touched
from services.certification.projections.routes import route
from shared.events import Envelope, topic_name
from shared.platform.consumer import ProjectionRunner
from shared.platform.db import Cursor, Database
from shared.platform.observability import EVENTS_APPLIED, EVENTS_DUPLICATE

TOPICS = tuple(topic_name(s) for s in ("reference", "enrolment", "scheduling", "certification"))


ROUTES_AT_ONCE = 5_000
"""Participants' routes made and written at a time: the end of a rebuild from scratch writes
every participant's, and made all at once before writing, the national history's 300,000
routes and their JSON took its process from 3.2 to 6.6 GB (2026-12-01)."""


class CertificationProjector:
    def __init__(self) -> None:
        self.name = "certification"
        self.topics: Sequence[str] = TOPICS
        self.tables: Sequence[str] = ("certificates", "cert_views")
        self.facts = CertificationFacts()
        self._deferred: Touched | None = None

    def reset(self) -> None:
        self.facts = CertificationFacts()
        self._deferred = None

    def defer_writes(self) -> None:
        """A rebuild from scratch: the read rows of what the batches touched are written
        once, at its end (the certificates still as each batch certifies)."""
        self._deferred = Touched()

    def write_deferred(self, cur: Cursor) -> None:
        pending, self._deferred = self._deferred, None
        if pending is not None:
            self._write_views(cur, [pending])

    def snapshot_state(self) -> Any:
        return self.facts

    def restore_state(self, state: Any) -> None:
        self.facts = state

    def load(self, envelopes: Iterable[Envelope]) -> None:
        for env in envelopes:
            self.facts.apply(env)

    def apply(self, cur: Cursor, env: Envelope) -> None:
        """One envelope without the policy (the runner's batches act on completions)."""
        views.write_history(cur, history.rows([env]))
        self.write(cur, [self.facts.apply(env)], [])

    def write(self, cur: Cursor, touched: Sequence[Touched],
              certified: Sequence[CertifiedCompletion]) -> None:
        views.write_certificates(cur, certified)
        if self._deferred is not None:
            self.defer(touched)
            return
        self._write_views(cur, touched)

    def defer(self, touched: Sequence[Touched]) -> None:
        """What the batches touched, for the read rows written at a rebuild's end."""
        assert self._deferred is not None
        for t in touched:
            self._deferred.participants |= t.participants
            self._deferred.courses |= t.courses
            self._deferred.regions |= t.regions
            self._deferred.evaluation_regions |= t.evaluation_regions

    def _write_views(self, cur: Cursor, touched: Sequence[Touched]) -> None:
        participants: set[str] = set().union(*(t.participants for t in touched))
        courses: set[str] = set().union(*(t.courses for t in touched))
        regions: set[str] = set().union(*(t.regions for t in touched))
        ordered = sorted(participants)
        for start in range(0, len(ordered), ROUTES_AT_ONCE):
            routes: list[views.View] = []
            for participant_id in ordered[start:start + ROUTES_AT_ONCE]:
                doc = route(self.facts, participant_id)
                routes.append(("route", participant_id, doc,
                               doc["municipality_id"] if doc else None))
            views.write_views(cur, routes)
        rows: list[views.View] = [
            ("region", r, {"region_id": r, "name": self.facts.regions.get(r)}, None)
            for r in sorted(regions)]
        if courses:
            rows += self._course_rows(courses)
        for region in sorted(set().union(*(t.evaluation_regions for t in touched))):
            rows += self._regional_rows(region, courses)
        views.write_views(cur, rows)

    def _course_rows(self, courses: set[str]) -> list[views.View]:
        rows: list[views.View] = []
        for course_id in sorted(courses):
            published = self.facts.courses.get(course_id)
            if published is not None:
                rows.append(("course", course_id, published.model_dump(mode="json"), None))
        statistics = {row["course_id"]: row
                      for row in self.facts.evaluations.result(courses=courses)["courses"]}
        rows += [(views.EVALUATION, c, statistics.get(c), None) for c in sorted(courses)]
        return rows

    def _regional_rows(self, region_id: str, courses: set[str]) -> list[views.View]:
        """The region's statistics (`evaluation@<region>`, a row per course) of the touched
        courses (no other row of the region's changed), deleted where it has none."""
        kind = f"{views.EVALUATION}@{region_id}"
        statistics = {row["course_id"]: row
                      for row in self.facts.regional.result(region_id, courses)["courses"]}
        return [(kind, c, statistics.get(c), region_id) for c in sorted(courses)]


def _write_rows(cur: Cursor, history_rows: list[tuple[str, str, str, str]], new: bool,
                certificates: views.CertificateRows) -> None:
    views.write_history(cur, history_rows, new=new)
    views.write_certificate_rows(cur, certificates)


class CertificationRunner(ProjectionRunner):
    """Applies batches in the order the module docstring gives; used by the Kafka consumer
    and by `yrkesresan rebuild certification`."""

    projector: CertificationProjector

    def __init__(self, projector: CertificationProjector, db: Database,
                 policy: CertificatePolicy) -> None:
        super().__init__(projector, db)
        self.policy = policy
        self.history_new = False
        """Whether this rebuild from scratch began with no history kept: then each batch's
        rows of it are new (`views.write_history`). The history is not among the tables a
        rebuild wipes, so a rebuild after a wipe of the others finds it full."""

    def start_rebuild(self) -> None:
        super().start_rebuild()
        self.history_new = not views.history_kept(self.db)

    def _apply_ahead_of(self, fresh: Sequence[Envelope], touched: Sequence[Touched],
                        certified: Sequence[CertifiedCompletion]) -> None:
        """A batch of a rebuild from scratch: its ids kept in memory and its touched read
        rows left for the end, as `write` defers them; its history and certificates written
        on the runner's writer thread while the next batch is folded and decided
        (`ProjectionRunner.write_ahead`). The policy has saved what it decided already: a
        batch whose rows fail is decided again by the next rebuild."""
        self.applied.stage_many(fresh)
        self.projector.defer(touched)
        rows = (history.rows(fresh), self.history_new, views.certificate_rows(certified))
        self.written()
        self.write_ahead(_write_rows, *rows)

    def apply_batch(self, envelopes: Sequence[Envelope], *, snapshot: bool = True) -> int:
        fresh = self.applied.fresh(envelopes)
        try:
            touched = [(env, self.projector.facts.apply(env)) for env in fresh]
            certified = self.policy.act(self.projector.facts, touched)
            if self.applied.deferred is not None:
                self._apply_ahead_of(fresh, [t for _, t in touched], certified)
            else:
                with self.db.transaction() as cur:
                    self.applied.record_many(cur, fresh)
                    views.write_history(cur, history.rows(fresh),
                                        new=self.history_new and self.applied.from_scratch)
                    self.projector.write(cur, [t for _, t in touched], certified)
        except Exception:
            self.rolled_back()  # the facts may hold part of a batch the database never recorded
            raise
        EVENTS_APPLIED.labels(self.projector.name).inc(len(fresh))
        EVENTS_DUPLICATE.labels(self.projector.name).inc(len(envelopes) - len(fresh))
        if snapshot and self._snapshot_due():
            self.snapshot()
        return len(fresh)
