"""The profiling harness's timings of the host beside the device (profile version 3).

On a GPU the host issues work and goes on while queued kernels run, so the simulator
prices a frame from host and device time apart (:func:`cwdsl.sim.simulate.price`). The
device times are the profile's usual medians (CUDA events); :func:`host_tasks` adds the
host's side, timed by :class:`HostClock` (from the call to its return, after a sync,
without waiting for the device), and the concurrency of pipelined lanes:

- ``host:range:FIRST..LAST``: issuing every contiguous range of head segments with its
  heads (``run_stage``), as the profile's ``ranges`` time them on the device;
- ``host:fuse``: issuing the fuse of every head;
- ``host:sync``: reading back one number the device already holds (what a data-driven
  clock's decision and the end of a frame cost beyond draining the queue);
- ``lanes:sequential`` / ``lanes:concurrent``: ``Executor.step`` of a pipeline of every
  head segment (each reading its predecessor's state of the frame before, so all run in
  one wave), lanes one after the other and concurrently (CUDA streams; threads on a CPU).

:func:`host_timings` turns their samples into the profile's ``host`` and ``lanes``
groups. ``lanes.overlap`` is the share of the non-slowest lanes that concurrency hid:
``(sequential - concurrent) / (sum of lanes - slowest lane)``, clipped to [0, 1], the lanes'
times being the sequential executor's own per-stage timings. On a CPU the host *is* the
device: its host times equal the whole times and the simulator does not use them.
"""
from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Mapping, Sequence

import torch

from cwdsl.core.netspec import NetworkSpec
from cwdsl.ir.graph import compile_text
from cwdsl.runtime.executor import Executor


class DeviceClock:
    """Milliseconds of one call on a device: CUDA events after a sync on a GPU (the
    device's time), the wall clock on a CPU."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.device = device

    def __call__(self, fn: Callable[[], object]) -> float:
        if not self.cuda:
            start = time.perf_counter()
            fn()
            return 1e3 * (time.perf_counter() - start)
        torch.cuda.synchronize(self.device)
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        begin.record()
        fn()
        end.record()
        end.synchronize()
        return float(begin.elapsed_time(end))


class HostClock(DeviceClock):
    """Host milliseconds of one call: the device is drained first, the call's own wait
    for the device (if any) is included, kernels it merely queues are not."""

    def __call__(self, fn: Callable[[], object]) -> float:
        if self.cuda:
            torch.cuda.synchronize(self.device)
        start = time.perf_counter()
        fn()
        ms = 1e3 * (time.perf_counter() - start)
        if self.cuda:
            torch.cuda.synchronize(self.device)  # nothing of this call spills into the next
        return ms


class LaneTasks(dict):
    """Name → call, plus the two pipeline executors (to close) and the sequential one's
    per-stage timings of every call (the lanes' own times)."""

    executors: tuple[Executor, ...] = ()
    lane_ms: list[Mapping[str, float]]

    def close(self) -> None:
        for executor in self.executors:
            executor.close()


def host_tasks(spec: NetworkSpec, net, runner, hw, dev: torch.device, dtype: str, fast: dict,
               ranges: Sequence[tuple[str, str, tuple[str, ...]]],
               available: Mapping[str, torch.Tensor], scores: Mapping[str, torch.Tensor],
               frame: torch.Tensor) -> LaneTasks:
    """The calls of the module's docstring on ``net``'s real tensors, stages and fuses run
    by ``runner`` and executors with the options ``fast``: ``available`` every layer's
    output (and the input) a range may read, ``scores`` every head's, ``frame`` a raw
    frame on the host for the executors."""
    tasks = LaneTasks()
    if dev.type == "cuda":  # on a CPU the host's time is the device's: timed already
        for first, last, heads in ranges:
            tasks[f"host:range:{first}..{last}"] = (lambda a, b, hs: lambda: runner.run_stage(
                available, a, b, hs))(first, last, heads)
        tasks["host:fuse"] = lambda: runner.fuse(dict(scores), hw)
    held = torch.zeros((), device=dev)
    tasks["host:sync"] = held.item
    text = pipeline_text(spec, hw)
    lanes = {mode: Executor(compile_text(text, f"<profile {spec.name} lanes>"), net, dev, dtype,
                            concurrency=mode, **fast) for mode in ("sequential", "auto")}
    tasks.executors = tuple(lanes.values())
    frames = (frame, torch.roll(frame, 7, dims=-1))  # a fresh input each step, as on video
    counter = itertools.count()
    tasks.lane_ms = []
    tasks["lanes:sequential"] = lambda: tasks.lane_ms.append(
        lanes["sequential"].step(frames[next(counter) % 2]).stage_ms)
    tasks["lanes:concurrent"] = lambda: lanes["auto"].step(frames[next(counter) % 2])
    return tasks


def pipeline_text(spec: NetworkSpec, hw) -> str:
    """A schedule whose stages are the head segments, every one after the first delayed
    by one frame: on every frame from the second, all of them form one wave."""
    lines = [f"network {spec.name} input {hw[0]}x{hw[1]}"]
    names = []
    for i, (first, last, heads) in enumerate(spec.head_segments()):
        names.append(f"s{i + 1}")
        head = f" head {', '.join(heads)}" if heads else ""
        delay = " delay 1" if i else ""
        lines += [f"stage s{i + 1} = {first} .. {last}{head}",
                  f"compute s{i + 1} when 1{delay}"]
    lines.append(f"output fuse({', '.join(names)})")
    return "\n".join(lines) + "\n"


def host_timings(samples: Mapping[str, list[float]], lane_ms: Sequence[Mapping[str, float]],
                 ranges: Sequence[tuple[str, str, tuple[str, ...]]], heads: Sequence[str],
                 stats: Callable[[list[float]], dict]) -> dict:
    """The profile's ``host`` and ``lanes`` groups (see the module's docstring) from the
    tasks' samples; ``lane_ms``: the sequential executor's per-stage timings, one mapping
    per timed step; ``heads``: the network's, in order (the fuse timed is of them all)."""
    def host(key: str, device_key: str) -> dict:  # a CPU: the device's own samples
        return stats(samples.get(f"host:{key}", samples[device_key]))

    every = "+".join(heads)
    host = {"ranges": [{"first": a, "last": b, "heads": list(hs),
                        "host": host(f"range:{a}..{b}", f"range:{a}..{b}")}
                       for a, b, hs in ranges],
            "fuse": host("fuse", f"fuse:{every}"), "sync": stats(samples["host:sync"]),
            "how": "host time from the call to its return, after a sync, without waiting "
                   "for the device (a CPU runs the call whole)"}
    sequential = statistics.median(samples["lanes:sequential"])
    concurrent = statistics.median(samples["lanes:concurrent"])
    stages = sorted({s for timings in lane_ms for s in timings})
    medians = [statistics.median(t[s] for t in lane_ms if s in t) for s in stages]
    hidden = sum(medians) - max(medians, default=0.0)
    overlap = min(1.0, max(0.0, (sequential - concurrent) / hidden)) if hidden > 0 else 1.0
    lanes = {"sequential": stats(samples["lanes:sequential"]),
             "concurrent": stats(samples["lanes:concurrent"]),
             "lane_ms": dict(zip(stages, medians)), "overlap": overlap,
             "how": "Executor.step of a pipeline of every head segment (one wave), lanes in "
                    "turn and concurrently; overlap = (sequential - concurrent) / (sum of "
                    "lanes - slowest lane), clipped to [0, 1]"}
    return {"host": host, "lanes": lanes}
