"""Device models: how long a program's stages, clocks and fuse take on some device.

Two kinds, one interface (:class:`DeviceModel`):

- :class:`Roofline`: a named spec (:data:`NAMED`: ``h100``, ``h200``, ``a100``,
  ``titanx``, ``cpu``) or a user's spec file (JSON, :func:`load_spec`). Each aten kernel
  of the traced cost model (:mod:`cwdsl.sim.cost`) takes
  ``max(flops / peak[dtype], bytes / bandwidth) + launch``, a clock measurement adds a
  host sync, and a frame adds the executor's host work, the frame's upload and its
  normalisation.
- a measured profile (:func:`cwdsl.sim.profile.load_profile`): per-layer, per-head, per-fuse
  and per-measurement medians timed on the real device.

:func:`schedule_costs` turns a compiled program and a device model into the
:class:`ScheduleCosts` a simulator sums along FramePlans; :func:`load_device` accepts a
spec name, a spec file or a profile file.
"""
from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from cwdsl.sim.cost import Cost, NetworkCost, OpCost, network_cost
from cwdsl.core.errors import Diagnostic, InputError, Source, did_you_mean
from cwdsl.ir.graph import Program
from cwdsl.core.netspec import NetworkSpec, head_segments

DTYPE_NAMES = ("float32", "float16", "bfloat16")
DEVICE_FORMAT = "cwdsl-device"


def file_error(path: str | Path, reason: str) -> InputError:
    """An ``InputError`` rendered as ``PATH: error: REASON``."""
    return InputError(Diagnostic(reason, source=Source("", str(path))))


# -- the interface ------------------------------------------------------------------------
class DeviceModel(ABC):
    """Times of the operations an executor runs, for one device.

    Every method receives the traced :class:`~cwdsl.sim.cost.NetworkCost` of the network,
    size and dtype in question; :meth:`check` says (with an ``InputError``) when the model
    cannot speak for that combination (e.g. a profile of another network).
    """

    name: str
    source: str

    def check(self, spec: NetworkSpec, input_hw: tuple[int, int], dtype: str) -> None:
        """Raise ``InputError`` unless this model can time ``spec`` at ``input_hw`` in
        ``dtype``. The default accepts everything."""

    @abstractmethod
    def stage_ms(self, cost: NetworkCost, first: str, last: str, heads: Sequence[str]) -> float:
        """Layers ``first`` .. ``last`` plus score ``heads``."""

    @abstractmethod
    def fuse_ms(self, cost: NetworkCost, heads: Sequence[str]) -> float:
        """The fuse of the scores of ``heads``."""

    @abstractmethod
    def measure_ms(self, cost: NetworkCost, head: str | None) -> float:
        """A data-driven clock's measurement: label difference on ``head``'s scores
        (argmax, compare with the reference, mean, read back), or the pixel difference
        of the frame when ``head`` is None."""

    @abstractmethod
    def frame_overhead_ms(self, cost: NetworkCost) -> float:
        """Fixed per-frame work besides stages, measurements and fuse: the executor's
        plan walk and bookkeeping, the frame's upload and normalisation."""

    def full_ms(self, cost: NetworkCost) -> float:
        """The frame oracle's compute: the whole network as its head segments (for FCN-8s
        the paper's three stages), every head, the fuse of all heads (frame overhead not
        included, as in ``stage_ms``). Pricing it in segments makes an oracle schedule of
        that split exactly 100% of it under any device model."""
        deepest = cost.layer_names.index(max(cost.head_reads.values(),
                                             key=cost.layer_names.index))
        runs = head_segments(cost.layer_names[:deepest + 1], dict(cost.head_reads))
        return (sum(self.stage_ms(cost, first, last, heads) for first, last, heads in runs)
                + self.fuse_ms(cost, tuple(cost.heads)))


@dataclass(frozen=True)
class ScheduleCosts:
    """Everything a simulator needs for one program on one device.

    ``stage_ms``/``stage_flops``: per program stage (its layers and heads);
    ``measure_ms``: per data-driven atom id; ``fuse_*``: the output stages' heads fused;
    ``frame_overhead_ms``: paid on every frame; ``full_*``: the frame oracle (the whole
    network every frame, frame overhead excluded like the stages'); ``source`` says where
    the numbers come from (``roofline:h100``, ``roofline:spec.json``,
    ``profile:cpu.json``).
    """

    device: str
    network: str
    input_hw: tuple[int, int]
    dtype: str
    stage_ms: dict[str, float]
    stage_flops: dict[str, float]
    measure_ms: dict[str, float]
    fuse_ms: float
    fuse_flops: float
    frame_overhead_ms: float
    full_ms: float
    full_flops: float
    source: str


