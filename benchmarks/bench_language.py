"""Compile time of each paper schedule and plan time per frame.

Targets (issue: schedule language): compile < 50 ms per schedule; plan < 20 µs per
frame for a 3-stage schedule. Run: ``python benchmarks/bench_language.py``.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, median_time  # noqa: E402

from cwdsl import load  # noqa: E402
from cwdsl.ir.plan import Planner  # noqa: E402
from cwdsl.lang.parser import _parser  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    print(f"machine: {machine()}")
    start = time.perf_counter()
    _parser()
    print(f"grammar build (once per process): {1e3 * (time.perf_counter() - start):.1f} ms\n")
    print(f"{'schedule':<12} {'compile ms':>10} {'plan µs/frame':>14} {'walk µs/frame':>14}")
    worst_compile = 0.0
    for path in sorted((ROOT / "schedules").glob("*.cw")):
        compile_s = median_time(lambda: load(path), repeat=9, number=5)
        planner = Planner(load(path))
        atoms = [{a: t % 3 == 0 for a in planner.atom_ids} for t in range(1000)]
        plan_s = median_time(lambda: [planner.plan(t, atoms[t]) for t in range(1, 1000)],
                             repeat=5) / 999
        walk_s = median_time(lambda: [list(planner.walk(t, atoms[t])) for t in range(1, 1000)],
                             repeat=5) / 999
        worst_compile = max(worst_compile, compile_s)
        print(f"{path.stem:<12} {1e3 * compile_s:>10.2f} {1e6 * plan_s:>14.2f} {1e6 * walk_s:>14.2f}")
    print(f"\nslowest compile {1e3 * worst_compile:.2f} ms (target < 50 ms)")


if __name__ == "__main__":
    main()
