"""A profile predicted for a size and dtype no profile of a set measured, from those that
were (:class:`cwdsl.fitting.profileset.ProfileSet` prices with it).

The prediction, part by part (every timing a profile holds: each layer, head, fuse, clock
measurement, flow, warp, the frame overhead, each timed range, host issue time):

- the part's *work* at a size and dtype is its bare roofline time on the device's named
  spec (:func:`~cwdsl.fitting.identity.guess_base`: ``max(flops / peak[dtype], bytes /
  bandwidth)`` per traced kernel, plus a launch each), traced from the real network at that
  size and dtype, so a convolution's FLOPs, a pool's bytes and the dtype's peak all count;
- the part's time is ``fixed + slope × work``: a fixed cost per part (launch latency,
  a kernel that does not fill the device) and a rate, fitted by non-negative least squares
  on relative error over the profiles (Habitat's approach: a measured time scaled by a
  model of how its kernels grow, not a roofline alone);
- dtypes: the slope is shared by dtypes of the same peak on the spec (float16 and
  bfloat16 on tensor-core GPUs), and a dtype is priced from its own profiles when it has
  at least two sizes of them; with one size, that profile's time is scaled by the fit's
  ratio from there; with none, from every profile (work already counts the dtype's peak);
- dimensionless parts (a segment's in-frame ratio, a range's direct/sum ratio, the lanes'
  overlap) follow from the predicted times, or come from the profile nearest in size.

Judged out of sample: ``benchmarks/bench_predict.py`` leaves each profile out in turn,
predicts it from the others and compares the simulator's prices of the paper schedules
with what the executor measured (tests/test_profile_set.py asserts it).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np

from cwdsl.core.netspec import get_network
from cwdsl.core.units import DTYPE_NAMES
from cwdsl.cost.network import NetworkCost, network_cost
from cwdsl.devices.profiled import PROFILE_FORMAT, PROFILE_VERSION, Profile
from cwdsl.devices.roofline import Roofline
from cwdsl.devices.spec import DeviceSpec

# -- the fit of one part ---------------------------------------------------------------------
@dataclass(frozen=True)
class Observed:
    """One part in one profile: its measured time and its work (both ms) at that profile's
    size (pixels) and dtype."""

    ms: float
    work_ms: float
    pixels: int
    dtype: str


def _fit(points: Sequence[Observed], peers: Mapping[str, str]) -> tuple[float, dict]:
    """``(fixed, {class: slope})`` of ``ms ≈ fixed + slope[class of dtype] × work`` by
    non-negative least squares on relative error; where the works cannot tell a fixed
    cost from a slope (one work), no fixed cost."""
    import scipy.optimize

    classes = sorted({peers[p.dtype] for p in points})
    cols = [[1.0 if peers[p.dtype] == c else 0.0 for c in classes] for p in points]
    a = np.array([[1.0, *(w * p.work_ms for w in row)] for p, row in zip(points, cols)])
    if len({round(p.work_ms, 12) for p in points}) < 2:
        a[:, 0] = 0.0
    a /= np.array([[p.ms] for p in points])
    solution = scipy.optimize.nnls(a, np.ones(len(points)))[0]
    return float(solution[0]), dict(zip(classes, map(float, solution[1:])))


def predict_part(points: Sequence[Observed], work_ms: float, pixels: int, dtype: str,
                 peers: Mapping[str, str]) -> float:
    """The time of a part of work ``work_ms`` at ``pixels`` in ``dtype`` (see the module's
    docstring); ``peers`` maps a dtype to the class of dtypes sharing its slope."""
    if not points:
        raise ValueError("no observation")
    live = [p for p in points if p.ms > 0]
    if not live:
        return 0.0
    anchor = min(live, key=lambda p: _distance(p, pixels, dtype, peers))
    if work_ms <= 0 or anchor.work_ms <= 0:
        return anchor.ms
    fixed, slopes = _fit(live, peers)
    here = slopes[peers[dtype]]  # ProfileSet refuses a dtype no profile's class has
    there = fixed + slopes[peers[anchor.dtype]] * anchor.work_ms
    return anchor.ms * (fixed + here * work_ms) / there if there > 0 else anchor.ms


def _distance(p: Observed, pixels: int, dtype: str, peers: Mapping[str, str]) -> float:
    """How far an observation is from the asked size and dtype: log size ratio, plus
    log 2 for a dtype of another class and a little for another dtype of its class."""
    return (abs(math.log(p.pixels / pixels)) + (0.0 if p.dtype == dtype else
            0.1 if peers[p.dtype] == peers[dtype] else math.log(2)))


def dtype_classes(spec: DeviceSpec) -> dict[str, str]:
    """Each dtype's class: dtypes with the same peak on ``spec`` share a slope."""
    peaks = dict(spec.peak_tflops)
    return {d: f"peak {peaks[d]}" if d in peaks else d for d in DTYPE_NAMES}


