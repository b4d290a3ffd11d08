"""Executor speed: overhead over a plain forward, realised time of schedules, pipelines.

  python benchmarks/bench_executor.py [--device cpu|cuda] [--dtype float32] [--frames N]
      [--size 256x256] [--memory-format auto|contiguous|channels_last] [--cuda-graphs]
      [--compile] [--nets tiny,fcn8s]

Targets (issue: executor): oracle-schedule overhead ≤ 2% for fcn8s at 256x256, ≤ 10% for
tiny. Weights are random (timing does not depend on them). Frame 0 (computed in full,
warm-up) is excluded from every mean. The plain forward runs in the executor's memory
format (``--memory-format``, default auto: channels_last; see
``cwdsl.runtime.device.memory_format``), so the overhead compares like with like.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, pop_out, recording  # noqa: E402

from cwdsl import load  # noqa: E402
from cwdsl.runtime.executor import Executor  # noqa: E402
from cwdsl.nets import build_network  # noqa: E402
from cwdsl.core.units import parse_size  # noqa: E402
from cwdsl.nets.preprocess import normalize  # noqa: E402
from cwdsl.runtime.device import memory_format  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCHEDULES = ("oracle", "alternating", "exponential", "skipframe", "adaptive", "pipeline2",
             "pipeline3", "baseline2", "baseline3")


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


FAST = {"memory_format": "auto"}
"""The executor options of this run (``--memory-format``, ``--cuda-graphs``, ``--compile``)."""


def plain_ms(net, frames, device, dtype) -> list[float]:
    fmt = memory_format(FAST["memory_format"], device, dtype)
    net.to(memory_format=fmt)
    times = []
    with torch.inference_mode():
        for x in frames:
            sync(device)
            start = time.perf_counter()
            inp = normalize(x.to(device), net.spec.norm).to(dtype)
            net(inp if fmt == torch.contiguous_format else inp.contiguous(memory_format=fmt))
            sync(device)
            times.append(1e3 * (time.perf_counter() - start))
    return times


def schedule_ms(name, net_name, net, frames, device, dtype, concurrency="auto"):
    program = load(ROOT / "schedules" / f"{name}.cw", network=net_name)
    ex = Executor(program, net, device, {torch.float32: "float32", torch.float16: "float16",
                                          torch.bfloat16: "bfloat16"}[dtype], concurrency,
                  **FAST)
    results = [ex.step(x) for x in frames]
    ex.close()
    return [r.latency_ms for r in results], results


def frames_for(size, count, seed=0):
    """Frames that drift slowly, with a jump every 8 (so the adaptive clock has work)."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(1, 3, *size, generator=g)
    out = []
    for t in range(count):
        if t % 8 == 7:
            base = torch.rand(1, 3, *size, generator=g)
        else:
            base = (base + 0.01 * torch.randn(base.shape, generator=g)).clamp(0, 1)
        out.append(base.clone())
    return out


def bench_network(net_name, size, count, device, dtype):
    torch.manual_seed(0)
    net = build_network(net_name).to(device, dtype).eval()
    frames = frames_for(size, count + 1)
    plain_ms(net, frames[:3], device, dtype)  # warm-up
    # Interleave plain and oracle runs so drifts of the machine hit both alike.
    plain, oracle = [], []
    for _ in range(3):
        plain += plain_ms(net, frames[1:], device, dtype)
        oracle += schedule_ms("oracle", net_name, net, frames, device, dtype)[0][1:]
    p, o = statistics.median(plain), statistics.median(oracle)
    print(f"\n## {net_name} at {size[0]}x{size[1]}, {device.type} {str(dtype).split('.')[-1]}, "
          f"{count} frames x 3")
    print(f"plain forward median {p:.2f} ms; oracle schedule median {o:.2f} ms; "
          f"executor overhead {100 * (o / p - 1):+.2f}%")
    print(f"{'schedule':<12}{'mean ms':>10}{'% of oracle':>13}{'deep stage on':>15}")
    # Round-robin over the schedules, 3 times: a shared machine's drifts hit all alike; a
    # schedule's time is the median of its three runs' means.
    means = {name: [] for name in SCHEDULES}
    deep = {}
    for _ in range(3):
        for name in SCHEDULES:
            times, results = schedule_ms(name, net_name, net, frames, device, dtype)
            means[name].append(statistics.mean(times[1:]))
            deep[name] = sum(results[0].computed[-1] in r.computed
                             for r in results[1:]) / (len(results) - 1)
    oracle_mean = statistics.median(means["oracle"])
    for name in SCHEDULES:
        mean = statistics.median(means[name])
        print(f"{name:<12}{mean:>10.2f}{100 * mean / oracle_mean:>12.1f}%{100 * deep[name]:>14.0f}%")
    print(f"{'pipelined':<12}{'concurrent ms':>15}{'sequential ms':>15}{'latency saved':>15}")
    for name in ("pipeline2", "pipeline3"):
        conc, seq = [], []
        for _ in range(3):  # alternate the two modes
            conc.append(statistics.mean(schedule_ms(name, net_name, net, frames, device,
                                                    dtype)[0][1:]))
            seq.append(statistics.mean(schedule_ms(name, net_name, net, frames, device, dtype,
                                                   "sequential")[0][1:]))
        c, s = statistics.median(conc), statistics.median(seq)
        print(f"{name:<12}{c:>15.2f}{s:>15.2f}{100 * (1 - c / s):>14.1f}%")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float16", "bfloat16"))
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--fcn8s-size", type=int, default=256)
    parser.add_argument("--size", metavar="HxW",
                        help="fcn8s's size (default: --fcn8s-size squared); tiny stays 128x128")
    parser.add_argument("--fcn8s-frames", type=int, default=8)
    parser.add_argument("--nets", default="tiny,fcn8s", help="comma-separated subset")
    parser.add_argument("--memory-format", default="auto",
                        choices=("auto", "contiguous", "channels_last"),
                        help="the executor's and the plain forward's (default auto)")
    parser.add_argument("--cuda-graphs", action="store_true",
                        help="the executor replays each stage as a CUDA graph (cuda only)")
    parser.add_argument("--compile", action="store_true",
                        help="the executor runs each stage through torch.compile")
    args = parser.parse_args()
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    FAST.update(memory_format=args.memory_format, cuda_graphs=args.cuda_graphs,
                compile=args.compile)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else machine()
    print(f"machine: {name}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"executor {FAST}")
    nets = args.nets.split(",")
    if "tiny" in nets:
        bench_network("tiny", (128, 128), args.frames, device, dtype)
    if "fcn8s" in nets:
        size = parse_size(args.size) if args.size else (args.fcn8s_size,) * 2
        bench_network("fcn8s", size, args.fcn8s_frames, device, dtype)


if __name__ == "__main__":
    with recording(pop_out(), "bench_executor"):  # --out FILE.json: also write the report there
        main()
