"""The v1 compatibility guard: today's models against the frozen baseline, and proof that the
guard catches each kind of break by simulating it on real pydantic models."""

from __future__ import annotations

import copy
from enum import StrEnum
from typing import Annotated, Any, Literal

import pytest
from pydantic import StringConstraints, create_model

from shared.events import ENVELOPE_TYPES, Envelope, EventData
from shared.events import models as m
from shared.events import schema as contract
from shared.events.compat import breaking_changes

Id = m.Id

# The v1 types of CONTRACT.md, written out so that a baseline missing one cannot pass.
V1_TYPES = {
    "RegionRegistered",
    "MunicipalityJoined",
    "CoursePublished",
    "PriceListSet",
    "ParticipantRegistered",
    "ParticipantMoved",
    "ParticipantLevelChanged",
    "PreparationCompleted",
    "DeepeningSubmitted",
    "ParticipantErased",
    "CourseOccasionPlanned",
    "ParticipantBooked",
    "BookingCancelled",
    "TrainerAssigned",
    "CourseDayAttended",
    "TrainerDayDelivered",
    "CourseCompleted",
    "CertificateIssued",
    "EvaluationSubmitted",
    "YearClosed",
    "PotDistributed",
}


@pytest.fixture(scope="module")
def baseline() -> dict[str, Any]:
    return contract.load_baseline()


def _envelope(name: str, data: type[EventData], base: type[Envelope] = Envelope) -> type[Envelope]:
    discriminator: Any = Literal[name]
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{name}Envelope", __base__=base, type=(discriminator, ...), data=(data, ...)
    )


def changed(name: str, data: type[EventData], base: type[Envelope] = Envelope) -> dict[str, Any]:
    """The contract snapshot as it would be if `name`'s data model were `data`."""
    envelopes = {**ENVELOPE_TYPES, name: _envelope(name, data, base)}
    return contract.contract_snapshot(envelopes)


# --- Today's models -------------------------------------------------------------------------


def test_the_baseline_is_v1_and_holds_every_v1_type(baseline: dict[str, Any]) -> None:
    assert baseline["schema_version"] == 1
    assert set(baseline["events"]) == V1_TYPES
    for entry in baseline["events"].values():
        assert entry["topic"].startswith("yrkesresan.") and entry["key"]


def test_current_models_break_nothing_in_v1(baseline: dict[str, Any]) -> None:
    assert breaking_changes(baseline, contract.contract_snapshot()) == []


def test_an_unchanged_simulated_model_breaks_nothing(baseline: dict[str, Any]) -> None:
    class ParticipantMoved(EventData):
        SERVICE = "enrolment"
        KEY = "participant_id"
        participant_id: Id
        to_municipality_id: Id

    assert breaking_changes(baseline, changed("ParticipantMoved", ParticipantMoved)) == []


# --- Changes v1 allows ----------------------------------------------------------------------


def test_adding_an_optional_field_is_allowed(baseline: dict[str, Any]) -> None:
    class ParticipantMoved(EventData):
        SERVICE = "enrolment"
        KEY = "participant_id"
        participant_id: Id
        to_municipality_id: Id
        reason: str | None = None
        effective_from: str = "immediately"

    assert breaking_changes(baseline, changed("ParticipantMoved", ParticipantMoved)) == []


def test_adding_an_optional_field_to_a_nested_object_is_allowed(baseline: dict[str, Any]) -> None:
    class PotShare(m.PotShare):
        note: str | None = None

    class PotDistributed(m.PotDistributed):
        trainers: tuple[PotShare, ...] = ()

    assert breaking_changes(baseline, changed("PotDistributed", PotDistributed)) == []


def test_adding_an_event_type_is_allowed(baseline: dict[str, Any]) -> None:
    class TrainerRecruited(EventData):
        SERVICE = "scheduling"
        KEY = "trainer_id"
        trainer_id: Id

    assert breaking_changes(baseline, changed("TrainerRecruited", TrainerRecruited)) == []


# --- Breaks the guard must catch ------------------------------------------------------------


def test_removing_a_field_is_reported(baseline: dict[str, Any]) -> None:
    class ParticipantMoved(EventData):
        SERVICE = "enrolment"
        KEY = "participant_id"
        participant_id: Id

    assert breaking_changes(baseline, changed("ParticipantMoved", ParticipantMoved)) == [
        "ParticipantMoved: data.to_municipality_id: field removed"
    ]


