"""Measured device profiles: time a network's parts on the real device, for the simulator.

``profile_network`` times, on real tensors of the requested size and dtype, every
operation the executor runs: each trunk layer (``run_layer`` on its real inputs, found by
the one DAG walk :func:`cwdsl.nets.walk_trunk`), each
score head, the fuse of every non-empty subset of heads, each clock measurement (label
difference per head, pixel difference), optical flows, warps and learned clocks
(:mod:`cwdsl.profile.motion`) and the executor's fixed per-frame work. Each is
warmed up, then timed ``repeats`` times in round-robin order (so drift in the machine's
load hits every entry alike) and summarised by its median; CUDA timings use events
after a synchronize.

A program may split the trunk anywhere, so a stage's time is derived from its layers'
and heads' medians. Whether such a sum is faithful is measured too: the trunk is cut
into *segments* at the layers heads read (FCN-8s: conv1_1..pool3, conv4_1..pool4,
conv5_1..fc7, the paper's three stages) and every contiguous range of segments is
timed directly with ``run_stage`` (its heads included), next to the sum of its parts.
The model (:class:`Profile`) then uses

- the direct timing when a stage is exactly one of those ranges with all its heads;
- otherwise the per-layer and per-head sum, each part scaled by its segment's
  ``direct / sum`` ratio (a bias of per-layer timing, e.g. launch latency that a
  sequence hides, or caches a sequence keeps warm, is corrected where it was measured);
- times each segment's *in-frame* ratio: parts timed in isolation on the same warm
  input can run faster (or slower) than inside a real frame, where each stage reads a
  fresh input after other work has evicted the caches. The profile runs
  ``Executor.step`` with every segment a stage computing on every frame, keeps the
  executor's own per-stage timings, and divides each segment's median by its direct
  median; every part of a stage is scaled by its segment's ratio.

The profile is a JSON file written atomically, with the machine, torch version and date::

    {"format": "cwdsl-profile", "version": 3, "network", "layers": [...],
     "heads": {head: layer read}, "input_hw": [h, w], "dtype", "device", "device_name",
     "weights", "warmup", "repeats", "torch", "date", "machine": {...}, "stage_model",
     "timings": {"layers": {name: STATS}, "heads": {name: STATS},
                 "fuses": {"h1+h2": STATS, ...every non-empty subset, spec order},
                 "measures": {"labeldiff:HEAD": STATS, "labeldiff:HEAD:image": STATS,
                              "pixeldiff": STATS},
                 "frame_overhead": {"median_ms", "step_all_cache": STATS, ...},
                 "in_frame": {"segments": [{"first", "last", "in_frame": STATS,
                                            "direct_ms", "ratio"}], "step_all_compute": STATS},
                 "ranges": [{"first", "last", "heads", "direct": STATS, "sum_ms", "ratio"}],
                 "full": {"direct": STATS, "sum_ms"},
                 "flows": {METHOD: STATS}, "predicted": {HEAD: STATS + "signals"},
                 "warps": {"compose": STATS, "features:NAME": STATS, "head:NAME": STATS},
                 "host": {...}, "lanes": {...}}}   (see cwdsl.profile.host)
    STATS = {"median_ms", "min_ms", "max_ms", "samples_ms": [...]}
(``flows``, ``warps``, ``predicted`` and, before version 3, ``host``, ``lanes`` may be absent.)
"""
from __future__ import annotations

import datetime as _dt
import itertools
import statistics
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch

from cwdsl.core.atomic import write_json
from cwdsl.core.errors import InputError, file_error
from cwdsl.core.netspec import IMAGE, NetworkSpec, get_network
from cwdsl.core.progress import progress_bar
from cwdsl.core.units import parse_size
from cwdsl.ir.graph import compile_text
from cwdsl.nets import build_network, walk_trunk
from cwdsl.nets.preprocess import normalize
from cwdsl.nets.bundled import bundled_weights
from cwdsl.nets.weights import load_weights
from cwdsl.runtime.device import memory_format, resolve_device, torch_dtype
from cwdsl.runtime.executor import Executor
from cwdsl.runtime.machine import cpu_model, machine_info
from cwdsl.runtime.stagerun import make_runner
from cwdsl.runtime.measure import label_map, quiet_atom
from cwdsl.devices.profiled import PROFILE_FORMAT, PROFILE_VERSION, fuse_key, head_subsets
from cwdsl.profile.batch import batch_tasks, batch_timings, parse_batches
from cwdsl.profile.host import DeviceClock, HostClock, LaneTasks, host_tasks, host_timings
from cwdsl.profile.motion import motion_tasks, motion_timings, opencv_info

