"""The price of one frame's plan on a cost table (:func:`price`, :class:`FrameCost`): its
latency, its work, its FLOPs and the parts its latency splits into; frames in order, and
schedules over many frames, are :mod:`cwdsl.sim.simulate`'s."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cwdsl.ir.plan import Deadline, FramePlan, Flow, Measure, Warp, Wave
from cwdsl.sim.costs import ScheduleCosts, lane_shares, placed, step_cost

MOTION = "flow and warp"
"""The label of optical flows and warps in :attr:`FrameCost.parts`."""
REST = "clocks, fuse, overhead"
"""The label of clock measurements, the fuse, the frame's own work, issuing and syncs."""


@dataclass(frozen=True)
class FrameCost:
    """The price of one frame's plan.

    ``latency_ms``: the frame's time from its start to its result, with the plan's
    concurrency (a pipelined wave: :meth:`ScheduleCosts.wave_ms`; on a GPU host and device
    overlapping between syncs). ``work_ms``: the time the frame keeps its busier processor
    busy, each wave at the same concurrent price (on a GPU the larger of host and device
    time over the frame, syncs excluded; on a CPU everything in turn, which is its
    latency): never above ``latency_ms``, so ``1000 / work_ms`` frames a second, the rate
    of frames processed back to back, is never below ``1000 / latency_ms``. ``parts``:
    ``latency_ms`` split by what the frame waited on (``(label, ms)``: a stage's name,
    :data:`MOTION`, :data:`REST`), each non-negative, summing to ``latency_ms``;
    ``hidden``: the work that ran in their shadow (host work behind device work or the
    reverse, a wave's lanes behind its slowest), by the same labels."""

    latency_ms: float
    work_ms: float
    flops: float
    computed: tuple[str, ...]
    motion_ms: float = 0.0  # optical flows and warps, wherever they ran
    parts: tuple[tuple[str, float], ...] = ()
    hidden: tuple[tuple[str, float], ...] = ()


def _add(parts: dict[str, float], label: str, ms: float) -> None:
    if ms > 0.0:
        parts[label] = parts.get(label, 0.0) + ms


def price(plan: FramePlan, costs: ScheduleCosts,
          since: Mapping[str, int] | None = None) -> FrameCost:
    """Latency, work, FLOPs and the parts of one plan (:class:`FrameCost`). ``since``: the
    frame each stage last computed before this one (what :func:`frame_prices` keeps); a
    :class:`Warp` composes its flow (``costs.compose_ms``) unless its stage computed on the
    frame before or a stage of its method that last computed on the same frame composed it
    already. Without ``since`` every Warp composes (an upper bound).

    A :class:`Wave`'s stages run concurrently: the wave costs the device
    :meth:`ScheduleCosts.wave_ms` (its slowest lane plus what concurrency does not hide of
    the others, never below what the device's peak allows for all of them), in latency and
    in work alike. On a device that overlaps its host (``costs.overlaps_host``, a GPU) the
    frame is cut at each sync (a measurement's read-back, and the frame's result at its
    end); each piece costs the larger of its host time (frame overhead, issuing parts,
    optical flow, which runs on the host) and its device time, plus ``sync_ms``; work is
    the busier of the two over the frame. Otherwise everything runs in turn, as on a CPU,
    and work is the latency."""
    overlapped = costs.overlaps_host
    host = costs.frame_overhead_ms  # of the current piece (overlapped) or of the frame
    device = latency = flops = motion = 0.0
    host_total, device_total = host, 0.0
    parts: dict[str, float] = {}
    hidden: dict[str, float] = {}
    host_parts: dict[str, float] = {}
    device_parts: dict[str, float] = {}
    _add(host_parts, REST, host)
    composed: set[tuple[str, int]] = set()  # (flow method, start frame) composed this frame
    for step in plan.steps:
        if isinstance(step, Wave):
            on_device = costs.wave_ms(step.stages)  # the wave's stages run concurrently
            on_host = sum(costs.stage_host_ms.get(s, 0.0) for s in step.stages)
            flops += sum(costs.stage_flops[s] for s in step.stages)
            times = [costs.stage_ms[s] for s in step.stages]
            for s, t, share in zip(step.stages, times, lane_shares(times, on_device)):
                _add(device_parts, s, share)
                _add(hidden, s, t - share)
            label = REST
        else:
            on_host, on_device, fl, mo = step_cost(step, plan, costs, since, composed)
            flops, motion = flops + fl, motion + mo
            label = MOTION if isinstance(step, (Flow, Warp)) else REST
        on_host, on_device = placed(step, on_host, on_device, overlapped)
        if not isinstance(step, Wave):
            _add(device_parts, label, on_device)
        _add(host_parts, label, on_host)
        host, device = host + on_host, device + on_device
        host_total, device_total = host_total + on_host, device_total + on_device
        if overlapped and isinstance(step, (Measure, Deadline)):  # a read-back or a clock
            # read waits for the queue
            latency += _close_piece(host, device, costs.sync_ms, host_parts, device_parts,
                                    parts, hidden)
            host = device = 0.0
    if overlapped:
        latency += _close_piece(host, device, costs.sync_ms, host_parts, device_parts, parts,
                                hidden)
        work = max(host_total, device_total)
    else:
        latency = work = host + device
        for d in (host_parts, device_parts):
            for label, ms in d.items():
                _add(parts, label, ms)
    return FrameCost(latency, work, flops, plan.computed, motion, tuple(parts.items()),
                     tuple(hidden.items()))


def _close_piece(host: float, device: float, sync: float, host_parts: dict[str, float],
                 device_parts: dict[str, float], parts: dict[str, float],
                 hidden: dict[str, float]) -> float:
    """A piece of a frame on a device beside its host: its time (the busier side plus the
    sync), the busier side's parts moved into ``parts``, the other's into ``hidden``."""
    shown, shadowed = (device_parts, host_parts) if device >= host else (host_parts,
                                                                         device_parts)
    for label, ms in shown.items():
        _add(parts, label, ms)
    for label, ms in shadowed.items():
        _add(hidden, label, ms)
    _add(parts, REST, sync)
    host_parts.clear()
    device_parts.clear()
    return max(host, device) + sync
