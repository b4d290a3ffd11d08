"""The measured-profile device model: the simulator's reading of a ``cwdsl profile`` file.

The file's format is described in :mod:`cwdsl.profile.harness`, which writes it. The model
(:class:`Profile`) times a stage as

- the direct timing when the stage is exactly one of the profile's measured ranges with
  all its heads;
- otherwise the per-layer and per-head sum, each part scaled by its segment's
  ``direct / sum`` ratio;
- times each segment's *in-frame* ratio (its time inside ``Executor.step`` over its
  direct time).

Optical flow, warps and learned clocks (timings a profile holds since they exist; older
profiles lack them and keep pricing every other schedule as before):

- a ``Flow`` step takes the profile's ``flows[METHOD]`` (OpenCV on two real frames); a
  profile without it refuses a schedule that warps, saying how to profile again;
- a stage's warp is the warp of every tensor the stage holds (``features:NAME`` for what it
  hands on, ``head:NAME`` for its scores; the parts of
  :meth:`~cwdsl.sim.cost.NetworkCost.warp_parts`), and a composition of its flow
  ``warps["compose"]`` where the plans say one is needed;
- a learned clock on ``HEAD`` takes ``predicted[HEAD]``, timed with a model reading every
  signal, scaled by its parts for a model reading fewer; a profile without it sums the
  parts: ``labeldiff:HEAD`` per label signal (at least one: the labels are always taken)
  plus ``pixeldiff`` per pixel signal.
"""
from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

from cwdsl.core.clockmodel import SIGNALS, ClockModel
from cwdsl.core.errors import file_error
from cwdsl.core.jsonfile import read_json_object
from cwdsl.core.netspec import NetworkSpec, get_network
from cwdsl.core.units import DTYPE_NAMES
from cwdsl.devices.batch_model import check_batches, range_ratios
from cwdsl.cost.network import NetworkCost
from cwdsl.devices.model import DeviceModel, oracle_segments

PROFILE_FORMAT = "cwdsl-profile"
PROFILE_VERSION = 3
READABLE_VERSIONS = (2, 3)
"""Version 2 lacks the host's times and the lanes' overlap (``host``, ``lanes``): read as
unknown (host time inside the device times; lanes overlapping as :meth:`Profile.lane_overlap`
says)."""


def head_subsets(heads: Sequence[str]) -> list[tuple[str, ...]]:
    """Every non-empty subset of ``heads``, smallest first: the fuses a profile times."""
    return [c for n in range(1, len(heads) + 1) for c in itertools.combinations(heads, n)]


