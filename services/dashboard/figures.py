"""The national follow-up figures (nationell uppföljning): aggregates over the contract's events.

The figures are counted per cell, a cell being the nation, a region, a municipality, a journey,
a level, a course or a month. Every rule comes from `shared.projections` (completions, the
participant's municipality and level, participant-days and the trainer pot, the evaluation
responses that count); this module only groups what those folds hold. What goes where:

- **Participant figures** (registered, active, started, completions, certificates, completion
  rate, days to certificate) belong to the participant's current municipality, its region,
  their journey and level, and for a course occasion to its course and the month of its last
  day; registrations to the month of registration. *Active* is a participant with at least one
  participant-day that counts; *started* a (participant, occasion) with one. The completion rate
  is completions / started.
- **Day figures** (participant-days, course days) follow the contract's participant-day rule
  (`BillingFacts.counted_days_of`): the occasion's region, the municipality charged, the day's
  month. A course day is an (occasion, day) with at least one participant-day.
- **Pot so far** is the pot rule's (`shared.projections.pot.pot_days`): per region and year the
  days the pot counts (the closed view's once the year is closed: later reports, withdrawals
  and moves change nothing in it) times the price in force then. A cell's pot is what the days
  among them that belong to it put in; a region's `pot_by_year` is its pot, as `yrkesresan
  replay pot` prints it, and the nation's the sum of the regions'.
- **Evaluation figures** by occasion mode (on site, digital, mixed), with the evaluation rule's
  means and response rate (`shared.projections.evaluations`): responses are anonymous,
  so they belong to the occasion (its region, course, the course's journey and level, month),
  never to a municipality. The response rate is responses / completions of the same occasions.
- **Certificates** are those the certification service issued and did not revoke
  (`CertificateIssued` less `CertificateRevoked`), not the completions: a completion whose
  certificate is not yet issued, or a certificate whose revocation arrived before the withdrawn
  day, shows here as the service has it. They belong where the participant's figures on the
  occasion do (the course from the certificate until the occasion's plan arrives).
- **Days to certificate**: from the occasion's first day to the `CertificateIssued` of the
  completion (a certificate revoked is left out). A log without certificates has no such days.

The document holds counts and means only: no participant, trainer or respondent id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from sys import intern
from typing import Any, cast

from shared.events import Envelope
from shared.events.fields import field_of
from shared.events.models import (
    CertificateIssued,
    CertificateRevoked,
    CourseDayAttended,
    CoursePublished,
    EvaluationSubmitted,
    MunicipalityJoined,
    ParticipantRegistered,
    PriceListSet,
    RegionRegistered,
    YearClosed,
)
from shared.projections.billing import BillingFacts, CountedDay
from shared.projections.evaluations import Evaluations, mean_scores, response_rate
from shared.projections.occasions import Plan
from shared.projections.pot import pot_days
from shared.projections.progression import Progression
from shared.projections.versions import LatestBy, add_once, instant, packed_stamp

NATION = "SE"
DIMENSIONS = ("nation", "region", "municipality", "journey", "level", "course", "month")
MODES = ("on_site", "digital", "mixed")


def month_of(day: dt.date | dt.datetime) -> str:
    return f"{day.year:04d}-{day.month:02d}"


Part = dict[str, dict[Any, int]]
"""What one source (a participant's registration, a participant on an occasion, an occasion's
responses) adds to each cell it touches: cell key -> metric -> amount. Metrics are names
(`registered`, `participant_days`, ...) or tuples: `("certificate_days", days)`,
`("evaluation", mode, what)`, `("score", mode, question)`, `("answers", mode, question)`,
`("pot", year)`; and two that a cell counts once however many sources hold them:
`("course_day", occasion, day)` and `("active", participant)` (see `DISTINCT`)."""

DISTINCT = {"course_day": "course_days", "active": "active"}
"""Metrics counted as distinct keys: the figure each one adds to (by one per key)."""


def document(counts: dict[Any, int]) -> dict[str, Any]:
    """A cell's figures from what its sources added up to."""
    certificate_days: list[tuple[int, int]] = []
    modes: dict[str, list[Any]] = {}
    pot: dict[str, int] = {}
    for metric, amount in counts.items():
        if not isinstance(metric, tuple):
            continue
        kind = metric[0]
        if kind == "certificate_days":
            certificate_days.append((metric[1], amount))
        elif kind == "pot":
            pot[str(metric[1])] = amount
        else:
            held = modes.setdefault(metric[1], [0, 0, {}])
            if kind == "evaluation":
                held[0 if metric[2] == "responses" else 1] += amount
            else:
                total = held[2].setdefault(metric[2], [0, 0])
                total[0 if kind == "score" else 1] += amount
    started, completions = counts.get("started", 0), counts.get("completions", 0)
    doc: dict[str, Any] = {
        "registered": counts.get("registered", 0),
        "active": counts.get("active", 0),
        "started": started,
        "completions": completions,
        "certificates": counts.get("certificates", 0),
        "completion_rate": round(completions / started, 4) if started else 0.0,
        "participant_days": counts.get("participant_days", 0),
        "course_days": counts.get("course_days", 0),
        "pot_sek": counts.get("pot_sek", 0),
        "days_to_certificate": _days_to_certificate(sorted(certificate_days)),
        "evaluations": {mode: _evaluation(*modes[mode]) for mode in MODES if mode in modes},
    }
    if pot:
        doc["pot_by_year"] = dict(sorted(pot.items()))
    return doc