MAX_FUSE_HEADS = 8  # 255 fuse subsets


# -- timing -------------------------------------------------------------------------------
def _stats(samples: Sequence[float]) -> dict:
    return {"median_ms": statistics.median(samples), "min_ms": min(samples),
            "max_ms": max(samples), "samples_ms": [round(s, 6) for s in samples]}


def segments(spec: NetworkSpec) -> list[tuple[str, str, tuple[str, ...]]]:
    """The runs the profile times directly (:meth:`NetworkSpec.head_segments`)."""
    return spec.head_segments()


# -- profiling ----------------------------------------------------------------------------
def _machine(device: torch.device) -> dict:
    return {**machine_info(device), **opencv_info()}


def profile_network(spec_or_name: NetworkSpec | str, input_hw: Sequence[int],
                    device: str = "cpu", dtype: str = "float32", weights: str | Path | None = None,
                    warmup: int = 2, repeats: int = 7, threads: int | None = None,
                    progress: Callable[[int], object] | None = None,
                    total: Callable[[int], object] | None = None, memory_format: str = "auto",
                    compile: bool = False, cuda_graphs: bool = False, batches=(1,)) -> dict:
    """Time every part of a network on ``device`` (see the module's docstring) and return
    the profile as a JSON-ready dict. ``weights``: a state dict to load first (default: the
    network's bundled weights, if any; they decide its fast paths, and timings can depend
    on values, e.g. denormals on a CPU). ``threads``: torch's CPU threads
    while profiling (default: as they are, as the executor would run; the profile
    records the number). ``total(n)`` is told the number of timed calls,
    ``progress(1)`` is called after each (for a progress bar). ``memory_format``,
    ``compile``, ``cuda_graphs``: the executor's fast path (:class:`Executor`), which the
    stages, fuses and executors timed take (layers are timed eagerly in that format);
    ``batches``: sizes whose ranges and fuse are timed too (:mod:`cwdsl.profile.batch`)."""
    spec = get_network(spec_or_name) if isinstance(spec_or_name, str) else spec_or_name
    hw = parse_size(input_hw)
    spec.check_input(hw, "input")
    dev = resolve_device(device)
    torch_dtype(dtype, dev)
    if warmup < 0 or repeats < 1:
        raise InputError(f"need warmup >= 0 and repeats >= 1, got {warmup} and {repeats}")
    if threads is not None and threads < 1:
        raise InputError(f"threads must be at least 1, got {threads}")
    saved = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        fast = {"memory_format": memory_format, "compile": compile, "cuda_graphs": cuda_graphs}
        return _profile(spec, hw, dev, dtype, weights, warmup, repeats, progress, total, fast,
                        parse_batches(batches))
    finally:
        torch.set_num_threads(saved)


