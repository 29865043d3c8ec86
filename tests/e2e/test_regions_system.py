"""Two regions run through the whole system as users run it (the APIs, relays, the regions
process, the region feed): each region's stream on the broker and its feed over HTTP carry the
same events, and nothing of the other region's. A participant of region 2 on region 1's
occasion, and a participant moving from region 1 to region 2, are the cases in between."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition

from services.regions.application import region_topic
from shared.events import parse_envelope
from shared.platform import asof
from shared.platform.auth import Principal, Role
from tests.tokens import mint
from yrkesresan.launcher import System, _once_known

pytestmark = pytest.mark.e2e


def bearer(role: Role, **scope: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint(Principal(subject="e2e", role=role,
                                                               **scope))}


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 400, (response.request.url, response.text)
    return response.json()  # type: ignore[no-any-return]


def feed(system: System, region: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{system.region_feed_url()}/regions/{region}/events?follow=false",
                       headers=bearer(Role.REGION_READER, region_id=region),  # its machine's
                       timeout=30)
    if answer.status_code == 404:
        return []
    assert answer.status_code == 200, answer.text
    return [parse_envelope(line[6:]).to_dict() for line in answer.text.splitlines()
            if line.startswith("data: ")]


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def stream_ids(bootstrap: str, region: str, expected: set[str], timeout: float = 60) -> list[str]:
    """Every id on the region's topic, read from the start until `expected` are all seen and
    the partitions' high-water marks (reliable after a poll) say nothing else is there."""
    topic = region_topic(region)
    assert topic is not None
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        assert parts, topic
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ids: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                ids += [str(parse_envelope(r.value).id) for r in batch]
            if set(ids) >= expected and sum(consumer.highwater(tp) or 0 for tp in parts) == len(
                    ids):
                return ids
        raise AssertionError(f"{topic}: {len(ids)} read, {len(expected - set(ids))} missing")
    finally:
        consumer.close()


