"""A device model's times for one program's parts: what the executor's ``fits`` decisions
start from before they have measured anything (:class:`cwdsl.runtime.deadline.StageTimes`)
and what :func:`cwdsl.ir.deadline.cheapest_frame_ms` prices."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cwdsl.cost.network import network_cost
from cwdsl.devices.model import DeviceModel
from cwdsl.ir.graph import Program


@dataclass(frozen=True)
class ProgramTimes:
    """Per stage its time (ms), the fuse's and the frame's fixed overhead, on ``device``
    (``source`` says where the numbers come from: ``roofline:cpu``, ``profile:p.json``)."""

    stage_ms: Mapping[str, float]
    fuse_ms: float
    overhead_ms: float
    device: str
    source: str
    warp_ms: Mapping[str, float]   # per warping stage, its composition included
    flow_ms: Mapping[str, float]   # per flow method the program uses


def program_times(program: Program, model: DeviceModel, input_hw: tuple[int, int],
                  dtype: str) -> ProgramTimes:
    """``program``'s stage, fuse and frame-overhead times on ``model`` for frames of
    ``input_hw`` in ``dtype`` (an ``InputError`` where the model cannot time them)."""
    model.check(program.network, input_hw, dtype)
    cost = network_cost(program.network, input_hw, dtype)
    stages = {s.name: model.stage_ms(cost, s.first, s.last, s.heads)
              for s in program.stage_nodes}
    compose = model.compose_ms(cost) if program.warps else 0.0
    warps = {}
    for warp in program.warps:
        s = program.stage(warp.stage)
        warps[s.name] = model.warp_ms(cost, s.first, s.last, s.heads) + compose
    flows = {f.method: model.flow_ms(cost, f.method) for f in program.flows}
    return ProgramTimes(stages, model.fuse_ms(cost, program.output_heads),
                        model.frame_overhead_ms(cost), model.name, model.source, warps, flows)