def test_removing_an_optional_field_is_reported(baseline: dict[str, Any]) -> None:
    class CoursePublished(EventData):
        SERVICE = "reference"
        KEY = "course_id"
        course_id: Id
        journey: Id
        level: m.Level
        title: Annotated[str, StringConstraints(min_length=1)]
        preparations: tuple[m.Preparation, ...] = ()

    assert breaking_changes(baseline, changed("CoursePublished", CoursePublished)) == [
        "CoursePublished: data.deepening_tasks: field removed"
    ]


def test_renaming_a_field_is_reported_as_removed_and_added(baseline: dict[str, Any]) -> None:
    class ParticipantMoved(EventData):
        SERVICE = "enrolment"
        KEY = "participant_id"
        participant_id: Id
        municipality_id: Id

    assert breaking_changes(baseline, changed("ParticipantMoved", ParticipantMoved)) == [
        "ParticipantMoved: data.to_municipality_id: field removed (renamed to 'municipality_id'?)",
        "ParticipantMoved: data.municipality_id: new required field (v1 messages lack it)",
    ]


def test_renaming_to_an_optional_field_is_still_reported(baseline: dict[str, Any]) -> None:
    class ParticipantMoved(EventData):
        SERVICE = "enrolment"
        KEY = "participant_id"
        participant_id: Id
        municipality_id: Id | None = None

    problems = breaking_changes(baseline, changed("ParticipantMoved", ParticipantMoved))
    assert problems == [
        "ParticipantMoved: data.to_municipality_id: field removed (renamed to 'municipality_id'?)"
    ]


def test_adding_a_required_field_is_reported(baseline: dict[str, Any]) -> None:
    class ParticipantMoved(EventData):
        SERVICE = "enrolment"
        KEY = "participant_id"
        participant_id: Id
        to_municipality_id: Id
        reason: str

    assert breaking_changes(baseline, changed("ParticipantMoved", ParticipantMoved)) == [
        "ParticipantMoved: data.reason: new required field (v1 messages lack it)"
    ]


def test_adding_a_required_field_to_the_envelope_is_reported(baseline: dict[str, Any]) -> None:
    class TenantEnvelope(Envelope):
        tenant: str

    problems = breaking_changes(baseline, changed("YearClosed", m.YearClosed, TenantEnvelope))
    assert problems == ["YearClosed: tenant: new required field (v1 messages lack it)"]


def test_adding_a_required_field_to_a_nested_object_is_reported(baseline: dict[str, Any]) -> None:
    class PotShare(m.PotShare):
        hours: float

    class PotDistributed(m.PotDistributed):
        trainers: tuple[PotShare, ...] = ()

    assert breaking_changes(baseline, changed("PotDistributed", PotDistributed)) == [
        "PotDistributed: data.trainers[].hours: new required field (v1 messages lack it)"
    ]


def test_changing_a_field_type_is_reported(baseline: dict[str, Any]) -> None:
    class CourseDayAttended(EventData):
        SERVICE = "scheduling"
        KEY = "participant_id"
        participant_id: Id
        occasion_id: Id
        day: str

    problems = breaking_changes(baseline, changed("CourseDayAttended", CourseDayAttended))
    assert problems == ["CourseDayAttended: data.day: type changed from integer to string"]


def test_changing_a_nested_field_type_is_reported(baseline: dict[str, Any]) -> None:
    class PriceComponents(m.PriceComponents):
        trainer_pot: float = 400.0  # type: ignore[assignment]

    class PriceListSet(m.PriceListSet):
        components: PriceComponents

    problems = breaking_changes(baseline, changed("PriceListSet", PriceListSet))
    assert "PriceListSet: data.components.trainer_pot: type changed from integer to number" in (
        problems
    )


def test_making_a_field_nullable_is_reported(baseline: dict[str, Any]) -> None:
    class ParticipantMoved(EventData):
        SERVICE = "enrolment"
        KEY = "participant_id"
        participant_id: Id
        to_municipality_id: Id | None

    problems = breaking_changes(baseline, changed("ParticipantMoved", ParticipantMoved))
    assert problems == [
        "ParticipantMoved: data.to_municipality_id: type changed from string to string | null"
    ]


