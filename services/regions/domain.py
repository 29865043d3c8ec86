"""Which region's stream an event belongs to: the routing rule of `yrkesresan.region.<id>.v1`.

A region sees only its own region's events (issue 10). An event goes to:

- the region it names (`region_id`: regions, municipalities, price lists, occasions as
  planned, closed years, pot distributions);
- the occasion's region, for what happens on an occasion (`occasion_id`: bookings, the trainer
  team, days attended and delivered, re-plans, cancellations, evaluations, completions);
- the region of the participant's municipality *at the time* (`participant_id`): the
  municipality in force at the event's `occurred_at` by the participant's registration and
  moves (latest `occurred_at` wins, as the contract says), and that municipality's region by
  its `MunicipalityJoined`. A move goes to the region left and the region joined: the first
  learns that the person is no longer theirs, the second that they are;
- the region of a trainer's home municipality, for `TrainerRegistered`;
- a certificate's participant's region, for a `CertificateRevoked` that does not name them;
- every region, for the national catalogue (`CoursePublished`): a region first seen later gets
  the whole catalogue when its first event is routed.

An event that names both a participant and an occasion goes to both regions (a participant
may take a course in another region: the occasion's region runs and bills it, the
participant's region follows its person).

An event whose region cannot be known yet is *held*, never dropped or guessed, and released as
soon as what it needs has arrived: its participant's registration, its occasion's plan, its
municipality's region; and, for an event about a participant that does not travel on the
enrolment topic (bookings, days, completions), the participant's moves recorded before it.
There is no order across topics, so the caller says when the enrolment topic has been read
that far (`enrolment_ready`, given the event's recording time; `adapters.consumer` answers it
from the enrolment partitions' progress). Which regions an event goes to then depends only on
the facts, not on the order they arrived in.

A move recorded *after* events that it precedes in `occurred_at` (a move entered late,
backdated) cannot take back what was routed before it arrived: those events also go to the
region joined (`application.RegionLog`), and the region left keeps what it received.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.events import Envelope, topic_name
from shared.events.fields import field_of
from shared.projections.memberships import Memberships
from shared.projections.versions import LatestBy, stamp_of

_JUST_BEFORE = dt.timedelta(microseconds=1)
ENROLMENT_TOPIC = topic_name("enrolment")
EnrolmentReady = Callable[[dt.datetime], bool]


def always(_: dt.datetime) -> bool:
    """Every fact is already known: a log read in full, as in the tests."""
    return True


@dataclass
class Routed:
    """What one envelope changed: envelopes now due to regions (in order), and held ids
    released. `held` is True when the envelope itself is held."""

    out: list[tuple[str, Envelope]] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    held: bool = False


class Unresolved(Exception):
    """A fact the route needs has not arrived yet."""


FACTS = frozenset({"MunicipalityJoined", "ParticipantRegistered", "ParticipantMoved",
                   "CourseOccasionPlanned", "CertificateIssued", "CoursePublished"})
"""The event types whose facts routing needs (`RegionRouter.learn`): all the router is restored
from on a restart, so the only envelopes its applied log keeps whole."""


class RegionRouter:
    """The routing fold: the facts routing needs, the held envelopes, the regions seen."""

    def __init__(self, enrolment_ready: EnrolmentReady = always) -> None:
        self.enrolment_ready = enrolment_ready
        self.municipalities: LatestBy[str, str] = LatestBy()  # municipality -> region
        self.memberships = Memberships()
        self.registered: set[str] = set()  # participants whose registration has arrived
        self.occasions: LatestBy[str, str] = LatestBy()  # occasion -> region
        self.certificates: dict[str, str] = {}  # certificate -> participant
        self.catalogue: dict[str, Envelope] = {}  # event id -> CoursePublished
        self.regions: set[str] = set()  # every region a stream has been started for
        self.pending: dict[str, Envelope] = {}  # held, by event id

    # -- facts -------------------------------------------------------------------------------

    def learn(self, env: Envelope) -> bool:
        """Take in the facts an envelope carries (one of `FACTS`); True when it may resolve
        held envelopes."""
        data: Any = env.data
        if env.type not in FACTS:
            return False
        if env.type == "MunicipalityJoined":
            self.municipalities.offer(data.municipality_id, stamp_of(env), data.region_id)
        elif env.type == "ParticipantRegistered":
            self.memberships.registered(env)
            self.registered.add(data.participant_id)
        elif env.type == "ParticipantMoved":
            self.memberships.moved(env)
        elif env.type == "CourseOccasionPlanned":
            self.occasions.offer(data.occasion_id, stamp_of(env), data.region_id)
        elif env.type == "CertificateIssued":
            self.certificates[data.certificate_id] = data.participant_id
        elif env.type == "CoursePublished":
            self.catalogue[str(env.id)] = env
        return True

    # -- routes ------------------------------------------------------------------------------

    def regions_of(self, env: Envelope) -> set[str]:
        """The regions an envelope belongs to; `Unresolved` while a fact is missing."""
        data: Any = env.data
        if env.type == "CoursePublished":
            return set(self.regions)
        found: set[str] = set()
        if region := field_of(data, "region_id"):
            found.add(region)
        elif occasion := field_of(data, "occasion_id"):
            found.add(self._occasion_region(occasion))
        participant = field_of(data, "participant_id")
        if participant is None and env.type == "CertificateRevoked":
            participant = self.certificates.get(data.certificate_id)
            if participant is None:
                raise Unresolved(f"certificate {data.certificate_id}")
        if participant is not None:
            if env.topic != ENROLMENT_TOPIC and not self.enrolment_ready(
                    env.recorded_at or env.occurred_at):
                raise Unresolved(f"moves of participant {participant} recorded before it")
            found.add(self._participant_region(participant, env.occurred_at))
            if env.type == "ParticipantMoved":
                found.add(self._participant_region(participant, env.occurred_at - _JUST_BEFORE))
        if not found and (municipality := field_of(data, "municipality_id")):
            found.add(self._municipality_region(municipality))
        if not found:
            raise Unresolved(f"no region for {env.type}")
        return found

    def _occasion_region(self, occasion_id: str) -> str:
        region = self.occasions.get(occasion_id)
        if region is None:
            raise Unresolved(f"occasion {occasion_id}")
        return region

    def _municipality_region(self, municipality_id: str) -> str:
        region = self.municipalities.get(municipality_id)
        if region is None:
            raise Unresolved(f"municipality {municipality_id}")
        return region

    def _participant_region(self, participant_id: str, when: dt.datetime) -> str:
        if participant_id not in self.registered:
            raise Unresolved(f"participant {participant_id}")
        municipality = self.memberships.at(participant_id, when)
        assert municipality is not None  # registered: there is a timeline
        return self._municipality_region(municipality)

    # -- the fold ----------------------------------------------------------------------------

    def apply(self, env: Envelope) -> Routed:
        """Route one envelope (each id once: the caller dedupes), and whatever it releases."""
        routed = Routed()
        resolves = self.learn(env)
        if not self._route(env, routed):
            self.pending[str(env.id)] = env
            routed.held = True
        if resolves and self.pending:
            self._release(routed)
        return routed

    def _route(self, env: Envelope, routed: Routed) -> bool:
        try:
            regions = self.regions_of(env)
        except Unresolved:
            return False
        for region in sorted(regions):
            self.emit(region, env, routed)
        return True

    def emit(self, region: str, env: Envelope, routed: Routed) -> None:
        """Send an envelope to a region (after the catalogue, if the region is new)."""
        routed.out.append((region, env))
        if region not in self.regions:
            # A region's stream starts with the catalogue, whenever the region first appears.
            self.regions.add(region)
            for course in sorted(self.catalogue.values(), key=stamp_of):
                if course is not env:
                    routed.out.append((region, course))

    def release(self) -> Routed:
        """Route what is held and can be now (the enrolment topic has been read further)."""
        routed = Routed()
        self._release(routed)
        return routed

    def _release(self, routed: Routed) -> None:
        """Route the held envelopes that can be now, oldest first. Releasing one teaches
        nothing new (facts are learned on arrival), so one pass is enough."""
        for event_id, held in sorted(self.pending.items(), key=lambda kv: stamp_of(kv[1])):
            if self._route(held, routed):
                del self.pending[event_id]
                routed.released.append(event_id)
