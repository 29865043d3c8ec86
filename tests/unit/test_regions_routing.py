"""The routing rule of the region streams, and the region log that keeps what it decided."""

from __future__ import annotations

import datetime as dt
import io
import pickle
from collections import defaultdict
from pathlib import Path

from services.regions.application import bootstrap, migrate, read_log, region_topic
from services.regions.domain import FACTS, RegionRouter
from shared.events import EVENT_TYPES, Envelope
from tests.regions_world import two_regions


def _route_all(router: RegionRouter, envelopes: list) -> dict[str, list[str]]:
    streams: dict[str, list[str]] = defaultdict(list)
    for env in envelopes:
        for region, out in router.apply(env).out:
            streams[region].append(str(out.id))
    return streams


def test_each_region_gets_exactly_its_own_events_and_the_catalogue() -> None:
    world = two_regions("u1")
    streams = _route_all(RegionRouter(), world.envelopes)
    assert set(streams) == {world.a, world.b}
    for region in (world.a, world.b):
        assert len(streams[region]) == len(set(streams[region]))  # each event once
        assert set(streams[region]) == world.expected(region)


def test_the_world_covers_every_event_type() -> None:
    """A type added to the contract fails here until the world (and so the rule) covers it."""
    world = two_regions("u2")
    assert set(EVENT_TYPES) == {env.type for env in world.envelopes}


def test_an_event_whose_region_is_unknown_is_held_then_released_not_dropped() -> None:
    world = two_regions("u3")
    early = world.envelopes[0]  # pb's attendance on B's occasion, before anything it needs
    router = RegionRouter()
    first = router.apply(early)
    assert first.held and first.out == [] and str(early.id) in router.pending
    released_at = None
    for env in world.envelopes[1:]:
        routed = router.apply(env)
        if str(early.id) in routed.released:
            released_at = env
            assert (world.b, early) in routed.out
            assert all(region == world.b for region, out in routed.out if out is early)
    # Released once both its occasion's plan and its participant's registration had arrived.
    assert released_at is not None and released_at.type == "CourseOccasionPlanned"
    assert router.pending == {}


def test_a_participant_event_goes_to_the_region_of_the_municipality_at_the_time() -> None:
    world = two_regions("u4")
    streams = _route_all(RegionRouter(), world.envelopes)
    pm = world.people()["pm"]
    by_id = {str(env.id): env for env in world.envelopes}
    pm_in_a = {by_id[i].type for i in streams[world.a]
               if getattr(by_id[i].data, "participant_id", None) == pm}
    pm_in_b = {by_id[i].type for i in streams[world.b]
               if getattr(by_id[i].data, "participant_id", None) == pm}
    assert "ParticipantLevelChanged" in pm_in_b and "ParticipantLevelChanged" not in pm_in_a
    assert "ParticipantRegistered" in pm_in_a and "ParticipantRegistered" not in pm_in_b
    assert "ParticipantMoved" in pm_in_a and "ParticipantMoved" in pm_in_b


def test_a_participant_s_event_from_another_topic_waits_for_the_moves_recorded_before_it() -> None:
    """pm's day 2 (scheduling) is read before pm's move (enrolment): it is held until the
    enrolment topic has been read that far, then goes to the region pm had moved to too."""
    world = two_regions("u7")
    pm = world.people()["pm"]
    move = next(e for e in world.envelopes if e.type == "ParticipantMoved")
    day2 = next(e for e in world.envelopes if e.type == "CourseDayAttended"
                and e.data.participant_id == pm and e.data.day == 2)  # type: ignore[attr-defined]
    assert move.recorded_at is not None
    read_to = [move.recorded_at - dt.timedelta(milliseconds=1)]  # enrolment: not the move yet
    router = RegionRouter(lambda recorded: read_to[0] >= recorded)
    for env in world.envelopes:
        if env is not move:
            router.apply(env)
    assert str(day2.id) in router.pending
    router.apply(move)
    read_to[0] = move.recorded_at + dt.timedelta(days=1)  # enrolment read past it
    routed = router.release()
    assert {region for region, e in routed.out if e is day2} == {world.a, world.b}
    assert router.pending == {}


