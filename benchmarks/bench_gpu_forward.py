"""The plain torch forward against every paper schedule through the executor, in one run.

  python benchmarks/bench_gpu_forward.py --device cuda --dtype float16 --size 500x500 --frames 40
  python benchmarks/bench_gpu_forward.py --device cpu --net tiny --size 64x64 --frames 6 --rounds 1

Plain forwards (the frame uploaded, normalised and run; synchronised per frame): contiguous,
channels_last and — on CUDA only — channels_last replayed as one CUDA graph. Schedules
(schedules/*.cw and ``adaptive_half``) through the :class:`Executor` (memory format
``--memory-format``, default auto: channels_last on CUDA and on CPUs), eager and — on CUDA
only — with CUDA graphs per stage (``--compile`` adds compiled columns). Every figure is a
mean ms per frame over the frames after the first ``--skip`` (warm-up, captures), the median
of ``--rounds`` round-robin rounds (a shared machine's drifts hit every variant alike);
ratios are to the best plain forward of the same run.

``adaptive_half`` is schedules/adaptive.cw with its deep stage forced onto half the frames
(the issue's "adaptive with the deep stage firing on half the frames"): its clock becomes
``labeldiff(s2, since=fired) >= 0`` (true on every frame, but still measured on every frame:
the argmax of score_pool4 and its one scalar read) and s3 computes ``when moved and every 2``,
so s3 runs on the even frames and the frame's work is exactly adaptive's at a 50% firing rate.

``--out FILE.json`` writes every figure with the machine, the card, torch and the date.
Weights are seeded random (time does not depend on them); frames are the demo generator's.
"""
from __future__ import annotations

import argparse
import copy
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_results  # noqa: E402

from cwdsl import compile_text, load  # noqa: E402
from cwdsl.core.units import parse_size  # noqa: E402
from cwdsl.demo.scenes import generate_clip  # noqa: E402
from cwdsl.nets import build_network  # noqa: E402
from cwdsl.nets.preprocess import frame_tensor, normalize  # noqa: E402
from cwdsl.runtime.device import memory_format, resolve_device, torch_dtype  # noqa: E402
from cwdsl.runtime.executor import Executor  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCHEDULES = ("oracle", "alternating", "exponential", "skipframe", "adaptive", "pipeline2",
             "pipeline3", "baseline3")


def adaptive_half(network: str):
    """schedules/adaptive.cw with s3 on every other frame, its clock still measured."""
    text = (ROOT / "schedules" / "adaptive.cw").read_text()
    clock = "clock moved = labeldiff(s2, since=fired) >= 0.03"
    rule = "compute s3 when moved else cache"
    assert clock in text and rule in text, "schedules/adaptive.cw changed: update adaptive_half"
    text = text.replace(clock, "clock moved = labeldiff(s2, since=fired) >= 0")
    text = text.replace(rule, "compute s3 when moved and every 2 else cache")
    return compile_text(text, "<adaptive_half>", network)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_runner(net, device, dtype, fmt, graph: bool):
    """One frame's plain forward as a function of the frame (host tensor)."""
    def prepare(x):
        return normalize(x.to(device, non_blocking=True).float(), net.spec.norm).to(dtype) \
            .contiguous(memory_format=fmt)

    if not graph:
        return lambda x: net(prepare(x))
    state = {}

    def replay(x):
        inp = prepare(x)
        if "graph" not in state or state["shape"] != inp.shape:
            static = inp.clone()
            side = torch.cuda.Stream(device)
            side.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(side):
                for _ in range(3):
                    net(static)
            torch.cuda.current_stream(device).wait_stream(side)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                out = net(static)
            state.update(graph=g, static=static, out=out, shape=inp.shape)
        state["static"].copy_(inp)
        state["graph"].replay()
        return state["out"]
    return replay


def time_plain(fn, frames, device) -> list[float]:
    times = []
    with torch.inference_mode():
        for x in frames:
            sync(device)
            start = time.perf_counter()
            fn(x)
            sync(device)
            times.append(1e3 * (time.perf_counter() - start))
    return times


