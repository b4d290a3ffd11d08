"""Simulator speed (frames priced per second) and the paper's "Time (% of full)" table.

1. Speed: every paper schedule over 1,000,000 frames (fixed clocks take the periodic fast
   path; data-driven clocks are planned frame by frame from a seeded firing rate, so they
   run on fewer frames). Target (issue: simulator): >= 1,000,000 frames/s for a 3-stage
   schedule with fixed clocks.
2. The paper's table: pipeline3, pipeline2, exponential and skipframe with FCN-8s priced by
   a profile measured here (``--profile-size``, CPU), beside the paper's numbers (Table 2 and
   §4.1). The same table on a named device model (the Titan X or H100 roofline) is
   deterministic: BENCHMARKS.md generates it with ``cwdsl simulate`` itself.

  python benchmarks/bench_simulator.py [--profile-size 256] [--repeats 5] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, recording  # noqa: E402

from cwdsl import load  # noqa: E402
from cwdsl.fitting.load import load_device  # noqa: E402
from cwdsl.sim.costs import schedule_costs  # noqa: E402
from cwdsl.ir.plan import Planner  # noqa: E402
from cwdsl.profile.harness import run_profile  # noqa: E402
from cwdsl.sim.simulate import simulate  # noqa: E402
from cwdsl.ir.trace import fire_rate_trace  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PAPER = {  # time (% of full) and compute claims from the paper
    "pipeline3": "59% of full (Table 2: 3-stage pipeline)",
    "pipeline2": "77% of full (Table 2: 2-stage pipeline)",
    "exponential": "compute 1.5x that of every other frame (sec. 4.1)",
    "skipframe": "50% of full (every other frame)",
}


TABLES: dict[str, dict] = {}
"""label -> schedule -> figures of each table printed (kept in the results file)."""


def speed() -> None:
    device = load_device("titanx")
    print(f"{'schedule':<12}{'frames':>10}{'seconds':>10}{'frames/s':>14}")
    for path in sorted((ROOT / "schedules").glob("*.cw")):
        program = load(path)
        planner = Planner(program)
        costs = schedule_costs(program, device)
        frames = 100_000 if planner.atom_ids else 1_000_000
        atoms = fire_rate_trace(planner.atom_ids, frames, 0.5, 0) if planner.atom_ids else None
        start = time.perf_counter()
        simulate(planner, costs, frames, atoms)
        seconds = time.perf_counter() - start
        kind = " (data-driven)" if planner.atom_ids else ""
        print(f"{path.stem:<12}{frames:>10,}{seconds:>10.4f}{frames / seconds:>14,.0f}{kind}")


def table(device_name, size, label: str) -> None:
    device = load_device(device_name)
    sims = {}
    for name in ("oracle", "alternating", "skipframe", "exponential", "pipeline2", "pipeline3"):
        program = load(ROOT / "schedules" / f"{name}.cw")
        costs = schedule_costs(program, device, size)
        sims[name] = simulate(Planner(program), costs, 10_000).summary()
    oracle_ms = sims["oracle"].latency_ms_mean
    print(f"\n### {label}: frame oracle {oracle_ms:.2f} ms")
    print(f"{'schedule':<12}{'time % full':>12}{'compute % full':>15}{'latency ms':>12}  paper")
    for name, s in sims.items():
        print(f"{name:<12}{s.time_pct_of_full:>11.1f}%{s.compute_pct_of_full:>14.1f}%"
              f"{s.latency_ms_mean:>12.2f}  {PAPER.get(name, '')}")
    ratio = sims["exponential"].compute_pct_of_full / sims["skipframe"].compute_pct_of_full
    print(f"exponential / skipframe compute: {ratio:.2f}x (paper: 1.5x)")
    TABLES[label] = {name: {"time_pct_of_full": s.time_pct_of_full,
                            "compute_pct_of_full": s.compute_pct_of_full,
                            "latency_ms_mean": s.latency_ms_mean} for name, s in sims.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", metavar="FILE.json", help="also write the report here")
    args = parser.parse_args()
    with recording(args.out, "bench_simulator") as rec:
        run(args)
        rec.results = TABLES


def run(args) -> None:
    print(f"machine: {machine()}; torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    speed()
    size = (args.profile_size, args.profile_size)
    with tempfile.TemporaryDirectory() as tmp:
        profile = run_profile("fcn8s", size, out=Path(tmp) / "cpu.json", progress=False,
                              repeats=args.repeats)
        table(str(profile), size, f"fcn8s {size[0]}x{size[1]}, profile measured here (CPU)")


if __name__ == "__main__":
    main()
