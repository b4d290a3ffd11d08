"""``cwdsl eval``: accuracy of schedules on labeled clips, with the simulator's time column.

Each schedule runs with the executor over every clip from a fresh state (frame 0 computes
every stage); every labeled frame is scored. Scores accumulate one confusion matrix over all
scored pixels and one over the 10-pixel band at ground-truth boundaries, giving the paper's
Tables 3-6 columns: mean IU, fwIU, mean IU-bdry, fwIU-bdry. The time column prices the
same plans with the simulator (the executor's own clock values replayed) on a device model
at the clips' size, as % of the frame oracle.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from cwdsl.core.progress import progress_bar
from cwdsl.core.tables import Column, render_table
from cwdsl.core.metrics import (band_confusion, confusion, frequency_weighted_iu,
                                    label_change, mean_iu, pixel_accuracy)
from cwdsl.evaluate.protocol import EvalData
from cwdsl.ir.graph import Program
from cwdsl.ir.plan import Planner
from cwdsl.nets import build_network
from cwdsl.nets.preprocess import frame_tensor
from cwdsl.nets.weights import load_weights
from cwdsl.runtime.executor import Executor
from cwdsl.sim.devices import DeviceModel, load_device, schedule_costs
from cwdsl.sim.simulate import simulate

BAND = 10  # px: the paper's boundary band


@dataclass(frozen=True)
class ScoreRow:
    """One schedule's scores (percentages) over every clip, as ``cwdsl eval`` reports them."""

    schedule: str
    frames: int
    scored_frames: int
    time_pct_of_full: float       # simulated latency over the frame oracle's
    all_stages_pct: float         # frames that computed every stage
    mean_iu: float
    fw_iu: float
    pixel_acc: float
    mean_iu_bdry: float           # within BAND px of ground-truth boundaries
    fw_iu_bdry: float
    label_change_pct: float       # output pixels whose label changed from the previous frame
    first_clip_all_stages: tuple[bool, ...]   # per frame of the first clip
    network: str
    device: str                   # the device model of the time column

    def to_json(self) -> dict:
        return {"schedule": self.schedule, "frames": self.frames,
                "scored_frames": self.scored_frames, "time_pct_of_full": self.time_pct_of_full,
                "all_stages_pct": self.all_stages_pct, "mean_iu": self.mean_iu,
                "fw_iu": self.fw_iu, "pixel_acc": self.pixel_acc,
                "mean_iu_bdry": self.mean_iu_bdry, "fw_iu_bdry": self.fw_iu_bdry,
                "label_change_pct": self.label_change_pct,
                "first_clip_all_stages": list(self.first_clip_all_stages),
                "network": self.network, "device": self.device}


@dataclass
class ScheduleScore:
    """Accumulated over all clips of one schedule."""

    schedule: str
    num_classes: int
    frames: int = 0
    scored: int = 0
    full_frames: int = 0          # frames that computed every stage
    latency_ms: float = 0.0       # simulated, summed over frames
    oracle_ms: float = 0.0        # the frame oracle, simulated, summed over frames
    changes: list[float] = field(default_factory=list)  # output label change per frame
    timeline: list[bool] = field(default_factory=list)  # first clip: every stage computed?
    n: np.ndarray = field(init=False)      # confusion over every scored pixel
    band: np.ndarray = field(init=False)   # confusion within BAND px of true boundaries

    def __post_init__(self):
        shape = (self.num_classes, self.num_classes)
        self.n = np.zeros(shape, np.int64)
        self.band = np.zeros(shape, np.int64)

    def summary(self, network: str, device: str) -> ScoreRow:
        """The row of this schedule run on ``network``, timed on the device model ``device``."""
        return ScoreRow(
            schedule=self.schedule, frames=self.frames, scored_frames=self.scored,
            time_pct_of_full=100 * self.latency_ms / self.oracle_ms,
            all_stages_pct=100 * self.full_frames / self.frames,
            mean_iu=100 * mean_iu(self.n), fw_iu=100 * frequency_weighted_iu(self.n),
            pixel_acc=100 * pixel_accuracy(self.n), mean_iu_bdry=100 * mean_iu(self.band),
            fw_iu_bdry=100 * frequency_weighted_iu(self.band),
            label_change_pct=100 * float(np.mean(self.changes)) if self.changes else 0.0,
            first_clip_all_stages=tuple(self.timeline), network=network, device=device)