# -- the parts of a profile and their work --------------------------------------------------
Work = Callable[[Roofline, NetworkCost], float]
"""A part's work: its bare roofline time at a network cost's size and dtype."""


def _parts(template: Mapping) -> dict[tuple, Work]:
    """Every predicted timing of a profile shaped like ``template``: its place in the JSON
    (a path of keys) and its work."""
    t = template["timings"]
    parts: dict[tuple, Work] = {}
    for n in t["layers"]:
        parts[("layers", n)] = lambda r, c, n=n: r.stage_ms(c, n, n, ())
    for h in t["heads"]:
        parts[("heads", h)] = lambda r, c, h=h: r.ops_ms((c.heads[h],), c.dtype)
    for key in t["fuses"]:
        parts[("fuses", key)] = lambda r, c, k=key: r.fuse_ms(c, k.split("+"))
    for key in t["measures"]:
        if key == "pixeldiff":
            parts[("measures", key)] = lambda r, c: r.measure_ms(c, None)
        else:
            _, head, *region = key.split(":")
            parts[("measures", key)] = lambda r, c, h=head, g=(region or ["map"])[0]: \
                r.measure_ms(c, h, g)
    parts[("frame_overhead",)] = lambda r, c: r.frame_overhead_ms(c)
    for m in t.get("flows", {}):
        parts[("flows", m)] = lambda r, c, m=m: r.flow_ms(c, m)
    for key in t.get("warps", {}):
        parts[("warps", key)] = (lambda r, c: r.compose_ms(c)) if key == "compose" else \
            (lambda r, c, k=key: r.ops_ms((c.warp_part(k),), c.dtype))
    for h in t.get("predicted", {}):
        parts[("predicted", h)] = lambda r, c, h=h: r.measure_ms(c, h)
    host = t.get("host", {})
    for key in ("fuse", "sync"):
        if key in host:
            parts[("host", key)] = lambda r, c: 0.0  # issue time: not the work's
    for i, _ in enumerate(host.get("ranges", [])):
        parts[("host", "ranges", i, "host")] = lambda r, c: 0.0
    return parts


def _segment_heads(template: Mapping, first: str, last: str) -> tuple[str, ...]:
    order = template["layers"]
    lo, hi = order.index(first), order.index(last)
    return tuple(h for h, read in template["heads"].items() if lo <= order.index(read) <= hi)


def _leaf(data: Mapping, path: tuple) -> Mapping:
    node = data["timings"]
    for key in path:
        node = node[key]
    return node


def _median(data: Mapping, path: tuple) -> float:
    node = _leaf(data, path)
    return float(node["median_ms"] if isinstance(node, Mapping) else node)


def bare_roofline(base: DeviceSpec) -> Roofline:
    """``base`` without calibration: the work of a part (see the module's docstring)."""
    return Roofline(replace(base, efficiency=MappingProxyType({}), kernel_us=0.0,
                            calibrated_from=()))


def predict_profile(profiles: Sequence[Profile], input_hw: tuple[int, int], dtype: str,
                    base: DeviceSpec) -> dict:
    """A profile's JSON object for ``input_hw`` and ``dtype`` predicted from ``profiles``
    (one device, one network; see the module's docstring). ``predicted_from`` records the
    profiles it came from."""
    bare = bare_roofline(base)
    spec = get_network(profiles[0].network)
    pixels = input_hw[0] * input_hw[1]
    template = min(profiles, key=lambda p: (abs(math.log(p.input_hw[0] * p.input_hw[1]
                                                         / pixels)), p.dtype != dtype)).data
    costs = [network_cost(spec, p.input_hw, p.dtype) for p in profiles]
    target = network_cost(spec, input_hw, dtype)
    peers = dtype_classes(base)
    out = _skeleton(template, input_hw, dtype, profiles)
    t = out["timings"]
    for path, work in _parts(template).items():
        points = []
        for p, c in zip(profiles, costs):
            try:
                ms = _median(p.data, path)
            except (KeyError, IndexError, TypeError):
                continue  # an older profile without this part
            points.append(Observed(ms, work(bare, c), p.input_hw[0] * p.input_hw[1], p.dtype))
        if points:
            _set(t, path, predict_part(points, work(bare, target), pixels, dtype, peers))
    _derive_ratios(t, template)
    return out


