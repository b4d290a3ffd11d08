"""``cwdsl eval``: accuracy of schedules on labeled clips, with the simulator's time column.

Each schedule runs with the executor over every clip from a fresh state (frame 0 computes
every stage); every labeled frame is scored (the shift protocols label frames 2-5 only, see
:mod:`cwdsl.evaluate.protocol`). Scores accumulate one confusion matrix over all scored
pixels and one over the boundary band of the ground truth (:func:`~cwdsl.core.metrics.
boundary_band`: the authors' disk(5) band, about 10 px wide, around the foreground, or
around every class for a network without a background class), giving the paper's Tables
3-6 columns: mean IU, fwIU, mean IU-bdry, fwIU-bdry.

Frame 0 of a clip is a warm-up (empty caches: every stage computes), so the "all stages"
column counts the frames after it, as the authors do, and so does the time column (a
steady-state latency, the one a pipeline or a clock schedule is about). The time column
prices the same plans with the simulator (the executor's own clock values replayed) on a
device model at the size the network runs at, as % of the frame oracle's latency.

``size`` runs the network on frames resized (bilinear) to (height, width); its fused scores
are resized back (bilinear) to the frame's size before the argmax, so labels are scored at
the ground truth's own size.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from cwdsl.core.progress import progress_bar
from cwdsl.core.tables import Column, render_table
from cwdsl.core.metrics import (BAND_RADIUS, band_confusion, confusion, frequency_weighted_iu,
                                has_background, label_change, mean_iu, pixel_accuracy)
from cwdsl.core.units import HW
from cwdsl.evaluate.codecdata import check_motion_data
from cwdsl.evaluate.protocol import EvalData
from cwdsl.ir.graph import Program
from cwdsl.ir.plan import Planner
from cwdsl.nets import build_network
from cwdsl.nets.preprocess import frame_tensor
from cwdsl.nets.weights import load_weights
from cwdsl.runtime.distributed import World, all_sum, gather, raise_if_any_failed, shard
from cwdsl.runtime.executor import Executor
from cwdsl.devices.model import DeviceModel
from cwdsl.fitting.load import load_device
from cwdsl.sim.costs import schedule_costs
from cwdsl.run.deadlines import stage_times
from cwdsl.sim.simulate import simulate



@dataclass(frozen=True)
class ScoreRow:
    """One schedule's scores (percentages) over every clip, as ``cwdsl eval`` reports them."""

    schedule: str
    frames: int
    scored_frames: int
    time_pct_of_full: float       # simulated latency over the frame oracle's (frames t >= 1)
    all_stages_pct: float         # frames t >= 1 of each clip that computed every stage
    mean_iu: float
    fw_iu: float
    pixel_acc: float
    mean_iu_bdry: float           # in the boundary band (core.metrics.boundary_band)
    fw_iu_bdry: float
    label_change_pct: float       # output pixels whose label changed from the previous frame
    first_clip_all_stages: tuple[bool, ...]   # per frame of the first clip, frame 0 included
    network: str
    device: str                   # the device model of the time column
    deadline_ms: float | None = None   # the frame deadline, if any
    on_time_pct: float | None = None   # frames t >= 1 the executor finished within it

    def to_json(self) -> dict:
        return {"schedule": self.schedule, "frames": self.frames,
                "scored_frames": self.scored_frames, "time_pct_of_full": self.time_pct_of_full,
                "all_stages_pct": self.all_stages_pct, "mean_iu": self.mean_iu,
                "fw_iu": self.fw_iu, "pixel_acc": self.pixel_acc,
                "mean_iu_bdry": self.mean_iu_bdry, "fw_iu_bdry": self.fw_iu_bdry,
                "label_change_pct": self.label_change_pct,
                "first_clip_all_stages": list(self.first_clip_all_stages),
                "network": self.network, "device": self.device,
                **({"deadline_ms": self.deadline_ms, "on_time_pct": self.on_time_pct}
                   if self.deadline_ms is not None else {})}


@dataclass(frozen=True)
class ClipScore:
    """One program's counts and simulated time sums on one clip (what a process hands back;
    its confusion matrices are summed apart)."""

    frames: int
    scored: int
    counted: int
    full_frames: int
    warmup_full: int
    latency_ms: float
    oracle_ms: float
    warmup_latency_ms: float
    warmup_oracle_ms: float
    changes: tuple[float, ...]
    full: tuple[bool, ...]        # per frame, frame 0 included: every stage computed?
    on_time: int = 0              # frames t >= 1 whose executor latency met the deadline


