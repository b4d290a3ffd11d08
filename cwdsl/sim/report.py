"""What ``cwdsl simulate`` computes and says: schedules priced on one device model, their
data-driven clocks driven by a firing rate or a replayed trace, and optionally how many
camera streams each serves.

Each stream ``i`` of a capacity run draws its own clock values
(:meth:`~cwdsl.ir.trace.ClockSource.values`; stream 0 is what the table prices), streamed.
Every size is checked before any work (:func:`check_sizes`): what would not be done in
bounded memory and minutes is an ``InputError`` naming the largest value that would.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from cwdsl.core.errors import InputError
from cwdsl.core.tables import Column, render_table
from cwdsl.ir.deadline import cheapest_frame_ms, check_reachable
from cwdsl.ir.graph import Program, under_deadlines
from cwdsl.ir.plan import AtomValues, Planner
from cwdsl.ir.trace import ClockSource
from cwdsl.sim.batching import run_batched_capacity, sustainable_batched_streams
from cwdsl.sim.capacity import (check_capacity, frames_per_stream, run_capacity,
                                sustainable_streams)
from cwdsl.devices.model import DeviceModel
from cwdsl.sim.costs import schedule_costs
from cwdsl.devices.roofline import Roofline
from cwdsl.sim.price import MOTION, REST
from cwdsl.sim.simulate import (MAX_PRICED_FRAMES, Simulation, SimulationRow,
                                priced_frames, simulate)


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
    the capacity run batches stages across streams (:mod:`cwdsl.sim.batching`).
    ``progress``: progress bars on stderr for long work."""

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
    progress: bool = False
    deadlines: tuple[float, ...] | None = None
    """Per stream of a capacity run, its deadline in ms (one: every stream's); None: each
    schedule's own frame deadline, or one frame interval."""


def atom_source(planner: Planner, options: SimulateOptions
                ) -> Callable[[int, int], Iterator[AtomValues] | None]:
    """``trace_for(stream, frames)``: the clock values of a stream's first ``frames`` frames,
    streamed (None for a schedule of fixed clocks)."""
    return options.clocks.streams(planner.atom_ids)


def check_sizes(planner: Planner, options: SimulateOptions) -> None:
    """An ``InputError`` when ``options`` ask more of ``planner``'s schedule than bounded
    memory and minutes allow, naming the largest value that would do."""
    name, frames, period = planner.program.name, options.frames, planner.period
    if priced_frames(planner, frames) > MAX_PRICED_FRAMES:
        if period is None:
            raise InputError(f"--frames {frames:,}: {name}'s data-driven clocks are priced "
                             f"frame by frame, at most {MAX_PRICED_FRAMES:,} frames (minutes "
                             f"of work): at most --frames {MAX_PRICED_FRAMES:,}")
        raise InputError(f"--frames {frames:,}: {name}'s fixed clocks repeat every "
                         f"{period:,} frames, and three periods would be priced frame by "
                         f"frame (at most {MAX_PRICED_FRAMES:,}): at most --frames "
                         f"{min(period, MAX_PRICED_FRAMES):,}")
    if isinstance(options.streams, int):
        check_capacity(options.streams, options.fps, options.seconds)
    elif options.streams == "auto":
        frames_per_stream(options.fps, options.seconds)


def simulate_schedules(programs: Sequence[Program], options: SimulateOptions
                       ) -> SimulationReport:
    """Price every program on ``options.device`` (see the module's docstring)."""
    sims, rows, data_driven = [], [], False
    planners = [Planner(program) for program in programs]
    for planner in planners:
        check_sizes(planner, options)
    for program, planner in zip(programs, planners):
        data_driven = data_driven or bool(planner.atom_ids)
        costs = schedule_costs(program, options.device, options.size, options.dtype)
        trace_for = atom_source(planner, options)
        sim = simulate(planner, costs, options.frames, trace_for(0, options.frames),
                       timeline=options.timeline, progress=options.progress)
        row = sim.summary()
        auto, run = (sustainable_batched_streams, run_batched_capacity) if options.batched \
            else (sustainable_streams, run_capacity)
        check_reachable(program, cheapest_frame_ms(
            planner, costs.stage_ms.__getitem__, costs.fuse_ms, costs.frame_overhead_ms),
            f"{costs.device} ({costs.source})")
        deadlines = options.deadlines or (
            None if program.deadline_ms is None else (program.deadline_ms,))
        extra = {} if deadlines is None else {"deadlines": deadlines}
        if deadlines is not None and len(set(deadlines)) > 1 and program.deadlines:
            extra["planners"] = stream_planners(program, planner, deadlines)
        if options.streams == "auto":
            n, capacity = auto(planner, costs, options.fps, options.seconds, trace_for,
                               progress=options.progress, **extra)
            row = replace(row, sustainable_streams=n, capacity=capacity)
        elif options.streams is not None:
            row = replace(row, capacity=run(planner, costs, options.streams, options.fps,
                                            options.seconds, trace_for, options.progress,
                                            **extra))
        sims.append(sim)
        rows.append(row)
    return SimulationReport(options, tuple(sims), tuple(rows), data_driven)


