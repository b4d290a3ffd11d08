"""Measured device profiles: time a network's parts on the real device, for the simulator.

``profile_network`` times, on real tensors of the requested size and dtype, every
operation the executor runs: each trunk layer (``run_layer`` on its real input), each
score head, the fuse of every non-empty subset of heads, each clock measurement (label
difference per head, pixel difference) and the executor's fixed per-frame work. Each is
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

    {"format": "cwdsl-profile", "version": 1, "network", "layers": [...],
     "heads": {head: layer read}, "input_hw": [h, w], "dtype", "device", "device_name",
     "weights", "warmup", "repeats", "torch", "date", "machine": {...}, "stage_model",
     "timings": {"layers": {name: STATS}, "heads": {name: STATS},
                 "fuses": {"h1+h2": STATS, ...every non-empty subset, spec order},
                 "measures": {"labeldiff:HEAD": STATS, "pixeldiff": STATS},
                 "frame_overhead": {"median_ms", "step_all_cache": STATS, ...},
                 "in_frame": {"segments": [{"first", "last", "in_frame": STATS,
                                            "direct_ms", "ratio"}], "step_all_compute": STATS},
                 "ranges": [{"first", "last", "heads", "direct": STATS, "sum_ms", "ratio"}],
                 "full": {"direct": STATS, "sum_ms"}}}
    STATS = {"median_ms", "min_ms", "max_ms", "samples_ms": [...]}
"""
from __future__ import annotations

import datetime as _dt
import itertools
import os
import platform
import re
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch

from cwdsl.core.atomic import write_json
from cwdsl.sim.cost import NetworkCost, measure_atom, measure_fn
from cwdsl.sim.devices import DeviceModel, file_error, read_json
from cwdsl.core.errors import InputError
from cwdsl.runtime.executor import DTYPES, Executor
from cwdsl.ir.graph import compile_text
from cwdsl.core.netspec import NetworkSpec, get_network
from cwdsl.nets import build_network
from cwdsl.nets.preprocess import normalize

PROFILE_FORMAT = "cwdsl-profile"
PROFILE_VERSION = 2
MAX_FUSE_HEADS = 8  # 255 fuse subsets


