"""Benchmark: `yrkesresan replay` over a demo log of about a million events.

    .venv/bin/python bench/replay.py [--events N] [--keep FILE]

Targets (issue 3): `pot` and `progression` replay at least 200 000 events/s on one core,
within 3x of the floor measured in the same run, peak memory at most 1 GB. The floor reads
the same file and JSON-parses every line (orjson) and does nothing else. A second reference,
"validate", runs replay's own loop (`fold_lines`) with a fold that does nothing: every line
read and decoded into the contract's envelope as replay does it (msgspec Structs generated from
the contract's models, `shared.events.fast`), so the gap between it and a replay is what the
folds cost. For information, "validate (pydantic)" builds the live consumers' pydantic envelope
(`parse_envelope`) for every line instead.

Every measurement runs in its own child process pinned to one core; its peak RSS comes from
`os.wait4`, and its time is taken inside the child around the work alone (imports excluded),
except for the `cli` rows, which time the installed command from start to exit (interpreter
start and imports included) and are compared with the floor timed the same way, as a process
from start to exit. Rates and ratios use CPU time, which is what "on one core" means and which
other work on a shared machine disturbs much less than the wall clock; wall seconds and the
load average are printed beside them. Each measurement is repeated (`--repeat`, 5 by default)
and the fastest run counts, as with `timeit`: on a shared virtual machine single runs of the
same work were seen to differ by a third. Nothing is asserted: the figures are printed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVENTS_PER_PARTICIPANT = 54  # what the demo generator writes, measured
TARGET_RATE = 200_000
TARGET_RATIO = 3.0
TARGET_RSS_MB = 1024


# --- children: each does one thing and prints one JSON line ------------------------------------


def _one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def child_generate(path: str, participants: int, seed: int) -> dict[str, float]:
    from yrkesresan.demo import demo_log

    start = time.perf_counter()
    count = 0
    with open(path, "wb") as out:
        chunk: list[bytes] = []
        for line in demo_log(participants, seed):
            chunk.append(line)
            count += 1
            if len(chunk) == 8192:
                out.write(b"".join(chunk))
                chunk.clear()
        out.write(b"".join(chunk))
    return {"events": count, "seconds": time.perf_counter() - start}


class Clock:
    """CPU and wall seconds since it was made."""

    def __init__(self) -> None:
        self.cpu, self.wall = time.process_time(), time.perf_counter()

    def read(self) -> dict[str, float]:
        return {"cpu": time.process_time() - self.cpu, "wall": time.perf_counter() - self.wall}


def child_floor(path: str) -> dict[str, float]:
    import orjson

    loads = orjson.loads
    clock = Clock()
    with open(path, "rb") as f:
        for line in f:
            loads(line)
    return clock.read()


class _NoFold:
    appliers: dict[str, object] = {}  # noqa: RUF012 (read, never changed)


def child_validate(path: str) -> dict[str, float]:
    from yrkesresan.replay import fold_lines

    clock = Clock()
    with open(path, "rb") as f:
        fold_lines(_NoFold(), f)
    return clock.read()


def child_validate_pydantic(path: str) -> dict[str, float]:
    from shared.events import parse_envelope

    clock = Clock()
    with open(path, "rb") as f:
        for line in f:
            parse_envelope(line)
    return clock.read()


def child_replay(path: str, projection: str) -> dict[str, float]:
    """The CLI's own path: `replay()` over the open file, then the document rendered."""
    from yrkesresan.demo import REGION_ID
    from yrkesresan.replay import render, replay

    region, year = (REGION_ID, 2024) if projection in ("pot", "invoices") else (None, None)
    clock = Clock()
    with open(path, "rb") as f:
        render(replay(projection, f, region, year))
    return clock.read()


CHILDREN = {
    "generate": lambda a: child_generate(a[0], int(a[1]), int(a[2])),
    "floor": lambda a: child_floor(a[0]),
    "validate": lambda a: child_validate(a[0]),
    "validate-pydantic": lambda a: child_validate_pydantic(a[0]),
    "replay": lambda a: child_replay(a[0], a[1]),
}


# --- the parent: spawns children, reads their peak RSS, prints the table -----------------------


def run_child(args: list[str]) -> tuple[dict[str, float], float]:
    """Run one measurement in a fresh process; its result and its peak RSS in MB."""
    cmd = [sys.executable, __file__, "--child", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"child {args[0]} failed with exit code {proc.returncode}")
    return json.loads(out), usage.ru_maxrss / 1024


FLOOR_SCRIPT = "import orjson, sys\nfor line in open(sys.argv[1], 'rb'): orjson.loads(line)\n"