def _skeleton(template: Mapping, input_hw, dtype: str, profiles: Sequence[Profile]) -> dict:
    """``template``'s structure with what is not predicted: names, the lanes' overlap (the
    template's: a ratio), a record of where the prediction came from."""
    import copy

    t = template["timings"]
    timings = {
        "layers": {}, "heads": {}, "fuses": {}, "measures": {}, "frame_overhead": {},
        "in_frame": {"segments": [{"first": s["first"], "last": s["last"]}
                                  for s in t["in_frame"]["segments"]]},
        "ranges": [{"first": r["first"], "last": r["last"], "heads": list(r["heads"])}
                   for r in t["ranges"]],
        "full": {}}
    for group in ("flows", "warps", "predicted"):
        if group in t:
            timings[group] = {}
    if "host" in t:
        timings["host"] = {"ranges": [{"first": r["first"], "last": r["last"],
                                       "heads": list(r["heads"])}
                                      for r in t["host"].get("ranges", [])]}
    if "lanes" in t:
        timings["lanes"] = {"overlap": t["lanes"]["overlap"]}
    return {"format": PROFILE_FORMAT, "version": PROFILE_VERSION,
            "network": template["network"], "layers": list(template["layers"]),
            "heads": dict(template["heads"]), "input_hw": list(input_hw), "dtype": dtype,
            "device": template["device"], "device_name": template.get("device_name", ""),
            "machine": copy.deepcopy(template.get("machine", {})),
            "predicted_from": [{"path": p.path, "input_hw": list(p.input_hw),
                                "dtype": p.dtype} for p in profiles],
            "timings": timings}


def _set(t: dict, path: tuple, ms: float) -> None:
    node = t
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(key, str) else node[key]
    node[path[-1]] = {"median_ms": max(0.0, float(ms))}


def _derive_ratios(t: dict, template: Mapping) -> None:
    """The timed ranges, segments in a frame and whole network from the predicted parts,
    by ``template``'s measured ratios (a range's direct time over its parts' sum, a
    segment's time in a frame over its direct time): ratios carry over between sizes far
    better than any one range's time, which a single slow kernel can dominate."""
    order = template["layers"]
    tt = template["timings"]

    def parts_sum(first: str, last: str, heads: Sequence[str]) -> float:
        lo, hi = order.index(first), order.index(last)
        return (sum(t["layers"][n]["median_ms"] for n in order[lo:hi + 1])
                + sum(t["heads"][h]["median_ms"] for h in heads))

    for r, measured in zip(t["ranges"], tt["ranges"]):
        r["sum_ms"] = parts_sum(r["first"], r["last"], r["heads"])
        r["ratio"] = measured["ratio"]
        r["direct"] = {"median_ms": r["sum_ms"] * (measured["ratio"] or 1.0)}
    direct = {(r["first"], r["last"]): r["direct"]["median_ms"] for r in t["ranges"]}
    for seg, measured in zip(t["in_frame"]["segments"], tt["in_frame"]["segments"]):
        heads = _segment_heads(template, seg["first"], seg["last"])
        seg["direct_ms"] = direct.get((seg["first"], seg["last"]),
                                      parts_sum(seg["first"], seg["last"], heads))
        seg["ratio"] = measured["ratio"]
        seg["in_frame"] = {"median_ms": seg["direct_ms"] * (measured["ratio"] or 1.0)}
    full = tt["full"]
    t["full"]["sum_ms"] = parts_sum(order[0], order[-1], list(template["heads"]))
    ratio = full["direct"]["median_ms"] / full["sum_ms"] if full["sum_ms"] > 0 else 1.0
    t["full"]["direct"] = {"median_ms": t["full"]["sum_ms"] * ratio}
    step = tt["in_frame"]["step_all_compute"]["median_ms"]
    seg_sum = sum(s["in_frame"]["median_ms"] for s in tt["in_frame"]["segments"])
    rest = step - seg_sum  # the fuse and the frame's own work inside a full frame
    t["in_frame"]["step_all_compute"] = {"median_ms": sum(
        s["in_frame"]["median_ms"] for s in t["in_frame"]["segments"]) + max(0.0, rest) * (
        t["frame_overhead"]["median_ms"] / tt["frame_overhead"]["median_ms"]
        if tt["frame_overhead"]["median_ms"] > 0 else 1.0)}
