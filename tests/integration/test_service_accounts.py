"""Certification's and notification's own clients against enrolment's real HTTP API, each with
the token `service_token` gives it: certification gets names (one, and a municipality's) and no
address, notification a name and an address; enrolment records every such read under the
account's pseudonym, and neither account may do anything else."""

from __future__ import annotations

import httpx
import pytest

from services.certification.adapters.enrolment import EnrolmentNames
from services.enrolment import application as enrolment
from services.enrolment.application import RegisterParticipant
from services.notification.adapters.directory import EnrolmentDirectory, Person
from shared.platform.auth import Principal, Role, service_token
from tests.integration.helpers import add_testby
from tests.tokens import mint

pytestmark = pytest.mark.integration


def test_each_service_reads_only_what_its_role_allows_and_is_recorded(
        enrolment_api: tuple[enrolment.Enrolment, str]) -> None:
    e, url = enrolment_api
    add_testby(e)
    pid = e.register_participant(RegisterParticipant(
        municipality_id="m1", name="Sara Socionom", email="sara@testby.se",
        role="socialsekreterare", years_in_profession=2))

    names = EnrolmentNames(url, timeout=30)
    assert names.name_of(pid) == "Sara Socionom"
    assert names.names_in("m1") == {pid: "Sara Socionom"}
    directory = EnrolmentDirectory(url, client=httpx.Client(base_url=url, timeout=30))
    assert directory.person(pid) == Person("sara@testby.se", "Sara Socionom")
    directory.close()

    for service, role in (("certification", Role.NAME_READER),
                          ("notification", Role.ADDRESS_READER)):
        token = service_token(service)
        headers = {"Authorization": f"Bearer {token}"}
        shown = httpx.get(f"{url}/participants/{pid}", headers=headers, timeout=30).json()
        assert ("email" in shown) is (role is Role.ADDRESS_READER)
        refused = httpx.delete(f"{url}/participants/{pid}", headers=headers, timeout=30)
        assert refused.status_code == 403 and role.value in refused.json()["detail"]

    auditor = {"Authorization": "Bearer " + mint(Principal(subject="granskare",
                                                           role=Role.AUDITOR))}
    reads = httpx.get(f"{url}/participants/{pid}/reads", headers=auditor, timeout=30).json()
    by_role = sorted(r["actor"].split(":")[0] for r in reads["reads"])
    assert by_role == ["address_reader", "address_reader", "name_reader", "name_reader",
                       "name_reader"]
    assert "service:" not in str(reads)  # pseudonyms, never the accounts' subjects
    participant = e.find_participant(pid)
    assert participant is not None and not participant.erased  # the refused erasure did nothing