def stream_planners(program: Program, planner: Planner, deadlines: Sequence[float]
                    ) -> Callable[[int], Planner]:
    """``planners(i)``: stream ``i``'s planner, the schedule under its own deadline (as
    :func:`~cwdsl.sim.capacity.stream_deadlines` deals them); each distinct one checked."""
    programs = under_deadlines(program, deadlines, len(deadlines))
    planners = {id(p): planner if p is program else Planner(p) for p in programs}
    return lambda i: planners[id(programs[i % len(programs)])]


def clock_note(report: SimulationReport) -> str:
    """How data-driven clocks were driven ("" when no schedule has any)."""
    return report.options.clocks.describe(cycle=True) if report.data_driven else ""


def flow_note(report: SimulationReport) -> str:
    """Where optical flow's price comes from ("" when no schedule warps)."""
    methods = {m for sim in report.sims for m in sim.costs.flow_ms}
    if not methods:
        return ""
    device = report.options.device
    notes = []
    if methods - {"codec"}:
        notes.append(f"optical flow: OpenCV's DIS runs on the host, priced on the "
                     f"{device.host.name} roofline from an estimate of its work"
                     if isinstance(device, Roofline) else
                     "optical flow: OpenCV's DIS on the host, as the profile timed it")
    if "codec" in methods:
        notes.append(f"flow=codec: the motion vectors read into cells on the host (an "
                     f"estimate of its work, on the {device.host.name} roofline), the cells "
                     f"uploaded and upsampled on the device" if isinstance(device, Roofline)
                     else "flow=codec: the motion vectors made a flow, as the profile timed it")
    return "\n".join(notes)


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
    on_time = "" if cap.deadlines is None else (
        f", on time {100 * cap.on_time:.1f}% (deadline "
        f"{'/'.join(f'{d:g}' for d in dict.fromkeys(cap.deadlines))} ms)")
    return (f"{row.schedule}: {head} at {cap.fps:g} fps: utilization "
            f"{100 * cap.utilization:.0f}%, latency p50 {cap.latency_ms_p50:.1f} ms "
            f"p99 {cap.latency_ms_p99:.1f} ms, dropped {cap.dropped}/{cap.arrived}, "
            f"late {cap.late}{on_time}")


def deadline_line(row: SimulationRow) -> str | None:
    """A schedule's frames on time in a sentence (None without a frame deadline)."""
    if row.deadline_ms is None:
        return None
    fired = ", ".join(f"{s} {pct:.1f}%" for s, pct in row.computed_pct.items())
    return (f"{row.schedule}: on time (within {row.deadline_ms:g} ms, frames back to back) "
            f"on {row.on_time_pct:.1f}% of the frames after frame 0; latency p99 "
            f"{row.latency_ms_p99:.2f} ms; stages computed on: {fired}")


def format_report(report: SimulationReport) -> str:
    """The table (one per device, network, size and dtype the schedules were priced on,
    each under its own header), how the clocks were driven, and a sentence per capacity
    run."""
    o = report.options
    groups: dict[tuple, list[Simulation]] = {}
    for sim in report.sims:
        c = sim.costs
        groups.setdefault((c.device, c.source, c.network, tuple(c.input_hw), c.dtype),
                          []).append(sim)
    tables = []
    for i, sims in enumerate(groups.values()):
        c = sims[0].costs
        source = o.device.label if isinstance(o.device, Roofline) else c.source
        header = (f"device {c.device} ({source}), {c.network} {c.input_hw[0]}x"
                  f"{c.input_hw[1]} {c.dtype}; {o.frames} frames; frame oracle "
                  f"{sims[0].oracle_ms:.2f} ms")
        tables.append(format_table(sims, header, last=i == len(groups) - 1))
    lines = ["\n\n".join(tables)]
    for note in (clock_note(report), flow_note(report), batch_note(report)):
        if note:
            lines.append(note)
    lines += [line for line in (deadline_line(row) for row in report.rows) if line]
    lines += [line for line in (capacity_line(row, o.fps) for row in report.rows) if line]
    return "\n".join(lines)


SIMULATION_COLUMNS = (
    Column("schedule", 13, align="<"), Column("time % full", 12, ".1f", suffix="%"),
    Column("latency ms mean", 16, ".2f"), Column("p50", 9, ".2f"), Column("p99", 9, ".2f"),
    Column("compute % full", 15, ".1f", suffix="%"), Column("GFLOP/frame", 12, ".2f"),
    Column("all stages %", 13, ".1f", suffix="%"), Column("fps", 8, ".1f"))