def _profile(spec: NetworkSpec, hw, dev: torch.device, dtype: str, weights, warmup: int,
             repeats: int, progress, total, fast: dict, batches=(1,)) -> dict:
    heads = tuple(h.name for h in spec.heads)
    if len(heads) > MAX_FUSE_HEADS:
        raise InputError(f"network {spec.name} has {len(heads)} heads: too many fuse subsets "
                         f"to profile (at most {MAX_FUSE_HEADS} heads)")
    net = build_network(spec)
    weights = weights if weights is not None else bundled_weights(spec.name)
    if weights is not None:  # its own weights by default: they decide its fast paths
        load_weights(net, weights)
    layout = memory_format(fast["memory_format"], dev, torch_dtype(dtype))
    net = net.to(dev, torch_dtype(dtype), memory_format=layout).eval()
    runner = make_runner(net, dev, fast["compile"], fast["cuda_graphs"])
    fast = {**fast, "memory_format": "channels_last" if layout == torch.channels_last
            else "contiguous"}  # as resolved, for the record
    tasks = _tasks(spec, net, runner, hw, dev, dtype, fast, layout, batches)
    clock, host_clock = DeviceClock(dev), HostClock(dev)
    names = list(tasks)
    if total is not None:
        total((warmup + repeats) * len(names))
    samples: dict[str, list[float]] = {n: [] for n in names}
    try:
        with torch.inference_mode():
            for round_ in range(warmup + repeats):
                for name in names:
                    ms = (host_clock if name.startswith("host:") else clock)(tasks[name])
                    if round_ >= warmup:
                        samples[name].append(ms)
                    if progress is not None:
                        progress(1)
    finally:
        tasks.close()
    # one call per round, warm-up rounds first
    in_frame, lanes = tasks.stage_ms[warmup:], tasks.lanes.lane_ms[warmup:]
    return _assemble(spec, net, hw, dev, dtype, weights, warmup, repeats, samples, in_frame,
                     lanes, fast)


class _Tasks(dict):
    """Name → zero-argument callable, plus what must be released afterwards."""

    executors: tuple[Executor, ...] = ()
    stage_ms: list[dict[str, float]]  # the all-compute executor's per-stage timings, in order
    lanes: LaneTasks  # the host's and the pipelined lanes' calls (cwdsl.profile.host)

    def close(self) -> None:
        for executor in self.executors:
            executor.close()
        self.lanes.close()


def _tasks(spec: NetworkSpec, net, runner, hw, dev: torch.device, dtype: str, fast: dict,
           layout: torch.memory_format, batches=(1,)) -> _Tasks:
    """Every call to time, on real inputs computed once here: stages and fuses through
    ``runner``, executors with the ``fast`` options, inputs in ``layout``."""
    tasks = _Tasks()
    gen = torch.Generator().manual_seed(2016)
    frame = torch.rand(1, spec.in_channels, *hw, generator=gen)
    pixels = frame.to(dev)
    heads = tuple(h.name for h in spec.heads)
    outputs: dict[str, torch.Tensor] = {}

    def layer(name, args):
        outputs[name] = net.run_layer(name, *args)
        return outputs[name]

    with torch.inference_mode():
        x0 = normalize(pixels.float(), spec.norm).to(torch_dtype(dtype)) \
            .contiguous(memory_format=layout)
        scores, inputs = walk_trunk(net, x0, layer, record=True)  # every layer's inputs
    available = {IMAGE: x0, **outputs}  # what any range of layers may read
    for name in spec.layer_names:
        tasks[f"layer:{name}"] = (lambda n: lambda: net.run_layer(n, *inputs[n]))(name)
    for h in heads:
        read = spec.head(h).reads
        tasks[f"head:{h}"] = (lambda n, f: lambda: net.head(n, f))(h, outputs[read])
    for subset in head_subsets(heads):
        chosen = {h: scores[h] for h in subset}
        tasks[f"fuse:{fuse_key(subset)}"] = (lambda c: lambda: runner.fuse(c, hw))(chosen)
    for h in heads:
        measure = quiet_atom(True, torch.roll(scores[h], 1, dims=-1).argmax(1))  # a different map
        tasks[f"measure:labeldiff:{h}"] = (lambda f, s: lambda: f(s))(measure, scores[h])
        window = net.head_window(h, hw)  # region image: the cells that see the image
        measure = quiet_atom(True, label_map(torch.roll(scores[h], 1, dims=-1), window), window)
        tasks[f"measure:labeldiff:{h}:image"] = (lambda f, s: lambda: f(s))(measure, scores[h])
    measure = quiet_atom(False, torch.roll(pixels, 1, dims=-1))
    tasks["measure:pixeldiff"] = (lambda f: lambda: f(pixels))(measure)
    for first, last, seg_heads in _ranges(spec):
        tasks[f"range:{first}..{last}"] = (lambda a, b, hs: lambda: runner.run_stage(
            available, a, b, hs))(first, last, seg_heads)
    tasks.update(batch_tasks(net, runner, hw, batches, _ranges(spec), available, scores))
    tasks["full"] = lambda: net(x0)
    tasks.update(motion_tasks(spec, net, hw, dev, x0, outputs, scores))
    tasks.lanes = host_tasks(spec, net, runner, hw, dev, dtype, fast, _ranges(spec), available,
                             scores, frame)
    tasks.update(tasks.lanes)
    executor = _all_cache_executor(spec, net, hw, dev, dtype, fast)
    executor.step(frame)  # frame 0 computes everything; every later frame caches
    computing = _all_compute_executor(spec, net, hw, dev, dtype, fast)
    tasks.executors = (executor, computing)
    tasks["step:all_cache"] = lambda: executor.step(frame)
    # Alternate two frames so that each step reads a fresh input, as on a video.
    frames = (frame, torch.roll(frame, 7, dims=-1))
    counter = itertools.count()
    tasks.stage_ms = []
    tasks["step:all_compute"] = lambda: tasks.stage_ms.append(
        computing.step(frames[next(counter) % 2]).stage_ms)
    return tasks


