"""Participant accounts: registration, moves, preparations and deepening, erasure
(SQLite and PostgreSQL). A rejected command records no event."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from services.enrolment.application import (
    CompletePreparation,
    Enrolment,
    JoinMunicipality,
    MoveParticipant,
    RegisterParticipant,
    RegisterRegion,
    SubmitDeepening,
    bootstrap,
    migrate,
)
from services.enrolment.domain import ParticipantMoved
from shared.events import models as contract
from shared.events import new_envelope
from shared.platform.errors import CommandRejected, Conflict, NotFound
from tests.feeding import feed

COURSE = contract.CoursePublished(
    course_id="bou-ny-handlaggning", journey="barn_och_unga", level="ny",
    title="Handläggning med barnet i centrum",
    preparations=[{"item_id": "handbok-kap-3", "title": "Läs kapitel 3", "mandatory": True},
                  {"item_id": "podd-1", "title": "Lyssna på podden", "mandatory": False}],
    deepening_tasks=[{"task_id": "checklista-1", "title": "Gör checklistan"}],
)


@pytest.fixture
def enrolment(database_url: str) -> Iterator[Enrolment]:
    migrate(database_url)
    e = bootstrap(database_url)
    e.register_region(RegisterRegion(region_id="rss-dalarna", name="RSS Dalarna"))
    for mid, name in (("falun", "Falun"), ("mora", "Mora")):
        e.join_municipality(JoinMunicipality(municipality_id=mid, name=name,
                                             region_id="rss-dalarna"))
    feed(e.runner(), COURSE)  # as the enrolment-catalogue consumer would
    yield e
    e.close()


def _register(e: Enrolment, email: str = "anna@falun.example.se", **kw: object) -> str:
    fields = {"municipality_id": "falun", "name": "Anna Andersson", "email": email,
              "role": "socialsekreterare", "years_in_profession": 1,
              "area_of_work": "utredning"} | kw
    return e.register_participant(RegisterParticipant.model_validate(fields), actor="test")


def _events(e: Enrolment) -> int:
    return e.app.recorder.max_notification_id() or 0


def test_the_email_address_holds_one_account_nationally(enrolment: Enrolment) -> None:
    _register(enrolment)
    events = _events(enrolment)
    with pytest.raises(Conflict) as e:
        _register(enrolment, email=" ANNA@falun.example.se ", municipality_id="mora")
    assert e.value.field == "email"
    assert _events(enrolment) == events


def _keys(e: Enrolment) -> set[str]:
    return {row[0] for row in e.vault.db.execute("SELECT owner_id FROM personal_data_keys")}


def test_a_refused_registration_stores_no_key_and_leaves_the_existing_one(
    enrolment: Enrolment,
) -> None:
    pid = _register(enrolment)
    before = enrolment.view(enrolment.participant(pid), personal=True)
    with pytest.raises(Conflict):  # the address is taken: no key for the refused one
        _register(enrolment)
    assert _keys(enrolment) == {pid}
    assert enrolment.view(enrolment.participant(pid), personal=True) == before


def test_ids_are_minted_uuids_and_a_caller_cannot_choose_one(enrolment: Enrolment) -> None:
    ids = [_register(enrolment, email=f"p{i}@falun.example.se") for i in range(3)]
    assert len(set(ids)) == 3
    assert all(uuid.UUID(pid).version == 4 for pid in ids)
    with pytest.raises(ValidationError) as e:
        _register(enrolment, email="q@falun.example.se", participant_id="chosen")
    assert [err["loc"] for err in e.value.errors()] == [("participant_id",)]
    assert e.value.errors()[0]["type"] == "extra_forbidden"


def test_a_batch_registers_through_the_same_handler_in_one_transaction(
    enrolment: Enrolment,
) -> None:
    taken = _register(enrolment)
    events, keys = _events(enrolment), _keys(enrolment)
    batch = [RegisterParticipant(municipality_id="falun", name=f"P {i}",
                                 email=f"b{i}@falun.example.se", role="socialsekreterare",
                                 years_in_profession=i) for i in range(3)]
    with pytest.raises(Conflict):  # one address is held: nobody of the batch is recorded
        enrolment.register_participants(
            [*batch, batch[0].model_copy(update={"email": "anna@falun.example.se"})])
    assert (_events(enrolment), _keys(enrolment)) == (events, keys)
    ids = enrolment.register_participants(batch, actor="test")
    assert _keys(enrolment) == {taken, *ids}
    assert [enrolment.personal_data(enrolment.participant(p))["name"]  # type: ignore[index]
            for p in ids] == ["P 0", "P 1", "P 2"]


def test_registration_in_an_unknown_municipality_is_not_found(enrolment: Enrolment) -> None:
    events = _events(enrolment)
    with pytest.raises(NotFound):
        _register(enrolment, municipality_id="atlantis")
    assert _events(enrolment) == events


def test_a_move_keeps_the_account_and_its_history(enrolment: Enrolment) -> None:
    pid = _register(enrolment)
    enrolment.complete_preparation(pid, CompletePreparation(course_id=COURSE.course_id,
                                                            item_id="handbok-kap-3"))
    moved_at = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    enrolment.move_participant(pid, MoveParticipant(to_municipality_id="mora",
                                                    occurred_at=moved_at))
    p = enrolment.participant(pid)
    assert p.participant_id == pid and p.municipality_id == "mora"
    assert [m for m, _ in p.municipalities] == ["falun", "mora"]
    assert p.municipalities[1][1] == moved_at
    assert p.preparations == [(COURSE.course_id, "handbok-kap-3")]
    assert enrolment.personal_data(p)["email"] == "anna@falun.example.se"  # type: ignore[index]
    assert [r["participant_id"] for r in enrolment.participants_of("mora", False)] == [pid]
    assert enrolment.participants_of("falun", False) == []
    moved = [e for e in enrolment.app.events.get(p.id) if isinstance(e, ParticipantMoved)]
    assert [(e.participant_id, e.to_municipality_id) for e in moved] == [(pid, "mora")]


def test_a_move_needs_an_existing_other_municipality(enrolment: Enrolment) -> None:
    pid = _register(enrolment)
    events = _events(enrolment)
    with pytest.raises(NotFound) as e:
        enrolment.move_participant(pid, MoveParticipant(to_municipality_id="atlantis"))
    assert e.value.field == "to_municipality_id"
    with pytest.raises(Conflict):
        enrolment.move_participant(pid, MoveParticipant(to_municipality_id="falun"))
    with pytest.raises(NotFound):
        enrolment.move_participant("nobody", MoveParticipant(to_municipality_id="mora"))
    assert _events(enrolment) == events


def test_preparations_and_deepening_of_a_catalogued_course(enrolment: Enrolment) -> None:
    pid = _register(enrolment)
    prep = CompletePreparation(course_id=COURSE.course_id, item_id="podd-1")
    task = SubmitDeepening(course_id=COURSE.course_id, task_id="checklista-1")
    assert enrolment.complete_preparation(pid, prep) is True
    assert enrolment.submit_deepening(pid, task) is True
    events = _events(enrolment)
    assert enrolment.complete_preparation(pid, prep) is False  # once only
    assert enrolment.submit_deepening(pid, task) is False
    assert _events(enrolment) == events
    p = enrolment.participant(pid)
    assert p.preparations == [(COURSE.course_id, "podd-1")]
    assert p.deepening == [(COURSE.course_id, "checklista-1")]


def test_unknown_courses_and_items_are_rejected_and_record_nothing(
    enrolment: Enrolment,
) -> None:
    pid = _register(enrolment)
    events = _events(enrolment)
    with pytest.raises(NotFound) as e:
        enrolment.complete_preparation(pid, CompletePreparation(course_id="no-such-course",
                                                                item_id="x"))
    assert e.value.field == "course_id"
    with pytest.raises(CommandRejected) as e:
        enrolment.complete_preparation(pid, CompletePreparation(course_id=COURSE.course_id,
                                                                item_id="checklista-1"))
    assert (e.value.status, e.value.field) == (422, "item_id")
    with pytest.raises(CommandRejected) as e:
        enrolment.submit_deepening(pid, SubmitDeepening(course_id=COURSE.course_id,
                                                        task_id="handbok-kap-3"))
    assert (e.value.status, e.value.field) == (422, "task_id")
    assert _events(enrolment) == events


def test_the_catalogue_copy_keeps_the_latest_revision_and_records_no_event(
    enrolment: Enrolment,
) -> None:
    events = _events(enrolment)
    runner = enrolment.runner()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    revised = new_envelope(COURSE.model_copy(update={"deepening_tasks": ()}), occurred_at=later)
    assert feed(runner, revised) == 1
    assert feed(runner, revised) == 0  # the same envelope again: applied once
    assert enrolment.courses()[0]["deepening_tasks"] == []
    older = COURSE.model_copy(update={"title": "En äldre version"})
    feed(runner, older, occurred_at=later - dt.timedelta(days=1))  # arrives late, loses
    assert enrolment.course(COURSE.course_id).title == COURSE.title
    feed(runner, contract.ParticipantErased(participant_id="x"))  # a type it does not keep
    assert [c["course_id"] for c in enrolment.courses()] == [COURSE.course_id]
    assert _events(enrolment) == events  # a copy, not facts of enrolment's own


def test_erasure_shreds_the_key_keeps_the_facts_and_frees_the_address(
    enrolment: Enrolment,
) -> None:
    pid = _register(enrolment)
    enrolment.complete_preparation(pid, CompletePreparation(course_id=COURSE.course_id,
                                                            item_id="handbok-kap-3"))
    ciphertext = enrolment.participant(pid).ciphertext
    assert ciphertext is not None
    assert enrolment.erase_participant(pid, actor="test") is True
    p = enrolment.participant(pid)
    view = enrolment.view(p, personal=True)
    assert view["erased"] is True
    assert (view["name"], view["email"], view["area_of_work"]) == (None, None, None)
    assert view["preparations"] == [{"course_id": COURSE.course_id, "item_id": "handbok-kap-3"}]
    assert enrolment.vault.open(pid, ciphertext) is None  # the stored ciphertext is dead
    # Erasing again changes nothing; other commands on the account are refused.
    events = _events(enrolment)
    assert enrolment.erase_participant(pid) is False
    with pytest.raises(Conflict):
        enrolment.move_participant(pid, MoveParticipant(to_municipality_id="mora"))
    assert _events(enrolment) == events
    # The address was released: it may hold a new account.
    again = _register(enrolment)
    assert again != pid


def test_listing_shows_personal_data_only_when_asked(enrolment: Enrolment) -> None:
    a = _register(enrolment, email="a@falun.example.se", name="A")
    b = _register(enrolment, email="b@falun.example.se", name="B")
    listed = enrolment.participants_of("falun", personal=True)
    assert sorted((r["participant_id"], r["name"]) for r in listed) == sorted([(a, "A"),
                                                                               (b, "B")])
    hidden = enrolment.participants_of("falun", personal=False)
    assert all("name" not in r and "email" not in r for r in hidden)
    assert len(enrolment.participants_of("falun", personal=False, limit=1, offset=1)) == 1