def _days_to_certificate(days: list[tuple[int, int]]) -> dict[str, Any]:
    """Count, mean and median of (days, how many) pairs sorted by days."""
    count = sum(n for _, n in days)
    if not count:
        return {"count": 0, "mean": None, "median": None}
    mean = sum(d * n for d, n in days) / count
    return {"count": count, "mean": round(mean, 2), "median": _median(days, count)}


def _median(days: list[tuple[int, int]], count: int) -> float | int:
    """As `statistics.median` of the expanded list: the middle value, or the mean of the two."""
    middle = [(count - 1) // 2, count // 2]
    found: list[int] = []
    seen = 0
    for value, n in days:
        while middle and middle[0] < seen + n:
            found.append(value)
            middle.pop(0)
        seen += n
    return found[0] if count % 2 else (found[0] + found[1]) / 2


def _evaluation(responses: int, completions: int, totals: dict[str, list[int]]) -> dict[str, Any]:
    scores = sum(s for s, _ in totals.values())
    answers = sum(n for _, n in totals.values())
    return {
        "responses": responses,
        "completions": completions,
        "response_rate": round(response_rate(responses, completions), 4),
        "mean": round(scores / answers, 3) if answers else None,
        "mean_scores": {q: round(mean, 3) for q, mean in mean_scores(
            {q: (s, n) for q, (s, n) in totals.items()}).items()},
    }


Source = tuple[str, ...]
"""("registered", participant), ("on", participant, occasion), ("responses", occasion) or
("pot", region, year, occasion) (the year as text): one occasion's part of a pot."""

# Events that change the figures of one participant, and where their id is.
_OF_PARTICIPANT = frozenset({
    "ParticipantRegistered", "ParticipantMoved", "ParticipantLevelChanged", "CourseDayAttended",
    "PreparationCompleted", "AttendanceWithdrawn", "CertificateIssued", "ParticipantErased"})
# Events that change an occasion's plan: its attendees' figures and its responses'.
_OF_OCCASION = frozenset({
    "CourseOccasionPlanned", "CourseOccasionRescheduled", "CourseOccasionCancelled"})
# Events that change a participant-day's standing, and so the pot of its region and year.
_OF_POT = frozenset({"CourseDayAttended", "AttendanceWithdrawn", *_OF_OCCASION})


class Figures:
    """The dashboard's fold: the shared folds, plus the names and dates the figures group by.

    The figures are kept as the sum of what each source adds to each cell (a participant's
    registration; a participant on one occasion; an occasion's responses). An event marks the
    sources it may change; `changed_cells` recounts only those and adjusts the sums, so a
    batch costs what it touched, not everything held.
    Counting everything afresh (`recount`) gives the same sums: a test holds them equal.
    """

    def __init__(self) -> None:
        # one completion fold, the evaluations', that progression reads too (it was kept twice),
        # and one timeline of municipalities per participant, the billing facts' (as well)
        self.evaluations = Evaluations()
        self.billing = BillingFacts()
        self.progression = Progression(self.evaluations.completions, self.billing.memberships)
        self._regions: LatestBy[str, str] = LatestBy()  # region -> name
        self._municipalities: LatestBy[str, tuple[str, str]] = LatestBy()  # -> (name, region)
        self._courses: LatestBy[str, tuple[str, str, str]] = LatestBy()  # -> journey, level, title
        self._registered: LatestBy[str, str] = LatestBy()  # participant -> month registered
        # certificate -> (participant, course, occasion, when it was issued as `_issued` keeps it):
        # the greatest such tuple of a certificate's `CertificateIssued`s (its id is minted
        # for one issue: one event but for a redelivery), with no stamp beside it
        self._certificates: dict[str, tuple[str, str, str, int]] = {}
        self._revoked: set[str] = set()
        # indexes: which occasions a participant has figures on (attended, or holds a
        # certificate of), which certificates they hold (for recounting one source; which
        # responses an occasion has, the evaluations' fold holds). Each a tuple of its ids, each
        # once (`versions.add_once`): a set of a few ids takes 216-728 bytes, a tuple 48 + 8 an id.
        self._attended: dict[str, tuple[str, ...]] = {}  # participant -> occasions
        self._attendees: dict[str, tuple[str, ...]] = {}  # occasion -> participants
        self._certificates_of: dict[str, tuple[str, ...]] = {}
        self._residents: dict[str, set[str]] = {}  # municipality -> participants there now
        self._home: dict[str, str] = {}  # participant -> municipality now
        self._pot_years: dict[str, set[tuple[str, int]]] = {}  # occasion -> (region, year)s
        self._pot_occasions: dict[tuple[str, int], set[str]] = {}  # (region, year) -> occasions
        # the sums: what each source added, and per cell the total
        self._parts: dict[Source, Held] = {}
        self._totals: dict[str, dict[Any, int]] = {}
        self._distinct: dict[str, dict[tuple[str, ...], int]] = {}  # cell -> key -> sources
        self._documents: dict[str, dict[str, Any]] = {}
        self._keys: dict[Any, Any] = {}  # each tuple metric of the parts held, once (`_held`)
        self._dirty: set[Source] = set()
        self._relabel: set[str] = set()  # cells whose name or region changed
        self._recount = False
        own: dict[str, Callable[[Envelope], object]] = {
            "RegionRegistered": self._region,
            "MunicipalityJoined": self._municipality,
            "CoursePublished": self._course,
            "ParticipantRegistered": self._participant,
            "CourseDayAttended": self._attendance,
            "CertificateIssued": self._certified,
            "CertificateRevoked": self._certificate_revoked,
            "EvaluationSubmitted": self._evaluated,
            "PriceListSet": self._pot_year,
            "YearClosed": self._pot_year,
        }
        completion_facts = self.evaluations.completions.fact_handlers
        parts = [{name: handler for name, handler in self.progression.appliers.items()
                  if name not in completion_facts},  # the evaluations apply those
                 self.evaluations.appliers, self.billing.appliers, own]
        self._appliers: dict[str, Callable[[Envelope], object]] = {}
        for name in {name for part in parts for name in part}:
            handlers = tuple(part[name] for part in parts if name in part)
            self._appliers[name] = handlers[0] if len(handlers) == 1 else _Each(handlers)

    @property
    def appliers(self) -> dict[str, Callable[[Envelope], object]]:
        """Per event type, what applies it (for `yrkesresan replay`'s loop): `apply`."""
        return dict.fromkeys(self._appliers, self.apply)

    def apply(self, env: Envelope) -> bool:
        """Apply one event and mark what it may change; True when its type is one the figures
        read. Each fold applies an event id once, so a redelivery changes nothing."""
        handler = self._appliers.get(env.type)
        if handler is None:
            return False
        kind = env.type
        before = self._municipalities.get(env.data.municipality_id) if (  # type: ignore[attr-defined]
            kind == "MunicipalityJoined") else None
        handler(env)
        if kind in _OF_PARTICIPANT:
            self._participant_changed(env)
        elif kind in _OF_OCCASION:
            self._occasion_changed(intern(env.data.occasion_id))  # type: ignore[attr-defined]
        if kind in _OF_POT:
            self._pot_changed(intern(env.data.occasion_id))  # type: ignore[attr-defined]
        elif kind == "MunicipalityJoined":
            self._municipality_changed(env.data.municipality_id, before)  # type: ignore[attr-defined]
        elif kind == "CoursePublished":
            self._course_changed(env.data.course_id)  # type: ignore[attr-defined]
        elif kind == "RegionRegistered":
            self._relabel.add("region:" + env.data.region_id)  # type: ignore[attr-defined]
        return True

    # --- the names, dates and indexes the figures group by ---------------------------------

    def _region(self, env: Envelope) -> None:
        data = cast(RegionRegistered, env.data)
        self._regions.offer(data.region_id, packed_stamp(env), data.name)

    def _municipality(self, env: Envelope) -> None:
        data = cast(MunicipalityJoined, env.data)
        self._municipalities.offer(data.municipality_id, packed_stamp(env),
                                   (data.name, data.region_id))

    def _course(self, env: Envelope) -> None:
        data = cast(CoursePublished, env.data)
        self._courses.offer(data.course_id, packed_stamp(env),
                            (str(data.journey), str(data.level), data.title))

    def _participant(self, env: Envelope) -> None:
        data = cast(ParticipantRegistered, env.data)
        self._registered.offer(intern(data.participant_id), packed_stamp(env),
                               intern(month_of(env.occurred_at)))

    def _attendance(self, env: Envelope) -> None:
        data = cast(CourseDayAttended, env.data)
        self._on_occasion_of(intern(data.participant_id), intern(data.occasion_id))

    def _on_occasion_of(self, participant_id: str, occasion_id: str) -> None:
        """Index a participant's figures on an occasion; the ids interned (`_certified`)."""
        add_once(self._attended, participant_id, occasion_id)
        add_once(self._attendees, occasion_id, participant_id)

    def _certified(self, env: Envelope) -> None:
        data = cast(CertificateIssued, env.data)
        # Every event's ids are strings of its own (85 bytes each): the fold keeps the one
        # interned string of each participant, course and occasion, as the shared folds do
        # (over 1,620,789 events, 80 -> 46 MiB for the 160,454 certificates)
        participant_id, occasion_id = intern(data.participant_id), intern(data.occasion_id)
        issued = (participant_id, intern(data.course_id), occasion_id, _issued(env.occurred_at))
        held = self._certificates.get(data.certificate_id)
        # A stamp (48 bytes and a slot of its own dict) kept for each certificate was 15 MiB of
        # the 30,000-participant log's 160,369: the greatest by when it was issued, then by
        # the rest, stands whatever the order the events come in, as the latest stamp did.
        if held is None or (held[3], held) < (issued[3], issued):
            self._certificates[data.certificate_id] = issued
        add_once(self._certificates_of, participant_id, data.certificate_id)
        self._on_occasion_of(participant_id, occasion_id)

    def _certificate_revoked(self, env: Envelope) -> None:
        certificate_id = cast(CertificateRevoked, env.data).certificate_id
        self._revoked.add(certificate_id)
        held = self._certificates.get(certificate_id)
        if held is not None:
            participant_id, _, occasion_id, _ = held
            self._dirty.add(("on", participant_id, occasion_id))

    def _evaluated(self, env: Envelope) -> None:
        data = cast(EvaluationSubmitted, env.data)
        self._dirty.add(("responses", intern(data.occasion_id)))

    def _pot_year(self, env: Envelope) -> None:
        """A price list or a closed year: the pot of that region and year."""
        data = cast(PriceListSet | YearClosed, env.data)
        for occasion_id in self._pot_occasions.get((data.region_id, data.year), ()):
            self._dirty.add(("pot", data.region_id, str(data.year), occasion_id))

    def _pot_changed(self, occasion_id: str) -> None:
        """The pots of every region and year the occasion's days have been planned in."""
        years = self._pot_years.get(occasion_id)
        if years is None:
            years = self._pot_years[occasion_id] = set()
        plan = self.billing.occasions.plan(occasion_id)
        if plan is not None:
            for key in {(plan.region_id, date.year) for date in plan.dates.values()} - years:
                years.add(key)
                self._pot_occasions.setdefault(key, set()).add(occasion_id)
        for region_id, year in years:
            self._dirty.add(("pot", region_id, str(year), occasion_id))

    def _municipality_changed(self, municipality_id: str,
                              before: tuple[str, str] | None) -> None:
        """A municipality's name: its cell. Its region (or its arrival): the figures of the
        participants who live there, which go to the region too."""
        self._relabel.add("municipality:" + municipality_id)
        after = self._municipalities.get(municipality_id)
        if before is not None and after is not None and before[1] == after[1]:
            return
        for participant_id in self._residents.get(municipality_id, ()):
            self._dirty.add(("registered", participant_id))
            for attended in self._attended.get(participant_id, ()):
                self._dirty.add(("on", participant_id, attended))

    def _course_changed(self, course_id: str) -> None:
        """A course's title, journey, level or parts: its cell, its occasions' responses and
        what their participants completed."""
        self._relabel.add("course:" + course_id)
        for occasion_id in self.billing.occasions.of_course(course_id):
            self._occasion_changed(occasion_id)

    def _occasion_changed(self, occasion_id: str) -> None:
        self._dirty.add(("responses", occasion_id))
        for participant_id in self._attendees.get(occasion_id, ()):
            self._dirty.add(("on", participant_id, occasion_id))

    def _participant_changed(self, env: Envelope) -> None:
        """A participant's fact: their registration, or what they did on one occasion. Where
        their municipality or level changed, or a preparation may complete a course, every
        occasion of theirs."""
        # interned: a source marked here is held until the next recount (over a rebuild, to
        # its end), and would keep this event's strings alive
        participant_id = intern(env.data.participant_id)  # type: ignore[attr-defined]
        occasion_id = field_of(env.data, "occasion_id")
        if occasion_id is not None:
            self._dirty.add(("on", participant_id, intern(occasion_id)))
            return
        self._dirty.add(("registered", participant_id))
        self._move_in(participant_id)
        for attended in self._attended.get(participant_id, ()):
            self._dirty.add(("on", participant_id, attended))
            self._pot_changed(attended)  # their days: charged elsewhere, or at their level

    def _move_in(self, participant_id: str) -> None:
        """Keep `_residents` (who lives where now) up to date for one participant."""
        row = self.progression.participant(participant_id)
        now = None if row is None else row["municipality_id"]
        was = self._home.get(participant_id)
        if was == now:
            return
        if was is not None:
            self._residents[was].discard(participant_id)
        if now is None:
            self._home.pop(participant_id, None)
        else:
            self._home[participant_id] = now
            self._residents.setdefault(now, set()).add(participant_id)

    # --- the figures ------------------------------------------------------------------------

    def changed_cells(self) -> dict[str, dict[str, Any] | None]:
        """Recount what the events since the last call may have changed: each changed cell's
        figures, None for a cell that no longer has any."""
        if self._recount:
            self._recount, self._dirty, self._relabel = False, set(), set()
            return self._recount_everything()
        dirty, self._dirty = self._dirty, set()
        touched, self._relabel = self._relabel, set()
        flats: dict[Held, Held] = {}
        for source in dirty:
            touched |= self._replace(source, self._part_of(source), flats)
        return self._describe_all(touched)

    def cells(self) -> dict[str, dict[str, Any]]:
        """Every cell's figures, keyed `<dimension>:<id>` (e.g. `municipality:falun`)."""
        self.changed_cells()
        return dict(sorted(self._documents.items()))

    def document(self) -> dict[str, Any]:
        """The whole of the figures, as the worker stores them and `replay dashboard` prints."""
        return {"cells": self.cells()}

    result = document

    def recount(self) -> dict[str, dict[str, Any]]:
        """Every cell counted afresh from all sources (what `cells` must equal)."""
        self._recount = True
        return self.cells()

    def count_at_the_end(self) -> None:
        """Mark nothing from here on: the next `changed_cells` counts every cell afresh (a
        rebuild from scratch, whose cells are written once, at its end). Every source would be
        marked anyway, and the set of them held to the end: over the 30,000-participant log,
        219,199 sources, 21.5 MiB at the end of the feed (`_recount_everything` walks the
        indexes instead; the sources' tuples become the parts' keys either way)."""
        self._recount = True
        self._dirty = _NOWHERE  # type: ignore[assignment]

    def _recount_everything(self) -> dict[str, dict[str, Any] | None]:
        before = set(self._documents)
        self._parts, self._totals, self._documents, self._distinct = {}, {}, {}, {}
        # each source once, as the indexes hold them (no set of them all)
        sources: Iterable[Source] = chain(
            (("registered", p) for p, _ in self._registered.items()),
            (("on", p, o) for p, occasions in self._attended.items() for o in occasions),
            (("responses", o) for o in self.evaluations.responded()),
            (("pot", r, str(y), o) for o, years in self._pot_years.items() for r, y in years))
        touched: set[str] = set()
        flats: dict[Held, Held] = {}
        for source in sources:
            touched |= self._replace(source, self._part_of(source), flats)
        return self._describe_all(touched | before)

    def _replace(self, source: Source, part: Part, flats: dict[Held, Held]) -> set[str]:
        """Swap what a source adds for what it adds now; the cells that changed. `flats`: the
        amounts already kept in this recount, to share (`_held`)."""
        held = self._parts.pop(source, None)
        old = self._thawed(held, source) if held is not None else {}
        if part:
            self._parts[source] = self._held(part, source, flats)
        touched = set()
        for cell in old.keys() | part.keys():
            was, now = old.get(cell), part.get(cell)
            if was == now:
                continue
            touched.add(cell)
            total = self._totals.get(cell)
            if total is None:
                total = self._totals[cell] = {}
            if now:
                self._add(cell, total, now, 1)
            if was:
                self._add(cell, total, was, -1)
            if not total:
                del self._totals[cell]
                self._distinct.pop(cell, None)
        return touched

    def _held(self, part: Part, source: Source, flats: dict[Held, Held]) -> Held:
        """A part as the fold keeps it, in a fraction of the memory of one as made
        (`_thawed` gives it back): flat tuples instead of dicts, its cells' names interned
        (made afresh for each part, there are a few thousand), its tuple metrics the fold's one
        copy of each (a course day's key is made for each participant-day), and its cells'
        equal amounts one tuple (a participant on an occasion adds the same to most of their
        cells: the nation, the region, their journey and level, the course, the month; an
        occasion's responses the same to all of theirs). The parts are kept as long as their
        sources, to be subtracted when one changes, and are the largest part of the fold;
        the snapshot pickles each shared object once.
        A participant on an occasion is active in each cell where they started it: the
        `("active", participant)` that follows "started" is left out, and given back by
        `_thawed` from the source; so equal amounts of different participants (the same days of
        the same occasion, completed, ...) are one tuple, shared through `flats` across the parts
        made in one recount (over 54,577 events, 18,576 tuples became 1,680)."""
        keys = self._keys
        active = ("active", source[1]) if source[0] == "on" else None
        held: list[Any] = []
        distinct: list[tuple[dict[Any, int], Held]] = []
        for cell, counts in part.items():
            flat = next((kept for same, kept in distinct if same == counts), None)
            if flat is None:
                items: list[Any] = []
                started = False
                for metric, amount in counts.items():
                    if started and amount == 1 and metric == active:
                        started = False
                        continue
                    started = metric == "started"
                    items += (keys.setdefault(metric, metric) if type(metric) is tuple
                              else metric, amount)
                made = tuple(items)
                flat = flats.setdefault(made, made)
                distinct.append((counts, flat))
            held += (intern(cell), flat)
        return tuple(held)

    def _thawed(self, held: Held, source: Source) -> Part:
        """A part kept by `_held`, as made."""
        active = self._keys.setdefault(("active", source[1]), ("active", source[1])) if (
            source[0] == "on") else None
        part: Part = {}
        made: dict[int, dict[Any, int]] = {}  # one dict for the amounts cells share
        for i in range(0, len(held), 2):
            flat = held[i + 1]
            counts = made.get(id(flat))
            if counts is None:
                counts = made[id(flat)] = {}
                for j in range(0, len(flat), 2):
                    counts[flat[j]] = flat[j + 1]
                    if active is not None and flat[j] == "started" and (
                            j + 2 == len(flat) or flat[j + 2] != active):
                        counts[active] = 1
            part[held[i]] = counts
        return part

    def _add(self, cell: str, total: dict[Any, int], amounts: dict[Any, int], sign: int) -> None:
        for metric, amount in amounts.items():
            if type(metric) is tuple and metric[0] in DISTINCT:
                keys = self._distinct.get(cell)
                if keys is None:
                    keys = self._distinct[cell] = {}
                before = keys.get(metric, 0)
                after = before + sign
                if not before:
                    # the fold's one copy of the key (`_keys`): each part brings its own, and
                    # a key is held by up to seven cells (over the 30,000-participant log,
                    # 708,550 keys held were 347,494 tuples of 43,769 keys; 47.9 -> 30.4 MiB)
                    keys[self._keys.setdefault(metric, metric)] = after
                elif after:
                    keys[metric] = after
                else:
                    del keys[metric]
                if before and after:
                    continue
                metric, amount = DISTINCT[metric[0]], 1  # a key held, or no longer held
            left = total.get(metric, 0) + sign * amount
            if left:
                total[metric] = left
            else:
                del total[metric]

    def _describe_all(self, keys: Iterable[str]) -> dict[str, dict[str, Any] | None]:
        changed: dict[str, dict[str, Any] | None] = {}
        for key in keys:
            total = self._totals.get(key)
            if total is None:
                if self._documents.pop(key, None) is not None:
                    changed[key] = None
                continue
            doc = self._describe(key, document(total))
            if self._documents.get(key) != doc:
                self._documents[key] = changed[key] = doc
        return changed

    def _part_of(self, source: Source) -> Part:
        if source[0] == "registered":
            return self._registration(source[1])
        if source[0] == "on":
            return self._on(source[1], source[2])
        if source[0] == "pot":
            return self._pot(source[1], int(source[2]), source[3])
        return self._responses(source[1])

    def _own_cells(self, participant_id: str) -> tuple[str, ...]:
        """The cells of a participant's own figures: the nation, and once registered their
        region, municipality, journey and level."""
        row = self.progression.participant(participant_id)
        if row is None:
            return ("nation:" + NATION,)
        municipality_id = row["municipality_id"]
        return ("nation:" + NATION, f"region:{self._region_of(municipality_id)}",
                f"municipality:{municipality_id}", f"journey:{row['journey']}",
                f"level:{row['level']}")

    def _registration(self, participant_id: str) -> Part:
        own = self._own_cells(participant_id)
        if len(own) == 1:
            return {}
        month = self._registered.get(participant_id) or "okänd"
        return {cell: {"registered": 1} for cell in (*own, f"month:{month}")}

    def _on(self, participant_id: str, occasion_id: str) -> Part:
        """What a participant adds on one occasion: their participant-days there, the
        occasion started, its completion, and the certificates of it that stand."""
        part: Part = {}

        def add(cells: tuple[str, ...], metric: Any, amount: int = 1) -> None:
            for cell in cells:
                counts = part.get(cell)
                if counts is None:
                    counts = part[cell] = {}
                counts[metric] = counts.get(metric, 0) + amount

        own = self._own_cells(participant_id)
        started: Plan | None = None
        for d in self.billing.counted_days_of(participant_id, (occasion_id,)):
            started = d.plan
            course_day = ("course_day", occasion_id, d.day)
            for cell in self._day_cells(d, own):  # the hot loop: one pass, no calls
                counts = part.get(cell)
                if counts is None:
                    counts = part[cell] = {}
                counts["participant_days"] = counts.get("participant_days", 0) + 1
                counts[course_day] = 1
        if started is not None:
            cells = self._on_occasion(own, started)
            add(cells, "started")
            add(cells, ("active", participant_id))
        completions = self.progression.completions
        course_id = completions.of_participant(participant_id).get(occasion_id)
        completed = None if course_id is None else completions.plan(occasion_id)
        if course_id is not None and completed is not None:
            cells = self._on_occasion(own, completed)
            add(cells, "completions")
            issued = self._certified_of(participant_id).get(
                (participant_id, course_id, occasion_id))
            if issued is not None:
                days = (issued & _ORDINAL) - min(completed.dates.values()).toordinal()
                add(cells, ("certificate_days", days))
            add(self._occasion_cells(completed), ("evaluation", completed.mode, "completions"))
        standing = [key[1] for key, _ in self._standing(participant_id) if key[2] == occasion_id]
        if standing:
            plan = completions.plan(occasion_id)
            cells = (self._on_occasion(own, plan) if plan is not None
                     else (*own, f"course:{standing[0]}"))
            add(cells, "certificates", len(standing))
        return part

    @staticmethod
    def _day_cells(d: CountedDay, own: tuple[str, ...]) -> tuple[str, ...]:
        """The cells of a participant-day: the nation, the occasion's region, the municipality
        charged, the participant's journey and level, the course, the day's month."""
        return ("nation:" + NATION, f"region:{d.plan.region_id}",
                f"municipality:{d.municipality_id}", *own[3:5],
                f"course:{d.plan.course_id}", f"month:{month_of(d.date)}")

    def _pot(self, region_id: str, year: int, occasion_id: str) -> Part:
        """What one occasion's part of a region's pot of a year puts in each cell: per day the
        pot counts (the pot rule's, `pot_days`), its price; and that part of the pot to the
        region's `pot_by_year` (whose sum over the occasions is the pot)."""
        held = pot_days(self.billing, region_id, year, occasion_id=occasion_id)
        if not held.days or not held.price_sek:
            return {}
        price = held.price_sek
        part: Part = {}
        own: dict[str, tuple[str, ...]] = {}
        for d in held.days:
            cells = own.get(d.participant_id)
            if cells is None:
                cells = own[d.participant_id] = self._own_cells(d.participant_id)
            for cell in self._day_cells(d, cells):
                counts = part.get(cell)
                if counts is None:
                    counts = part[cell] = {}
                counts["pot_sek"] = counts.get("pot_sek", 0) + price
        part[f"region:{region_id}"][("pot", year)] = held.pot_sek
        return part

    def _standing(self, participant_id: str) -> Iterator[tuple[tuple[str, str, str], int]]:
        """The participant's certificates that stand (issued, not revoked): the completion
        each certifies, and when it was issued (`_issued`)."""
        for certificate_id in self._certificates_of.get(participant_id, ()):
            held = self._certificates.get(certificate_id)
            if held is not None and certificate_id not in self._revoked:
                yield held[:3], held[3]

    def _certified_of(self, participant_id: str) -> dict[tuple[str, str, str], int]:
        """The earliest certificate that stands, per completion."""
        certified: dict[tuple[str, str, str], int] = {}
        for key, when in self._standing(participant_id):
            if key not in certified or when < certified[key]:
                certified[key] = when
        return certified

    def _responses(self, occasion_id: str) -> Part:
        """What an occasion's responses add, by its mode, to the occasion's cells."""
        plan = self.progression.completions.plan(occasion_id)
        if plan is None:
            return {}  # counted once the occasion's plan arrives
        mode = plan.mode
        part: Part = {}
        cells = self._occasion_cells(plan)
        for respondent_id in self.evaluations.respondents(occasion_id):
            response = self.evaluations.response(occasion_id, respondent_id)
            if response is None:
                continue
            answers = response[1]
            for cell in cells:
                counts = part.setdefault(cell, {})
                key = ("evaluation", mode, "responses")
                counts[key] = counts.get(key, 0) + 1
                for question_id, score in answers.items():
                    for key, amount in ((("score", mode, question_id), score),
                                        (("answers", mode, question_id), 1)):
                        counts[key] = counts.get(key, 0) + amount
        return part

    def _on_occasion(self, own: tuple[str, ...], plan: Plan) -> tuple[str, ...]:
        """A participant's figure on an occasion: their own cells, the course, the month of
        the occasion's last day."""
        return (*own, f"course:{plan.course_id}", f"month:{month_of(max(plan.dates.values()))}")

    def _occasion_cells(self, plan: Plan) -> tuple[str, ...]:
        journey, level, _ = self._courses.get(plan.course_id) or ("", "", "")
        cells = ["nation:" + NATION, f"region:{plan.region_id}", f"course:{plan.course_id}",
                 f"month:{month_of(max(plan.dates.values()))}"]
        if journey:
            cells += [f"journey:{journey}", f"level:{level}"]
        return tuple(cells)

    def _region_of(self, municipality_id: str | None) -> str:
        held = self._municipalities.get(municipality_id or "")
        return held[1] if held else "okänd"

    def _describe(self, key: str, figures: dict[str, Any]) -> dict[str, Any]:
        """A cell's figures with what a reader needs to label it."""
        dimension, _, ident = key.partition(":")
        cell: dict[str, Any] = {"dimension": dimension, "id": ident, "name": ident}
        if dimension == "region":
            cell["name"] = self._regions.get(ident) or ident
            figures.setdefault("pot_by_year", {})
        elif dimension == "municipality":
            name, region_id = self._municipalities.get(ident) or (ident, "okänd")
            cell |= {"name": name, "region_id": region_id}
        elif dimension == "course":
            journey, level, title = self._courses.get(ident) or ("", "", ident)
            cell |= {"name": title, "journey": journey, "level": level}
        elif dimension == "nation":
            cell["name"] = "Hela landet"
        return cell | figures


Held = tuple[Any, ...]
"""A part as the fold keeps it (`Figures._held`): cell, amounts, cell, amounts, ...; the amounts
as metric, amount, metric, amount, ..."""


_ORDINAL = (1 << 22) - 1  # a date's ordinal (`date.toordinal`) is below 2**22


def _issued(when: dt.datetime) -> int:
    """When a certificate was issued, as the fold keeps it: the instant (microseconds since
    1970), then the date it was issued on in its own offset (`when.date()`), as one int in the
    instant's order. A datetime as pydantic parses it is two objects with its tzinfo, about 90
    bytes, each with a reduce when the fold is pickled."""
    return instant(when) << 22 | when.toordinal()


class _Nowhere:
    """Where a fold that counts everything at its end (`Figures.count_at_the_end`) marks its
    sources: nowhere."""

    __slots__ = ()

    def add(self, source: Source) -> None:
        pass


_NOWHERE = _Nowhere()


class _Each:
    """Several folds' handlers of one event type, in turn (a class, not a closure: the fold
    is pickled for its snapshot)."""

    __slots__ = ("handlers",)

    def __init__(self, handlers: tuple[Callable[[Envelope], object], ...]) -> None:
        self.handlers = handlers

    def __call__(self, env: Envelope) -> None:
        for handler in self.handlers:
            handler(env)
