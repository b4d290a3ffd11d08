"""A schedule's cost table on one device: :func:`schedule_costs` turns a compiled program
and a device model (:mod:`cwdsl.devices`) into the :class:`ScheduleCosts` the simulator
sums along FramePlans; :func:`step_cost` prices one step of a plan (a wave:
:meth:`ScheduleCosts.wave_ms`, its lanes' shares of it :func:`lane_shares`), and
:func:`placed` says whether the host or the device spends it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cwdsl.ir.graph import Program
from cwdsl.ir.plan import FramePlan, Flow, Fuse, Measure, Warp
from cwdsl.devices.batch_model import batch_ms
from cwdsl.cost.kernels import OpCost
from cwdsl.cost.network import network_cost
from cwdsl.devices.model import DeviceModel
from cwdsl.devices.profiled import Profile
from cwdsl.devices.roofline import Roofline


@dataclass(frozen=True)
class ScheduleCosts:
    """Everything a simulator needs for one program on one device.

    ``stage_ms``/``stage_flops``: per program stage (its layers and heads);
    ``measure_ms``: per data-driven atom id; ``fuse_*``: the output stages' heads fused;
    ``frame_overhead_ms``: paid on every frame; ``full_*``: the frame oracle (the whole
    network every frame, frame overhead excluded like the stages'); ``source`` says where
    the numbers come from (``roofline:h100``, ``roofline:spec.json``,
    ``profile:cpu.json``). ``flow_ms``/``flow_flops``: one frame's optical flow per method
    the program uses (its FLOPs include the host's DIS, an estimate); ``warp_ms``/
    ``warp_flops``: per stage that warps, warping its state by a composed flow;
    ``compose_*``: composing a frame's flow into a total, where the plans need one
    (:func:`cwdsl.sim.simulate.price`; 0 for a program without warps).

    The host beside the device (:meth:`DeviceModel.overlaps_host`): ``overlaps_host``
    says whether host work overlaps queued device work (a GPU); then ``frame_overhead_ms``
    is host time, ``*_host_ms`` the host time to issue each part (the other fields being
    device time), ``sync_ms`` the cost of one read-back. ``lane_overlap``: the share of a
    pipelined wave's non-slowest lanes that concurrency hides (1: the slowest lane only).
    ``stage_peak_ms``: per stage, ``(FLOPs at the device's peak, bytes at its full
    bandwidth)`` in ms, its device kernels' work at the best rate the device has (a
    roofline's ``peak_tflops`` and ``bandwidth_gbs``); empty where the model knows no peak
    (a measured profile, whose lane overlap was measured). A wave is never priced below
    it (:meth:`lanes_ms`).

    ``stage_batch``: per stage, its cost on a batch of frames at each batch size a
    profile timed (``(size, ms)``, sizes above 1); empty without batch timings, when a
    batch of ``k`` costs ``k`` frames' (:meth:`batch_ms`, :mod:`cwdsl.devices.batch_model`).
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
    flow_ms: dict[str, float] = field(default_factory=dict)
    flow_flops: dict[str, float] = field(default_factory=dict)
    warp_ms: dict[str, float] = field(default_factory=dict)
    warp_flops: dict[str, float] = field(default_factory=dict)
    compose_ms: float = 0.0
    compose_flops: float = 0.0
    overlaps_host: bool = False
    stage_host_ms: dict[str, float] = field(default_factory=dict)
    measure_host_ms: dict[str, float] = field(default_factory=dict)
    fuse_host_ms: float = 0.0
    full_host_ms: float = 0.0
    sync_ms: float = 0.0
    lane_overlap: float = 1.0
    stage_batch: dict[str, tuple[tuple[int, float], ...]] = field(default_factory=dict)
    stage_peak_ms: dict[str, tuple[float, float]] = field(default_factory=dict)

    def batch_ms(self, stage: str, k: int) -> float:
        """Stage ``stage`` computing for ``k`` streams as one batch (device time)."""
        return batch_ms(self.stage_ms[stage], self.stage_batch.get(stage, ()), k)

    def wave_ms(self, stages: Sequence[str]) -> float:
        """A wave of concurrently running stages on one device (:meth:`lanes_ms`, each
        stage for one frame)."""
        return self.lanes_ms([(s, 1) for s in stages])

    def lanes_ms(self, lanes: Sequence[tuple[str, int]]) -> float:
        """Device time of concurrent lanes, each ``(stage, k)``: the stage on a batch of
        ``k`` frames (:meth:`batch_ms`). The slowest lane plus the part of the others that
        concurrency does not hide (``lane_overlap``), but never less than the device's
        peak allows for the lanes' work together (:meth:`peak_floor_ms`): concurrency hides
        only what the device has spare: on a roofline whose kernels all run at peak, none
        (the wave costs its lanes' sum); and never more than the lanes one after the
        other."""
        times = [self.batch_ms(s, k) for s, k in lanes]
        slowest, total = max(times), sum(times)
        overlapped = slowest + (1.0 - self.lane_overlap) * (total - slowest)
        return min(total, max(overlapped, self.peak_floor_ms(lanes)))

    def peak_floor_ms(self, lanes: Sequence[tuple[str, int]]) -> float:
        """The least time the device needs for the work of ``lanes`` (``(stage, k)``, see
        :meth:`lanes_ms`) at its peak: all their FLOPs at peak FLOP/s or all their bytes at
        full bandwidth, whichever is longer (compute and memory overlap across lanes at
        best); 0 where the model knows no peak (``stage_peak_ms`` lacks a stage)."""
        if not all(s in self.stage_peak_ms for s, _ in lanes):
            return 0.0
        compute = sum(k * self.stage_peak_ms[s][0] for s, k in lanes)
        memory = sum(k * self.stage_peak_ms[s][1] for s, k in lanes)
        return max(compute, memory)

    @property
    def oracle_ms(self) -> float:
        """The frame oracle's latency: its compute and the frame overhead in turn, or, on
        a device that overlaps its host, the larger of host and device time plus the
        frame's closing sync."""
        if not self.overlaps_host:
            return self.full_ms + self.frame_overhead_ms
        return max(self.frame_overhead_ms + self.full_host_ms, self.full_ms) + self.sync_ms


def schedule_costs(program: Program, device: DeviceModel,
                   input_hw: Sequence[int] | None = None,
                   dtype: str = "float32") -> ScheduleCosts:
    """The costs of ``program``'s stages, clock measurements, flows, warps and fuse on
    ``device``, for frames of ``input_hw`` (default: the program's input size) in ``dtype``."""
    hw = (int(input_hw[0]), int(input_hw[1])) if input_hw is not None else program.input_size
    device.check(program.network, hw, dtype)
    cost = network_cost(program.network, hw, dtype)
    stage_ms, stage_flops = {}, {}
    for stage in program.stage_nodes:
        stage_ms[stage.name] = device.stage_ms(cost, stage.first, stage.last, stage.heads)
        stage_flops[stage.name] = float(cost.stage(stage.first, stage.last, stage.heads).flops)
    measure_ms = {m.atom: device.predicted_ms(cost, m.head, m.model) if m.model is not None
                  else device.measure_ms(cost, m.head, m.region) for m in program.measures}
    flow_ms = {f.method: device.flow_ms(cost, f.method) for f in program.flows}
    flow_flops = {f.method: float(cost.flow_op(f.method).cost.flops) for f in program.flows}
    warp_ms, warp_flops = {}, {}
    for warp in program.warps:
        stage = program.stage(warp.stage)
        warp_ms[stage.name] = device.warp_ms(cost, stage.first, stage.last, stage.heads)
        warp_flops[stage.name] = float(cost.warp_op(stage.first, stage.last,
                                                    stage.heads).cost.flops)
    compose = (device.compose_ms(cost), float(cost.compose_op().cost.flops)) \
        if program.warps else (0.0, 0.0)
    heads = program.output_heads
    stage_peak_ms = {s.name: peak_ms(device, cost.stage_ops(s.first, s.last, s.heads), dtype)
                     for s in program.stage_nodes} if isinstance(device, Roofline) else {}
    stage_batch = {}  # only profiles time batches; a roofline's batch costs k frames
    for stage in program.stage_nodes if isinstance(device, Profile) else ():
        ratios = device.batch_ratios(stage.first, stage.last)
        if ratios:
            stage_batch[stage.name] = tuple((k, r * stage_ms[stage.name]) for k, r in ratios)
    return ScheduleCosts(
        device=device.name, network=program.network.name, input_hw=hw, dtype=dtype,
        stage_ms=stage_ms, stage_flops=stage_flops, measure_ms=measure_ms,
        fuse_ms=device.fuse_ms(cost, heads), fuse_flops=float(cost.fuse(heads).flops),
        frame_overhead_ms=device.frame_overhead_ms(cost),
        full_ms=device.full_ms(cost), full_flops=float(cost.full().flops),
        source=device.source, flow_ms=flow_ms, flow_flops=flow_flops, warp_ms=warp_ms,
        warp_flops=warp_flops, compose_ms=compose[0], compose_flops=compose[1],
        overlaps_host=device.overlaps_host(),
        stage_host_ms={s.name: device.stage_host_ms(cost, s.first, s.last, s.heads)
                       for s in program.stage_nodes},
        measure_host_ms={m.atom: device.measure_host_ms(cost, m.head, m.region)
                         for m in program.measures},
        fuse_host_ms=device.fuse_host_ms(cost, heads), full_host_ms=device.full_host_ms(cost),
        sync_ms=device.sync_ms(cost), lane_overlap=device.lane_overlap(cost),
        stage_batch=stage_batch, stage_peak_ms=stage_peak_ms)


def peak_ms(device: Roofline, ops: Sequence[OpCost], dtype: str) -> tuple[float, float]:
    """``(ms, ms)``: the FLOPs of ``ops``' device kernels at ``device``'s peak for
    ``dtype``, and their bytes at its full bandwidth (host kernels left out)."""
    kernels = [k for op in ops for k in op.kernels if not k.host]
    spec = device.spec
    return (1e3 * sum(k.flops for k in kernels) / spec.peak_flops(dtype),
            1e3 * sum(k.bytes for k in kernels) / (spec.bandwidth_gbs * 1e9))


def lane_shares(times: Sequence[float], wave_ms: float) -> list[float]:
    """Of a wave's ``wave_ms``, the share each lane of ``times`` (its own time) is charged:
    the slowest lane (the first of equals) all of its time, the others the rest in
    proportion to theirs (so the shares sum to ``wave_ms``, each at most its lane's time
    when ``max(times) <= wave_ms <= sum(times)``)."""
    slowest = int(np.argmax(times))
    others = sum(times) - times[slowest]
    spare = max(wave_ms - times[slowest], 0.0)
    return [times[i] if i == slowest else (spare * times[i] / others if others > 0 else 0.0)
            for i in range(len(times))]


def placed(step, on_host: float, on_device: float, overlapped: bool) -> tuple[float, float]:
    """A step's ``(host ms, device ms)`` as a frame spends them: on one processor (not
    ``overlapped``) issuing a part is inside its own time; beside a device, an optical
    :class:`Flow` runs on the host."""
    if not overlapped:
        return 0.0, on_device
    if isinstance(step, Flow):
        return on_device, 0.0
    return on_host, on_device


def step_cost(step, plan: FramePlan, costs: ScheduleCosts, since: Mapping[str, int] | None,
              composed: set[tuple[str, int]]) -> tuple[float, float, float, float]:
    """A step other than a :class:`~cwdsl.ir.plan.Wave` as
    :func:`~cwdsl.sim.simulate.price` counts it: ``(host ms, device ms, FLOPs, motion
    ms)``, a :class:`Flow`'s time as device time (``price`` moves it to the host where they
    overlap); ``composed`` as in ``price``, updated."""
    on_host = on_device = flops = motion = 0.0
    if isinstance(step, Measure):
        on_device = costs.measure_ms[step.atom]
        on_host = costs.measure_host_ms.get(step.atom, 0.0)
    elif isinstance(step, Fuse):
        on_device, on_host = costs.fuse_ms, costs.fuse_host_ms
        flops = costs.fuse_flops
    elif isinstance(step, Flow):
        on_device = costs.flow_ms[step.method]
        motion, flops = on_device, costs.flow_flops[step.method]
    elif isinstance(step, Warp):
        on_device, flops = costs.warp_ms[step.stage], costs.warp_flops[step.stage]
        start = None if since is None else since.get(step.stage)
        if start is None or start < plan.frame - 1 and (step.method, start) not in composed:
            if start is not None:
                composed.add((step.method, start))
            on_device, flops = on_device + costs.compose_ms, flops + costs.compose_flops
        motion = on_device
    return on_host, on_device, flops, motion
