"""Compile time of each paper schedule and plan time per frame; ``cwdsl check`` of large
generated schedules.

Targets (issue: schedule language): compile < 50 ms per schedule; plan < 20 µs per
frame for a 3-stage schedule. Issue 20: ``cwdsl check`` of a 1 MB schedule (10,000 named
clocks) in < 2 s, of a 4 MiB one in < 8 s, under 1 GB; a 50,000-deep expression checks.
Tokens are counted as the old 50,000-token limit counted them (words, numbers, symbols).
Run: ``python benchmarks/bench_language.py`` (``--large-only``: only the large schedules;
``--out FILE.json``: also write what it prints as a results file).
"""
from __future__ import annotations

import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, median_time, pop_out, recording  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
# the schedules the language-limit tests parse (a chain of clocks, deep nesting)
from test_language_limits import HEAD, TAIL, many_clocks  # noqa: E402

from cwdsl import load, parse  # noqa: E402
from cwdsl.ir.plan import Planner  # noqa: E402
from cwdsl.lang.parser import MAX_SCHEDULE_BYTES, _parser  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
_TOKEN = re.compile(r"#[^\n]*|\s+|(\.\.|>=|[A-Za-z0-9_.]+|.)", re.S)


def tokens(text: str) -> int:
    """Words, numbers and symbols, counted as the old token limit counted them."""
    return sum(1 for m in _TOKEN.finditer(text) if m.group(1) is not None)


_MEASURE = ("import resource, subprocess, sys, time; start = time.perf_counter(); "
            "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
            "print(time.perf_counter() - start, "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def check_process(path: Path, runs: int) -> tuple[float, float]:
    """Median wall time of ``cwdsl check PATH`` as a process (start-up included), and its
    peak resident memory in MiB (started from a small process, whose memory a fork copies)."""
    times, peak = [], 0.0
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", _MEASURE, sys.executable, "-m", "cwdsl",
                              "check", str(path)], check=True, capture_output=True, text=True)
        seconds, kib = out.stdout.split()
        times.append(float(seconds))
        peak = max(peak, int(kib) / 1024)
    return statistics.median(times), peak


def large() -> None:
    print(f"\n{'large schedule':<26} {'bytes':>9} {'tokens':>8} {'check s':>8} {'peak MiB':>9} "
          f"{'tokens/s':>9} {'parse s':>8} {'parse tokens/s':>15}")
    with tempfile.TemporaryDirectory() as folder:
        mb, mib = many_clocks(10**6), many_clocks(MAX_SCHEDULE_BYTES)
        for name, text, runs in (
                ("adaptive.cw (start-up)", (ROOT / "schedules" / "adaptive.cw").read_text(), 5),
                (f"{mb.count('clock ') - 1:,} clocks (1 MB)", mb, 5),
                (f"{mib.count('clock ') - 1:,} clocks (4 MiB)", mib, 3),
                ("50,000-deep not", HEAD + "compute s2 when " + "not " * 50_000
                 + "labeldiff(s1) >= 0.2\n" + TAIL, 5),
                ("50,000 nested parentheses", HEAD + "compute s2 when " + "(" * 50_000
                 + "every 3" + ")" * 50_000 + "\n" + TAIL, 5)):
            path = Path(folder) / "large.cw"
            path.write_text(text)
            count = tokens(text)
            wall, peak = check_process(path, runs)
            parse_s = median_time(lambda: parse(text), repeat=3)
            print(f"{name:<26} {len(text.encode()):>9,} {count:>8,} {wall:>8.2f} {peak:>9.0f} "
                  f"{count / wall:>9,.0f} {parse_s:>8.2f} {count / parse_s:>15,.0f}")
    print("check s: `cwdsl check FILE` as a process (start-up included), median; peak MiB: "
          "its resident memory; tokens/s: tokens / check s; parse s: parse() alone. This VM's "
          "speed drifts by up to 1.5x from minute to minute: adaptive.cw's start-up shows it")


def main() -> None:
    print(f"machine: {machine()}")
    if "--large-only" in sys.argv:
        large()
        return
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
    large()


if __name__ == "__main__":
    with recording(pop_out(), "bench_language"):
        main()
