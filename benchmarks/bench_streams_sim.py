"""Batched capacity model vs the multi-stream executor: same schedule, streams, machine, run.

It (1) profiles the network here with ``--batch 1,2,4,8`` (``cwdsl profile``), (2) runs
``--streams`` streams (each its own demo clip) through
:class:`cwdsl.runtime.multistream.MultiStreamExecutor`, batched and one stream after the
other, round robin ``--rounds`` times, keeping each tick's wall time and every stream's
clock values, and (3) prices the same ticks with the simulator (:func:`tick_table`,
batched; the streams' frames apart for the unbatched one), replaying those clock values.
Tick 0 (every stage computed, the warm-up) is excluded from both means.

  python benchmarks/bench_streams_sim.py [--schedule adaptive] [--streams 8] [--ticks 24]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, pop_out, recording  # noqa: E402

from cwdsl import load  # noqa: E402
from cwdsl.core.units import parse_size  # noqa: E402
from cwdsl.demo.scenes import generate_clip  # noqa: E402
from cwdsl.ir.plan import Planner  # noqa: E402
from cwdsl.nets import build_network  # noqa: E402
from cwdsl.nets.bundled import bundled_weights  # noqa: E402
from cwdsl.nets.preprocess import frame_tensor  # noqa: E402
from cwdsl.nets.weights import load_weights  # noqa: E402
from cwdsl.runtime.multistream import MultiStreamExecutor  # noqa: E402
from cwdsl.devices.batch_model import batch_frame_costs  # noqa: E402
from cwdsl.sim.batching import tick_table  # noqa: E402
from cwdsl.fitting.load import load_device  # noqa: E402
from cwdsl.sim.costs import schedule_costs  # noqa: E402
from cwdsl.profile.harness import run_profile  # noqa: E402
from cwdsl.sim.simulate import frame_prices  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", default="tiny")
    parser.add_argument("--size", default="128x128")
    parser.add_argument("--schedule", default="adaptive")
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--ticks", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=7, help="profile repeats")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    size = parse_size(args.size)
    weights = bundled_weights(args.net)
    with tempfile.TemporaryDirectory() as tmp:
        path = run_profile(args.net, size, "cpu", "float32", Path(tmp) / "p.json",
                           weights=weights, progress=False, repeats=args.repeats,
                           threads=args.threads, batches=(1, 2, 4, 8))
        model = load_device(path)
    program = load(ROOT / "schedules" / f"{args.schedule}.cw", network=args.net)
    net = build_network(args.net)
    if weights:
        load_weights(net, weights)
    clips = [[frame_tensor(f) for f in generate_clip(2016 + i, args.ticks, size).frames]
             for i in range(args.streams)]
    measured: dict[bool, list[float]] = {True: [], False: []}
    traces = None
    for _ in range(args.rounds):
        for batched in (True, False):
            ex = MultiStreamExecutor(program, net, args.streams, "cpu", "float32",
                                     batched=batched)
            ticks = [ex.tick([clip[t] for clip in clips]) for t in range(args.ticks)]
            ex.close()
            measured[batched].append(statistics.mean(r[0].latency_ms for r in ticks[1:]))
            traces = [[ticks[t][i].atom_values for t in range(args.ticks)]
                      for i in range(args.streams)]
    planner = Planner(program)
    costs = schedule_costs(program, model, size)
    table = tick_table(planner, costs, args.streams, args.ticks, lambda i, n: traces[i][:n])
    sim_batched = statistics.mean(t.work_ms for t in table[1:])
    apart = [list(frame_prices(planner, costs, args.ticks, traces[i]))
             for i in range(args.streams)]
    sim_apart = statistics.mean(sum(a[t].work_ms for a in apart) for t in range(1, args.ticks))
    print(f"{machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{args.schedule} on {args.net} {size[0]}x{size[1]}, {args.streams} streams, "
          f"{args.ticks} ticks (tick 0 excluded), median of {args.rounds} rounds; "
          f"profile --batch 1,2,4,8 in the same run")
    per_frame = batch_frame_costs(model.data["timings"])
    print("profile's per-frame cost by batch size (segments + fuse over the batch): "
          + ", ".join(f"{b}: {ms:.2f}" for b, ms in per_frame.items()) + " ms")
    print(f"{'':10} {'measured ms/tick':>17} {'frames/s':>9} {'simulated ms/tick':>18} "
          f"{'frames/s':>9} {'error':>7}")
    for batched, sim in ((True, sim_batched), (False, sim_apart)):
        real = statistics.median(measured[batched])
        print(f"{'batched' if batched else 'apart':10} {real:17.2f} "
              f"{1e3 * args.streams / real:9.1f} {sim:18.2f} {1e3 * args.streams / sim:9.1f} "
              f"{100 * (sim / real - 1):+6.1f}%")


if __name__ == "__main__":
    with recording(pop_out(), "bench_streams_sim"):  # --out FILE.json: also write the report there
        main()