def test_a_region_first_seen_late_gets_the_whole_catalogue() -> None:
    world = two_regions("u5")
    router = RegionRouter()
    course = world.catalogue[0]
    assert router.apply(course).out == []  # no region yet: nobody to send it to
    routed = router.apply(world.envelopes[1])  # RegionRegistered A
    assert [(r, e.id) for r, e in routed.out] == [(world.a, world.envelopes[1].id),
                                                  (world.a, course.id)]


def test_the_log_survives_a_restart_and_records_each_event_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'regions.sqlite'}"
    migrate(url)
    world = two_regions("u6")
    half = len(world.envelopes) // 2
    first = bootstrap(url)
    first.runner().apply_batch(world.envelopes[:half])
    # every id applied, and whole only the envelopes the router learns from (`FACTS`): the
    # rest are in the regions' log already, and the restart below needs none of them
    kept = dict(first.db.execute("SELECT event_id, envelope FROM applied_events"))
    assert set(kept) == {str(env.id) for env in world.envelopes[:half]}
    assert {env.type for env in world.envelopes[:half] if kept[str(env.id)] is not None} \
        == {env.type for env in world.envelopes[:half]} & FACTS
    assert any(body is None for body in kept.values())
    first.close()
    again = bootstrap(url)  # a restart: the fold from the applied log, the rest from tables
    runner = again.runner()
    runner.restore()
    runner.apply_batch(world.envelopes)  # the first half a second time: nothing new
    for region in (world.a, world.b):
        rows = read_log(again.db, region, 0, 10_000)
        assert [r.position for r in rows] == list(range(1, len(rows) + 1))
        assert {r.event_id for r in rows} == world.expected(region)
        assert len(rows) == len(world.expected(region))
    assert again.db.execute("SELECT count(*) FROM region_held") == [(0,)]
    again.close()


def test_the_router_learns_from_its_facts_only() -> None:
    """What a restart restores the router from is the applied log's envelopes of `FACTS`: an
    envelope of any other type must teach it nothing."""
    world = two_regions("u8")
    router = RegionRouter()
    for env in world.envelopes:
        before = _state(router)
        assert router.learn(env) == (env.type in FACTS)
        if env.type in FACTS:
            assert _state(router) != before, env.type
        else:
            assert _state(router) == before, env.type
    assert FACTS <= {env.type for env in world.envelopes}


class _ById(pickle.Pickler):
    """Pickles envelopes (whose classes are made at import) as their ids."""

    def persistent_id(self, obj: object) -> str | None:
        return str(obj.id) if isinstance(obj, Envelope) else None


def _state(router: RegionRouter) -> bytes:
    out = io.BytesIO()
    _ById(out).dump(vars(router))
    return out.getvalue()


def test_region_topics_are_named_from_safe_ids_only() -> None:
    assert region_topic("rss-dalarna") == "yrkesresan.region.rss-dalarna.v1"
    assert region_topic("ä/../x") is None


def test_a_move_that_arrives_late_sends_what_followed_it_to_the_region_joined(
    tmp_path: Path,
) -> None:
    """A backdated move: entered after pm's level change and day 2 (which happened after it)
    had been routed to region A by what was known then. Region B gets them too; A keeps them."""
    url = f"sqlite:///{tmp_path / 'regions.sqlite'}"
    migrate(url)
    world = two_regions("u8")
    pm = world.people()["pm"]
    move = next(e for e in world.envelopes if e.type == "ParticipantMoved")
    regions = bootstrap(url)
    runner = regions.runner()
    runner.apply_batch([e for e in world.envelopes if e is not move])
    later = {str(e.id) for e in world.envelopes
             if getattr(e.data, "participant_id", None) == pm and e.occurred_at > move.occurred_at}
    assert len(later) == 2  # the level change and day 2

    def logged(region: str) -> set[str]:
        return {r.event_id for r in read_log(regions.db, region, 0, 10_000)}

    assert later <= logged(world.a) and not later & logged(world.b)
    runner.apply_batch([move])
    assert later <= logged(world.b) and later <= logged(world.a)
    assert logged(world.b) == world.expected(world.b)
    runner.apply_batch([move])  # again: nothing new
    assert len(read_log(regions.db, world.b, 0, 10_000)) == len(world.expected(world.b))
    regions.close()