def time_schedule(executor: Executor, frames) -> tuple[list[float], float]:
    """Per-frame latencies of one pass over ``frames`` and the deep stage's firing rate."""
    executor.reset()
    results = [executor.step(x) for x in frames]
    deep = executor.program.stages[-1]
    return [r.latency_ms for r in results], \
        sum(deep in r.computed for r in results) / len(results)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float16", "bfloat16"))
    parser.add_argument("--size", default="256x256", help="HxW (default 256x256)")
    parser.add_argument("--frames", type=int, default=40, help="frames per pass (default 40)")
    parser.add_argument("--skip", type=int, default=2,
                        help="first frames of each pass left out (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="round-robin rounds (default 3)")
    parser.add_argument("--net", default="fcn8s")
    parser.add_argument("--memory-format", default="auto",
                        choices=("auto", "contiguous", "channels_last"),
                        help="the executor's (default auto)")
    parser.add_argument("--compile", action="store_true", help="also run compiled executors")
    parser.add_argument("--schedules", default=",".join(SCHEDULES + ("adaptive_half",)),
                        help="comma-separated (default: the paper's and adaptive_half)")
    parser.add_argument("--out", metavar="FILE.json", help="write the figures here")
    args = parser.parse_args()
    device = resolve_device(args.device)
    dtype = torch_dtype(args.dtype, device)
    size = parse_size(args.size)
    cuda = device.type == "cuda"
    card = torch.cuda.get_device_name(device) if cuda else None
    if args.skip >= args.frames:
        parser.error("--skip must be below --frames")
    print(f"machine: {machine()}; card: {card or 'none'}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(f"{args.net} at {size[0]}x{size[1]}, {device} {args.dtype}, {args.frames} frames "
          f"(first {args.skip} left out) x {args.rounds} rounds")

    torch.manual_seed(0)
    base = build_network(args.net).eval()
    frames = [frame_tensor(f) for f in generate_clip(2016, args.frames, size).frames]
    if cuda:
        frames = [x.pin_memory() for x in frames]

    def net_in(fmt):
        return copy.deepcopy(base).to(device, dtype, memory_format=fmt).eval()

    plain = {"contiguous": plain_runner(net_in(torch.contiguous_format), device, dtype,
                                        torch.contiguous_format, False)}
    plain["channels_last"] = plain_runner(net_in(torch.channels_last), device, dtype,
                                          torch.channels_last, False)
    if cuda:
        plain["channels_last graph"] = plain_runner(net_in(torch.channels_last), device, dtype,
                                                    torch.channels_last, True)
    modes = {"eager": {}}
    if cuda:
        modes["graphs"] = {"cuda_graphs": True}
    if args.compile:
        modes["compiled"] = {"compile": True}
        if cuda:
            modes["compiled graphs"] = {"compile": True, "cuda_graphs": True}
    names = args.schedules.split(",")
    programs = {n: adaptive_half(args.net) if n == "adaptive_half"
                else load(ROOT / "schedules" / f"{n}.cw", network=args.net) for n in names}
    shared = net_in(memory_format(args.memory_format, device, dtype))  # one copy for all
    executors = {(n, m): Executor(p, shared, device, args.dtype,
                                  memory_format=args.memory_format, **opts)
                 for n, p in programs.items() for m, opts in modes.items()}

    means: dict[tuple, list[float]] = {}
    fired: dict[str, float] = {}
    for r in range(args.rounds):
        for name, fn in plain.items():
            times = time_plain(fn, frames, device)[args.skip:]
            means.setdefault(("plain", name), []).append(statistics.mean(times))
        for (name, mode), executor in executors.items():
            times, fired[name] = time_schedule(executor, frames)
            means.setdefault((name, mode), []).append(statistics.mean(times[args.skip:]))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    for executor in executors.values():
        executor.close()
    ms = {key: statistics.median(v) for key, v in means.items()}
    best_name = min(plain, key=lambda n: ms["plain", n])
    best = ms["plain", best_name]

    print(f"\nplain forward (ms/frame, ratio to the best: {best_name})")
    for name in plain:
        print(f"  {name:<22}{ms['plain', name]:>10.3f}{ms['plain', name] / best:>8.2f}x")
    for name in ("channels_last graph",):
        if name not in plain:
            print(f"  {name:<22}{'n/a':>10}{'n/a':>9}")
    header = f"{'schedule':<15}{'s3 on':>7}"
    all_modes = ["eager", "graphs"] + (["compiled", "compiled graphs"] if args.compile else [])
    for mode in all_modes:
        header += f"{mode + ' ms':>20}{'x':>7}"
    print(f"\nschedules through the executor (memory format {args.memory_format}; "
          f"x = ratio to the best plain forward)\n{header}")
    for name in names:
        line = f"{name:<15}{100 * fired[name]:>6.0f}%"
        for mode in all_modes:
            if (name, mode) in ms:
                line += f"{ms[name, mode]:>20.3f}{ms[name, mode] / best:>6.2f}x"
            else:
                line += f"{'n/a':>20}{'n/a':>7}"
        print(line)

    if args.out:
        record = {
            "card": card,
            "python": platform.python_version(), "threads": torch.get_num_threads(),
            "net": args.net, "size": list(size), "device": str(device), "dtype": args.dtype,
            "frames": args.frames, "skip": args.skip, "rounds": args.rounds,
            "memory_format": args.memory_format, "best_plain": best_name,
            "plain_ms": {n: ms["plain", n] for n in plain},
            "schedules": {n: {"deep_stage_fired": fired[n],
                              **{f"{m}_ms": ms[n, m] for m in modes}} for n in names},
            "rounds_ms": {" / ".join(k): v for k, v in means.items()},
        }
        write_results(args.out, "bench_gpu_forward", record)
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