def fuse_key(heads: Sequence[str]) -> str:
    """A fuse subset's key in a profile file: ``"h1+h2"``."""
    return "+".join(heads)


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
        self._flows = {k: v["median_ms"] for k, v in t.get("flows", {}).items()}
        self._warps = {k: v["median_ms"] for k, v in t.get("warps", {}).items()}
        self._predicted = {k: v["median_ms"] for k, v in t.get("predicted", {}).items()}
        self._ranges = {(r["first"], r["last"], frozenset(r["heads"])): r["direct"]["median_ms"]
                        for r in t["ranges"]}
        host = t.get("host", {})  # version 3: host issue times and the sync, per part
        self._host = {k: v["median_ms"] for k, v in host.items() if k in ("fuse", "sync")}
        self._host_ranges = {(r["first"], r["last"], frozenset(r["heads"])):
                             r["host"]["median_ms"] for r in host.get("ranges", [])}
        self._host_all = sum(r["host"]["median_ms"] for r in host.get("ranges", [])
                             if _is_segment(data["layers"], data["heads"], r["first"], r["last"]))
        lanes = t.get("lanes")
        self._lane_overlap = None if lanes is None else lanes["overlap"]
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

    def check(self, spec: NetworkSpec, input_hw: tuple[int, int], dtype: str) -> None:
        asked = f"{spec.name} at {input_hw[0]}x{input_hw[1]} {dtype}"
        have = f"{self.network} at {self.input_hw[0]}x{self.input_hw[1]} {self.dtype}"
        if (spec.name, tuple(input_hw), dtype) != (self.network, self.input_hw, self.dtype):
            raise file_error(self.path, f"this profile is for {have}, not {asked}; profile "
                                        f"again with: cwdsl profile --net {spec.name} --size "
                                        f"{input_hw[0]}x{input_hw[1]} --dtype {dtype}, or "
                                        f"give it with other profiles of this device "
                                        f"(--device A.json,B.json or a folder) to predict "
                                        f"this size")
        if list(spec.layer_names) != list(self.data["layers"]) or \
                {h.name: h.reads for h in spec.heads} != self.data["heads"]:
            raise file_error(self.path, f"network {spec.name} has other layers or heads than "
                                        f"when it was profiled; profile it again")

    def batch_ratios(self, first: str, last: str) -> tuple[tuple[int, float], ...]:
        """Per timed batch size, how its range scales a stage (:mod:`batch_model`)."""
        return range_ratios(self.data, first, last)

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

    def measure_ms(self, cost: NetworkCost, head: str | None,
                   region: str | None = "map") -> float:
        if head is None:
            return self._measures["pixeldiff"]
        # Profiles from before region=image existed time only the whole map, which has at
        # least as many cells as the image's window: their timing is an upper bound.
        whole = self._measures[f"labeldiff:{head}"]
        return self._measures.get(f"labeldiff:{head}:image", whole) if region == "image" \
            else whole

    def predicted_ms(self, cost: NetworkCost, head: str, model: ClockModel) -> float:
        parts = self._signal_parts(head, model.signals)
        timed = self._predicted.get(head)
        if timed is None:  # a profile from before learned clocks: the sum of the parts
            return parts
        every = self._signal_parts(head, tuple(SIGNALS))
        return timed * parts / every if every > 0 else timed

    def _signal_parts(self, head: str, signals: Sequence[str]) -> float:
        labels = sum(s.startswith("labeldiff") for s in signals)
        pixels = sum(s.startswith("pixeldiff") for s in signals)
        return (max(1, labels) * self._measures[f"labeldiff:{head}"]
                + pixels * self._measures["pixeldiff"])

    def flow_ms(self, cost: NetworkCost, method: str) -> float:
        if method not in self._flows:
            raise self._missing(f"timing of optical flow '{method}'")
        return self._flows[method]

    def warp_ms(self, cost: NetworkCost, first: str, last: str, heads: Sequence[str]) -> float:
        parts = cost.warp_parts(first, last, heads)
        missing = [p for p in parts if p not in self._warps]
        if missing:
            raise self._missing(f"warp timing ({', '.join(missing)})")
        return sum(self._warps[p] for p in parts)

    def compose_ms(self, cost: NetworkCost) -> float:
        if "compose" not in self._warps:
            raise self._missing("warp timing (compose)")
        return self._warps["compose"]

    def _missing(self, what: str) -> Exception:
        h, w = self.input_hw
        return file_error(self.path, f"this profile has no {what} (it was made before warps "
                                     f"existed); profile again with: cwdsl profile --net "
                                     f"{self.network} --size {h}x{w} --dtype {self.dtype} "
                                     f"--device {self.data['device']} -o NEW.json")

    def frame_overhead_ms(self, cost: NetworkCost) -> float:
        return self._overhead

    # -- host beside device: measured where the profile has ``host``/``lanes`` ----------
    def overlaps_host(self) -> bool:
        return self.data["device"].startswith("cuda")

    def stage_host_ms(self, cost: NetworkCost, first: str, last: str,
                      heads: Sequence[str]) -> float:
        if not self._host_ranges:  # not measured apart: the device times include it
            return 0.0
        direct = self._host_ranges.get((first, last, frozenset(heads)))
        if direct is not None:
            return direct
        # any other stage: its share of the segments' issue time, by their device time
        share = self.stage_ms(cost, first, last, heads)
        total = sum(self.stage_ms(cost, *run) for run in oracle_segments(cost))
        return self._host_all * share / total if total > 0 else 0.0

    def fuse_host_ms(self, cost: NetworkCost, heads: Sequence[str]) -> float:
        return self._host.get("fuse", 0.0)

    def measure_host_ms(self, cost: NetworkCost, head: str | None,
                        region: str | None = "map") -> float:
        """The measurement's launches at the host's measured cost per launch: a profile
        times issuing each range of segments (``host.ranges``), not a measurement alone
        (its read-back is :meth:`sync_ms`)."""
        if not self._host_ranges:
            return 0.0
        return _launches((cost.measure_op(head, region),)) * self._host_per_launch(cost)

    def _host_per_launch(self, cost: NetworkCost) -> float:
        """Host ms per launched kernel over the profile's timed ranges."""
        ms = launches = 0
        for (first, last, heads), host in self._host_ranges.items():
            ms += host
            launches += _launches(cost.stage_ops(first, last, tuple(heads)))
        return ms / launches if launches else 0.0

    def sync_ms(self, cost: NetworkCost) -> float:
        return self._host.get("sync", 0.0)

    def lane_overlap(self, cost: NetworkCost) -> float:
        if self._lane_overlap is not None:
            return self._lane_overlap
        # Not measured (profiles before version 3): threads on a CPU were modelled as a
        # perfect overlap; CUDA streams were measured to overlap little (the shared H200
        # runs: pipeline3 saved 8-21% of its sequential time), so none is assumed there.
        return 0.0 if self.overlaps_host() else 1.0