def format_table(sims: Sequence[Simulation], header: str, last: bool = True) -> str:
    """One row per schedule, like the paper's "Time (% of full)" column, plus absolutes;
    the columns' key under the ``last`` table only."""
    rows = [sim.summary() for sim in sims]
    name = SIMULATION_COLUMNS[0]  # widened for a name that would not fit
    width = max([name.width] + [len(r.schedule) + 1 for r in rows])
    return render_table(
        header, (replace(name, width=width), *SIMULATION_COLUMNS[1:]),
        [(r.schedule, r.time_pct_of_full, r.latency_ms_mean, r.latency_ms_p50, r.latency_ms_p99,
          r.compute_pct_of_full, r.gflops_per_frame, r.all_stages_pct, r.throughput_fps)
         for r in rows],
        "time % full: mean latency over the frame oracle's; compute % full: FLOPs over the "
        "oracle's; fps: throughput when frames are processed back to back (1000 / mean work, "
        "the busier of host and device; at least 1000 / mean latency)" if last else None)


def timeline_bars(sim: Simulation, frames: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """What :func:`plot_timeline` stacks for the first ``frames`` frames of ``sim``: the
    labels (each stage, :data:`~cwdsl.sim.simulate.MOTION`,
    :data:`~cwdsl.sim.simulate.REST`) and two ``(labels, frames)`` arrays of ms: each
    frame's time split by what it waited on (:attr:`FrameCost.parts`: non-negative,
    each column summing to the frame's latency) and the work concurrency hid behind it
    (:attr:`FrameCost.hidden`)."""
    labels = [*sim.stage_names, MOTION, REST]
    timeline = sim.timeline[:frames]
    shown = np.array([[dict(p.parts).get(label, 0.0) for p in timeline] for label in labels])
    hidden = np.array([[dict(p.hidden).get(label, 0.0) for p in timeline] for label in labels])
    return labels, shown.reshape(len(labels), len(timeline)), \
        hidden.reshape(len(labels), len(timeline))


HIDDEN_KEY = "hidden behind it (hatched)"


def plot_timeline(sims: Sequence[Simulation], path, frames: int = 48) -> None:
    """For the first ``frames`` frames of each schedule (the figure says how many): a bar
    per frame stacked by what the frame waited on (its stages, flow and warp, the rest),
    summing to its latency; beside it, hatched, the work that ran hidden behind it (host
    work behind the device's, a pipelined wave's other lanes behind its slowest); a dot at
    its work (``1000 / fps`` is their mean; below the bar's top where a GPU's syncs leave
    its busier processor idle). Nothing is drawn negative (:func:`timeline_bars`)."""
    from cwdsl.core.figures import pyplot, save_figure

    plt = pyplot()  # (imports matplotlib with its backend set)
    from matplotlib.patches import Rectangle

    fig, axes = plt.subplots(len(sims), 1, figsize=(10, 1.6 + 1.5 * len(sims)), squeeze=False,
                             sharex=True)
    colours = plt.get_cmap("tab10")
    any_hidden = False
    for ax, sim in zip(axes[:, 0], sims):
        labels, shown, hidden = timeline_bars(sim, frames)
        timeline = sim.timeline[:frames]
        x = np.arange(len(timeline))
        stages = len(sim.stage_names)
        colour = {label: colours(i) for i, label in enumerate(labels[:stages])}
        colour.update({MOTION: "#8c6d31", REST: "#bbbbbb"})
        bottom = np.zeros(len(timeline))
        top_hidden = np.zeros(len(timeline))
        for i, label in enumerate(labels):
            if label == MOTION and not (shown[i].any() or hidden[i].any()):
                continue  # no flow in this schedule
            ax.bar(x - 0.14, shown[i], bottom=bottom, color=colour[label], label=label,
                   width=0.6)
            bottom += shown[i]
            if hidden[i].any():
                ax.bar(x + 0.31, hidden[i], bottom=top_hidden, color=colour[label], alpha=0.5,
                       hatch="////", edgecolor="#444444", linewidth=0.3, width=0.3,
                       label=f"_hidden {label}")  # (an underscore: no legend entry)
                top_hidden += hidden[i]
        any_hidden = any_hidden or bool(hidden.any())
        ax.plot(x - 0.14, [p.work_ms for p in timeline], "k.", ms=4,
                label="work (the busier processor)")
        ax.set_ylabel("ms")
        ax.set_title(f"{sim.schedule}: each frame's latency by what it waited on (bars), "
                     f"first {len(timeline)} of {sim.frames} simulated frames", fontsize=9,
                     loc="left")
    # One legend for all panels, above them, so it never covers a bar.
    handles = {}
    for ax in axes[:, 0]:
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    if any_hidden:  # one neutral key for the hatched bars of every colour
        handles[HIDDEN_KEY] = Rectangle((0, 0), 1, 1, facecolor="white", hatch="////",
                                        edgecolor="#444444", linewidth=0.3)
    fig.legend(handles.values(), handles.keys(), fontsize=8, ncol=min(len(handles), 4),
               loc="upper center", frameon=False)
    axes[-1, 0].set_xlabel("frame")
    rows = -(-len(handles) // 4)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.22 * (rows + 0.6) / fig.get_figheight()))
    save_figure(fig, path)
