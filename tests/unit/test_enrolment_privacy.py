"""Nothing personal leaves the enrolment service, and erasure makes it unreadable for good
(SQLite and PostgreSQL).

A whole scenario runs through the service; then the relay's own mapping (`envelope_of`) is run
over every stored notification, exactly as the relay would publish it, and no name, e-mail
address or area of work may appear in any envelope, nor in the service's read model."""

from __future__ import annotations

import datetime as dt

from services.enrolment.application import (
    CompletePreparation,
    MoveParticipant,
    RegisterParticipant,
    RegisterTrainer,
    SubmitDeepening,
    bootstrap,
    migrate,
)
from services.enrolment.csv_import import import_municipalities, import_participants, import_regions
from services.enrolment.domain import PersonalDataRecorded, participant_key
from shared.events import models as contract
from shared.events import parse_envelope
from shared.platform.relay import envelope_of
from shared.platform.store import PydanticMapper
from tests.feeding import feed

PEOPLE = [("Karin Lindqvist", "karin.lindqvist@falun.example.se", "familjehem"),
          ("Ulf Åberg", "ulf.aberg@falun.example.se", "mottagning"),
          ("Fia Nilsson", "fia.nilsson@falun.example.se", "utredning")]
TRAINER = ("Rosa Reservsson", "rosa.reservsson@mora.example.se")
ADMIN = "maria.admin@falun.example.se"  # a token subject that is itself an e-mail address


def test_no_personal_data_is_relayed_and_erasure_shreds_it(database_url: str) -> None:
    migrate(database_url)
    e = bootstrap(database_url)
    admin = e.actor("municipal_admin", ADMIN)
    import_regions(e, "region_id,name\nrss-dalarna,RSS Dalarna\n", actor="cli")
    import_municipalities(e, "municipality_id,name,region_id\nfalun,Falun,rss-dalarna\n"
                             "mora,Mora,rss-dalarna\n", actor="cli")
    feed(e.runner(), contract.CoursePublished(
        course_id="bou-ny-samtal", journey="barn_och_unga", level="ny",
        title="Samtal och delaktighet",
        preparations=[{"item_id": "film-1", "title": "Se filmen", "mandatory": True}],
        deepening_tasks=[{"task_id": "reflektion", "title": "Skriv en reflektion"}]))
    csv = "name,email,role,area_of_work,years_in_profession\n" + "".join(
        f"{n},{m},socialsekreterare,{a},{i}\n" for i, (n, m, a) in enumerate(PEOPLE[:2]))
    imported = import_participants(e, "falun", csv, actor=admin)
    name, email, area = PEOPLE[2]
    single = e.register_participant(RegisterParticipant(
        municipality_id="falun", name=name, email=email, role="socialsekreterare",
        area_of_work=area, years_in_profession=0,
        occurred_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)), actor=admin)
    first = imported.imported[0][1]
    e.move_participant(first, MoveParticipant(to_municipality_id="mora"), actor=admin)
    e.level_up_all(actor="cli")
    e.complete_preparation(single, CompletePreparation(course_id="bou-ny-samtal",
                                                       item_id="film-1"), actor=single)
    e.submit_deepening(single, SubmitDeepening(course_id="bou-ny-samtal",
                                               task_id="reflektion"), actor=single)
    e.erase_participant(single, actor=admin)
    trainer = e.register_trainer(RegisterTrainer(municipality_id="mora", name=TRAINER[0],
                                                 email=TRAINER[1]), actor=admin)

    mapper = e.app.mapper
    assert isinstance(mapper, PydanticMapper)
    notes = e.app.recorder.select_notifications(start=0, limit=10_000)
    published = [m for n in notes if (m := envelope_of(mapper, "enrolment", n)) is not None]
    types = {parse_envelope(value).type for _, _, value in published}
    assert types == {"RegionRegistered", "MunicipalityJoined", "ParticipantRegistered",
                     "ParticipantMoved", "ParticipantLevelChanged", "PreparationCompleted",
                     "DeepeningSubmitted", "ParticipantErased", "TrainerRegistered"}
    assert len(published) < len(notes)  # personal data and claims stay home
    secrets = [s for person in (*PEOPLE, TRAINER) for s in person] + [ADMIN, "maria.admin"]
    secrets += [s.split("@")[0] for _, s, _ in PEOPLE]
    for _, key, value in published:
        text = (key + value).decode().lower()
        assert not [s for s in secrets if s.lower() in text], text
    actors = {parse_envelope(v).actor for _, _, v in published}
    assert admin in actors and all(ADMIN not in (a or "") for a in actors)

    e.directory.catch_up()
    for table in ("enrolment_regions", "enrolment_municipalities", "enrolment_copy_courses",
                  "enrolment_participants", "enrolment_claims", "enrolment_trainers"):
        dump = str(e.directory.db.execute(f"SELECT * FROM {table}")).lower()
        assert not [s for s in secrets if s.lower() in dump], table

    # The erased person's ciphertext is still in the store but can never be opened again;
    # the others' still can.
    recorded = [ev for ev in e.app.events.get(participant_key(single))
                if isinstance(ev, PersonalDataRecorded)]
    assert len(recorded) == 1
    assert e.vault.open(single, recorded[0].ciphertext) is None
    assert e.personal_data(e.participant(first)) == {
        "name": PEOPLE[0][0], "email": PEOPLE[0][1], "area_of_work": PEOPLE[0][2]}
    shown = e.trainer_view(e.find_trainer(trainer), personal=True)  # type: ignore[arg-type]
    assert (shown["name"], shown["email"], shown["municipality_id"]) == (*TRAINER, "mora")
    e.close()
