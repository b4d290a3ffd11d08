"""Multi-stream throughput: N streams through one network, batched vs one frame at a time.

  python benchmarks/bench_streams.py [--net tiny] [--schedule schedules/adaptive.cw]
      [--size 128x128] [--streams 8] [--frames 40] [--rounds 3] [--threads 1,default]
      [--device cpu] [--dtype float32] [--out FILE.json]
  python benchmarks/bench_streams.py --device cuda --dtype float16 --size 500x500 --net fcn8s

Every stream plays the demo clip (resized to ``--size``), stream i starting i x (clip / N)
frames in and wrapping, so data-driven clocks fire on different frames in different
streams. Both modes run in the same process, round robin (``--rounds``, the order
alternating), each round from a reset executor whose first tick (every stream's frame 0,
computed in full) is warm-up and excluded. Throughput: frames of all streams per second of
ticks. ``--max-batch`` caps a batch's streams (the rest form further batches of the
stage, run concurrently as lanes). Target (issue 13, CPU, tiny at 128x128, adaptive, 8 streams): batched >= 1.5x
unbatched. Weights: the network's bundled ones where it has them (they decide how often a
data-driven clock fires), else random.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_results  # noqa: E402

from cwdsl import load  # noqa: E402
from cwdsl.core.units import parse_size  # noqa: E402
from cwdsl.demo.clip import demo_clip  # noqa: E402
from cwdsl.nets import build_network  # noqa: E402
from cwdsl.nets.bundled import bundled_weights  # noqa: E402
from cwdsl.nets.preprocess import frame_tensor  # noqa: E402
from cwdsl.nets.weights import load_weights  # noqa: E402
from cwdsl.runtime.multistream import MultiStreamExecutor  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def stream_frames(streams: int, frames: int, size, device) -> list[list[torch.Tensor]]:
    clip = demo_clip().frames
    if tuple(clip.shape[1:3]) != tuple(size):
        clip = np.stack([np.asarray(Image.fromarray(f).resize((size[1], size[0])))
                         for f in clip])
    n = len(clip)
    return [[frame_tensor(clip[(i * n // streams + t) % n]).to(device) for t in range(frames)]
            for i in range(streams)]


def one_round(multi: MultiStreamExecutor, frames) -> tuple[float, list[float]]:
    """Frames per second over the ticks after the first; the ticks' ms."""
    multi.reset()
    ticks = len(frames[0])
    multi.tick([s[0] for s in frames])  # frame 0: every stage, warm-up
    ms = []
    for t in range(1, ticks):
        ms.append(multi.tick([s[t] for s in frames])[0].latency_ms)
    return 1e3 * multi.streams * (ticks - 1) / sum(ms), ms


def bench(program, net, frames, args, threads: int | None) -> dict:
    if threads:
        torch.set_num_threads(threads)
    caps = {f"batched (max {cap})" if cap else "batched": cap for cap in args.max_batch}
    modes = {name: MultiStreamExecutor(program, net, args.streams, args.device, args.dtype,
                                       batched=True, max_batch=cap)
             for name, cap in caps.items()}
    modes["unbatched"] = MultiStreamExecutor(program, net, args.streams, args.device,
                                             args.dtype, batched=False)
    fps: dict[str, list[float]] = {name: [] for name in modes}
    p50: dict[str, list[float]] = {name: [] for name in modes}
    for r in range(args.rounds):
        order = list(modes) if r % 2 == 0 else list(modes)[::-1]
        for name in order:
            value, ms = one_round(modes[name], frames)
            fps[name].append(value)
            p50[name].append(float(np.percentile(ms, 50)))
            print(f"  threads {torch.get_num_threads()}, round {r + 1}, {name}: "
                  f"{value:.1f} frames/s", flush=True)
    for multi in modes.values():
        multi.close()
    out = {"threads": torch.get_num_threads(),
           **{name: {"fps": statistics.median(v), "fps_rounds": v,
                     "tick_ms_p50": statistics.median(p50[name])} for name, v in fps.items()}}
    out["ratio"] = {name: out[name]["fps"] / out["unbatched"]["fps"] for name in caps}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--net", default="tiny")
    p.add_argument("--schedule", default=str(ROOT / "schedules" / "adaptive.cw"))
    p.add_argument("--size", default="128x128")
    p.add_argument("--streams", type=int, default=8)
    p.add_argument("--frames", type=int, default=40, help="frames per stream per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", default="1,default",
                   help="comma-separated torch thread counts to run at ('default': torch's)")
    p.add_argument("--max-batch", default="all,4",
                   help="comma-separated batch caps to run batched at ('all': no cap); "
                        "capped batches of one stage run concurrently as a wave's lanes do")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--out", metavar="FILE.json")
    args = p.parse_args()
    size = parse_size(args.size)
    args.max_batch = [None if c.strip() == "all" else int(c) for c in args.max_batch.split(",")]
    program = load(args.schedule, network=args.net)
    net = build_network(args.net).eval()
    weights = bundled_weights(args.net)
    if weights is not None:
        load_weights(net, weights)
    frames = stream_frames(args.streams, args.frames, size, torch.device(args.device))
    default_threads = torch.get_num_threads()
    print(f"{machine()}\n{program.name} on {args.net} at {size[0]}x{size[1]}, {args.device} "
          f"{args.dtype}, {args.streams} streams x {args.frames} frames, {args.rounds} rounds")
    runs = []
    for item in args.threads.split(","):
        threads = default_threads if item.strip() == "default" else int(item)
        runs.append(bench(program, net, frames, args, threads))
        r = runs[-1]
        print(f"threads {r['threads']}: unbatched {r['unbatched']['fps']:.1f} frames/s; "
              + "; ".join(f"{name} {r[name]['fps']:.1f} frames/s, {ratio:.2f}x"
                          for name, ratio in r["ratio"].items()))
    if args.out:
        write_results(args.out, "bench_streams", {
            "torch": torch.__version__, "schedule": program.name, "net": args.net,
            "weights": "bundled" if weights is not None else "random",
            "size": list(size), "device": args.device, "dtype": args.dtype,
            "streams": args.streams, "frames": args.frames, "rounds": args.rounds,
            "max_batch": args.max_batch, "runs": runs})

if __name__ == "__main__":
    main()
