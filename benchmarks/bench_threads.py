"""Torch threads for ``cwdsl eval`` on an idle and on a busy machine: ``--threads 1``,
``--threads 2`` and the default (no more threads than idle cores), side by side in one run.

  python benchmarks/bench_threads.py [--rounds 2] [--load 0,2] [--out FILE.json]

Each round runs the three settings as separate ``cwdsl eval schedules/oracle.cw
schedules/adaptive.cw --data shift16 --quiet`` processes, in an order that rotates per
round; ``--load K`` starts K busy-looping processes first (another job on the machine) and
stops them after. The tables printed must be byte-identical across settings (the thread
count changes no result). Results: wall seconds per setting and load, with the 1-minute
load average seen at each start, the machine, the date and the commit.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ["eval", "schedules/oracle.cw", "schedules/adaptive.cw", "--data", "shift16",
           "--quiet"]
SETTINGS = {"1": ["--threads", "1"], "2": ["--threads", "2"], "default": []}


def _spin() -> None:
    while True:
        pass


def _one(setting: str) -> tuple[float, float, str]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    load = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cwdsl", *COMMAND, *SETTINGS[setting]],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{setting}: exit {done.returncode}: {done.stderr}")
    return seconds, load, done.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--load", default="0,2", help="busy processes per series (default 0,2)")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args()
    series = []
    for load in (int(k) for k in args.load.split(",")):
        spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(load)]
        for p in spinners:
            p.start()
        try:
            times = {s: [] for s in SETTINGS}
            loads, tables = [], set()
            order = list(SETTINGS)
            for r in range(args.rounds):
                for setting in order[r % len(order):] + order[:r % len(order)]:
                    seconds, seen, table = _one(setting)
                    times[setting].append(round(seconds, 2))
                    loads.append(round(seen, 2))
                    tables.add(table)
                    print(f"load {load}: threads {setting:<7} {seconds:7.1f} s "
                          f"(1-min load average {seen:.2f})", flush=True)
        finally:
            for p in spinners:
                p.terminate()
        series.append({"busy_processes": load, "seconds": times,
                       "median_s": {s: statistics.median(t) for s, t in times.items()},
                       "load_average_at_start": loads, "tables_identical": len(tables) == 1})
    result = {"measured": "cwdsl " + " ".join(COMMAND), "series": series}
    print(json.dumps(result, indent=2))
    if args.out:
        write_results(args.out, "bench_threads", result)


if __name__ == "__main__":
    main()