def _ranges(spec: NetworkSpec) -> list[tuple[str, str, tuple[str, ...]]]:
    """Every contiguous run of :func:`segments`, with all its heads."""
    segs = segments(spec)
    out = []
    for i in range(len(segs)):
        for j in range(i, len(segs)):
            out.append((segs[i][0], segs[j][1],
                        tuple(h for s in segs[i:j + 1] for h in s[2])))
    return out


def _all_cache_executor(spec: NetworkSpec, net, hw, dev, dtype: str, fast: dict) -> Executor:
    """An executor whose one stage (the whole network) computes on frame 0 only: its
    later frames cost exactly the per-frame overhead plus the fuse."""
    heads = tuple(h.name for h in spec.heads)
    deepest = spec.deepest_read(heads)
    text = (f"network {spec.name} input {hw[0]}x{hw[1]}\n"
            f"stage s = {spec.layer_names[0]} .. {deepest} head {', '.join(heads)}\n"
            f"compute s when 0\n"
            f"output fuse(s)\n")
    program = compile_text(text, f"<profile {spec.name}>")
    return Executor(program, net, dev, dtype, concurrency="sequential", **fast)


def _all_compute_executor(spec: NetworkSpec, net, hw, dev, dtype: str, fast: dict) -> Executor:
    """An executor computing every segment (:func:`segments`) as a stage on every frame,
    sequentially: the frame oracle split at the heads."""
    lines = [f"network {spec.name} input {hw[0]}x{hw[1]}"]
    names = []
    for i, (first, last, seg_heads) in enumerate(segments(spec)):
        names.append(f"s{i + 1}")
        head = f" head {', '.join(seg_heads)}" if seg_heads else ""
        lines += [f"stage s{i + 1} = {first} .. {last}{head}", f"compute s{i + 1} when 1"]
    lines.append(f"output fuse({', '.join(names)})")
    program = compile_text("\n".join(lines) + "\n", f"<profile {spec.name}>")
    return Executor(program, net, dev, dtype, concurrency="sequential", **fast)


