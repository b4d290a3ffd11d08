"""Simulator speed (frames priced per second) and the paper's "Time (% of full)" table.

1. Speed: every paper schedule over 1,000,000 frames (fixed clocks take the periodic fast
   path; data-driven clocks are planned frame by frame from a seeded firing rate, so they
   run on fewer frames). Target (issue: simulator): >= 1,000,000 frames/s for a 3-stage
   schedule with fixed clocks.
2. The paper's table: pipeline3, pipeline2, exponential and skipframe with FCN-8s priced by
   (a) a profile measured here (``--profile-size``, CPU) and (b) the Titan X roofline at
   the paper's 500x500, beside the paper's numbers (Table 2 and §4.1).

  python benchmarks/bench_simulator.py [--profile-size 256] [--repeats 5]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine  # noqa: E402

from cwdsl import load  # noqa: E402
from cwdsl.sim.capacity import sustainable_streams  # noqa: E402
from cwdsl.devices.load import load_device  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {machine()}; torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    speed()
    size = (args.profile_size, args.profile_size)
    with tempfile.TemporaryDirectory() as tmp:
        profile = run_profile("fcn8s", size, out=Path(tmp) / "cpu.json", progress=False,
                              repeats=args.repeats)
        table(str(profile), size, f"fcn8s {size[0]}x{size[1]}, profile measured here (CPU)")
    table("titanx", (500, 500), "fcn8s 500x500, Titan X roofline (the paper's setting)")
    table("h100", (500, 500), "fcn8s 500x500, H100 roofline")
    for name in ("oracle", "adaptive"):
        program = load(ROOT / "schedules" / f"{name}.cw")
        planner = Planner(program)
        costs = schedule_costs(program, load_device("h100"), (500, 500))
        n, cap = sustainable_streams(
            planner, costs, 30.0, 10.0,
            lambda s, f: fire_rate_trace(planner.atom_ids, f, 0.5, s) if planner.atom_ids else None)
        print(f"h100 roofline, {name}: sustains {n} streams of 500x500 at 30 fps "
              f"(utilization {100 * cap.utilization:.0f}%, p99 {cap.latency_ms_p99:.1f} ms)")


if __name__ == "__main__":
    main()
