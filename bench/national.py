"""Benchmark: the national history in PostgreSQL: import, rebuild, restart.

    .venv/bin/python bench/national.py [--participants N] [--regions R] [--projections a,b]

Issue 11's targets, at national size (about 300,000 participants over seven years):
- `yrkesresan import-log` of the national log into PostgreSQL: at least 50,000 events/s;
  baseline in the same run: reading the file and JSON-parsing every line (the floor).
- `yrkesresan rebuild` of every projection from the PostgreSQL stores: at least 100,000
  events/s (events of the log, each applied to every projection), at most 4 GB; baseline: the
  eventsourcing library's own decode-and-apply of the same stores (its recorder's pages, its
  mapper to domain events, a fold with no rule); beside it, the read's floor: one read of
  the stores as a rebuild reads them, feeding nothing, and what that allows for as many reads
  as the rebuild has passes (the folds are fed in passes to stay under 4 GB).
- the progression (and certification) consumer's restart with that history applied: ready
  within 30 s; baseline: what a restart did before snapshots, folding every envelope applied.

The log is `yrkesresan demo-log` of `--participants` (default 10,000: on this shared two-core
machine the national size does not fit in a benchmark run) over `--regions` (default all 21, as
the national log: some folds keep a part per region), so each figure is printed with the
size it was measured at; rates do not depend on the size, the restart time grows with it and
is printed scaled to 300,000 participants as well. The rebuild and the restart run as child
processes, so that their peak memory (`os.wait4`) is theirs alone. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
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
    parser.add_argument("--regions", type=int, default=21)
    parser.add_argument("--projections", default="", help="rebuild only these (comma-separated "
                        "names of `yrkesresan rebuild`), each measured as the whole would be: "
                        "what one projection's fold holds of the peak")
    args = parser.parse_args()
    only = [name for name in args.projections.split(",") if name]

    from yrkesresan.demo import demo_log

    folder = Path(tempfile.mkdtemp(prefix="yr-national-"))
    # the log: about 45 MB at 3,000 participants
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    log = folder / "national.jsonl"
    with log.open("wb") as f:
        for line in demo_log(args.participants, seed=11, regions=args.regions):
            f.write(line.rstrip(b"\n") + b"\n")
    events = sum(1 for _ in log.open("rb"))
    scale = NATIONAL / args.participants
    print(f"demo log: {args.participants:,} participants in {args.regions} regions, "
          f"{events:,} events "
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

        # Baseline: the library's own decode-and-apply of the same stores: its recorder reads
        # every stored event in pages, its mapper decodes each into the domain event, and a
        # fold with no rule applies it (a count per type).
        _, base_rss, out = child(
            "import collections, time\n"
            "from yrkesresan import processes\n"
            "apps = [s.store() for s in processes.services().values()]\n"
            "t = time.perf_counter(); counts = collections.Counter()\n"
            "for app in apps:\n"
            "    start = None\n"
            "    while notes := app.recorder.select_notifications(\n"
            "            start=start, limit=20000, inclusive_of_start=start is None):\n"
            "        for note in notes:\n"
            "            counts[type(app.mapper.to_domain_event(note)).__name__] += 1\n"
            "        start = notes[-1].id\n"
            "print(sum(counts.values())); print(time.perf_counter() - t)\n", env)
        stored, base_wall = (float(x) for x in out.strip().splitlines()[-2:])
        library = stored / base_wall

        # The read's floor: one pass over the stores as a rebuild reads them (the reader's
        # process, the pipe, the contract's Structs), feeding nothing. A rebuild reads the
        # stores once for each of its passes, so with folds that cost nothing it would reach
        # this rate divided by its passes.
        # Timed over a second read, its process started and warm: what each event costs
        # (the start, about a second, is a small part of a pass at national size).
        _, _, out = child(
            "import os, time\n"
            "from bench._common import cpu_seconds, database_cpu_seconds\n"
            "from yrkesresan.store_reader import StoreReader\n"
            "url = os.environ['YRKESRESAN_DATABASE_URL']\n"
            "with StoreReader() as reader:\n"
            "    for _ in reader.read(): pass\n"
            "    n, t, c = 0, time.perf_counter(), time.process_time()\n"
            "    r, d = cpu_seconds(reader.pid), database_cpu_seconds(url)\n"
            "    for _ in reader.read(): n += 1\n"
            "    wall, cpu = time.perf_counter() - t, time.process_time() - c\n"
            "    print(n, wall, cpu, cpu_seconds(reader.pid) - r,\n"
            "          database_cpu_seconds(url) - d)\n", env)
        read_n, read_wall, read_cpu, reader_cpu, read_db_cpu = (
            float(x) for x in out.strip().splitlines()[-1].split())
        read_rate = read_n / read_wall

        rebuild = ("import time\n"
                   "from yrkesresan import processes, stores\n"
                   "class Passes:\n"
                   "    def begun(self, names, total): print('pass', ','.join(names))\n"
                   "    def read(self, count): pass\n"
                   "    def ending(self, name): pass\n"
                   "t, c = time.perf_counter(), time.process_time()\n"
                   f"for name, n in stores.rebuild_projections({only or None!r}, "
                   "progress=Passes()): print(name, n)\n"
                   "print(time.process_time() - c)\n"
                   "print(time.perf_counter() - t)\n")
        # What a rebuild's process holds whatever the log (its code, its connections): the
        # same rebuild over empty stores, in a database of its own.
        with scratch_database() as empty:
            bare = {**env, "YRKESRESAN_DATABASE_URL": empty}
            subprocess.run([sys.executable, "-m", "yrkesresan", "migrate"], env=bare,
                           check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
            _, fixed_rss, _ = child(rebuild, bare)
        _, rss, out = child(rebuild, env)
        lines = out.strip().splitlines()
        cpu, wall = float(lines[-2]), float(lines[-1])
        passes = [line.split()[1] for line in lines[:-2] if line.startswith("pass ")]
        projections = [line.split() for line in lines[:-2] if not line.startswith("pass ")]
        rate = events / wall
        national_events = events * scale
        national_gb = (fixed_rss + (rss - fixed_rss) * scale) / 1024
        print(f"rebuild of all {len(projections)} projections from the stores, read once in "
              f"each of its {len(passes)} passes ({'; '.join(passes)}): "
              f"{rate:,.0f} events/s of the log, each applied to every projection "
              f"({rate * len(projections):,.0f}/s per projection fed; {wall:.1f} s; goal "
              f"≥ 100,000/s: {'meets' if rate >= 100_000 else 'BELOW'}); about "
              f"{national_events / rate / 60:.0f} min for the national log of "
              f"{national_events / 1e6:.1f}M events at this rate; its own CPU time "
              f"{cpu:.1f} s, {events / cpu:,.0f} events/s of CPU (the database's work not "
              f"counted)")
        print(f"  baseline, the library's decode-and-apply (recorder pages, mapper to domain "
              f"events, a count per type) of the same {stored:,.0f} stored events: "
              f"{library:,.0f}/s; the rebuild {rate / library:.0%} of it")
        reads = max(1, len(passes))
        print(f"  floor, one read of the stores feeding nothing (the reader's process, the "
              f"pipe, the Structs; a second read, the reader started): {read_rate:,.0f} "
              f"events/s, CPU {read_cpu / read_n * 1e6:.1f} us an event in the rebuild's "
              f"process, {reader_cpu / read_n * 1e6:.1f} in the reader's and "
              f"{read_db_cpu / read_n * 1e6:.1f} in the database's backends; read {reads} "
              f"times, as the passes do: at most "
              f"{read_rate / reads:,.0f} events/s with folds that cost nothing; the rebuild "
              f"{rate / read_rate * reads:.0%} of that")
        print(f"  peak memory {rss} MB, {rss - fixed_rss} MB above the same rebuild over "
              f"empty stores ({fixed_rss} MB; the baseline's process {base_rss} MB): about "
              f"{national_gb:.1f} GB at national size if that part grows with the log (goal "
              f"≤ 4 GB: {'meets' if national_gb <= 4 else 'BELOW'})")
        for name, applied in projections:
            print(f"  {name}: {int(applied):,} applied")

        for name, which in (("progression", "runner"), ("certification", "certification_runner")):
            restart, rss, out = child(
                "import time\n"
                "from services.certification import application as c\n"
                f"runner = c.bootstrap().{which}()\n"
                "t = time.perf_counter(); runner.restore(); print(time.perf_counter() - t)\n",
                env)
            ready = float(out.strip().splitlines()[-1])
            before, _, out = child(
                "import time\n"
                "from services.certification import application as c\n"
                "from yrkesresan import stores\n"
                "envs = list(stores.history())\n"
                f"runner = c.bootstrap().{which}()\n"
                "t = time.perf_counter(); runner.projector.reset(); runner.projector.load(envs)\n"
                "print(time.perf_counter() - t)\n", env)
            fold_all = float(out.strip().splitlines()[-1])
            print(f"{name} consumer restart (snapshot and the envelopes after it): ready in "
                  f"{ready:.2f} s (process {restart:.1f} s, {rss} MB); scaled to national size "
                  f"about {ready * scale:.0f} s if it grows with the log (goal ≤ 30 s: "
                  f"{'meets' if ready * scale <= 30 else 'BELOW'}); baseline, folding every "
                  f"applied envelope as restarts did before snapshots: {fold_all:.2f} s, the "
                  f"restart {ready / fold_all:.1%} of it")


if __name__ == "__main__":
    main()
