"""What a run's ``fits`` decisions start from: a device model's times for the program
(``--cost-model``, else the machine's named model), checked against the deadlines the
schedule asks for before any frame runs."""
from __future__ import annotations

import torch

from cwdsl.core.errors import InputError
from cwdsl.core.units import HW
from cwdsl.devices.named import NAMED
from cwdsl.devices.program_times import ProgramTimes, program_times
from cwdsl.fitting.load import load_device
from cwdsl.ir.deadline import cheapest_frame_ms, check_reachable
from cwdsl.ir.graph import Program
from cwdsl.ir.plan import Planner
from cwdsl.runtime.deadline import StageTimes


def default_cost_model(device: torch.device) -> str:
    """The named device model of the device a run uses: ``cpu`` on a CPU, the named GPU
    whose name its CUDA device reports (an H100, H200, A100, Titan X); an ``InputError``
    naming ``--cost-model`` for any other."""
    if device.type == "cpu":
        return "cpu"
    if device.type == "cuda":
        reported = torch.cuda.get_device_name(device).lower().replace(" ", "")
        for name in NAMED:
            if name != "cpu" and name in reported:
                return name
        raise InputError(f"a schedule with 'fits' predicts stage times from a device model, "
                         f"and none is named for {torch.cuda.get_device_name(device)}: give "
                         f"--cost-model PROFILE.json (cwdsl profile writes one) or a "
                         f"device spec file")
    raise InputError(f"a schedule with 'fits' predicts stage times from a device model, and "
                     f"none is known for device {device}: give --cost-model")


def stage_times(program: Program, device: torch.device, cost_model: str | None, size: HW,
                dtype: str) -> StageTimes | None:
    """The executor's predictions for ``program``'s ``fits`` atoms (None when it has
    none): the cost model's times for frames of ``size`` in ``dtype``, after checking
    that no deadline is below the cheapest frame."""
    if not program.deadlines:
        return None
    model = load_device(cost_model or default_cost_model(device))
    times = program_times(program, model, size, dtype)
    check_times(program, times)
    return StageTimes(times.stage_ms, times.fuse_ms, times.source,
                      warp_ms=times.warp_ms, flow_ms=times.flow_ms)


def check_times(program: Program, times: ProgramTimes) -> None:
    """An error for a deadline below the cheapest frame under ``times``."""
    cheapest = cheapest_frame_ms(Planner(program), times.stage_ms.__getitem__, times.fuse_ms,
                                 times.overhead_ms)
    check_reachable(program, cheapest, f"{times.device} ({times.source})")
