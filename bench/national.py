"""Benchmark: the national history in PostgreSQL: import, rebuild, restart.

    .venv/bin/python bench/national.py [--participants N]

Issue 11's targets, at national size (about 300,000 participants over seven years):
- `yrkesresan import-log` of the national log into PostgreSQL: at least 50,000 events/s;
  baseline in the same run: reading the file and JSON-parsing every line (the floor).
- `yrkesresan rebuild` of every projection from the PostgreSQL stores: at least 100,000
  events/s, at most 4 GB; baseline: reading the stores as envelopes (what every rebuild reads).
- the progression consumer's restart with that history applied: ready within 30 s; baseline:
  what a restart did before snapshots, folding every envelope applied.

The log is `yrkesresan demo-log` of `--participants` (default 10,000: on this shared two-core
machine the national size does not fit in a benchmark run), so each figure is printed with the
size it was measured at; rates do not depend on the size, the restart time grows with it and
is printed scaled to 300,000 participants as well. The rebuild and the restart run as child
processes, so that their peak memory (`os.wait4`) is theirs alone. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson  # noqa: E402

from bench._common import scratch_database  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NATIONAL = 300_000


def child(code: str, env: dict[str, str]) -> tuple[float, int, str]:
    """Run Python code in a child process: (wall seconds, peak RSS in MB, its output)."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    out = (proc.stdout.read() if proc.stdout else b"").decode()
    err = (proc.stderr.read() if proc.stderr else b"").decode()
    if status != 0:
        raise SystemExit(f"child failed ({status}):\n{err[-3000:]}")
    return wall, usage.ru_maxrss // 1024, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=10_000)
    args = parser.parse_args()

    from yrkesresan.demo import demo_log

    folder = Path(tempfile.mkdtemp(prefix="yr-national-"))
    log = folder / "national.jsonl"
    with log.open("wb") as f:
        for line in demo_log(args.participants, seed=11):
            f.write(line.rstrip(b"\n") + b"\n")
    events = sum(1 for _ in log.open("rb"))
    scale = NATIONAL / args.participants
    print(f"demo log: {args.participants:,} participants, {events:,} events "
          f"(national size is about {scale:.0f}x this; load average {os.getloadavg()[0]:.1f})")

    # The floor: read and parse every line.
    started = time.perf_counter()
    with log.open("rb") as f:
        for line in f:
            orjson.loads(line)
    floor = events / (time.perf_counter() - started)

    with scratch_database() as url:
        env = {**os.environ, "YRKESRESAN_DATABASE_URL": url,
               "YRKESRESAN_SNAPSHOT_SECONDS": "0"}
        subprocess.run([sys.executable, "-m", "yrkesresan", "migrate"], env=env, check=True,
                       cwd=ROOT, stdout=subprocess.DEVNULL)

        path = repr(str(log))
        _, rss, out = child(
            "import time\n"
            "from pathlib import Path\n"
            "from yrkesresan import processes\n"
            "from yrkesresan.import_log import SERVICES, Importer, lines_of\n"
            "stores = {n: processes.services()[n].store() for n in SERVICES}\n"
            "t = time.perf_counter()\n"
            f"Importer(stores).run(lines_of(Path({path})))\n"
            "print(time.perf_counter() - t)\n", env)
        wall = float(out.strip().splitlines()[-1])
        imported = events / wall
        print(f"import-log into PostgreSQL: {imported:,.0f} events/s ({wall:.1f} s, "
              f"{rss} MB; goal ≥ 50,000/s: {'meets' if imported >= 50_000 else 'BELOW'}); "
              f"floor (read + parse) {floor:,.0f}/s: {imported / floor:.0%} of it")

        _, base_rss, out = child(
            "import time\n"
            "from yrkesresan import processes, stores\n"
            "from shared.events import parse_envelope\n"
            "apps = [s.store() for s in processes.services().values()]\n"
            "t = time.perf_counter()\n"
            "n = sum(1 for raw in stores.merged_envelopes(apps) if parse_envelope(raw))\n"
            "print(time.perf_counter() - t)\n", env)
        read_rate = events / float(out.strip().splitlines()[-1])

        _, rss, out = child(
            "import time\n"
            "from yrkesresan import processes, stores\n"
            "t = time.perf_counter()\n"
            "for name, n in stores.rebuild_projections(): print(name, n)\n"
            "print(time.perf_counter() - t)\n", env)
        lines = out.strip().splitlines()
        wall = float(lines[-1])
        projections = [line.split() for line in lines[:-1]]
        fed = events * len(projections)
        rate = fed / wall
        national_gb = (base_rss + (rss - base_rss) * scale) / 1024
        print(f"rebuild of {len(projections)} projections from the stores (read once): "
              f"{rate:,.0f} events/s ({fed:,} fed in {wall:.1f} s; goal ≥ 100,000/s: "
              f"{'meets' if rate >= 100_000 else 'BELOW'}), peak {rss} MB, of which "
              f"{rss - base_rss} MB above a process that only reads the stores: about "
              f"{national_gb:.1f} GB at national size if that part grows with the log "
              f"(goal ≤ 4 GB); reading the stores as envelopes alone {read_rate:,.0f}/s, "
              f"the rebuild {rate / read_rate:.0%} of it per projection fed")
        for name, applied in projections:
            print(f"  {name}: {int(applied):,} applied")

        restart, rss, out = child(
            "import time\n"
            "from services.certification import application as c\n"
            "runner = c.bootstrap().runner()\n"
            "t = time.perf_counter(); runner.restore(); print(time.perf_counter() - t)\n", env)
        ready = float(out.strip().splitlines()[-1])
        before, _, out = child(
            "import time\n"
            "from services.certification import application as c\n"
            "from yrkesresan import stores\n"
            "envs = list(stores.history())\n"
            "runner = c.bootstrap().runner()\n"
            "t = time.perf_counter(); runner.projector.reset(); runner.projector.load(envs)\n"
            "print(time.perf_counter() - t)\n", env)
        fold_all = float(out.strip().splitlines()[-1])
        print(f"progression consumer restart: ready in {ready:.2f} s (process {restart:.1f} s, "
              f"{rss} MB); scaled to national size about {ready * scale:.0f} s if it grows "
              f"with the log (goal ≤ 30 s); before snapshots, folding every applied envelope "
              f"took {fold_all:.2f} s: {ready / fold_all:.1%} of it")


if __name__ == "__main__":
    main()