@dataclass
class ScheduleScore:
    """Accumulated over all clips of one schedule."""

    schedule: str
    num_classes: int
    frames: int = 0
    scored: int = 0
    counted: int = 0              # frames after each clip's warm-up frame 0
    full_frames: int = 0          # of those, frames that computed every stage
    latency_ms: float = 0.0       # simulated, summed over the counted frames
    oracle_ms: float = 0.0        # the frame oracle, simulated, summed over the same frames
    warmup_full: int = 0          # frames 0 that computed every stage
    warmup_latency_ms: float = 0.0  # the same two sums over the frames 0
    warmup_oracle_ms: float = 0.0
    on_time: int = 0              # counted frames within the frame deadline (executor)
    changes: list[float] = field(default_factory=list)  # output label change per frame
    timeline: list[bool] = field(default_factory=list)  # first clip: every stage computed?
    n: np.ndarray = field(init=False)      # confusion over every scored pixel
    band: np.ndarray = field(init=False)   # confusion within the true boundary band

    def __post_init__(self):
        shape = (self.num_classes, self.num_classes)
        self.n = np.zeros(shape, np.int64)
        self.band = np.zeros(shape, np.int64)

    def add(self, clip: ClipScore, first: bool = False) -> None:
        """Accumulate one clip's :class:`ClipScore` (in clip order: the float sums then
        match one process's; ``first``: the first clip, whose frames make the timeline)."""
        self.frames += clip.frames
        self.scored += clip.scored
        self.counted += clip.counted
        self.full_frames += clip.full_frames
        self.warmup_full += clip.warmup_full
        self.latency_ms += clip.latency_ms
        self.oracle_ms += clip.oracle_ms
        self.warmup_latency_ms += clip.warmup_latency_ms
        self.warmup_oracle_ms += clip.warmup_oracle_ms
        self.on_time += clip.on_time
        self.changes.extend(clip.changes)
        if first:
            self.timeline.extend(clip.full)

    def summary(self, network: str, device: str, deadline_ms: float | None = None
                ) -> ScoreRow:
        """The row of this schedule run on ``network``, timed on the device model ``device``.
        Time and all-stages count the frames after the warm-up frames 0; when every clip has
        one frame only (nothing after its warm-up), they count the frames 0 instead."""
        if self.counted:
            time = self.latency_ms / self.oracle_ms
            all_stages = self.full_frames / self.counted
        else:
            time = self.warmup_latency_ms / self.warmup_oracle_ms
            all_stages = self.warmup_full / self.frames
        return ScoreRow(
            schedule=self.schedule, frames=self.frames, scored_frames=self.scored,
            time_pct_of_full=100 * time, all_stages_pct=100 * all_stages,
            mean_iu=100 * mean_iu(self.n), fw_iu=100 * frequency_weighted_iu(self.n),
            pixel_acc=100 * pixel_accuracy(self.n), mean_iu_bdry=100 * mean_iu(self.band),
            fw_iu_bdry=100 * frequency_weighted_iu(self.band),
            label_change_pct=100 * float(np.mean(self.changes)) if self.changes else 0.0,
            first_clip_all_stages=tuple(self.timeline), network=network, device=device,
            deadline_ms=deadline_ms, on_time_pct=None if deadline_ms is None
            else 100 * self.on_time / max(1, self.counted))


def prepare_network(spec, weights: str, device: str = "cpu"):
    """Build network ``spec``, load ``weights`` (unless ``"random"``), move it to ``device``."""
    net = build_network(spec)
    if weights != "random":
        load_weights(net, weights)
    return net.to(device).eval()


def network_frame(rgb: np.ndarray, size: HW | None = None) -> torch.Tensor:
    """(H, W, 3) uint8 → the (1, 3, h, w) [0, 1] frame the network runs on: bilinear to
    ``size`` = (h, w) (antialiased when it shrinks, like PIL's), else the frame's own size."""
    x = frame_tensor(rgb)
    if size is None or tuple(size) == x.shape[-2:]:
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False,
                         antialias=True).clamp_(0, 1)


def labels_at(scores: torch.Tensor, hw: HW) -> np.ndarray:
    """(1, classes, h, w) scores → (H, W) uint8 argmax labels at ``hw`` = (H, W): the
    scores are resized (bilinear) first when their size differs."""
    if tuple(scores.shape[-2:]) != tuple(hw):
        scores = F.interpolate(scores.float(), size=tuple(hw), mode="bilinear",
                               align_corners=False)
    return scores[0].argmax(0).to("cpu", torch.uint8).numpy()