def schedule_costs(program: Program, device: DeviceModel,
                   input_hw: Sequence[int] | None = None,
                   dtype: str = "float32") -> ScheduleCosts:
    """The costs of ``program``'s stages, clock measurements and fuse on ``device``,
    for frames of ``input_hw`` (default: the program's input size) in ``dtype``."""
    hw = (int(input_hw[0]), int(input_hw[1])) if input_hw is not None else program.input_size
    device.check(program.network, hw, dtype)
    cost = network_cost(program.network, hw, dtype)
    g = program.graph
    stage_ms, stage_flops = {}, {}
    for stage in program.stages:
        data = g.nodes[f"stage:{stage}"]
        stage_ms[stage] = device.stage_ms(cost, data["first"], data["last"], data["heads"])
        stage_flops[stage] = float(cost.stage(data["first"], data["last"], data["heads"]).flops)
    measure_ms = {atom: device.measure_ms(cost, g.nodes[f"measure:{atom}"]["head"])
                  for atom in program.atoms}
    heads = tuple(h for s in program.output_stages for h in g.nodes[f"stage:{s}"]["heads"])
    return ScheduleCosts(
        device=device.name, network=program.network.name, input_hw=hw, dtype=dtype,
        stage_ms=stage_ms, stage_flops=stage_flops, measure_ms=measure_ms,
        fuse_ms=device.fuse_ms(cost, heads), fuse_flops=float(cost.fuse(heads).flops),
        frame_overhead_ms=device.frame_overhead_ms(cost),
        full_ms=device.full_ms(cost), full_flops=float(cost.full().flops),
        source=device.source)


# -- roofline -----------------------------------------------------------------------------
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