def _launches(ops) -> int:
    """Device kernels the host launches for ``ops`` (host work and read-backs apart)."""
    return sum(1 for op in ops for k in op.kernels if not (k.host or k.syncs))


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


def _check_host(path, t: dict, layers: list) -> None:
    """The version-3 groups ``host`` and ``lanes``, when present."""
    if "host" in t:
        host = _need(path, t, "timings.", "host", dict)
        for key in ("fuse", "sync"):
            _need_stats(path, host, "timings.host.", key)
        for i, r in enumerate(_need(path, host, "timings.host.", "ranges", list)):
            where = f"timings.host.ranges[{i}]."
            for key, kind in (("first", str), ("last", str), ("heads", list)):
                _need(path, r, where, key, kind)
            _need_stats(path, r, where, "host")
            if r["first"] not in layers or r["last"] not in layers:
                raise file_error(path, f"not a valid cwdsl profile: '{where}first/last' name "
                                       f"layers not in 'layers'")
    if "lanes" in t:
        lanes = _need(path, t, "timings.", "lanes", dict)
        overlap = _need(path, lanes, "timings.lanes.", "overlap", (int, float))
        if not 0 <= overlap <= 1:
            raise file_error(path, f"not a valid cwdsl profile: 'timings.lanes.overlap' "
                                   f"should be between 0 and 1, got {overlap}")


def profile_from_dict(data: dict, path: str | Path) -> Profile:
    """Validate a profile's JSON object and make its :class:`Profile` model."""
    if data.get("format") != PROFILE_FORMAT:
        raise file_error(path, f"not a cwdsl profile (its 'format' is "
                               f"{data.get('format')!r}, expected {PROFILE_FORMAT!r})")
    version = data.get("version")
    if version not in READABLE_VERSIONS:
        raise file_error(path, f"profile format version {version!r} is not supported "
                               f"(this cwdsl reads versions "
                               f"{', '.join(map(str, READABLE_VERSIONS))}); profile again")
    for key, kind in (("network", str), ("device", str), ("dtype", str), ("layers", list),
                      ("heads", dict), ("input_hw", list), ("timings", dict)):
        _need(path, data, "", key, kind)
    hw = data["input_hw"]
    if len(hw) != 2 or not all(isinstance(n, int) and n > 0 for n in hw):
        raise file_error(path, f"not a valid cwdsl profile: 'input_hw' should be [height, "
                               f"width], got {hw}")
    if data["dtype"] not in DTYPE_NAMES:
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
    for subset in head_subsets(tuple(heads)):
        _need_stats(path, t["fuses"], "timings.fuses.", fuse_key(subset))
    for group in ("flows", "warps", "predicted"):  # optional: newer profiles have them
        if group in t:
            for key in _need(path, t, "timings.", group, dict):
                _need_stats(path, t[group], f"timings.{group}.", key)
    _check_host(path, t, layers)
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
    check_batches(path, t, layers)  # optional: cwdsl profile --batch
    return Profile(data, path)


def load_profile(path: str | Path, network: NetworkSpec | str | None = None,
                 input_hw: Sequence[int] | None = None, dtype: str | None = None) -> Profile:
    """Read a profile written by :func:`run_profile`. Given ``network`` (and optionally
    ``input_hw``, ``dtype``), also check that the profile is for them. Every problem is
    an ``InputError`` naming the path and the reason."""
    profile = profile_from_dict(read_json_object(path, "profile"), path)
    if network is not None:
        spec = get_network(network) if isinstance(network, str) else network
        hw = tuple(input_hw) if input_hw is not None else profile.input_hw
        profile.check(spec, (int(hw[0]), int(hw[1])), dtype or profile.dtype)
    return profile