def evaluate_schedules(data: EvalData, weights: str, programs: Sequence[Program],
                       device: str = "cpu", sim_device: DeviceModel | str = "titanx",
                       progress: bool = True, size: HW | None = None,
                       executor_options: dict | None = None,
                       world: World | None = None,
                       cost_model: str | None = None) -> list[ScoreRow]:
    """Score every program on ``data`` (see the module's docstring); one row each. ``size``:
    the (height, width) the network runs at (None: each frame's own); ``executor_options``:
    the :class:`Executor`'s ``memory_format``, ``compile``, ``cuda_graphs``; ``cost_model``:
    what ``fits`` decisions predict from until they have measured (None: the device's own,
    :func:`cwdsl.run.deadlines.stage_times`).

    ``world`` (:func:`cwdsl.runtime.distributed.world`; None: this process alone): the
    (program, clip) pairs are dealt round robin over its processes, each from a fresh
    executor, so a pair's result does not depend on the process that runs it; confusion
    matrices are summed exactly and the per-clip sums and per-frame statistics gathered and
    accumulated in clip order, so every process returns the rows one process would."""
    w = world or World()
    if not programs:
        return []
    check_motion_data(programs, data)
    model = load_device(sim_device) if isinstance(sim_device, str) else sim_device
    units = [(p, c) for p in range(len(programs)) for c in range(len(data.clips))]
    mine = shard(units, w)
    matrices = [np.zeros((2, p.network.num_classes, p.network.num_classes), np.int64)
                for p in programs]
    nets, costs, share, error = {}, {}, [], None
    try:
        with progress_bar(progress, total=sum(len(data.clips[c].frames) for _, (_, c) in mine),
                          desc="eval", unit="frame") as bar:
            for index, (p, c) in mine:
                program = programs[p]
                name = program.network.name
                if name not in nets:
                    nets[name] = prepare_network(program.network, weights, device)
                bar.set_description(f"eval {program.name}")
                clip, n, band = _score_clip(program, nets[name], data.clips[c], device, model,
                                            bar, size, executor_options or {},
                                            costs.setdefault(p, {}), cost_model)
                matrices[p][0] += n
                matrices[p][1] += band
                share.append((index, clip))
    except Exception as e:  # told to every process before the next collective: none waits
        error = e
    raise_if_any_failed(error, w, "(see its message); this one stops too")
    flat = all_sum(np.concatenate([m.ravel() for m in matrices]), w)
    clips = gather(share, w)
    rows, at = [], 0
    for p, program in enumerate(programs):
        score = ScheduleScore(program.name, program.network.num_classes)
        size_p = matrices[p].size
        score.n, score.band = flat[at:at + size_p].reshape(matrices[p].shape)
        at += size_p
        for c, clip in enumerate(clips[p * len(data.clips):(p + 1) * len(data.clips)]):
            score.add(clip, first=c == 0)
        rows.append(score.summary(program.network.name, model.name, program.deadline_ms))
    return rows


def _score_clip(program: Program, net, clip, device: str, model: DeviceModel, bar,
                size: HW | None, executor_options: dict, costs: dict,
                cost_model: str | None = None):
    """The :class:`ClipScore` of ``program`` on ``clip`` from a fresh executor, and its two
    confusion matrices (every scored pixel, the boundary band). ``costs``: the program's
    stage costs by frame size, filled as needed."""
    classes = program.network.num_classes
    background = has_background(program.network.class_names)
    all_stages = set(program.stages)
    n = np.zeros((classes, classes), np.int64)
    band = np.zeros((classes, classes), np.int64)
    hw = tuple(size) if size is not None else clip.frames[0].shape[:2]
    times = stage_times(program, torch.device(device), cost_model, hw,
                        executor_options.get("dtype", "float32"))
    executor = Executor(program, net, device, **executor_options, times=times)
    trace, full, changes, previous, scored, on_time = [], [], [], None, 0, 0
    deadline = program.deadline_ms
    try:
        for t, (rgb, truth) in enumerate(zip(clip.frames, clip.labels)):
            result = executor.step(network_frame(rgb, size),
                                   motion=clip.motion[t] if clip.motion is not None else None)
            on_time += t > 0 and deadline is not None and result.response_ms <= deadline
            labels = labels_at(result.scores, rgb.shape[:2])
            trace.append(result.atom_values)
            full.append(set(result.computed) >= all_stages)
            if previous is not None:
                changes.append(label_change(previous, labels))
            previous = labels
            if truth is not None:
                scored += 1
                n += confusion(labels, truth, classes)
                band += band_confusion(labels, truth, classes, BAND_RADIUS, background)
            bar.update(1)
    finally:
        executor.close()
    frames = len(clip.frames)
    if hw not in costs:
        costs[hw] = schedule_costs(program, model, hw)
    sim = simulate(Planner(program), costs[hw], frames, trace, timeline=frames)
    return ClipScore(
        frames=frames, scored=scored, counted=frames - 1, full_frames=sum(full[1:]),
        warmup_full=int(full[0]), latency_ms=sum(p.latency_ms for p in sim.timeline[1:]),
        oracle_ms=sim.oracle_ms * (frames - 1), warmup_latency_ms=sim.timeline[0].latency_ms,
        warmup_oracle_ms=sim.oracle_ms, changes=tuple(changes), full=tuple(full),
        on_time=on_time), n, band