# -- timing -------------------------------------------------------------------------------
class _Clock:
    """Times one call on a device, in milliseconds."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.device = device

    def __call__(self, fn: Callable[[], object]) -> float:
        if self.cuda:
            torch.cuda.synchronize(self.device)
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            return float(start.elapsed_time(end))
        start = time.perf_counter()
        fn()
        return 1e3 * (time.perf_counter() - start)


def _stats(samples: Sequence[float]) -> dict:
    return {"median_ms": statistics.median(samples), "min_ms": min(samples),
            "max_ms": max(samples), "samples_ms": [round(s, 6) for s in samples]}


def segments(spec: NetworkSpec) -> list[tuple[str, str, tuple[str, ...]]]:
    """The runs the profile times directly (:meth:`NetworkSpec.head_segments`)."""
    return spec.head_segments()


def _subsets(heads: Sequence[str]) -> list[tuple[str, ...]]:
    return [c for n in range(1, len(heads) + 1) for c in itertools.combinations(heads, n)]


def _fuse_key(heads: Sequence[str]) -> str:
    return "+".join(heads)


def _machine(device: torch.device) -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpu": _cpu_model(), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads()}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(gpu=props.name, gpu_capability=f"{props.major}.{props.minor}",
                    gpu_memory_gib=round(props.total_memory / 2**30, 1),
                    cuda=torch.version.cuda,
                    cudnn=torch.backends.cudnn.version(),
                    cudnn_allow_tf32=torch.backends.cudnn.allow_tf32)
    return info


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
        found = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        if found:
            return found.group(1).strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _device(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"unknown device '{name}'; use cpu or cuda[:N]") from None
    if device.type not in ("cpu", "cuda"):
        raise InputError(f"unsupported device '{name}'; use cpu or cuda[:N]")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: CUDA is not available on this machine")
    return device


def parse_size(text: str | Sequence[int]) -> tuple[int, int]:
    """``"HxW"`` (or a pair) → (height, width); ``InputError`` otherwise."""
    if not isinstance(text, str):
        h, w = (int(n) for n in text)
    else:
        found = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
        if not found:
            raise InputError(f"size '{text}' is not HEIGHTxWIDTH, e.g. 500x500")
        h, w = int(found.group(1)), int(found.group(2))
    if h < 1 or w < 1:
        raise InputError(f"size must be positive, got {h}x{w}")
    return h, w


# -- profiling ----------------------------------------------------------------------------
def profile_network(spec_or_name: NetworkSpec | str, input_hw: Sequence[int],
                    device: str = "cpu", dtype: str = "float32", weights: str | Path | None = None,
                    warmup: int = 2, repeats: int = 7, threads: int | None = None,
                    progress: Callable[[int], object] | None = None,
                    total: Callable[[int], object] | None = None) -> dict:
    """Time every part of a network on ``device`` (see the module's docstring) and return
    the profile as a JSON-ready dict. ``weights``: a state dict to load first (timings
    can depend on values, e.g. denormals on a CPU). ``threads``: torch's CPU threads
    while profiling (default: as they are, as the executor would run; the profile
    records the number). ``total(n)`` is told the number of timed calls,
    ``progress(1)`` is called after each (for a progress bar)."""
    spec = get_network(spec_or_name) if isinstance(spec_or_name, str) else spec_or_name
    hw = parse_size(input_hw)
    dev = _device(device)
    if dtype not in DTYPES:
        raise InputError(f"unknown dtype '{dtype}'; use one of {', '.join(DTYPES)}")
    if dtype == "float16" and dev.type != "cuda":
        raise InputError("--dtype float16 needs --device cuda (use float32 or bfloat16 on a CPU)")
    if warmup < 0 or repeats < 1:
        raise InputError(f"need warmup >= 0 and repeats >= 1, got {warmup} and {repeats}")
    if threads is not None and threads < 1:
        raise InputError(f"threads must be at least 1, got {threads}")
    saved = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _profile(spec, hw, dev, dtype, weights, warmup, repeats, progress, total)
    finally:
        torch.set_num_threads(saved)


def _profile(spec: NetworkSpec, hw, dev: torch.device, dtype: str, weights, warmup: int,
             repeats: int, progress, total) -> dict:
    heads = tuple(h.name for h in spec.heads)
    if len(heads) > MAX_FUSE_HEADS:
        raise InputError(f"network {spec.name} has {len(heads)} heads: too many fuse subsets "
                         f"to profile (at most {MAX_FUSE_HEADS} heads)")
    net = build_network(spec)
    if weights is not None:
        from cwdsl.nets.weights import load_weights
        load_weights(net, weights)
    net = net.to(dev, DTYPES[dtype]).eval()
    tasks = _tasks(spec, net, hw, dev, dtype)
    clock = _Clock(dev)
    names = list(tasks)
    if total is not None:
        total((warmup + repeats) * len(names))
    samples: dict[str, list[float]] = {n: [] for n in names}
    try:
        with torch.inference_mode():
            for round_ in range(warmup + repeats):
                for name in names:
                    ms = clock(tasks[name])
                    if round_ >= warmup:
                        samples[name].append(ms)
                    if progress is not None:
                        progress(1)
    finally:
        tasks.close()
    in_frame = tasks.stage_ms[warmup:]  # one call per round, warm-up rounds first
    return _assemble(spec, hw, dev, dtype, weights, warmup, repeats, samples, in_frame)


class _Tasks(dict):
    """Name → zero-argument callable, plus what must be released afterwards."""

    executors: tuple[Executor, ...] = ()
    stage_ms: list[dict[str, float]]  # the all-compute executor's per-stage timings, in order

    def close(self) -> None:
        for executor in self.executors:
            executor.close()


def _tasks(spec: NetworkSpec, net, hw, dev: torch.device, dtype: str) -> _Tasks:
    """Every call to time, on real inputs computed once here."""
    tasks = _Tasks()
    gen = torch.Generator().manual_seed(2016)
    frame = torch.rand(1, spec.in_channels, *hw, generator=gen)
    pixels = frame.to(dev)
    heads = tuple(h.name for h in spec.heads)
    readers: dict[str, list[str]] = {}
    for head in spec.heads:
        readers.setdefault(head.reads, []).append(head.name)
    with torch.inference_mode():
        x = normalize(pixels.float(), spec.norm).to(DTYPES[dtype])
        x0 = x
        inputs, scores, outputs = {}, {}, {}
        for name in spec.layer_names:
            inputs[name] = x
            x = net.run_layer(name, x)
            outputs[name] = x
            for head in readers.get(name, ()):
                scores[head] = net.head(head, x)
    for name in spec.layer_names:
        tasks[f"layer:{name}"] = (lambda n: lambda: net.run_layer(n, inputs[n]))(name)
    for h in heads:
        read = spec.head(h).reads
        tasks[f"head:{h}"] = (lambda n, f: lambda: net.head(n, f))(h, outputs[read])
    for subset in _subsets(heads):
        chosen = {h: scores[h] for h in subset}
        tasks[f"fuse:{_fuse_key(subset)}"] = (lambda c: lambda: net.fuse(c, hw))(chosen)
    for h in heads:
        atom = measure_atom(h)
        atom.reference = torch.roll(scores[h], 1, dims=-1).argmax(1)  # a different map
        tasks[f"measure:labeldiff:{h}"] = (lambda f, s: lambda: f(s))(measure_fn(atom), scores[h])
    atom = measure_atom(None)
    atom.reference = torch.roll(pixels, 1, dims=-1)
    tasks["measure:pixeldiff"] = (lambda f: lambda: f(pixels))(measure_fn(atom))
    for first, last, seg_heads in _ranges(spec):
        tasks[f"range:{first}..{last}"] = (lambda a, b, hs: lambda: net.run_stage(
            inputs[a], a, b, hs))(first, last, seg_heads)
    tasks["full"] = lambda: net(x0)
    executor = _all_cache_executor(spec, net, hw, dev, dtype)
    executor.step(frame)  # frame 0 computes everything; every later frame caches
    computing = _all_compute_executor(spec, net, hw, dev, dtype)
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


def _all_cache_executor(spec: NetworkSpec, net, hw, dev, dtype: str) -> Executor:
    """An executor whose one stage (the whole network) computes on frame 0 only: its
    later frames cost exactly the per-frame overhead plus the fuse."""
    heads = tuple(h.name for h in spec.heads)
    deepest = max((spec.head(h).reads for h in heads), key=spec.layer_index)
    text = (f"network {spec.name} input {hw[0]}x{hw[1]}\n"
            f"stage s = {spec.layer_names[0]} .. {deepest} head {', '.join(heads)}\n"
            f"compute s when 0\n"
            f"output fuse(s)\n")
    program = compile_text(text, f"<profile {spec.name}>")
    return Executor(program, net, dev, dtype, concurrency="sequential")


def _all_compute_executor(spec: NetworkSpec, net, hw, dev, dtype: str) -> Executor:
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
    return Executor(program, net, dev, dtype, concurrency="sequential")


def _assemble(spec: NetworkSpec, hw, dev: torch.device, dtype: str, weights, warmup: int,
              repeats: int, samples: Mapping[str, list[float]],
              in_frame_stage_ms: Sequence[Mapping[str, float]]) -> dict:
    med = {n: statistics.median(s) for n, s in samples.items()}
    heads = tuple(h.name for h in spec.heads)
    ranges = []
    for first, last, seg_heads in _ranges(spec):
        summed = _part_sum(spec, med, first, last, seg_heads)
        direct = samples[f"range:{first}..{last}"]
        ranges.append({"first": first, "last": last, "heads": list(seg_heads),
                       "direct": _stats(direct), "sum_ms": summed,
                       "ratio": statistics.median(direct) / summed if summed > 0 else 1.0})
    deepest = max((spec.head(h).reads for h in heads), key=spec.layer_index)
    full_sum = _part_sum(spec, med, spec.layer_names[0], deepest, heads) + \
        med[f"fuse:{_fuse_key(heads)}"]
    step = samples["step:all_cache"]
    fuse_all = med[f"fuse:{_fuse_key(heads)}"]
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
        "device_name": _machine(dev).get("gpu") or _cpu_model(),
        "weights": None if weights is None else str(weights),
        "warmup": warmup, "repeats": repeats,
        "torch": torch.__version__,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": _machine(dev),
        "stage_model": "a stage equal to a measured range (with all its heads) takes the "
                       "range's direct median; any other stage sums its layers' and heads' "
                       "medians, each scaled by its segment's direct/sum ratio",
        "timings": {
            "layers": {n: _stats(samples[f"layer:{n}"]) for n in spec.layer_names},
            "heads": {h: _stats(samples[f"head:{h}"]) for h in heads},
            "fuses": {_fuse_key(s): _stats(samples[f"fuse:{_fuse_key(s)}"])
                      for s in _subsets(heads)},
            "measures": {**{f"labeldiff:{h}": _stats(samples[f"measure:labeldiff:{h}"])
                            for h in heads},
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
        },
    }


def _part_sum(spec: NetworkSpec, med: Mapping[str, float], first: str, last: str,
              heads: Sequence[str]) -> float:
    lo, hi = spec.layer_index(first), spec.layer_index(last)
    return sum(med[f"layer:{n}"] for n in spec.layer_names[lo:hi + 1]) + \
        sum(med[f"head:{h}"] for h in heads)


def _set_total(bar) -> Callable[[int], None]:
    def set_total(n: int) -> None:
        bar.total = n
        bar.refresh()
    return set_total


def run_profile(net: str, size: str | Sequence[int], device: str = "cpu",
                dtype: str = "float32", out: str | Path = "profile.json",
                weights: str | Path | None = None, progress: bool = True,
                warmup: int = 2, repeats: int = 7, threads: int | None = None) -> Path:
    """``cwdsl profile``: profile network ``net`` at ``size`` (``"HxW"``) on ``device`` and
    write the JSON to ``out`` atomically (a tqdm bar on stderr when ``progress``).
    Returns the path written."""
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(desc=f"profile {net}", unit="call", dynamic_ncols=True)
    try:
        data = profile_network(net, parse_size(size), device, dtype, weights, warmup, repeats,
                               threads, progress=None if bar is None else bar.update,
                               total=None if bar is None else _set_total(bar))
    finally:
        if bar is not None:
            bar.close()
    try:
        write_json(out, data)
    except OSError as e:
        raise file_error(out, f"cannot write profile: {e.strerror or e}") from None
    return Path(out)


# -- the model ----------------------------------------------------------------------------
class Profile(DeviceModel):
    """A device model backed by measured medians (see the module's docstring)."""

    def __init__(self, data: dict, path: str | Path):
        self.data, self.path = data, str(path)
        self.name = data["device"]
        self.source = f"profile:{path}"
        self.network = data["network"]
        self.input_hw = tuple(data["input_hw"])
        self.dtype = data["dtype"]
        t = data["timings"]
        self._layers = {n: s["median_ms"] for n, s in t["layers"].items()}
        self._heads = {n: s["median_ms"] for n, s in t["heads"].items()}
        self._fuses = {frozenset(k.split("+")): s["median_ms"] for k, s in t["fuses"].items()}
        self._measures = {k: s["median_ms"] for k, s in t["measures"].items()}
        self._overhead = t["frame_overhead"]["median_ms"]
        self._ranges = {(r["first"], r["last"], frozenset(r["heads"])): r["direct"]["median_ms"]
                        for r in t["ranges"]}
        order = data["layers"]
        reads = data["heads"]
        self._segment: dict[str, float] = {}
        self._in_frame: dict[str, float] = {}
        for seg in t["in_frame"]["segments"]:
            lo, hi = order.index(seg["first"]), order.index(seg["last"])
            ratio = seg["ratio"] if seg["ratio"] > 0 else 1.0
            for name in order[lo:hi + 1]:
                self._in_frame[name] = ratio
            for head, read in reads.items():
                if lo <= order.index(read) <= hi:
                    self._in_frame[head] = ratio
        for r in t["ranges"]:
            lo, hi = order.index(r["first"]), order.index(r["last"])
            inner = set(order[lo:hi + 1])
            if _is_segment(order, reads, r["first"], r["last"]):
                ratio = r["ratio"] if r["ratio"] > 0 else 1.0
                for name in (*inner, *r["heads"]):
                    self._segment[name] = ratio

    @property
    def in_frame_ratios(self) -> dict[str, float]:
        """Layer or head name → its segment's in-frame / direct ratio."""
        return dict(self._in_frame)

    @property
    def segment_ratios(self) -> dict[str, float]:
        """Layer or head name → its segment's direct / per-part-sum ratio."""
        return dict(self._segment)

    def check(self, spec: NetworkSpec, input_hw: tuple[int, int], dtype: str) -> None:
        asked = f"{spec.name} at {input_hw[0]}x{input_hw[1]} {dtype}"
        have = f"{self.network} at {self.input_hw[0]}x{self.input_hw[1]} {self.dtype}"
        if (spec.name, tuple(input_hw), dtype) != (self.network, self.input_hw, self.dtype):
            raise file_error(self.path, f"this profile is for {have}, not {asked}; profile "
                                        f"again with: cwdsl profile --net {spec.name} --size "
                                        f"{input_hw[0]}x{input_hw[1]} --dtype {dtype}")
        if list(spec.layer_names) != list(self.data["layers"]) or \
                {h.name: h.reads for h in spec.heads} != self.data["heads"]:
            raise file_error(self.path, f"network {spec.name} has other layers or heads than "
                                        f"when it was profiled; profile it again")

    def _part(self, name: str, ms: float) -> float:
        return ms * self._segment.get(name, 1.0)

    def stage_ms(self, cost: NetworkCost, first: str, last: str, heads: Sequence[str]) -> float:
        parts = [(n, self._layers[n]) for n in cost.layer_range(first, last)] + \
            [(h, self._heads[h]) for h in heads]
        isolated = sum(self._part(n, ms) for n, ms in parts)
        in_frame = sum(self._part(n, ms) * self._in_frame.get(n, 1.0) for n, ms in parts)
        direct = self._ranges.get((first, last, frozenset(heads)))
        if direct is None or isolated <= 0:
            return in_frame
        return direct * in_frame / isolated  # the direct time, in-frame corrected

    def fuse_ms(self, cost: NetworkCost, heads: Sequence[str]) -> float:
        try:
            return self._fuses[frozenset(heads)]
        except KeyError:
            raise file_error(self.path, f"no fuse timing for heads {', '.join(heads)}") from None

    def measure_ms(self, cost: NetworkCost, head: str | None) -> float:
        return self._measures["pixeldiff" if head is None else f"labeldiff:{head}"]

    def frame_overhead_ms(self, cost: NetworkCost) -> float:
        return self._overhead


def _is_segment(order, reads: Mapping[str, str], first: str, last: str) -> bool:
    """Whether ``first .. last`` holds no head-read layer except possibly ``last``."""
    lo, hi = order.index(first), order.index(last)
    read_at = {order.index(r) for r in reads.values()}
    return not any(lo <= i < hi for i in read_at) and (lo == 0 or lo - 1 in read_at)


# -- loading and validation ---------------------------------------------------------------
def _need(path, data, where: str, key: str, kind: type | tuple):
    if not isinstance(data, dict) or key not in data:
        raise file_error(path, f"not a valid cwdsl profile: missing '{where}{key}'")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise file_error(path, f"not a valid cwdsl profile: '{where}{key}' should be "
                               f"{_kind_name(kind)}, got {type(value).__name__}")
    return value


def _kind_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    words = {dict: "an object", list: "a list", str: "a string", int: "a number",
             float: "a number"}
    return " or ".join(dict.fromkeys(words.get(k, k.__name__) for k in kinds))


def _need_stats(path, data, where: str, key: str) -> None:
    stats = _need(path, data, where, key, dict)
    ms = _need(path, stats, f"{where}{key}.", "median_ms", (int, float))
    if ms < 0:
        raise file_error(path, f"not a valid cwdsl profile: '{where}{key}.median_ms' is "
                               f"negative ({ms})")


def profile_from_dict(data: dict, path: str | Path) -> Profile:
    """Validate a profile's JSON object and make its :class:`Profile` model."""
    if data.get("format") != PROFILE_FORMAT:
        raise file_error(path, f"not a cwdsl profile (its 'format' is "
                               f"{data.get('format')!r}, expected {PROFILE_FORMAT!r})")
    version = data.get("version")
    if version != PROFILE_VERSION:
        raise file_error(path, f"profile format version {version!r} is not supported "
                               f"(this cwdsl reads version {PROFILE_VERSION}); profile again")
    for key, kind in (("network", str), ("device", str), ("dtype", str), ("layers", list),
                      ("heads", dict), ("input_hw", list), ("timings", dict)):
        _need(path, data, "", key, kind)
    hw = data["input_hw"]
    if len(hw) != 2 or not all(isinstance(n, int) and n > 0 for n in hw):
        raise file_error(path, f"not a valid cwdsl profile: 'input_hw' should be [height, "
                               f"width], got {hw}")
    if data["dtype"] not in DTYPES:
        raise file_error(path, f"not a valid cwdsl profile: unknown dtype {data['dtype']!r}")
    layers, heads, t = data["layers"], data["heads"], data["timings"]
    if not layers or not heads or any(r not in layers for r in heads.values()):
        raise file_error(path, "not a valid cwdsl profile: 'heads' must read layers listed in "
                               "'layers'")
    for group in ("layers", "heads", "fuses", "measures"):
        _need(path, t, "timings.", group, dict)
    for name in layers:
        _need_stats(path, t["layers"], "timings.layers.", name)
    for h in heads:
        _need_stats(path, t["heads"], "timings.heads.", h)
        _need_stats(path, t["measures"], "timings.measures.", f"labeldiff:{h}")
    _need_stats(path, t["measures"], "timings.measures.", "pixeldiff")
    for subset in _subsets(tuple(heads)):
        _need_stats(path, t["fuses"], "timings.fuses.", _fuse_key(subset))
    overhead = _need(path, t, "timings.", "frame_overhead", dict)
    _need(path, overhead, "timings.frame_overhead.", "median_ms", (int, float))
    in_frame = _need(path, t, "timings.", "in_frame", dict)
    for i, seg in enumerate(_need(path, in_frame, "timings.in_frame.", "segments", list)):
        where = f"timings.in_frame.segments[{i}]."
        for key, kind in (("first", str), ("last", str), ("ratio", (int, float))):
            _need(path, seg, where, key, kind)
        if seg["first"] not in layers or seg["last"] not in layers:
            raise file_error(path, f"not a valid cwdsl profile: '{where}first/last' name "
                                   f"layers not in 'layers'")
    for i, r in enumerate(_need(path, t, "timings.", "ranges", list)):
        where = f"timings.ranges[{i}]."
        for key, kind in (("first", str), ("last", str), ("heads", list),
                          ("ratio", (int, float))):
            _need(path, r, where, key, kind)
        _need_stats(path, r, where, "direct")
        if r["first"] not in layers or r["last"] not in layers:
            raise file_error(path, f"not a valid cwdsl profile: '{where}first/last' name "
                                   f"layers not in 'layers'")
    return Profile(data, path)


def load_profile(path: str | Path, network: NetworkSpec | str | None = None,
                 input_hw: Sequence[int] | None = None, dtype: str | None = None) -> Profile:
    """Read a profile written by :func:`run_profile`. Given ``network`` (and optionally
    ``input_hw``, ``dtype``), also check that the profile is for them. Every problem is
    an ``InputError`` naming the path and the reason."""
    profile = profile_from_dict(read_json(path, "profile"), path)
    if network is not None:
        spec = get_network(network) if isinstance(network, str) else network
        hw = tuple(input_hw) if input_hw is not None else profile.input_hw
        profile.check(spec, (int(hw[0]), int(hw[1])), dtype or profile.dtype)
    return profile
