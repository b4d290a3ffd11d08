"""Roofline device models: a named spec (:data:`cwdsl.devices.named.NAMED`: ``h100``,
``h200``, ``a100``, ``titanx``, ``cpu``) or a user's spec file (JSON,
:func:`cwdsl.devices.spec.load_spec`).

Each aten kernel of the traced cost model (:mod:`cwdsl.cost.network`) takes
``max(flops / peak[dtype], bytes / bandwidth) + launch``, a clock measurement adds a host
sync, and a frame adds the executor's host work, the frame's upload and its normalisation.

Work on the host CPU (optical flow: the gray frames and OpenCV's DIS, estimated; a learned
clock's MLP) is priced on the *host's* roofline, whatever the device: the device's own spec
when it is the host (no ``host_link_gbs``: a CPU), else the named ``cpu`` spec's float32
rate, bandwidth and per-call cost; bytes copied from host to device (the flow) cross
``host_link_gbs``.

A spec may be *calibrated* (:mod:`cwdsl.fitting.calibrate` fits it to measured profiles): each
device kernel, by its kind (:func:`kernel_kind`), reaches a fraction ``efficiency[kind]``
of its roofline speed and costs at least ``kernel_us`` on the device. On a GPU (a spec with
``host_link_gbs``) the host's work (launches, the frame's own work) is priced apart from
the device's (:meth:`Roofline.overlaps_host`); a CPU spec prices everything in turn.
"""
from __future__ import annotations

from collections.abc import Sequence

from cwdsl.core.clockmodel import ClockModel
from cwdsl.core.errors import InputError, did_you_mean
from cwdsl.core.netspec import NetworkSpec
from cwdsl.cost.kernels import Cost, Kernel, OpCost
from cwdsl.cost.network import NetworkCost
from cwdsl.devices.kernel_kinds import kernel_kind
from cwdsl.devices.model import DeviceModel
from cwdsl.devices.named import NAMED
from cwdsl.devices.spec import DeviceSpec


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