NAMED: Mapping[str, DeviceSpec] = MappingProxyType({
    "h100": DeviceSpec(
        "h100", {"float32": 494.7, "float16": 989.4, "bfloat16": 989.4},
        bandwidth_gbs=3350.0, launch_us=_GPU_LAUNCH_US, sync_us=_GPU_SYNC_US,
        frame_us=_FRAME_US, host_link_gbs=64.0,
        description="NVIDIA H100 SXM5 80 GB (Hopper)",
        notes="NVIDIA H100 datasheet: FP32 (CUDA cores) 67 TFLOP/s, TF32 tensor 494.7 dense "
              "(989 with sparsity), FP16/BF16 tensor 989.4 dense (1979 sparse); HBM3 "
              "3.35 TB/s; PCIe Gen5 x16 64 GB/s per direction. float32 uses TF32: PyTorch "
              "runs float32 convolutions on TF32 tensor cores by default "
              "(torch.backends.cudnn.allow_tf32 = True) and this network is all "
              "convolutions; with TF32 disabled use a spec file with float32 = 67."),
    "h200": DeviceSpec(
        "h200", {"float32": 494.7, "float16": 989.4, "bfloat16": 989.4},
        bandwidth_gbs=4800.0, launch_us=_GPU_LAUNCH_US, sync_us=_GPU_SYNC_US,
        frame_us=_FRAME_US, host_link_gbs=64.0,
        description="NVIDIA H200 SXM 141 GB (Hopper, HBM3e)",
        notes="NVIDIA H200 datasheet: the H100 SXM's compute (FP32 67, TF32 494.7 dense, "
              "FP16/BF16 989.4 dense TFLOP/s) with HBM3e at 4.8 TB/s; PCIe Gen5 x16. "
              "float32 uses TF32 as on the H100."),
    "a100": DeviceSpec(
        "a100", {"float32": 156.0, "float16": 312.0, "bfloat16": 312.0},
        bandwidth_gbs=2039.0, launch_us=_GPU_LAUNCH_US, sync_us=_GPU_SYNC_US,
        frame_us=_FRAME_US, host_link_gbs=32.0,
        description="NVIDIA A100 SXM4 80 GB (Ampere)",
        notes="NVIDIA A100 datasheet: FP32 19.5, TF32 tensor 156 dense (312 sparse), "
              "FP16/BF16 tensor 312 dense (624 sparse) TFLOP/s; HBM2e 2039 GB/s; PCIe "
              "Gen4 x16 32 GB/s. float32 uses TF32 (PyTorch's default for convolutions)."),
    "titanx": DeviceSpec(
        "titanx", {"float32": 6.6, "float16": 6.6},
        bandwidth_gbs=336.5, launch_us=_GPU_LAUNCH_US, sync_us=_GPU_SYNC_US,
        frame_us=_FRAME_US, host_link_gbs=15.75,
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
                "host_link_gbs", "description", "notes", "format"}
_SPEC_REQUIRED = ("name", "peak_tflops", "bandwidth_gbs", "launch_us", "sync_us", "frame_us")


def _number(path, key: str, value, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise file_error(path, f"'{key}' must be a number, got {json.dumps(value)}")
    if positive and value <= 0:
        raise file_error(path, f"'{key}' must be positive, got {value}")
    if value < 0:
        raise file_error(path, f"'{key}' must not be negative, got {value}")
    return float(value)


def read_json(path: str | Path, what: str) -> dict:
    """The JSON object in ``path``; ``InputError`` naming the path otherwise."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise file_error(path, f"no such {what} file") from None
    except IsADirectoryError:
        raise file_error(path, f"is a directory, not a {what} file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise file_error(path, f"cannot read {what} file: {e}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise file_error(path, f"not valid JSON (line {e.lineno}, column {e.colno}: "
                               f"{e.msg})") from None
    if not isinstance(data, dict):
        raise file_error(path, f"a {what} file holds a JSON object, not a "
                               f"{type(data).__name__}")
    return data


def spec_from_dict(data: Mapping, path: str | Path = "<spec>") -> DeviceSpec:
    """Validate a device spec given as a mapping (the spec file's object)."""
    unknown = sorted(set(data) - _SPEC_FIELDS)
    if unknown:
        raise file_error(path, f"unknown field '{unknown[0]}'"
                               f"{did_you_mean(unknown[0], _SPEC_FIELDS)}; a device spec has "
                               f"{', '.join(_SPEC_REQUIRED)} and optionally host_link_gbs, "
                               f"description, notes, format")
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
        description=data.get("description", ""), notes=data.get("notes", ""))


def spec_to_dict(spec: DeviceSpec) -> dict:
    """The JSON object of a spec file (``load_spec`` reads it back)."""
    return {"format": DEVICE_FORMAT, "name": spec.name, "peak_tflops": dict(spec.peak_tflops),
            "bandwidth_gbs": spec.bandwidth_gbs, "launch_us": spec.launch_us,
            "sync_us": spec.sync_us, "frame_us": spec.frame_us,
            "host_link_gbs": spec.host_link_gbs, "description": spec.description,
            "notes": spec.notes}


def load_spec(path: str | Path) -> DeviceSpec:
    """Read a device spec file (JSON with the fields of :class:`DeviceSpec`; see
    ``spec_to_dict(NAMED['h100'])`` for an example). Errors name the path and reason."""
    return spec_from_dict(read_json(path, "device spec"), path)


class Roofline(DeviceModel):
    """Roofline timing: per kernel ``max(flops / peak, bytes / bandwidth) + launch``."""

    def __init__(self, spec: DeviceSpec, source: str | None = None):
        self.spec = spec
        self.name = spec.name
        self.source = source or f"roofline:{spec.name}"

    def check(self, spec: NetworkSpec, input_hw: tuple[int, int], dtype: str) -> None:
        self.spec.peak_flops(dtype)

    def cost_ms(self, cost: Cost, dtype: str) -> float:
        """Time of an aggregate ``cost`` as if it were one op of ``cost.kernels``
        launches: ``max(flops / peak, bytes / bandwidth) + launch × kernels + sync ×
        syncs``. (Per-kernel sums, :meth:`ops_ms`, are at least this.)"""
        s = self.spec
        busy = max(cost.flops / s.peak_flops(dtype), cost.bytes / (s.bandwidth_gbs * 1e9))
        return 1e3 * busy + 1e-3 * (s.launch_us * cost.kernels + s.sync_us * cost.syncs)

    def ops_ms(self, ops: Sequence[OpCost], dtype: str) -> float:
        """Sum over every kernel of ``ops`` of its own roofline time."""
        return sum(self.cost_ms(Cost(flops=k.flops, bytes=k.bytes, kernels=1, syncs=k.syncs),
                                dtype) for op in ops for k in op.kernels)

    def stage_ms(self, cost: NetworkCost, first: str, last: str, heads: Sequence[str]) -> float:
        return self.ops_ms(cost.stage_ops(first, last, heads), cost.dtype)

    def fuse_ms(self, cost: NetworkCost, heads: Sequence[str]) -> float:
        return self.ops_ms((cost.fuse_op(heads),), cost.dtype)

    def measure_ms(self, cost: NetworkCost, head: str | None) -> float:
        op = cost.pixel_diff if head is None else cost.label_diffs[head]
        return self.ops_ms((op,), cost.dtype)

    def frame_overhead_ms(self, cost: NetworkCost) -> float:
        s = self.spec
        upload = 0.0 if s.host_link_gbs is None else \
            1e3 * cost.upload_bytes / (s.host_link_gbs * 1e9)
        return 1e-3 * s.frame_us + upload + self.ops_ms((cost.input,), cost.dtype)


def named_device(name: str) -> Roofline:
    """The roofline model of a named spec (:data:`NAMED`)."""
    try:
        return Roofline(NAMED[name])
    except KeyError:
        raise InputError(f"unknown device '{name}'{did_you_mean(name, NAMED)}; known: "
                         f"{', '.join(NAMED)}, or a device spec or profile JSON file") from None


def load_device(name_or_path: str | Path) -> DeviceModel:
    """A device model from a named spec (``h100``, ``h200``, ``a100``, ``titanx``,
    ``cpu``), a device spec JSON file, or a profile JSON written by ``cwdsl profile``."""
    if isinstance(name_or_path, str) and name_or_path in NAMED:
        return named_device(name_or_path)
    path = Path(name_or_path)
    if not path.exists():
        if path.suffix == "" and "/" not in str(name_or_path):
            return named_device(str(name_or_path))
        raise file_error(path, "no such device spec or profile file")
    data = read_json(path, "device spec or profile")
    from cwdsl.sim.profile import PROFILE_FORMAT, profile_from_dict
    if data.get("format") == PROFILE_FORMAT:
        return profile_from_dict(data, path)
    return Roofline(spec_from_dict(data, path), source=f"roofline:{path}")
