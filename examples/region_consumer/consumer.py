"""A region's own consumer of its Yrkesresan stream: course days per municipality, as CSV.

A small, complete example of the kit (docs/regions.md): it reads `yrkesresan.region.<region_id>.v1`
with a consumer group of its own, applies each envelope once (by its `id`), skips the event types
it does not know and counts them, and writes the region's own report. It needs kafka-python and
the standard library only; it does not import the Yrkesresan code.

    python examples/region_consumer/consumer.py --bootstrap kafka.example.se:9094 \\
        --region rss-dalarna --state dalarna.sqlite --report kursdagar.csv \\
        --username region-rss-dalarna --password-env REGION_PASSWORD

The report: participant-days (kursdagar) per municipality and year. A participant-day is a
(participant, occasion, day) attended, counted once however often it is reported, not counted
once withdrawn (`AttendanceWithdrawn`, final), in the year of that day's date in the occasion's
latest plan, charged to the municipality the participant belonged to when they attended (the
latest `occurred_at` of their registration and moves before it). A participant of another
region on one of the region's occasions appears under their municipality if the stream names
it (a move), else as `utanför regionen`.

How it stays right: every new envelope is stored in a local SQLite file, in one transaction per
batch, keyed by its id (a duplicate changes nothing); the offsets are committed only after that
transaction, so a crash means reading some envelopes again, which changes nothing either. The
report is computed from everything stored, so the order the stream delivered in does not matter.
To replay from the start: a new group id (or `--from-beginning`), the same state file.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer

# The types this report reads, and the others it knows and passes over on purpose. Anything
# else is a type added to the contract after this was written: skipped and counted.
USED = {"MunicipalityJoined", "ParticipantRegistered", "ParticipantMoved", "CourseOccasionPlanned",
        "CourseOccasionRescheduled", "CourseDayAttended", "AttendanceWithdrawn"}
KNOWN = USED | {
    "RegionRegistered", "CoursePublished", "PriceListSet", "ParticipantLevelChanged",
    "PreparationCompleted", "DeepeningSubmitted", "TrainerRegistered", "ParticipantErased",
    "ParticipantBooked", "BookingCancelled", "TrainerAssigned", "TrainerDayDelivered",
    "CourseOccasionCancelled", "TrainerUnassigned", "CourseCompleted", "CertificateIssued",
    "CertificateRevoked", "EvaluationSubmitted", "YearClosed", "PotDistributed"}
OUTSIDE = "utanför regionen"


class State:
    """The envelopes applied so far, by id, and the types skipped."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, type TEXT, "
                        "envelope TEXT)")
        self.db.execute("CREATE TABLE IF NOT EXISTS skipped (type TEXT PRIMARY KEY, n INTEGER)")

    def apply(self, envelopes: list[dict[str, Any]], skipped: Counter[str]) -> int:
        """Store the new envelopes and the skip counts in one transaction; how many were new."""
        new = 0
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for env in envelopes:
                cur = self.db.execute("INSERT OR IGNORE INTO events VALUES (?, ?, ?)",
                                      (env["id"], env["type"], json.dumps(env)))
                new += cur.rowcount
            for type_name, n in skipped.items():
                self.db.execute("INSERT INTO skipped VALUES (?, ?) ON CONFLICT (type) "
                                "DO UPDATE SET n = n + excluded.n", (type_name, n))
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return new

    def envelopes(self) -> Iterable[dict[str, Any]]:
        for (raw,) in self.db.execute("SELECT envelope FROM events"):
            yield json.loads(raw)

    def skipped(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT type, n FROM skipped ORDER BY type"))


def _stamp(env: dict[str, Any]) -> tuple[datetime, str]:
    """The contract's order for state over time: latest `occurred_at`, ties by id."""
    return datetime.fromisoformat(env["occurred_at"]), env["id"]


def course_days(envelopes: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The report's rows from the stored envelopes (any order), sorted."""
    names: dict[str, str] = {}
    memberships: dict[str, list[tuple[tuple[datetime, str], str]]] = {}
    plans: dict[str, tuple[tuple[datetime, str], dict[int, str]]] = {}
    attended: dict[tuple[str, str, int], datetime] = {}
    withdrawn: set[tuple[str, str, int]] = set()
    for env in envelopes:
        d, kind = env["data"], env["type"]
        if kind == "MunicipalityJoined":
            names[d["municipality_id"]] = d["name"]
        elif kind in ("ParticipantRegistered", "ParticipantMoved"):
            where = d.get("municipality_id") or d["to_municipality_id"]
            memberships.setdefault(d["participant_id"], []).append((_stamp(env), where))
        elif kind in ("CourseOccasionPlanned", "CourseOccasionRescheduled"):
            held = plans.get(d["occasion_id"])
            if held is None or held[0] < _stamp(env):
                plans[d["occasion_id"]] = (_stamp(env), {x["day"]: x["date"] for x in d["days"]})
        elif kind == "CourseDayAttended":
            key = (d["participant_id"], d["occasion_id"], d["day"])
            when = datetime.fromisoformat(env["occurred_at"])
            attended[key] = min(when, attended.get(key, when))  # the first report counts
        elif kind == "AttendanceWithdrawn":
            withdrawn.add((d["participant_id"], d["occasion_id"], d["day"]))
    totals: Counter[tuple[str, str]] = Counter()
    for (participant, occasion, day), when in attended.items():
        plan = plans.get(occasion)
        if (participant, occasion, day) in withdrawn or plan is None or day not in plan[1]:
            continue  # withdrawn, or not a day of the occasion's latest plan
        history = sorted(memberships.get(participant, []))
        before = [m for stamp, m in history if stamp[0] <= when] or [m for _, m in history[:1]]
        totals[(before[-1] if before else "", plan[1][day][:4])] += 1
    return [{"kommun_id": m, "kommun": names.get(m, OUTSIDE), "år": year, "kursdagar": n}
            for (m, year), n in sorted(totals.items())]


def write_report(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["kommun_id", "kommun", "år", "kursdagar"])
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)  # readers never see half a report


def decode(raw: bytes | None, skipped: Counter[str]) -> dict[str, Any] | None:
    """The envelope, or None: a type this code does not know (counted), or not an envelope
    at all (reported on stderr; a region's consumer must not stop for one bad message)."""
    try:
        env = json.loads(raw or b"")
        if not isinstance(env, dict) or not {"id", "type", "occurred_at", "data"} <= set(env):
            raise ValueError("not an envelope")
    except ValueError as e:
        print(f"skipping a message that is not an envelope: {e}", file=sys.stderr)
        return None
    if env["type"] not in KNOWN:
        skipped[env["type"]] += 1
        return None
    return env


def consumer_for(args: argparse.Namespace) -> KafkaConsumer:
    security: dict[str, Any] = {}
    if args.username:
        security = {"security_protocol": args.security_protocol, "sasl_mechanism": "SCRAM-SHA-512",
                    "sasl_plain_username": args.username,
                    "sasl_plain_password": os.environ[args.password_env]}
    return KafkaConsumer(
        f"yrkesresan.region.{args.region}.v1", bootstrap_servers=args.bootstrap,
        group_id=args.group or f"region.{args.region}.kursdagar", enable_auto_commit=False,
        auto_offset_reset="earliest", session_timeout_ms=6000, heartbeat_interval_ms=1500,
        **security)


def at_end(consumer: KafkaConsumer) -> bool:
    """Every assigned partition read to its high-water mark (as the last fetch reported it)."""
    parts = consumer.assignment()
    return bool(parts) and all(
        (high := consumer.highwater(tp)) is not None and consumer.position(tp) >= high
        for tp in parts)


def run(args: argparse.Namespace) -> dict[str, Any]:
    state = State(Path(args.state))
    consumer = consumer_for(args)
    applied = 0
    try:
        if args.from_beginning:
            consumer.poll(timeout_ms=0)  # join the group, then start over
            while not consumer.assignment():
                consumer.poll(timeout_ms=500)
            consumer.seek_to_beginning()
        while True:
            batches = consumer.poll(timeout_ms=1000)
            skipped: Counter[str] = Counter()
            envelopes = [env for records in batches.values() for r in records
                         if (env := decode(r.value, skipped)) is not None]
            if envelopes or skipped:
                applied += state.apply(envelopes, skipped)
                write_report(Path(args.report), course_days(state.envelopes()))
                consumer.commit()  # after the transaction: a crash reads again, harmlessly
            if args.exit_at_end and at_end(consumer):
                break
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    write_report(Path(args.report), course_days(state.envelopes()))
    return {"applied": applied, "skipped": state.skipped()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--group", help="consumer group (default region.<region>.kursdagar)")
    parser.add_argument("--state", default="region_state.sqlite")
    parser.add_argument("--report", default="kursdagar.csv")
    parser.add_argument("--username", help="SCRAM user (region-<region>); none: PLAINTEXT")
    parser.add_argument("--password-env", default="REGION_PASSWORD")
    parser.add_argument("--security-protocol", default="SASL_SSL",
                        choices=["SASL_SSL", "SASL_PLAINTEXT"])
    parser.add_argument("--from-beginning", action="store_true",
                        help="read the stream from its start (ids already applied change nothing)")
    parser.add_argument("--exit-at-end", action="store_true",
                        help="stop once the stream has been read to its end (batch runs)")
    result = run(parser.parse_args(argv))
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