def _assemble(spec: NetworkSpec, net, hw, dev: torch.device, dtype: str, weights, warmup: int,
              repeats: int, samples: Mapping[str, list[float]],
              in_frame_stage_ms: Sequence[Mapping[str, float]],
              lane_ms: Sequence[Mapping[str, float]], fast: dict) -> dict:
    med = {n: statistics.median(s) for n, s in samples.items()}
    heads = tuple(h.name for h in spec.heads)
    ranges = []
    for first, last, seg_heads in _ranges(spec):
        summed = _part_sum(spec, med, first, last, seg_heads)
        direct = samples[f"range:{first}..{last}"]
        ranges.append({"first": first, "last": last, "heads": list(seg_heads),
                       "direct": _stats(direct), "sum_ms": summed,
                       "ratio": statistics.median(direct) / summed if summed > 0 else 1.0})
    deepest = spec.deepest_read(heads)
    full_sum = _part_sum(spec, med, spec.layer_names[0], deepest, heads) + \
        med[f"fuse:{fuse_key(heads)}"]
    step = samples["step:all_cache"]
    fuse_all = med[f"fuse:{fuse_key(heads)}"]
    in_frame = []
    for i, (first, last, _) in enumerate(segments(spec)):
        inside = [timings[f"s{i + 1}"] for timings in in_frame_stage_ms]
        direct = med[f"range:{first}..{last}"]
        in_frame.append({"first": first, "last": last, "in_frame": _stats(inside),
                         "direct_ms": direct,
                         "ratio": statistics.median(inside) / direct if direct > 0 else 1.0})
    return {
        "format": PROFILE_FORMAT, "version": PROFILE_VERSION,
        "network": spec.name, "layers": list(spec.layer_names),
        "heads": {h.name: h.reads for h in spec.heads},
        "input_hw": list(hw), "dtype": dtype, "device": str(dev),
        "device_name": _machine(dev).get("gpu") or cpu_model(),
        "weights": None if weights is None else str(weights),
        "warmup": warmup, "repeats": repeats,
        "torch": torch.__version__,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": _machine(dev), "executor": dict(fast), "fast_paths": net.fast_paths(),
        "stage_model": "a stage equal to a measured range (with all its heads) takes the "
                       "range's direct median; any other stage sums its layers' and heads' "
                       "medians, each scaled by its segment's direct/sum ratio",
        "timings": {
            "layers": {n: _stats(samples[f"layer:{n}"]) for n in spec.layer_names},
            "heads": {h: _stats(samples[f"head:{h}"]) for h in heads},
            "fuses": {fuse_key(s): _stats(samples[f"fuse:{fuse_key(s)}"])
                      for s in head_subsets(heads)},
            "measures": {**{f"labeldiff:{h}": _stats(samples[f"measure:labeldiff:{h}"])
                            for h in heads},
                         **{f"labeldiff:{h}:image": _stats(
                             samples[f"measure:labeldiff:{h}:image"]) for h in heads},
                         "pixeldiff": _stats(samples["measure:pixeldiff"])},
            "frame_overhead": {"median_ms": max(0.0, statistics.median(step) - fuse_all),
                               "step_all_cache": _stats(step), "fuse_all_median_ms": fuse_all,
                               "how": "Executor.step on a schedule whose one stage caches "
                                      "after frame 0, minus the fuse of all heads"},
            "in_frame": {"segments": in_frame,
                         "step_all_compute": _stats(samples["step:all_compute"]),
                         "how": "each segment's time inside Executor.step (every segment a "
                                "stage computing every frame) / its direct median"},
            "ranges": ranges,
            "full": {"direct": _stats(samples["full"]), "sum_ms": full_sum},
            **motion_timings(samples, _stats),
            **host_timings(samples, lane_ms, _ranges(spec), heads, _stats),
            **batch_timings(samples, _ranges(spec), _stats),
        },
    }


def _part_sum(spec: NetworkSpec, med: Mapping[str, float], first: str, last: str,
              heads: Sequence[str]) -> float:
    lo, hi = spec.layer_index(first), spec.layer_index(last)
    return sum(med[f"layer:{n}"] for n in spec.layer_names[lo:hi + 1]) + \
        sum(med[f"head:{h}"] for h in heads)


def run_profile(net: str, size: str | Sequence[int], device: str = "cpu",
                dtype: str = "float32", out: str | Path = "profile.json",
                weights: str | Path | None = None, progress: bool = True,
                warmup: int = 2, repeats: int = 7, threads: int | None = None,
                **fast) -> Path:
    """``cwdsl profile``: profile network ``net`` at ``size`` (``"HxW"``) on ``device`` and
    write the JSON to ``out`` atomically (a tqdm bar on stderr when ``progress``);
    ``fast``: the executor's fast path (:func:`profile_network`). Returns the path."""
    def set_total(bar, n: int) -> None:
        bar.total = n
        bar.refresh()

    with progress_bar(progress, total=None, desc=f"profile {net}", unit="call") as bar:
        data = profile_network(net, parse_size(size), device, dtype, weights, warmup, repeats,
                               threads, progress=bar.update, total=lambda n: set_total(bar, n),
                               **fast)
    try:
        write_json(out, data)
    except OSError as e:
        raise file_error(out, f"cannot write profile: {e.strerror or e}") from None
    return Path(out)
