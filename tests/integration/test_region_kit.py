"""The region kit's example consumer (examples/region_consumer/) against the real broker: the
service topics go through `yrkesresan consume regions`, the example reads its region's stream
with a group of its own and writes the region's report; a type it does not know is skipped
and counted; running it again, or replaying from the start, changes nothing."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kafka import KafkaProducer

from services.regions.application import region_topic
from shared.platform.broker import LocalBroker
from tests.integration.test_region_streams import (  # noqa: F401 - fixtures
    produce,
    read_stream,
    region_broker,
    regions_process,
)
from tests.regions_world import at, two_regions

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "region_consumer" / "consumer.py"


def run_example(bootstrap: str, region: str, state: Path, report: Path, group: str,
                *extra: str) -> dict:  # type: ignore[type-arg]
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--bootstrap", bootstrap, "--region", region,
         "--group", group, "--state", str(state), "--report", str(report), "--exit-at-end",
         *extra], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_the_example_writes_the_region_s_course_days_once_whatever_happens(
    regions_process: subprocess.Popen[bytes], region_broker: LocalBroker,  # noqa: F811
    tmp_path: Path,
) -> None:
    broker = region_broker
    world = two_regions(uuid.uuid4().hex[:8])
    produce(broker.bootstrap, world)
    expected = world.expected(world.a)
    ids, _ = read_stream(broker.bootstrap, world.a, len(expected))
    assert set(ids) == expected  # the processor has published the whole region
    # A type added to the contract later, as a newer processor would pass it on; and a
    # duplicate of an attendance.
    topic = region_topic(world.a)
    assert topic is not None
    newer = {"id": str(uuid.uuid4()), "type": "CourseDayRated", "schema_version": 1,
             "occurred_at": at(40).isoformat(), "data": {"occasion_id": "x", "stars": 5}}
    attendance = next(e for e, regions in world.events if e.type == "CourseDayAttended"
                      and world.a in regions)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    producer.send(topic, key=b"x", value=json.dumps(newer).encode())
    producer.send(topic, key=attendance.key().encode(), value=attendance.to_json())
    producer.flush(timeout=30)
    producer.close()

    state, report = tmp_path / "state.sqlite", tmp_path / "kursdagar.csv"
    group = f"region.{world.a}.kursdagar-{uuid.uuid4().hex[:6]}"
    first = run_example(broker.bootstrap, world.a, state, report, group)
    assert first == {"applied": len(expected), "skipped": {"CourseDayRated": 1}}
    rows = list(csv.DictReader(report.open(encoding="utf-8")))
    a1, b1 = f"a1-{world.tag}", f"b1-{world.tag}"
    assert rows == [
        # pb, of region B, on A's occasion: A's stream does not say where pb lives
        {"kommun_id": "", "kommun": "utanför regionen", "år": "2026", "kursdagar": "1"},
        # pa's day 1 and pm's day 1 (pa's day 2 was withdrawn)
        {"kommun_id": a1, "kommun": "A-by", "år": "2026", "kursdagar": "2"},
        # pm's day 2, after moving to B's b1 (the move is on A's stream too)
        {"kommun_id": b1, "kommun": "utanför regionen", "år": "2026", "kursdagar": "1"},
    ]
    before = report.read_bytes()

    again = run_example(broker.bootstrap, world.a, state, report, group)  # restart: resumes
    assert again["applied"] == 0 and report.read_bytes() == before
    replay = run_example(broker.bootstrap, world.a, state, report, group + "-replay",
                         "--from-beginning")
    assert replay["applied"] == 0 and report.read_bytes() == before
    fresh = run_example(broker.bootstrap, world.a, tmp_path / "fresh.sqlite",
                        tmp_path / "fresh.csv", group + "-fresh")
    assert fresh["applied"] == len(expected)
    assert (tmp_path / "fresh.csv").read_bytes() == before