def prepare_network(spec, weights: str, device: str = "cpu"):
    """Build network ``spec``, load ``weights`` (unless ``"random"``), move it to ``device``."""
    net = build_network(spec)
    if weights != "random":
        load_weights(net, weights)
    return net.to(device).eval()


def evaluate_schedules(data: EvalData, weights: str, programs: Sequence[Program],
                       device: str = "cpu", sim_device: DeviceModel | str = "titanx",
                       progress: bool = True) -> list[ScoreRow]:
    """Score every program on ``data`` (see the module's docstring); one row each."""
    model = load_device(sim_device) if isinstance(sim_device, str) else sim_device
    nets = {}
    rows = []
    with progress_bar(progress, total=data.frames * len(programs), desc="eval",
                      unit="frame") as bar:
        for program in programs:
            name = program.network.name
            if name not in nets:
                nets[name] = prepare_network(program.network, weights, device)
            bar.set_description(f"eval {program.name}")
            score = _score(program, nets[name], data, device, model, bar)
            rows.append(score.summary(name, model.name))
    return rows


def _score(program: Program, net, data: EvalData, device: str, model: DeviceModel,
           bar) -> ScheduleScore:
    planner = Planner(program)
    score = ScheduleScore(program.name, program.network.num_classes)
    costs = {}
    all_stages = set(program.stages)
    for c, clip in enumerate(data.clips):
        executor = Executor(program, net, device)
        trace, previous = [], None
        try:
            for rgb, truth in zip(clip.frames, clip.labels):
                result = executor.step(frame_tensor(rgb))
                labels = result.labels.to("cpu", torch.uint8).numpy()
                trace.append(result.atom_values)
                score.frames += 1
                full = set(result.computed) >= all_stages
                score.full_frames += full
                if c == 0:
                    score.timeline.append(full)
                if previous is not None:
                    score.changes.append(label_change(previous, labels))
                previous = labels
                if truth is not None:
                    score.scored += 1
                    score.n += confusion(labels, truth, score.num_classes)
                    score.band += band_confusion(labels, truth, score.num_classes, BAND)
                bar.update(1)
        finally:
            executor.close()
        hw = clip.frames[0].shape[:2]
        if hw not in costs:
            costs[hw] = schedule_costs(program, model, hw)
        sim = simulate(planner, costs[hw], len(clip.frames), trace)
        score.latency_ms += sim.mean("latency_ms") * len(clip.frames)
        score.oracle_ms += sim.oracle_ms * len(clip.frames)
    return score


EVAL_COLUMNS = (Column("schedule", 13, align="<"), Column("time % full", 12, ".1f", suffix="%"),
                Column("mean IU", 9, ".1f"), Column("fwIU", 7, ".1f"),
                Column("mean IU-bdry", 14, ".1f"), Column("fwIU-bdry", 11, ".1f"),
                Column("all stages %", 14, ".1f", suffix="%"),
                Column("label change %", 16, ".1f", suffix="%"))


def format_eval_table(rows: Sequence[ScoreRow], header: str) -> str:
    """Like the paper's Tables 3-6."""
    return render_table(
        header, EVAL_COLUMNS,
        [(r.schedule, r.time_pct_of_full, r.mean_iu, r.fw_iu, r.mean_iu_bdry, r.fw_iu_bdry,
          r.all_stages_pct, r.label_change_pct) for r in rows],
        f"IU in %; -bdry: within {BAND} px of ground-truth boundaries; time: simulated "
        f"latency over the frame oracle's; label change: output pixels whose label "
        f"changed from the previous frame")


def plot_timeline(path, rows: Sequence[ScoreRow], data: EvalData, title: str) -> None:
    """Paper Fig. 7: for the first clip, a row of ticks per schedule at the frames where it
    computed every stage, and a row marking the frames with ground truth."""
    from cwdsl.core.figures import pyplot, save_figure

    plt = pyplot()

    labeled = [lab is not None for lab in data.clips[0].labels]
    series = [(f"{r.schedule} ({100 * np.mean(r.first_clip_all_stages):.0f}%)",
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