def test_making_a_required_field_optional_is_reported(baseline: dict[str, Any]) -> None:
    class ParticipantMoved(EventData):
        SERVICE = "enrolment"
        KEY = "participant_id"
        participant_id: Id
        to_municipality_id: Id = "unknown"

    problems = breaking_changes(baseline, changed("ParticipantMoved", ParticipantMoved))
    assert problems == [
        "ParticipantMoved: data.to_municipality_id: no longer required (v1 consumers rely on it)"
    ]


def test_changing_a_default_is_reported(baseline: dict[str, Any]) -> None:
    class PriceComponents(m.PriceComponents):
        trainer_pot: m.Kronor = 450

    class PriceListSet(m.PriceListSet):
        components: PriceComponents

    assert breaking_changes(baseline, changed("PriceListSet", PriceListSet)) == [
        "PriceListSet: data.components.trainer_pot: default changed from 400 to 450"
    ]


def test_tightening_a_constraint_is_reported(baseline: dict[str, Any]) -> None:
    class YearClosed(EventData):
        SERVICE = "billing"
        KEY = "region_id"
        region_id: Annotated[str, StringConstraints(min_length=1, max_length=50)]
        year: m.Year

    assert breaking_changes(baseline, changed("YearClosed", YearClosed)) == [
        "YearClosed: data.region_id: maxLength changed from 200 to 50"
    ]


def test_adding_or_removing_an_enum_value_is_reported(baseline: dict[str, Any]) -> None:
    class Level(StrEnum):
        NY = "ny"
        VAN = "van"
        ERFAREN = "erfaren"
        LEDARE = "ledare"

    class ParticipantLevelChanged(EventData):
        SERVICE = "enrolment"
        KEY = "participant_id"
        participant_id: Id
        level: Level

    problems = breaking_changes(
        baseline, changed("ParticipantLevelChanged", ParticipantLevelChanged)
    )
    assert problems == [
        "ParticipantLevelChanged: data.level: enum values removed: ['chef'] (v1 logs hold them)",
        "ParticipantLevelChanged: data.level: enum values added: ['ledare']"
        " (v1 consumers reject them)",
    ]


def test_changing_the_map_value_type_is_reported(baseline: dict[str, Any]) -> None:
    class EvaluationSubmitted(m.EvaluationSubmitted):
        answers: dict[Id, str]  # type: ignore[assignment]

    problems = breaking_changes(baseline, changed("EvaluationSubmitted", EvaluationSubmitted))
    assert "EvaluationSubmitted: data.answers[*]: type changed from integer to string" in problems


def test_changing_the_key_or_topic_is_reported(baseline: dict[str, Any]) -> None:
    class ParticipantBooked(EventData):
        SERVICE = "enrolment"
        KEY = "occasion_id"
        occasion_id: Id
        participant_id: Id

    assert breaking_changes(baseline, changed("ParticipantBooked", ParticipantBooked)) == [
        "ParticipantBooked: topic changed from 'yrkesresan.scheduling.v1' to "
        "'yrkesresan.enrolment.v1'",
        "ParticipantBooked: key changed from 'participant_id' to 'occasion_id'",
    ]


def test_forbidding_unknown_fields_is_reported(baseline: dict[str, Any]) -> None:
    class YearClosed(m.YearClosed):
        model_config = {**m.YearClosed.model_config, "extra": "forbid"}

    assert breaking_changes(baseline, changed("YearClosed", YearClosed)) == [
        "YearClosed: data: unknown fields now rejected (v1 allows adding optional fields)"
    ]


def test_removing_an_event_type_is_reported(baseline: dict[str, Any]) -> None:
    current = copy.deepcopy(contract.contract_snapshot())
    del current["events"]["DeepeningSubmitted"]
    assert breaking_changes(baseline, current) == ["DeepeningSubmitted: event type removed"]


def test_a_break_in_the_schema_json_alone_is_caught(baseline: dict[str, Any]) -> None:
    """The guard reads schemas, not classes: an edit to the JSON is enough."""
    current = copy.deepcopy(baseline)
    data = current["events"]["CourseOccasionPlanned"]["schema"]["$defs"]["CourseDay"]
    del data["properties"]["mode"]
    data["required"].remove("mode")
    data["properties"]["capacity_hint"] = {"type": "integer", "minimum": 0}
    data["required"].append("capacity_hint")
    assert breaking_changes(baseline, current) == [
        "CourseOccasionPlanned: data.days[].mode: field removed (renamed to 'capacity_hint'?)",
        "CourseOccasionPlanned: data.days[].capacity_hint: new required field"
        " (v1 messages lack it)",
    ]
