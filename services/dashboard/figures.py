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
- **Day figures** (participant-days, course days, pot so far) follow the contract's
  participant-day rule: the occasion's region, the municipality charged, the day's month. A
  course day is an (occasion, day) with at least one participant-day. The pot of a cell is the
  sum of its participant-days' `trainer_pot` (so a region's is its pot, per the pot rule).
- **Evaluation figures** by occasion mode (on site, digital, mixed): responses are anonymous,
  so they belong to the occasion (its region, course, the course's journey and level, month),
  never to a municipality. The response rate is responses / completions of the same occasions.
- **Days to certificate**: from the occasion's first day to the `CertificateIssued` of the
  completion (a certificate revoked is left out). A log without certificates has no such days.

The document holds counts and means only: no participant, trainer or respondent id.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable, Iterable
from typing import Any, cast

from shared.events import Envelope
from shared.events.models import (
    CertificateIssued,
    CertificateRevoked,
    CourseOccasionPlanned,
    CoursePublished,
    MunicipalityJoined,
    ParticipantRegistered,
    RegionRegistered,
)
from shared.projections.billing import BillingFacts
from shared.projections.evaluations import Evaluations
from shared.projections.occasions import Plan
from shared.projections.pot import distribute
from shared.projections.progression import Progression
from shared.projections.versions import LatestBy, stamp_of

NATION = "SE"
DIMENSIONS = ("nation", "region", "municipality", "journey", "level", "course", "month")
MODES = ("on_site", "digital", "mixed")


def occasion_mode(modes: Iterable[str]) -> str:
    """The contract's rule: `on_site` when every day is on site, `digital` when every day is
    digital, else `mixed`."""
    held = set(modes)
    return held.pop() if len(held) == 1 else "mixed"


def month_of(day: dt.date | dt.datetime) -> str:
    return f"{day.year:04d}-{day.month:02d}"


class _Tally:
    """The figures of one cell while they are counted."""

    __slots__ = ("registered", "active", "started", "completions", "participant_days",
                 "course_days", "pot_sek", "certificate_days", "evaluations")

    def __init__(self) -> None:
        self.registered = 0
        self.active: set[str] = set()
        self.started = 0
        self.completions = 0
        self.participant_days = 0
        self.course_days: set[tuple[str, int]] = set()
        self.pot_sek = 0
        self.certificate_days: list[int] = []
        # mode -> [responses, completions, {question: [sum, n]}]
        self.evaluations: dict[str, list[Any]] = {}

    def mode(self, mode: str) -> list[Any]:
        held = self.evaluations.get(mode)
        if held is None:
            held = self.evaluations[mode] = [0, 0, {}]
        return held

    def document(self) -> dict[str, Any]:
        days = self.certificate_days
        return {
            "registered": self.registered,
            "active": len(self.active),
            "started": self.started,
            "completions": self.completions,
            "certificates": self.completions,
            "completion_rate": round(self.completions / self.started, 4) if self.started else 0.0,
            "participant_days": self.participant_days,
            "course_days": len(self.course_days),
            "pot_sek": self.pot_sek,
            "days_to_certificate": {
                "count": len(days),
                "mean": round(statistics.fmean(days), 2) if days else None,
                "median": statistics.median(days) if days else None,
            },
            "evaluations": {mode: _evaluation(*self.evaluations[mode])
                            for mode in MODES if mode in self.evaluations},
        }


def _evaluation(responses: int, completions: int, totals: dict[str, list[int]]) -> dict[str, Any]:
    scores = sum(s for s, _ in totals.values())
    answers = sum(n for _, n in totals.values())
    return {
        "responses": responses,
        "completions": completions,
        "response_rate": round(responses / completions, 4) if completions else 0.0,
        "mean": round(scores / answers, 3) if answers else None,
        "mean_scores": {q: round(s / n, 3) for q, (s, n) in sorted(totals.items())},
    }


class Figures:
    """The dashboard's fold: the shared folds, plus the names and dates the figures group by."""

    def __init__(self) -> None:
        self.progression = Progression()
        self.evaluations = Evaluations()
        self.billing = BillingFacts()
        self._regions: LatestBy[str, str] = LatestBy()  # region -> name
        self._municipalities: LatestBy[str, tuple[str, str]] = LatestBy()  # -> (name, region)
        self._courses: LatestBy[str, tuple[str, str, str]] = LatestBy()  # -> journey, level, title
        self._registered: LatestBy[str, str] = LatestBy()  # participant -> month registered
        self._modes: LatestBy[str, str] = LatestBy()  # occasion -> its mode, latest plan
        self._certificates: LatestBy[str, tuple[tuple[str, str, str], dt.datetime]] = LatestBy()
        self._revoked: set[str] = set()
        own: dict[str, Callable[[Envelope], object]] = {
            "RegionRegistered": self._region,
            "MunicipalityJoined": self._municipality,
            "CoursePublished": self._course,
            "ParticipantRegistered": self._participant,
            "CourseOccasionPlanned": self._planned,
            "CourseOccasionRescheduled": self._planned,
            "CertificateIssued": self._certified,
            "CertificateRevoked": self._certificate_revoked,
        }
        parts = [own, self.progression.appliers, self.evaluations.appliers,
                 self.billing.appliers]
        self._appliers: dict[str, Callable[[Envelope], object]] = {}
        for name in {name for part in parts for name in part}:
            handlers = tuple(part[name] for part in parts if name in part)
            self._appliers[name] = handlers[0] if len(handlers) == 1 else _each(handlers)

    @property
    def appliers(self) -> dict[str, Callable[[Envelope], object]]:
        """Per event type, what applies it (for `yrkesresan replay`'s loop)."""
        return dict(self._appliers)

    def apply(self, env: Envelope) -> bool:
        """Apply one event; True when its type is one the figures read. Each fold applies an
        event id once, so a redelivery changes nothing."""
        handler = self._appliers.get(env.type)
        if handler is None:
            return False
        handler(env)
        return True

    # --- the names and dates the figures group by -------------------------------------------

    def _region(self, env: Envelope) -> None:
        data = cast(RegionRegistered, env.data)
        self._regions.offer(data.region_id, stamp_of(env), data.name)

    def _municipality(self, env: Envelope) -> None:
        data = cast(MunicipalityJoined, env.data)
        self._municipalities.offer(data.municipality_id, stamp_of(env),
                                   (data.name, data.region_id))

    def _course(self, env: Envelope) -> None:
        data = cast(CoursePublished, env.data)
        self._courses.offer(data.course_id, stamp_of(env),
                            (str(data.journey), str(data.level), data.title))

    def _participant(self, env: Envelope) -> None:
        data = cast(ParticipantRegistered, env.data)
        self._registered.offer(data.participant_id, stamp_of(env), month_of(env.occurred_at))

    def _planned(self, env: Envelope) -> None:
        data = cast(CourseOccasionPlanned, env.data)
        self._modes.offer(data.occasion_id, stamp_of(env),
                          occasion_mode(str(d.mode) for d in data.days))

    def _certified(self, env: Envelope) -> None:
        data = cast(CertificateIssued, env.data)
        key = (data.participant_id, data.course_id, data.occasion_id)
        self._certificates.offer(data.certificate_id, stamp_of(env), (key, env.occurred_at))

    def _certificate_revoked(self, env: Envelope) -> None:
        self._revoked.add(cast(CertificateRevoked, env.data).certificate_id)

    # --- the figures ------------------------------------------------------------------------

    def cells(self) -> dict[str, dict[str, Any]]:
        """Every cell's figures, keyed `<dimension>:<id>` (e.g. `municipality:falun`)."""
        tallies: dict[str, _Tally] = {}

        def at(*keys: str) -> list[_Tally]:
            found = []
            for key in keys:
                tally = tallies.get(key)
                if tally is None:
                    tally = tallies[key] = _Tally()
                found.append(tally)
            return found

        people = self._participants()
        for cells, month in people.values():
            for tally in at(*cells, f"month:{month}"):
                tally.registered += 1
        self._count_days(people, at)
        self._count_completions(people, at)
        self._count_responses(at)
        return {key: self._describe(key, tally.document()) for key, tally in
                sorted(tallies.items())}

    def document(self) -> dict[str, Any]:
        """The whole of the figures, as the worker stores them and `replay dashboard` prints."""
        return {"cells": self.cells()}

    result = document

    def _participants(self) -> dict[str, tuple[tuple[str, ...], str]]:
        """participant -> (the cells their own figures go to, the month they registered)."""
        people: dict[str, tuple[tuple[str, ...], str]] = {}
        for row in self.progression.result()["participants"]:
            municipality_id = row["municipality_id"]
            region_id = self._region_of(municipality_id)
            cells = ("nation:" + NATION, f"region:{region_id}",
                     f"municipality:{municipality_id}", f"journey:{row['journey']}",
                     f"level:{row['level']}")
            people[row["participant_id"]] = (cells, self._registered.get(
                row["participant_id"]) or "okänd")
        return people

    def _count_days(self, people: dict[str, tuple[tuple[str, ...], str]],
                    at: Callable[..., list[_Tally]]) -> None:
        prices = self.billing.prices
        started: set[tuple[str, str]] = set()
        for d in self.billing.counted_days():
            plan = d.plan
            journey_level = self._participant_journey_level(people, d.participant_id)
            cells = ("nation:" + NATION, f"region:{plan.region_id}",
                     f"municipality:{d.municipality_id}", *journey_level,
                     f"course:{plan.course_id}", f"month:{month_of(d.date)}")
            pot = prices.trainer_pot(plan.region_id, d.date.year)
            course_day = (plan.occasion_id, d.day)
            for tally in at(*cells):
                tally.participant_days += 1
                tally.pot_sek += pot
                tally.course_days.add(course_day)
            key = (d.participant_id, plan.occasion_id)
            if key in started:
                continue
            started.add(key)
            for tally in at(*self._participant_cells(people, d.participant_id, plan)):
                tally.active.add(d.participant_id)
                tally.started += 1

    def _count_completions(self, people: dict[str, tuple[tuple[str, ...], str]],
                           at: Callable[..., list[_Tally]]) -> None:
        certified: dict[tuple[str, str, str], dt.datetime] = {}
        for certificate_id, (key, when) in self._certificates.items():
            if certificate_id not in self._revoked and (
                    key not in certified or when < certified[key]):
                certified[key] = when
        completions = self.progression.completions
        for participant_id, course_id, occasion_id in sorted(completions.completed):
            plan = completions.plan(occasion_id)
            if plan is None:
                continue
            issued = certified.get((participant_id, course_id, occasion_id))
            days = None if issued is None else (issued.date() - min(plan.dates.values())).days
            for tally in at(*self._participant_cells(people, participant_id, plan)):
                tally.completions += 1
                if days is not None:
                    tally.certificate_days.append(days)
            mode = self._modes.get(occasion_id)
            if mode is not None:
                for tally in at(*self._occasion_cells(plan)):
                    tally.mode(mode)[1] += 1

    def _count_responses(self, at: Callable[..., list[_Tally]]) -> None:
        plans = self.progression.completions
        for (_, occasion_id, _), answers in self.evaluations.responses():
            plan, mode = plans.plan(occasion_id), self._modes.get(occasion_id)
            if plan is None or mode is None:
                continue  # counted once the occasion's plan arrives
            for tally in at(*self._occasion_cells(plan)):
                held = tally.mode(mode)
                held[0] += 1
                for question_id, score in answers.items():
                    total = held[2].setdefault(question_id, [0, 0])
                    total[0] += score
                    total[1] += 1

    def _participant_journey_level(self, people: dict[str, tuple[tuple[str, ...], str]],
                                   participant_id: str) -> tuple[str, ...]:
        held = people.get(participant_id)
        return held[0][3:5] if held else ()

    def _participant_cells(self, people: dict[str, tuple[tuple[str, ...], str]],
                           participant_id: str, plan: Plan) -> tuple[str, ...]:
        """A participant's figure on an occasion: their own cells, the course, the month of
        the occasion's last day."""
        own = people.get(participant_id, (("nation:" + NATION,), ""))[0]
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
            cell["pot_by_year"] = self.pot_by_year(ident)
        elif dimension == "municipality":
            name, region_id = self._municipalities.get(ident) or (ident, "okänd")
            cell |= {"name": name, "region_id": region_id}
        elif dimension == "course":
            journey, level, title = self._courses.get(ident) or ("", "", ident)
            cell |= {"name": title, "journey": journey, "level": level}
        elif dimension == "nation":
            cell["name"] = "Hela landet"
        return cell | figures

    def pot_by_year(self, region_id: str) -> dict[str, int]:
        """The region's pot per year, by the pot rule (`shared.projections.pot`)."""
        years = {date.year for _, plan in self.billing.occasions.in_region(region_id)
                 for date in plan.dates.values()}
        pots = {year: distribute(self.billing, region_id, year).pot_sek for year in sorted(years)}
        return {str(year): pot for year, pot in pots.items() if pot}


def _each(handlers: tuple[Callable[[Envelope], object], ...]) -> Callable[[Envelope], None]:
    def apply(env: Envelope) -> None:
        for handler in handlers:
            handler(env)

    return apply