def run_cli(path: str, projection: str) -> tuple[dict[str, float], float]:
    """The installed command end to end (interpreter start and imports included); projection
    "floor" runs the floor as a script the same way."""
    from yrkesresan.demo import REGION_ID

    cmd = [str(Path(sys.executable).parent / "yrkesresan"), "replay", projection, "--log", path]
    if projection == "floor":
        cmd = [sys.executable, "-c", FLOOR_SCRIPT, path]
    if projection in ("pot", "invoices"):
        cmd += ["--region", REGION_ID, "--year", "2024"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, cwd=ROOT, preexec_fn=_one_core)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"yrkesresan replay {projection} failed")
    return {"cpu": usage.ru_utime + usage.ru_stime, "wall": wall}, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="at least this many events")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="write the log here and keep it")
    parser.add_argument("--repeat", type=int, default=5,
                        help="runs per measurement; the fastest counts")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _one_core()
        print(json.dumps(CHILDREN[args.child[0]](args.child[1:])))
        return

    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        path = str(args.keep or Path(tmp) / "demo.jsonl")
        participants = math.ceil(args.events / EVENTS_PER_PARTICIPANT * 1.02)
        while True:
            made, _ = run_child(["generate", path, str(participants), str(args.seed)])
            if made["events"] >= args.events:
                break
            participants = math.ceil(participants * args.events / made["events"] * 1.02)
        events = int(made["events"])
        size_mb = os.path.getsize(path) / 1e6
        print(
            f"demo log: {events:,} events, {participants:,} participants, {size_mb:,.0f} MB, "
            f"generated in {made['seconds']:.1f} s ({path if args.keep else 'temporary'})"
        )

        load_before = os.getloadavg()[0]
        measurements: list[tuple[str, Callable[[], tuple[dict[str, float], float]]]] = [
            ("floor: read + orjson.loads", lambda: run_child(["floor", path])),
            ("validate: read + msgspec (replay)", lambda: run_child(["validate", path])),
            ("validate (pydantic): parse_envelope",
             lambda: run_child(["validate-pydantic", path])),
            ("replay pot", lambda: run_child(["replay", path, "pot"])),
            ("replay progression", lambda: run_child(["replay", path, "progression"])),
            ("cli: floor as a process", lambda: run_cli(path, "floor")),
            ("cli: yrkesresan replay pot", lambda: run_cli(path, "pot")),
            ("cli: yrkesresan replay progression", lambda: run_cli(path, "progression")),
        ]
        runs: dict[str, list[tuple[dict[str, float], float]]] = {n: [] for n, _ in measurements}
        for _ in range(args.repeat):  # interleaved, so a slow spell hits every row alike
            for name, measure in measurements:
                runs[name].append(measure())
        rows = [(name, min((t for t, _ in done), key=lambda t: t["cpu"]),
                 max(rss for _, rss in done)) for name, done in runs.items()]
        load_after = os.getloadavg()[0]
        print(f"each measurement run {args.repeat} times; the fastest counts")
        report(events, rows, (load_before, load_after))


def report(
    events: int, rows: list[tuple[str, dict[str, float], float]], load: tuple[float, float]
) -> None:
    floor, validate, pydantic = rows[0][1]["cpu"], rows[1][1]["cpu"], rows[2][1]["cpu"]
    process_floor = rows[5][1]["cpu"]
    print(
        f"load average (1 min) {load[0]:.2f} before, {load[1]:.2f} after, on {os.cpu_count()} cores"
    )
    columns = ("CPU s", 8), ("events/s", 12), ("x floor", 9), ("wall s", 8), ("peak RSS", 11)
    header = f"{'measurement':<36}" + "".join(f"{name:>{width}}" for name, width in columns)
    print(f"\n{header}")
    for name, t, rss in rows:
        baseline = process_floor if name.startswith("cli:") else floor
        rate, ratio = events / t["cpu"], t["cpu"] / baseline
        print(
            f"{name:<36}{t['cpu']:>8.2f}{rate:>12,.0f}{ratio:>9.2f}{t['wall']:>8.2f}{rss:>8,.0f} MB"
        )
    print("(x floor: cli rows against the floor as a process, interpreter start included in both)")
    print(
        f"\ntargets for replay pot and progression: >= {TARGET_RATE:,} events/s, "
        f"<= {TARGET_RATIO:.0f}x floor, <= {TARGET_RSS_MB:,} MB peak RSS"
    )
    for name, t, rss in rows[3:5] + rows[6:8]:
        baseline = process_floor if name.startswith("cli:") else floor
        rate, ratio = events / t["cpu"], t["cpu"] / baseline
        verdict = [
            f"rate {'met' if rate >= TARGET_RATE else 'MISSED'}",
            f"ratio {'met' if ratio <= TARGET_RATIO else 'MISSED'}",
            f"memory {'met' if rss <= TARGET_RSS_MB else 'MISSED'}",
        ]
        print(f"  {name}: {', '.join(verdict)}")
    print(
        f"\nwhere the time goes: reading and JSON {floor / events * 1e6:.2f} us/event; building "
        f"the contract envelope (msgspec) {(validate - floor) / events * 1e6:.2f} us/event more, "
        f"so validation alone is {validate / floor:.2f}x the floor (with pydantic "
        f"{(pydantic - floor) / events * 1e6:.2f} us/event more, {pydantic / floor:.2f}x); the "
        "folds, with their results: "
        + ", ".join(
            f"{name.split()[-1]} {(t['cpu'] - validate) / events * 1e6:.2f} us/event"
            for name, t, _ in rows[3:5]
        )
    )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