EVAL_COLUMNS = (Column("schedule", 13, align="<"), Column("time % full", 12, ".1f", suffix="%"),
                Column("mean IU", 9, ".1f"), Column("fwIU", 7, ".1f"),
                Column("mean IU-bdry", 14, ".1f"), Column("fwIU-bdry", 11, ".1f"),
                Column("all stages %", 14, ".1f", suffix="%"),
                Column("label change %", 16, ".1f", suffix="%"))


def format_eval_table(rows: Sequence[ScoreRow | str], header: str) -> str:
    """Like the paper's Tables 3-6; a ``str`` among ``rows`` is a heading line (a group's
    name, its other cells empty). With a frame deadline, an "on time" column: the frames
    after each clip's frame 0 whose executor latency met it."""
    timed = any(not isinstance(r, str) and r.deadline_ms is not None for r in rows)
    columns = EVAL_COLUMNS + ((ON_TIME_COLUMN,) if timed else ())
    on_time = (lambda r: (r.on_time_pct if r.on_time_pct is not None else "-",)) if timed \
        else (lambda r: ())
    deadlines = sorted({r.deadline_ms for r in rows if not isinstance(r, str)
                        and r.deadline_ms is not None})
    return render_table(
        header, columns,
        [(r,) + (None,) * (len(columns) - 1) if isinstance(r, str) else
         (r.schedule, r.time_pct_of_full, r.mean_iu, r.fw_iu, r.mean_iu_bdry, r.fw_iu_bdry,
          r.all_stages_pct, r.label_change_pct) + on_time(r) for r in rows],
        f"IU in %; -bdry: in the ground truth's boundary band (pixels within {BAND_RADIUS} px "
        f"of a foreground edge, or of any class edge without a background class); time and "
        f"all stages: over the frames after each clip's warm-up frame 0 (time: simulated "
        f"latency over the frame oracle's); label change: output pixels whose label changed "
        f"from the previous frame" + (
            f"; on time: those frames whose measured latency met the deadline "
            f"({', '.join(f'{d:g}' for d in deadlines)} ms)" if timed else ""))


ON_TIME_COLUMN = Column("on time %", 11, lambda v: v if isinstance(v, str) else f"{v:.1f}%")


def plot_timeline(path, rows: Sequence[ScoreRow], data: EvalData, title: str) -> None:
    """Paper Fig. 7: for the first clip, a row of ticks per schedule at the frames where it
    computed every stage, and a row marking the frames with ground truth."""
    from cwdsl.core.figures import pyplot, save_figure

    plt = pyplot()

    labeled = [lab is not None for lab in data.clips[0].labels]
    series = [(f"{r.schedule} ({100 * np.mean(r.first_clip_all_stages[1:] or (False,)):.0f}% "
               f"after frame 0)",
               r.first_clip_all_stages) for r in rows] + [("ground truth", labeled)]
    fig, ax = plt.subplots(figsize=(10, 0.5 + 0.45 * len(series)))
    for i, (_, flags) in enumerate(series):
        frames = np.flatnonzero(flags)
        ax.vlines(frames, i - 0.35, i + 0.35, color="k" if i < len(rows) else "tab:red", lw=1)
    ax.set_yticks(range(len(series)), [name for name, _ in series], fontsize=8)
    ax.set_ylim(len(series) - 0.5, -0.5)
    ax.set_xlim(-1, len(labeled))
    ax.set_xlabel("frame")
    ax.set_title(title, fontsize=9, loc="left")
    fig.tight_layout()
    save_figure(fig, path)
