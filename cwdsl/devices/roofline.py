"""Roofline device models: a named spec (:data:`NAMED`: ``h100``, ``h200``, ``a100``,
``titanx``, ``cpu``) or a user's spec file (JSON, :func:`load_spec`).

Each aten kernel of the traced cost model (:mod:`cwdsl.cost.network`) takes
``max(flops / peak[dtype], bytes / bandwidth) + launch``, a clock measurement adds a host
sync, and a frame adds the executor's host work, the frame's upload and its normalisation.

Work on the host CPU (optical flow: the gray frames and OpenCV's DIS, estimated; a learned
clock's MLP) is priced on the *host's* roofline, whatever the device: the device's own spec
when it is the host (no ``host_link_gbs``: a CPU), else the named ``cpu`` spec's float32
rate, bandwidth and per-call cost; bytes copied from host to device (the flow) cross
``host_link_gbs``.

A spec may be *calibrated* (:mod:`cwdsl.devices.calibrate` fits it to measured profiles): each
device kernel, by its kind (:func:`kernel_kind`), reaches a fraction ``efficiency[kind]``
of its roofline speed and costs at least ``kernel_us`` on the device. On a GPU (a spec with
``host_link_gbs``) the host's work (launches, the frame's own work) is priced apart from
the device's (:meth:`Roofline.overlaps_host`); a CPU spec prices everything in turn.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from cwdsl.core.clockmodel import ClockModel
from cwdsl.core.errors import InputError, did_you_mean, file_error
from cwdsl.core.jsonfile import read_json_object
from cwdsl.core.netspec import NetworkSpec
from cwdsl.core.units import DTYPE_NAMES
from cwdsl.cost.kernels import Cost, Kernel, OpCost
from cwdsl.cost.network import NetworkCost
from cwdsl.devices.model import DeviceModel
from cwdsl.devices.kernel_kinds import HOPPER_CALIBRATION, KINDS, kernel_kind, transferred

DEVICE_FORMAT = "cwdsl-device"


@dataclass(frozen=True)
class DeviceSpec:
    """A device's roofline numbers.

    ``peak_tflops``: dense peak per dtype for the arithmetic PyTorch actually uses for
    convolutions in that dtype (a dtype left out cannot be modelled); ``bandwidth_gbs``:
    memory bandwidth, GB/s (1e9 bytes); ``launch_us``: host cost of one eager op
    (dispatcher + kernel launch); ``sync_us``: one device-to-host read of a scalar (a
    data-driven clock's decision); ``frame_us``: the executor's per-frame host work
    (plan walk, cache bookkeeping); ``host_link_gbs``: host-to-device bandwidth for the
    frame's upload, ``None`` when frames already live in the device's memory (a CPU).
    Calibration (all optional, defaults: the bare roofline): ``efficiency``: per kernel
    kind (:data:`KINDS`), the fraction (0, 1] of its roofline speed it reaches (a kind left
    out: 1); ``kernel_us``: device time every kernel costs besides (its fixed latency);
    ``lane_overlap``: the share of a pipelined wave's non-slowest lanes that concurrency
    hides; ``calibrated_from``: the profiles fitted (``path``, ``device``, ``date`` each).
    """

    name: str
    peak_tflops: Mapping[str, float]
    bandwidth_gbs: float
    launch_us: float
    sync_us: float
    frame_us: float
    host_link_gbs: float | None = None
    description: str = ""
    notes: str = field(default="", compare=False)
    efficiency: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    kernel_us: float = 0.0
    lane_overlap: float = 1.0
    calibrated_from: tuple[Mapping[str, str], ...] = ()

    def peak_flops(self, dtype: str) -> float:
        """Peak FLOP/s for ``dtype``; ``InputError`` if the spec has none."""
        try:
            return self.peak_tflops[dtype] * 1e12
        except KeyError:
            raise InputError(f"device {self.name} has no peak for {dtype} (it has: "
                             f"{', '.join(self.peak_tflops)})") from None


# Per-op and per-frame costs are paid by the host. Measured on this project's 2-vCPU Xeon
# VM (torch 2.13, eager, one thread): a bare aten op ~0.5 µs, a layer called through
# nn.Module ~2 µs; an all-cache Executor.step ~100 µs beyond its fuse (plan walk, cache
# pushes, FrameResult, and the normalisation's 4 ops, which the roofline counts apart as
# kernels). GPU hosts pay the dispatcher plus cudaLaunchKernel, commonly 4-10 µs per eager
# op: 5 µs is used; a device-to-host scalar read (stream synchronize + copy) ~10 µs; their
# (faster) host cores are assumed to walk a frame in 50 µs.
_GPU_LAUNCH_US = 5.0
_GPU_SYNC_US = 10.0
_FRAME_US = 50.0


def _gpu(name: str, peak_tflops: Mapping[str, float], bandwidth_gbs: float,
         host_link_gbs: float | None = None, description: str = "", notes: str = "",
         **calibrated) -> DeviceSpec:
    """A GPU's spec with the host costs above (a PCIe-attached card), or ``calibrated``'s."""
    fields = {"launch_us": _GPU_LAUNCH_US, "sync_us": _GPU_SYNC_US, "frame_us": _FRAME_US,
              "host_link_gbs": host_link_gbs, **calibrated}
    return DeviceSpec(name, peak_tflops, bandwidth_gbs=bandwidth_gbs, description=description,
                      notes=notes, **fields)


NAMED: Mapping[str, DeviceSpec] = MappingProxyType({
    "h100": _gpu(
        "h100", {"float32": 494.7, "float16": 989.4, "bfloat16": 989.4}, 3350.0,
        **transferred(HOPPER_CALIBRATION, "from h200 by peak ratios (not measured on an H100)"),
        description="NVIDIA H100 SXM5 80 GB (Hopper)",
        notes="NVIDIA H100 datasheet: FP32 (CUDA cores) 67 TFLOP/s, TF32 tensor 494.7 dense "
              "(989 with sparsity), FP16/BF16 tensor 989.4 dense (1979 sparse); HBM3 "
              "3.35 TB/s; PCIe Gen5 x16 64 GB/s per direction. float32 uses TF32: PyTorch "
              "runs float32 convolutions on TF32 tensor cores by default "
              "(torch.backends.cudnn.allow_tf32 = True) and this network is all "
              "convolutions; with TF32 disabled use a spec file with float32 = 67. "
              "Calibration transferred from the H200's (same Hopper architecture, peaks "
              "and cuDNN kernels; efficiencies are fractions of the peaks, which the two "
              "share; bandwidth from the datasheet): never measured on an H100."),
    "h200": _gpu(
        "h200", {"float32": 494.7, "float16": 989.4, "bfloat16": 989.4}, bandwidth_gbs=4800.0,
        **HOPPER_CALIBRATION, description="NVIDIA H200 SXM 141 GB (Hopper, HBM3e)",
        notes="NVIDIA H200 datasheet: the H100 SXM's compute (FP32 67, TF32 494.7 dense, "
              "FP16/BF16 989.4 dense TFLOP/s) with HBM3e at 4.8 TB/s; PCIe Gen5 x16. "
              "float32 uses TF32 as on the H100. Calibrated on 5 profiles of 2026-11-26."),
    "a100": _gpu(
        "a100", {"float32": 156.0, "float16": 312.0, "bfloat16": 312.0}, 2039.0, 32.0,
        description="NVIDIA A100 SXM4 80 GB (Ampere)",
        notes="NVIDIA A100 datasheet: FP32 19.5, TF32 tensor 156 dense (312 sparse), "
              "FP16/BF16 tensor 312 dense (624 sparse) TFLOP/s; HBM2e 2039 GB/s; PCIe "
              "Gen4 x16 32 GB/s. float32 uses TF32 (PyTorch's default for convolutions)."),
    "titanx": _gpu(
        "titanx", {"float32": 6.6, "float16": 6.6}, 336.5, 15.75,
        description="NVIDIA GeForce GTX Titan X (Maxwell GM200, 2015): the paper's GPU class",
        notes="3072 CUDA cores x 2 FLOP x 1075 MHz boost = 6.6 TFLOP/s FP32; 384-bit GDDR5 "
              "at 7 Gb/s = 336.5 GB/s; PCIe Gen3 x16 15.75 GB/s. Maxwell has no tensor "
              "cores and no fast FP16 arithmetic: cuDNN computes FP16 convolutions in FP32 "
              "(FP16 only halves the bytes), so float16 = the FP32 peak; no bfloat16. "
              "The paper's ~100 ms for FCN-8s at 500x500 (363 GFLOP) is ~55% of this peak."),
    "cpu": DeviceSpec(
        "cpu", {"float32": 0.333, "bfloat16": 5.32},
        bandwidth_gbs=20.0, launch_us=2.0, sync_us=0.0, frame_us=80.0, host_link_gbs=None,
        description="nominal 2-core x86 server CPU (Sapphire Rapids class Xeon VM, 2.6 GHz, "
                    "AVX-512 + AMX)",
        notes="2 cores x 2.6 GHz x 64 FP32 FLOP/cycle (two 512-bit FMA ports) = 0.333 "
              "TFLOP/s; bfloat16 with AMX-BF16 tiles, 1024 FLOP/cycle/core = 5.32 TFLOP/s "
              "(reached by oneDNN only on large, GEMM-shaped convolutions). Bandwidth: a "
              "2-vCPU slice of a DDR5 socket; a 256 MB torch copy measured 17 GB/s on this "
              "VM under load, 20 GB/s nominal. No float16: the executor runs float16 on "
              "CUDA only. Frames are already in host memory (no upload)."),
})


_SPEC_FIELDS = {"name", "peak_tflops", "bandwidth_gbs", "launch_us", "sync_us", "frame_us",
                "host_link_gbs", "description", "notes", "format", "efficiency", "kernel_us",
                "lane_overlap", "calibrated_from"}
_SPEC_REQUIRED = ("name", "peak_tflops", "bandwidth_gbs", "launch_us", "sync_us", "frame_us")


def _number(path, key: str, value, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise file_error(path, f"'{key}' must be a number, got {json.dumps(value)}")
    if positive and value <= 0:
        raise file_error(path, f"'{key}' must be positive, got {value}")
    if value < 0:
        raise file_error(path, f"'{key}' must not be negative, got {value}")
    return float(value)


def spec_from_dict(data: Mapping, path: str | Path = "<spec>") -> DeviceSpec:
    """Validate a device spec given as a mapping (the spec file's object)."""
    unknown = sorted(set(data) - _SPEC_FIELDS)
    if unknown:
        raise file_error(path, f"unknown field '{unknown[0]}'"
                               f"{did_you_mean(unknown[0], _SPEC_FIELDS)}; a device spec has "
                               f"{', '.join(_SPEC_REQUIRED)} and optionally host_link_gbs, "
                               f"description, notes, format, efficiency, kernel_us, "
                               f"lane_overlap, calibrated_from")
    if data.get("format", DEVICE_FORMAT) != DEVICE_FORMAT:
        raise file_error(path, f"'format' is {data['format']!r}; a device spec file has "
                               f"'format': {DEVICE_FORMAT!r} (or none)")
    missing = [k for k in _SPEC_REQUIRED if k not in data]
    if missing:
        raise file_error(path, f"missing field '{missing[0]}' (a device spec needs "
                               f"{', '.join(_SPEC_REQUIRED)})")
    if not isinstance(data["name"], str) or not data["name"]:
        raise file_error(path, "'name' must be a non-empty string")
    peaks = data["peak_tflops"]
    if not isinstance(peaks, Mapping) or not peaks:
        raise file_error(path, "'peak_tflops' must map dtypes (float32, float16, bfloat16) "
                               "to TFLOP/s")
    for dtype in peaks:
        if dtype not in DTYPE_NAMES:
            raise file_error(path, f"'peak_tflops' has unknown dtype '{dtype}'"
                                   f"{did_you_mean(dtype, DTYPE_NAMES)}; use "
                                   f"{', '.join(DTYPE_NAMES)}")
    link = data.get("host_link_gbs")
    for key in ("description", "notes"):
        if not isinstance(data.get(key, ""), str):
            raise file_error(path, f"'{key}' must be a string")
    return DeviceSpec(
        name=data["name"],
        peak_tflops=MappingProxyType({d: _number(path, f"peak_tflops.{d}", v, positive=True)
                                      for d, v in peaks.items()}),
        bandwidth_gbs=_number(path, "bandwidth_gbs", data["bandwidth_gbs"], positive=True),
        launch_us=_number(path, "launch_us", data["launch_us"], positive=False),
        sync_us=_number(path, "sync_us", data["sync_us"], positive=False),
        frame_us=_number(path, "frame_us", data["frame_us"], positive=False),
        host_link_gbs=None if link is None else _number(path, "host_link_gbs", link,
                                                        positive=True),
        description=data.get("description", ""), notes=data.get("notes", ""),
        **_calibration(data, path))


def _calibration(data: Mapping, path) -> dict:
    """The optional calibration fields of a spec file, validated."""
    eff = data.get("efficiency", {})
    if not isinstance(eff, Mapping):
        raise file_error(path, f"'efficiency' must map kernel kinds ({', '.join(KINDS)}) to "
                               f"fractions of roofline speed")
    for key, value in eff.items():
        kind, _, dtype = key.partition("@")
        if kind not in KINDS or dtype and dtype not in DTYPE_NAMES:
            raise file_error(path, f"'efficiency' has unknown kind '{key}'"
                                   f"{did_you_mean(kind, KINDS)}; use {', '.join(KINDS)}, "
                                   f"optionally @DTYPE")
        if _number(path, f"efficiency.{key}", value, positive=True) > 1:
            raise file_error(path, f"'efficiency.{key}' must be at most 1, got {value}")
    overlap = _number(path, "lane_overlap", data.get("lane_overlap", 1.0), positive=False)
    if overlap > 1:
        raise file_error(path, f"'lane_overlap' must be between 0 and 1, got {overlap}")
    sources = data.get("calibrated_from", [])
    if not isinstance(sources, list) or not all(
            isinstance(e, Mapping) and all(isinstance(v, str) for v in e.values())
            for e in sources):
        raise file_error(path, "'calibrated_from' must be a list of objects of strings "
                               "(path, device, date)")
    return {"efficiency": MappingProxyType({k: float(v) for k, v in eff.items()}),
            "kernel_us": _number(path, "kernel_us", data.get("kernel_us", 0.0),
                                 positive=False),
            "lane_overlap": overlap,
            "calibrated_from": tuple(MappingProxyType(dict(e)) for e in sources)}


def spec_to_dict(spec: DeviceSpec) -> dict:
    """The JSON object of a spec file (``load_spec`` reads it back); the calibration
    fields only where they differ from the bare roofline's."""
    out = {"format": DEVICE_FORMAT, "name": spec.name, "peak_tflops": dict(spec.peak_tflops),
           "bandwidth_gbs": spec.bandwidth_gbs, "launch_us": spec.launch_us,
           "sync_us": spec.sync_us, "frame_us": spec.frame_us,
           "host_link_gbs": spec.host_link_gbs, "description": spec.description,
           "notes": spec.notes}
    if spec.efficiency:
        out["efficiency"] = dict(spec.efficiency)
    if spec.kernel_us:
        out["kernel_us"] = spec.kernel_us
    if spec.lane_overlap != 1.0:
        out["lane_overlap"] = spec.lane_overlap
    if spec.calibrated_from:
        out["calibrated_from"] = [dict(e) for e in spec.calibrated_from]
    return out


def load_spec(path: str | Path) -> DeviceSpec:
    """Read a device spec file (JSON with the fields of :class:`DeviceSpec`; see
    ``spec_to_dict(NAMED['h100'])`` for an example). Errors name the path and reason."""
    return spec_from_dict(read_json_object(path, "device spec"), path)


class Roofline(DeviceModel):
    """Roofline timing: per device kernel ``max(flops / peak, bytes / bandwidth) /
    efficiency[kind] + kernel_us`` (ms); on a CPU plus ``launch`` (and ``sync`` per
    read-back) in turn, on a GPU those are host time apart (:meth:`overlaps_host`). Host
    kernels on ``host`` (default: ``spec`` itself for a CPU, else the named ``cpu``)."""

    def __init__(self, spec: DeviceSpec, source: str | None = None,
                 host: DeviceSpec | None = None):
        self.spec = spec
        self.name = spec.name
        self.source = source or f"roofline:{spec.name}"
        self.host = host or (spec if spec.host_link_gbs is None else NAMED["cpu"])

    @property
    def label(self) -> str:
        """``source`` marked as an estimate, saying what calibrated it: profiles of this
        device, or another's calibration transferred (an entry of ``calibrated_from``
        with a ``transferred`` note)."""
        fitted = self.spec.calibrated_from
        if not fitted:
            return f"{self.source} (estimate, not calibrated)"
        devices = " and ".join(sorted({e.get("device", "?") for e in fitted}))
        moved = next((e["transferred"] for e in fitted if "transferred" in e), None)
        if moved:
            return (f"{self.source} (estimate, calibration of {len(fitted)} profiles of "
                    f"{devices} transferred {moved})")
        return f"{self.source} (estimate, calibrated on {len(fitted)} profiles of {devices})"

    def check(self, spec: NetworkSpec, input_hw: tuple[int, int], dtype: str) -> None:
        self.spec.peak_flops(dtype)

    def cost_ms(self, cost: Cost, dtype: str) -> float:
        """Time of an aggregate ``cost`` as if it were one op of ``cost.kernels``
        launches: ``max(flops / peak, bytes / bandwidth) + launch × kernels + sync ×
        syncs``, no calibration. (Per-kernel sums, :meth:`ops_ms`, are at least this.)"""
        s = self.spec
        busy = max(cost.flops / s.peak_flops(dtype), cost.bytes / (s.bandwidth_gbs * 1e9))
        return 1e3 * busy + 1e-3 * (s.launch_us * cost.kernels + s.sync_us * cost.syncs)

    def device_ms(self, k: Kernel, dtype: str) -> float:
        """A device kernel's time on the device (ms): its roofline time over its kind's
        efficiency (:func:`kernel_kind`), plus ``kernel_us``."""
        s = self.spec
        busy = max(k.flops / s.peak_flops(dtype), k.bytes / (s.bandwidth_gbs * 1e9))
        kind = kernel_kind(k)
        eff = s.efficiency.get(f"{kind}@{dtype}") or s.efficiency.get(kind, 1.0)
        return 1e3 * busy / eff + 1e-3 * s.kernel_us

    def kernel_ms(self, k: Kernel, dtype: str) -> float:
        """One kernel's time: on the host's roofline (float32) when ``k.host``; else its
        device time, plus on a CPU its launch and syncs (on a GPU a read-back is only
        :meth:`sync_ms`), plus its host-device copy over ``host_link_gbs``."""
        if k.host:
            h = self.host
            peak = 1e12 * h.peak_tflops.get("float32", max(h.peak_tflops.values()))
            busy = max(k.flops / peak, k.bytes / (h.bandwidth_gbs * 1e9))
            return 1e3 * busy + 1e-3 * (h.launch_us + h.sync_us * k.syncs)
        s = self.spec
        if self.overlaps_host():
            ms = 0.0 if k.syncs else self.device_ms(k, dtype)
        else:
            ms = self.device_ms(k, dtype) + 1e-3 * (s.launch_us + s.sync_us * k.syncs)
        if k.link_bytes and s.host_link_gbs is not None:
            ms += 1e3 * k.link_bytes / (s.host_link_gbs * 1e9)
        return ms

    def ops_ms(self, ops: Sequence[OpCost], dtype: str) -> float:
        """Sum over every kernel of ``ops`` of its own time (:meth:`kernel_ms`)."""
        return sum(self.kernel_ms(k, dtype) for op in ops for k in op.kernels)

    def host_ms(self, ops: Sequence[OpCost]) -> float:
        """On a GPU, the host's time to launch the device kernels of ``ops`` (``launch_us``
        each, read-backs apart); 0 on a CPU, where launches are in :meth:`kernel_ms`."""
        if not self.overlaps_host():
            return 0.0
        launched = sum(1 for op in ops for k in op.kernels if not (k.host or k.syncs))
        return 1e-3 * self.spec.launch_us * launched

    def stage_ms(self, cost: NetworkCost, first: str, last: str, heads: Sequence[str]) -> float:
        return self.ops_ms(cost.stage_ops(first, last, heads), cost.dtype)

    def fuse_ms(self, cost: NetworkCost, heads: Sequence[str]) -> float:
        return self.ops_ms((cost.fuse_op(heads),), cost.dtype)

    def measure_ms(self, cost: NetworkCost, head: str | None,
                   region: str | None = "map") -> float:
        return self.ops_ms((cost.measure_op(head, region),), cost.dtype)

    def predicted_ms(self, cost: NetworkCost, head: str, model: ClockModel) -> float:
        return self.ops_ms((cost.predicted_op(head, model),), cost.dtype)

    def flow_ms(self, cost: NetworkCost, method: str) -> float:
        return self.ops_ms((cost.flow_op(method),), cost.dtype)

    def warp_ms(self, cost: NetworkCost, first: str, last: str, heads: Sequence[str]) -> float:
        return self.ops_ms((cost.warp_op(first, last, heads),), cost.dtype)

    def compose_ms(self, cost: NetworkCost) -> float:
        return self.ops_ms((cost.compose_op(),), cost.dtype)

    def frame_overhead_ms(self, cost: NetworkCost) -> float:
        """``frame_us``, the upload and the normalisation. On a GPU all of it counts as
        host time: the normalisation's launches, and its device time too (the frame's
        first stage waits for it; ``price`` has no per-frame device term)."""
        s = self.spec
        upload = 0.0 if s.host_link_gbs is None else \
            1e3 * cost.upload_bytes / (s.host_link_gbs * 1e9)
        return 1e-3 * s.frame_us + upload + self.ops_ms((cost.input,), cost.dtype) + \
            self.host_ms((cost.input,))

    # -- the host apart from the device: a GPU (a spec with host_link_gbs) -------------
    def overlaps_host(self) -> bool:
        return self.spec.host_link_gbs is not None

    def stage_host_ms(self, cost: NetworkCost, first: str, last: str,
                      heads: Sequence[str]) -> float:
        return self.host_ms(cost.stage_ops(first, last, heads))

    def fuse_host_ms(self, cost: NetworkCost, heads: Sequence[str]) -> float:
        return self.host_ms((cost.fuse_op(heads),))

    def measure_host_ms(self, cost: NetworkCost, head: str | None,
                        region: str | None = "map") -> float:
        return self.host_ms((cost.measure_op(head, region),))

    def sync_ms(self, cost: NetworkCost) -> float:
        return 1e-3 * self.spec.sync_us if self.overlaps_host() else 0.0

    def lane_overlap(self, cost: NetworkCost) -> float:
        return self.spec.lane_overlap


def named_device(name: str) -> Roofline:
    """The roofline model of a named spec (:data:`NAMED`)."""
    try:
        return Roofline(NAMED[name])
    except KeyError:
        raise InputError(f"unknown device '{name}'{did_you_mean(name, NAMED)}; known: "
                         f"{', '.join(NAMED)}, or a device spec or profile JSON file") from None