def mentions(env: dict[str, Any], ids: set[str]) -> set[str]:
    """Which of `ids` the envelope's data names (at any depth)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str) and value in ids:
            found.add(value)

    walk(env["data"])
    return found


def test_each_region_s_stream_and_feed_carry_its_own_events_only(
    system: System,
) -> None:
    urls, tag = system.urls(), uuid.uuid4().hex[:6]
    r1, r2, m1, m2 = f"r1-{tag}", f"r2-{tag}", f"m1-{tag}", f"m2-{tag}"
    o1, o2 = f"o1-{tag}", f"o2-{tag}"
    root = bearer(Role.SYSTEM)
    coordinator = {r: bearer(Role.REGIONAL_COORDINATOR, region_id=r) for r in (r1, r2)}
    admin = {m: bearer(Role.MUNICIPAL_ADMIN, municipality_id=m) for m in (m1, m2)}
    enrol, sched = urls["enrolment"], urls["scheduling"]
    for region in (r1, r2):
        ok(httpx.post(f"{enrol}/regions", headers=root, json={"region_id": region,
                                                               "name": f"Region {region}"}))
    for mid, region in ((m1, r1), (m2, r2)):
        ok(httpx.post(f"{enrol}/municipalities", headers=root, json={
            "municipality_id": mid, "name": f"Kommun {mid}", "region_id": region}))
    person = {}
    for name, mid in (("p1", m1), ("p2", m2)):
        person[name] = ok(httpx.post(f"{enrol}/participants", headers=admin[mid], timeout=30,
                                     json={"municipality_id": mid, "name": f"Person {name}",
                                           "email": f"{name}.{tag}@example.se",
                                           "role": "socialsekreterare",
                                           "years_in_profession": 1}))["participant_id"]
    trainer = {}
    for name, mid, region in (("t1", m1, r1), ("t2", m2, r2)):
        trainer[name] = ok(httpx.post(f"{enrol}/trainers", headers=coordinator[region],
                                      timeout=30, json={
                                          "municipality_id": mid, "name": f"Utbildare {name}",
                                          "email": f"{name}.{tag}@example.se"}))["trainer_id"]
    ok(httpx.post(f"{sched}/catalogue", headers=root, timeout=30))
    past = asof.today() - dt.timedelta(days=14)
    for occasion, region, t in ((o1, r1, "t1"), (o2, r2, "t2")):
        ok(_once_known(partial(httpx.post, f"{sched}/occasions", headers=coordinator[region],
                               timeout=30, json={
                                   "occasion_id": occasion, "course_id": "bou-ny-samtal",
                                   "region_id": region, "capacity": 10,
                                   "days": [{"day": 1, "date": str(past), "mode": "digital"},
                                            {"day": 2, "date": str(past + dt.timedelta(days=7)),
                                             "mode": "on_site", "venue": "Folkets hus"}]})))
        ok(_once_known(partial(httpx.post, f"{sched}/occasions/{occasion}/trainers",
                               headers=coordinator[region], timeout=30,
                               json={"trainer_id": trainer[t], "role": "leader"})))
    for p, occasion in (("p1", o1), ("p2", o2), ("p2", o1)):  # p2 of region 2 on o1 too
        me = bearer(Role.PARTICIPANT, participant_id=person[p])
        ok(_once_known(partial(httpx.post, f"{sched}/occasions/{occasion}/bookings", headers=me,
                               timeout=30, json={"participant_id": person[p]})))
    for occasion, region, present, t in ((o1, r1, ["p1", "p2"], "t1"), (o2, r2, ["p2"], "t2")):
        ok(httpx.post(f"{sched}/occasions/{occasion}/days/1/attendance",
                      headers=coordinator[region], timeout=30, json={
                          "present": [person[p] for p in present],
                          "delivered_by": [{"trainer_id": trainer[t], "role": "leader"}]}))
    ok(httpx.post(f"{enrol}/participants/{person['p1']}/move", headers=admin[m1], timeout=30,
                  json={"to_municipality_id": m2}))
    ok(_once_known(partial(httpx.post, f"{enrol}/participants/{person['p1']}/preparations",
                           headers=bearer(Role.PARTICIPANT, participant_id=person["p1"]),
                           timeout=30, json={"course_id": "bou-ny-samtal", "item_id": "sod-f1"})))

    def types(region: str) -> list[tuple[str, set[str]]]:
        return [(e["type"], mentions(e, {*person.values(), o1, o2})) for e in feed(system, region)]

    wait_for(lambda: ("PreparationCompleted", {person["p1"]}) in types(r2)
             and sum(t == "CourseDayAttended" for t, _ in types(r1)) == 2
             and sum(t == "CourseDayAttended" for t, _ in types(r2)) == 2,
             "both regions' feeds to hold the attendance and p1's preparation after moving")

    one, two = feed(system, r1), feed(system, r2)
    own = {r1: {r1, m1, o1, trainer["t1"]}, r2: {r2, m2, o2, trainer["t2"]}}
    for env in one:  # region 1: nothing of region 2's, but p2 on o1 and p1's move to m2
        foreign = mentions(env, own[r2] | {person["p2"]})
        if foreign:
            assert (env["type"] in ("ParticipantBooked", "CourseDayAttended")
                    and foreign == {person["p2"]} and o1 in mentions(env, {o1})) or (
                env["type"] == "ParticipantMoved" and foreign == {m2}), env
    for env in two:  # region 2: nothing of region 1's, but p2 on o1 and p1 from the move on
        foreign = mentions(env, own[r1] | {person["p1"]})
        if foreign:
            assert (env["type"] in ("ParticipantBooked", "CourseDayAttended")
                    and foreign == {o1} and person["p2"] in mentions(env, {person["p2"]})) or (
                env["type"] in ("ParticipantMoved", "PreparationCompleted")
                and foreign == {person["p1"]}), env
    assert not [e for e in one if e["type"] == "PreparationCompleted"]  # after p1 had moved
    assert not [e for e in two if e["type"] == "ParticipantRegistered"
                and e["data"]["participant_id"] == person["p1"]]  # p1 registered in region 1
    bootstrap = system.env["KAFKA_BOOTSTRAP"]
    for region, logged in ((r1, one), (r2, two)):
        on_feed = [e["id"] for e in logged]
        assert len(on_feed) == len(set(on_feed))
        on_stream = stream_ids(bootstrap, region, set(on_feed))
        assert sorted(on_stream) == sorted(on_feed), region  # the same events, each once
    text = str(one + two)
    for secret in ("Person p1", "Person p2", f"p1.{tag}@example.se", "Utbildare t1"):
        assert secret not in text
