"""Simulator fidelity: simulated vs measured per-frame time on this machine, same run.

For each network it (1) profiles the network here (``cwdsl profile``), (2) runs each
schedule with the executor and keeps its per-frame latencies and clock trace, (3)
simulates the same schedule with the profile, replaying that trace, and (4) compares
mean per-frame times (frame 0, the warm-up computed in full, excluded from both). The
schedules run round-robin, ``--rounds`` times; a measured time is the median of the rounds'.
Target (issue: simulator): within ±10%.

  python benchmarks/bench_fidelity.py [--fcn8s-size 256] [--frames 40]
  python benchmarks/bench_fidelity.py --device cuda --dtype float16 --size 500x500 --nets fcn8s
  python benchmarks/bench_fidelity.py --nets tiny --schedules skipframe,skipframe_warp,dff_cache,dff,accel
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, pop_out, recording  # noqa: E402

from cwdsl import load  # noqa: E402
from cwdsl.core.units import parse_size  # noqa: E402
from cwdsl.demo.scenes import generate_clip  # noqa: E402
from cwdsl.fitting.load import load_device  # noqa: E402
from cwdsl.sim.costs import schedule_costs  # noqa: E402
from cwdsl.runtime.executor import Executor  # noqa: E402
from cwdsl.nets import build_network  # noqa: E402
from cwdsl.ir.plan import Planner  # noqa: E402
from cwdsl.nets.preprocess import frame_tensor  # noqa: E402
from cwdsl.profile.harness import run_profile  # noqa: E402
from cwdsl.nets.bundled import bundled_weights  # noqa: E402
from cwdsl.sim.simulate import simulate  # noqa: E402
from cwdsl.nets.weights import load_weights  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCHEDULES = ("oracle", "alternating", "exponential", "skipframe", "adaptive", "pipeline3")


def fidelity(net_name: str, size: tuple[int, int], frames: int, weights,
             repeats: int, rounds: int, schedules=SCHEDULES, device: str = "cpu",
             dtype: str = "float32", executor_options: dict | None = None) -> list[tuple]:
    with tempfile.TemporaryDirectory() as tmp:
        profile = run_profile(net_name, size, device, dtype, out=Path(tmp) / "p.json",
                              weights=weights, progress=False, repeats=repeats,
                              **(executor_options or {}))  # profile the path it runs
        model = load_device(profile)
    torch.manual_seed(0)
    net = build_network(net_name)
    if weights:
        load_weights(net, weights)
    clip = generate_clip(2016, frames, size)
    xs = [frame_tensor(f) for f in clip.frames]
    programs = {name: load(ROOT / "schedules" / f"{name}.cw", network=net_name)
                for name in schedules}
    # Round-robin over the schedules, `rounds` times, so drifts of a shared machine's load
    # hit every schedule alike; a schedule's measured time is the median of its rounds'.
    means: dict[str, list[float]] = {name: [] for name in schedules}
    results = {}
    for _ in range(rounds):
        for name, program in programs.items():
            executor = Executor(program, net, device, dtype, **(executor_options or {}))
            results[name] = [executor.step(x) for x in xs]
            executor.close()
            means[name].append(statistics.mean(r.latency_ms for r in results[name][1:]))
    rows = []
    for name, program in programs.items():
        measured = statistics.median(means[name])
        trace = [r.atom_values for r in results[name]]
        sim = simulate(Planner(program), schedule_costs(program, model, size), frames, trace,
                       timeline=frames)
        simulated = statistics.mean(p.latency_ms for p in sim.timeline[1:])
        fired = np.mean([program.stages[-1] in r.computed for r in results[name][1:]])
        rows.append((name, measured, simulated, 100 * (simulated / measured - 1), fired))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--fcn8s-size", type=int, default=256)
    parser.add_argument("--fcn8s-frames", type=int, default=12)
    parser.add_argument("--size", metavar="HxW",
                        help="fcn8s's size (default: --fcn8s-size squared); tiny stays 128x128")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float16", "bfloat16"))
    parser.add_argument("--memory-format", default="auto",
                        choices=("auto", "contiguous", "channels_last"),
                        help="the executor's (default auto)")
    parser.add_argument("--cuda-graphs", action="store_true",
                        help="the executor replays each stage as a CUDA graph (cuda only)")
    parser.add_argument("--repeats", type=int, default=9, help="profile repeats per part")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each schedule")
    parser.add_argument("--nets", default="tiny,fcn8s", help="comma-separated subset")
    parser.add_argument("--schedules", default=",".join(SCHEDULES),
                        help="comma-separated schedules/ names (default: the paper's five and "
                             "pipeline3)")
    args = parser.parse_args()
    card = f"; card: {torch.cuda.get_device_name(args.device)}" \
        if args.device.startswith("cuda") else ""
    print(f"machine: {machine()}{card}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {args.device} {args.dtype}")
    fcn8s_size = parse_size(args.size) if args.size else (args.fcn8s_size,) * 2
    cases = [("tiny", (128, 128), args.frames, bundled_weights("tiny")),
             ("fcn8s", fcn8s_size, args.fcn8s_frames, None)]
    options = {"memory_format": args.memory_format, "cuda_graphs": args.cuda_graphs}
    for net_name, size, frames, weights in cases:
        if net_name not in args.nets.split(","):
            continue
        print(f"\n## {net_name} at {size[0]}x{size[1]}, {frames} frames of the demo clip")
        print(f"{'schedule':<16}{'measured ms':>12}{'simulated ms':>13}{'error':>9}{'s3 on':>8}")
        for name, measured, simulated, error, fired in fidelity(
                net_name, size, frames, weights, args.repeats, args.rounds,
                tuple(args.schedules.split(",")), args.device, args.dtype, options):
            print(f"{name:<16}{measured:>12.2f}{simulated:>13.2f}{error:>+8.1f}%{100 * fired:>7.0f}%")


if __name__ == "__main__":
    with recording(pop_out(), "bench_fidelity"):  # --out FILE.json: also write the report there
        main()
