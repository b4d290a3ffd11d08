"""What ``cwdsl simulate`` computes and says: schedules priced on one device model, their
data-driven clocks driven by a firing rate or a replayed trace, and optionally how many
camera streams each serves.

Each stream ``i`` of a capacity run draws its own clock values
(:meth:`~cwdsl.ir.trace.ClockSource.trace`; stream 0 is what the table prices).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from cwdsl.ir.graph import Program
from cwdsl.ir.plan import Planner
from cwdsl.ir.trace import AtomTrace, ClockSource
from cwdsl.sim.batching import run_batched_capacity, sustainable_batched_streams
from cwdsl.sim.capacity import run_capacity, sustainable_streams
from cwdsl.sim.devices import DeviceModel, schedule_costs
from cwdsl.sim.roofline import Roofline
from cwdsl.sim.simulate import Simulation, SimulationRow, format_table, simulate

@dataclass(frozen=True)
class SimulationReport:
    """One :class:`Simulation` and its :class:`SimulationRow` per schedule, in order."""

    options: SimulateOptions
    sims: tuple[Simulation, ...]
    rows: tuple[SimulationRow, ...]
    data_driven: bool   # some schedule has data-driven clocks

    def to_json(self) -> list[dict]:
        return [row.to_json() for row in self.rows]


@dataclass(frozen=True)
class SimulateOptions:
    """How to price schedules (``cwdsl simulate``'s options, already checked).

    ``streams``: a capacity run with that many streams at ``fps`` for ``seconds``,
    ``"auto"`` for the most streams the device sustains, None for none. ``timeline``:
    frames whose prices each :class:`Simulation` keeps in order (for plots). ``batched``:
    the capacity run batches stages across streams (:mod:`cwdsl.sim.batching`)."""

    device: DeviceModel
    size: tuple[int, int] | None = None
    """Input (height, width) in pixels; None: each schedule's own."""
    dtype: str = "float32"
    frames: int = 10_000
    clocks: ClockSource = ClockSource()
    """Where data-driven clock values come from."""
    streams: int | str | None = None
    fps: float = 30.0
    seconds: float = 10.0
    timeline: int = 0
    batched: bool = False


def atom_source(planner: Planner, options: SimulateOptions
                ) -> Callable[[int, int], AtomTrace | None]:
    """``trace_for(stream, frames)``: the clock values of a stream's first ``frames`` frames
    (None for a schedule of fixed clocks)."""
    def trace_for(stream: int, frames: int) -> AtomTrace | None:
        return options.clocks.trace(planner.atom_ids, frames, stream, cycle=True)

    return trace_for


def simulate_schedules(programs: Sequence[Program], options: SimulateOptions
                       ) -> SimulationReport:
    """Price every program on ``options.device`` (see the module's docstring)."""
    sims, rows, data_driven = [], [], False
    for program in programs:
        planner = Planner(program)
        data_driven = data_driven or bool(planner.atom_ids)
        costs = schedule_costs(program, options.device, options.size, options.dtype)
        trace_for = atom_source(planner, options)
        sim = simulate(planner, costs, options.frames, trace_for(0, options.frames),
                       timeline=options.timeline)
        row = sim.summary()
        auto, run = (sustainable_batched_streams, run_batched_capacity) if options.batched \
            else (sustainable_streams, run_capacity)
        if options.streams == "auto":
            n, capacity = auto(planner, costs, options.fps, options.seconds, trace_for)
            row = replace(row, sustainable_streams=n, capacity=capacity)
        elif options.streams is not None:
            row = replace(row, capacity=run(planner, costs, options.streams, options.fps,
                                            options.seconds, trace_for))
        sims.append(sim)
        rows.append(row)
    return SimulationReport(options, tuple(sims), tuple(rows), data_driven)


def clock_note(report: SimulationReport) -> str:
    """How data-driven clocks were driven ("" when no schedule has any)."""
    return report.options.clocks.describe(cycle=True) if report.data_driven else ""


def flow_note(report: SimulationReport) -> str:
    """Where optical flow's price comes from ("" when no schedule warps)."""
    if not any(sim.costs.flow_ms for sim in report.sims):
        return ""
    device = report.options.device
    if isinstance(device, Roofline):
        return (f"optical flow: OpenCV's DIS runs on the host, priced on the "
                f"{device.host.name} roofline from an estimate of its work")
    return "optical flow: OpenCV's DIS on the host, as the profile timed it"


def batch_note(report: SimulationReport) -> str:
    """Where a batched capacity run's batch costs come from ("" when not batched)."""
    if not report.options.batched:
        return ""
    sizes = sorted({k for sim in report.sims for pts in sim.costs.stage_batch.values()
                    for k, _ in pts})
    if not sizes:
        return ("batched: no batch timings (a roofline, or a profile made without --batch): "
                "a batch of k streams costs k frames' stage time, no batching gain")
    return (f"batched: stages priced from the profile's batch timings at sizes 1, "
            f"{', '.join(map(str, sizes))} (interpolated between, extrapolated above)")


def capacity_line(row: SimulationRow, fps: float) -> str | None:
    """The capacity run's result in a sentence (None when there was none)."""
    cap = row.capacity
    if cap is None:
        return None if row.sustainable_streams is None else \
            f"{row.schedule}: sustains no stream at {fps:g} fps"
    head = (f"sustains {row.sustainable_streams} streams" if row.sustainable_streams is not None
            else f"{cap.streams} streams") + (" batched" if cap.batched else "")
    return (f"{row.schedule}: {head} at {cap.fps:g} fps: utilization "
            f"{100 * cap.utilization:.0f}%, latency p50 {cap.latency_ms_p50:.1f} ms "
            f"p99 {cap.latency_ms_p99:.1f} ms, dropped {cap.dropped}/{cap.arrived}, "
            f"late {cap.late}")


def format_report(report: SimulationReport) -> str:
    """The table, how the clocks were driven, and a sentence per capacity run."""
    c, o = report.sims[0].costs, report.options
    source = o.device.label if isinstance(o.device, Roofline) else c.source
    header = (f"device {c.device} ({source}), {c.network} {c.input_hw[0]}x{c.input_hw[1]} "
              f"{c.dtype}; {o.frames} frames; frame oracle {report.sims[0].oracle_ms:.2f} ms")
    lines = [format_table(report.sims, header)]
    for note in (clock_note(report), flow_note(report), batch_note(report)):
        if note:
            lines.append(note)
    lines += [line for line in (capacity_line(row, o.fps) for row in report.rows) if line]
    return "\n".join(lines)
