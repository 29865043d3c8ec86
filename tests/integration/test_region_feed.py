"""The region feed (server-sent events) on each database backend: a region's coordinator reads
exactly that region's log, resumes from a position, and learns nothing of another region's;
no name or e-mail address of enrolment's travels on it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from services.enrolment import application as enrolment
from services.enrolment.csv_import import import_municipalities, import_participants, import_regions
from services.regions.adapters.http import create_api
from services.regions.application import Regions, bootstrap, migrate
from shared.events import models as contract
from shared.events import new_envelope, parse_envelope
from shared.platform.auth import Principal, Role
from tests.integration.helpers import served
from tests.regions_world import World, two_regions
from tests.tokens import mint
from yrkesresan import stores

pytestmark = pytest.mark.integration


def bearer(role: Role, **scope: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint(Principal(subject="t", role=role, **scope))}


def sse(text: str) -> list[tuple[int, dict]]:  # type: ignore[type-arg]
    """(id, envelope) of each event of a server-sent event stream."""
    events = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines()
                      if ": " in line and not line.startswith(":"))
        if "data" in fields:
            events.append((int(fields["id"]), parse_envelope(fields["data"]).to_dict()))
    return events


@pytest.fixture(scope="module")
def regions(module_database_url: str) -> Iterator[Regions]:
    migrate(module_database_url)
    r = bootstrap(module_database_url)
    yield r
    r.close()


@pytest.fixture(scope="module")
def world(regions: Regions) -> World:
    w = two_regions(uuid.uuid4().hex[:8])
    regions.runner().apply_batch(w.envelopes)
    return w


# The region's own system (its machine's token, docs/regions.md) and its coordinator.
READERS = pytest.mark.parametrize("reader", [Role.REGION_READER, Role.REGIONAL_COORDINATOR])


@READERS
def test_a_region_reads_exactly_its_own_log_and_resumes_from_a_position(
    regions: Regions, world: World, reader: Role,
) -> None:
    client = TestClient(create_api(regions))
    me = bearer(reader, region_id=world.a)
    answer = client.get(f"/regions/{world.a}/events?follow=false", headers=me)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = sse(answer.text)
    assert [p for p, _ in events] == list(range(1, len(events) + 1))
    assert {e["id"] for _, e in events} == world.expected(world.a)
    assert len(events) == len(world.expected(world.a))
    assert not {e["id"] for _, e in events} & (world.expected(world.b) - world.expected(world.a))

    rest = sse(client.get(f"/regions/{world.a}/events?follow=false&after=5", headers=me).text)
    assert rest == events[5:]
    resumed = client.get(f"/regions/{world.a}/events?follow=false",
                         headers={**me, "Last-Event-ID": "7"})
    assert sse(resumed.text) == events[7:]
    beyond = client.get(f"/regions/{world.a}/events?follow=false&after=100000", headers=me)
    assert beyond.status_code == 200 and sse(beyond.text) == []


@READERS
def test_another_region_and_an_unknown_one_get_the_same_404(
    regions: Regions, world: World, reader: Role,
) -> None:
    client = TestClient(create_api(regions))
    me = bearer(reader, region_id=world.a)
    other = client.get(f"/regions/{world.b}/events?follow=false", headers=me)
    unknown = client.get("/regions/no-such-region/events?follow=false",
                         headers=bearer(reader, region_id="no-such-region"))
    assert other.status_code == unknown.status_code == 404
    assert other.json()["detail"].replace(world.b, "X") == unknown.json()["detail"].replace(
        "no-such-region", "X")
    assert world.b not in str(client.get("/regions/x/events", headers=me).json())


@pytest.mark.parametrize("role", [Role.NATIONAL_ANALYST, Role.MUNICIPAL_ADMIN, Role.PARTICIPANT,
                                  Role.TRAINER])
def test_other_roles_are_refused_before_any_region_is_looked_up(
    regions: Regions, world: World, role: Role,
) -> None:
    client = TestClient(create_api(regions))
    for region in (world.a, "no-such-region"):
        answer = client.get(f"/regions/{region}/events?follow=false",
                            headers=bearer(role, region_id=world.a, municipality_id="m"))
        assert answer.status_code == 403


def test_without_a_token_401_and_odd_positions_422(regions: Regions, world: World) -> None:
    client = TestClient(create_api(regions))
    assert client.get(f"/regions/{world.a}/events").status_code == 401
    me = bearer(Role.REGIONAL_COORDINATOR, region_id=world.a)
    for header in ("abc", "-1", "1e3", "99999999999999", "٣".encode()):
        answer = client.get(f"/regions/{world.a}/events?follow=false",
                            headers={**me, "Last-Event-ID": header})  # type: ignore[dict-item]
        assert answer.status_code == 422, header
    for after in ("-1", "x", str(2**40)):
        assert client.get(f"/regions/{world.a}/events?after={after}",
                          headers=me).status_code == 422
    system = client.get(f"/regions/{world.b}/events?follow=false",
                        headers=bearer(Role.SYSTEM))
    assert {e["id"] for _, e in sse(system.text)} == world.expected(world.b)


def test_no_name_or_e_mail_address_travels_on_the_feed(pg_url: str) -> None:
    """A region built by the enrolment service itself, names and addresses given, then routed
    from its store as the bus would carry it."""
    enrolment.migrate(pg_url)
    e = enrolment.bootstrap(pg_url)
    tag = uuid.uuid4().hex[:8]
    region, home = f"rss-{tag}", f"falun-{tag}"
    import_regions(e, f"region_id,name\n{region},RSS {tag}\n")
    import_municipalities(e, f"municipality_id,name,region_id\n{home},Falun,{region}\n")
    people = [(f"Namn{i} Efternamn{tag}", f"person{i}.{tag}@example.se") for i in range(3)]
    csv = "name,email,role,area_of_work,years_in_profession\n" + "".join(
        f"{name},{email},socialsekreterare,utredning,{i}\n" for i, (name, email) in
        enumerate(people))
    assert len(import_participants(e, home, csv, actor="cli").imported) == 3
    migrate(pg_url)
    regions = bootstrap(pg_url)
    assert stores.rebuild(regions.runner(), [e.app]) == 5
    client = TestClient(create_api(regions))
    feed = client.get(f"/regions/{region}/events?follow=false",
                      headers=bearer(Role.REGIONAL_COORDINATOR, region_id=region))
    assert len(sse(feed.text)) == 5
    text = feed.text.lower()
    for name, email in people:
        for secret in (*name.lower().split(), email, email.split("@")[0], "utredning"):
            assert secret not in text, secret
    regions.close()
    e.close()


def test_a_follower_receives_what_is_added_after_it_connected(
    regions: Regions, world: World,
) -> None:
    """Over a real server (uvicorn), as a region's client reads it: the backlog, then an event
    routed while the answer is open."""
    with served(create_api(regions), "the region feed", access_log=True,
                timeout_graceful_shutdown=1) as url:
        me = bearer(Role.REGIONAL_COORDINATOR, region_id=world.b)
        backlog = len(world.expected(world.b))
        late = new_envelope(contract.PriceListSet.model_validate({
            "region_id": world.b, "year": 2027, "components": {
                "venue_and_fika": 1, "administration": 1, "trainer_pot": 1,
                "course_material": 1, "buffer": 1}, "points": {"leader": 1, "trainer": 1}}))
        seen: list[int] = []
        with httpx.stream("GET", f"{url}/regions/{world.b}/events",
                          headers={**me, "Last-Event-ID": str(backlog - 2)},
                          timeout=30) as answer:
            assert answer.status_code == 200
            for line in answer.iter_lines():
                if line.startswith("id: "):
                    seen.append(int(line[4:]))
                if len(seen) == 2:  # the last two of the backlog: now something new
                    regions.runner().apply_batch([late])
                if line.startswith("data: ") and str(late.id) in line:
                    break
        assert seen == [backlog - 1, backlog, backlog + 1]
