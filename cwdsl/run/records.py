"""What a ``cwdsl run`` produces: per-frame records, score totals, the summary, ``run.json``
and the table the command prints."""
from __future__ import annotations

import platform
from dataclasses import dataclass

import numpy as np
import torch

from cwdsl.core.errors import InputError
from cwdsl.core.inputs import content_digest
from cwdsl.core.metrics import confusion, mean_iu, pixel_accuracy
from cwdsl.core.tables import Column, render_table
from cwdsl.ir.graph import Program
from cwdsl.lang.printer import print_schedule
from cwdsl.runtime.device import TORCH_DTYPES, memory_format
from cwdsl.runtime.executor import FrameResult

LATENCY_NOTE = "latency statistics exclude frame 0 (warm-up, computed in full)"
FRAME0_ONLY = "frame 0 only"


def format_fps(fps: float) -> str:
    """A throughput with three significant digits: ``0.53 fps``, ``28.4 fps``, ``123 fps``."""
    return f"{fps:.3g} fps"


class Throughput:
    """The one throughput figure: frames per second of the schedule's steps (1000 / mean
    latency), frame 0 excluded; shown while running and in the summary."""

    def __init__(self):
        self.frames = 0
        self.total_ms = 0.0

    def add(self, result: FrameResult) -> None:
        if result.frame > 0:
            self.frames += 1
            self.total_ms += result.latency_ms

    def label(self) -> str:
        return "warm-up" if not self.frames else format_fps(1e3 * self.frames / self.total_ms)


@dataclass(frozen=True)
class RunSummary:
    """A run's totals: latency (frame 0 excluded), how often each stage computed, and,
    where ground truth or the frame oracle was compared, the scores (fractions in [0, 1]).
    ``stage_ms_mean`` is ``None`` for a stage that computed on frame 0 only."""

    frames: int
    latency_ms_mean: float
    latency_ms_p50: float
    latency_ms_p99: float
    fps: float
    computed_fraction: dict[str, float]
    all_stages_fraction: float
    stage_ms_mean: dict[str, float | None]
    note: str = LATENCY_NOTE
    mean_iu: float | None = None               # against ground truth
    pixel_accuracy: float | None = None
    oracle_mean_iu: float | None = None        # the frame oracle against ground truth
    oracle_agreement: float | None = None      # pixels labelled as the frame oracle does
    mean_iu_vs_oracle: float | None = None
    # schedules that warp (else None): per warping stage, the fraction of frames it warped
    # and its mean warp ms; per flow method, its mean ms over the frames it ran (frame 0
    # never warps); None where it never ran
    warped_fraction: dict[str, float] | None = None
    warp_ms_mean: dict[str, float | None] | None = None
    flow_ms_mean: dict[str, float | None] | None = None
    # per flow method, the frames whose flow was zero (flow=codec: no usable vectors)
    zero_flow_frames: dict[str, int] | None = None
    # with a frame deadline (else None): its ms, the fraction of frames after frame 0 whose
    # result came within it of their arrival (dropped frames count as late), and the
    # percentiles of those frames' times from arrival to result
    deadline_ms: float | None = None
    on_time_fraction: float | None = None
    response_ms_p50: float | None = None
    response_ms_p99: float | None = None

    def to_json(self) -> dict:
        out = {"frames": self.frames, "latency_ms_mean": self.latency_ms_mean,
               "latency_ms_p50": self.latency_ms_p50, "latency_ms_p99": self.latency_ms_p99,
               "fps": self.fps, "computed_fraction": dict(self.computed_fraction),
               "all_stages_fraction": self.all_stages_fraction,
               "stage_ms_mean": dict(self.stage_ms_mean), "note": self.note}
        for key in ("mean_iu", "pixel_accuracy", "oracle_mean_iu", "oracle_agreement",
                    "mean_iu_vs_oracle", "warped_fraction", "warp_ms_mean", "flow_ms_mean",
                    "zero_flow_frames", "deadline_ms", "on_time_fraction", "response_ms_p50", "response_ms_p99"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True)
class RunRecord:
    """What ``run.json`` holds: the schedule, where it ran, every frame, the summary, and the
    notes the run printed (resizing, skipped scoring, a partial video)."""

    started: str
    schedule_path: str
    schedule_name: str
    schedule_text: str
    network: str
    weights: str
    device: str
    device_name: str
    dtype: str
    concurrency: str
    executor: dict             # how stages ran: memory_format (resolved), compile, cuda_graphs
    torch: str
    source: str
    size: tuple[int, int]
    atom_ids: tuple[str, ...]
    frames: tuple[dict, ...]   # per frame: computed and warped stages, atoms, differences, timings
    summary: RunSummary
    notes: tuple[str, ...] = ()
    inputs: dict | None = None  # what decides the result beyond the above (run_inputs)
    # in real time (cwdsl.run.pacing.realtime_record): the source's fps, frames delivered
    # and dropped, how the source ended; None otherwise
    realtime: dict | None = None
    predictions: dict | None = None  # what the fits decisions predicted from, at the end

    def to_json(self) -> dict:
        return {
            "cwdsl_run": 1,
            "started": self.started,
            "schedule": {"path": self.schedule_path, "name": self.schedule_name,
                         "text": self.schedule_text},
            "network": self.network,
            "weights": self.weights,
            "device": self.device,
            "device_name": self.device_name,
            "dtype": self.dtype,
            "concurrency": self.concurrency,
            "executor": dict(self.executor),
            "torch": self.torch,
            "source": self.source,
            "size": list(self.size),
            "atoms": list(self.atom_ids),
            "frames": list(self.frames),
            "summary": self.summary.to_json(),
            "notes": list(self.notes),
            **({"inputs": dict(self.inputs)} if self.inputs is not None else {}),
            **({"realtime": dict(self.realtime)} if self.realtime is not None else {}),
            **({"predictions": dict(self.predictions)} if self.predictions is not None
               else {}),
        }


class Totals:
    """Confusion matrices of a run: against ground truth, the oracle against ground truth,
    and the schedule against the frame oracle."""

    def __init__(self, num_classes: int):
        self.n = num_classes
        self.truth = np.zeros((num_classes, num_classes), np.int64)
        self.oracle_truth = np.zeros_like(self.truth)
        self.vs_oracle = np.zeros_like(self.truth)
        self.has_truth = self.has_oracle = False

    def add(self, labels, truth, oracle) -> None:
        if truth is not None:
            self.has_truth = True
            self.truth += confusion(labels, truth, self.n)
            if oracle is not None:
                self.oracle_truth += confusion(oracle, truth, self.n)
        if oracle is not None:
            self.has_oracle = True
            self.vs_oracle += confusion(labels, oracle, self.n)

    def scores(self) -> dict[str, float]:
        """The :class:`RunSummary` score fields that this run can fill."""
        out = {}
        if self.has_truth:
            out["mean_iu"] = mean_iu(self.truth)
            out["pixel_accuracy"] = pixel_accuracy(self.truth)
            if self.has_oracle:
                out["oracle_mean_iu"] = mean_iu(self.oracle_truth)
        if self.has_oracle:
            out["oracle_agreement"] = pixel_accuracy(self.vs_oracle)
            out["mean_iu_vs_oracle"] = mean_iu(self.vs_oracle)
        return out


def frame_record(result: FrameResult, deadline_ms: float | None = None) -> dict:
    """One frame of ``run.json``; ``flow_ms`` (per method) and ``warp_ms`` (per stage) only
    on frames that warped, so records of schedules that never warp keep their shape. With
    a frame deadline (``deadline_ms``): the frame's time from arrival to result
    (``response_ms``: ``waited_ms``, then ``latency_ms``) and whether it was on time; with
    ``fits`` atoms, each decision (elapsed and predicted ms, the deadline, whether it fit)."""
    record = {"frame": result.frame, "computed": list(result.computed),
              "warped": list(result.warped), "atoms": result.atom_values,
              "differences": {k: round(v, 6) for k, v in result.differences.items()},
              "stage_ms": {k: round(float(v), 4) for k, v in result.stage_ms.items()},
              "latency_ms": round(result.latency_ms, 4)}
    if result.warped:
        record["flow_ms"] = {k: round(float(v), 4) for k, v in result.flow_ms.items()}
        record["warp_ms"] = {k: round(float(v), 4) for k, v in result.warp_ms.items()}
    if result.flow_problems:  # a zero flow: why (flow=codec on a frame without vectors)
        record["flow_problems"] = dict(result.flow_problems)
    if result.decisions:
        record["decisions"] = {d.atom: d.to_json() for d in result.decisions}
    if deadline_ms is not None:
        record["waited_ms"] = round(result.waited_ms, 4)
        record["response_ms"] = round(result.response_ms, 4)
        record["on_time"] = result.response_ms <= deadline_ms
    return record


def _mean_ms(frames: list[dict], field: str, key: str) -> float | None:
    times = [f[field][key] for f in frames if key in f.get(field, {})]
    return float(np.mean(times)) if times else None


def warp_summary(program: Program, frames: list[dict]) -> dict:
    """The :class:`RunSummary` fields of a schedule that warps (none for one that does not)."""
    if not program.warps:
        return {}
    stages = [w.stage for w in program.warps]
    return {"warped_fraction": {s: sum(s in f.get("warped", ()) for f in frames) / len(frames)
                                for s in stages},
            "warp_ms_mean": {s: _mean_ms(frames, "warp_ms", s) for s in stages},
            "flow_ms_mean": {f.method: _mean_ms(frames, "flow_ms", f.method)
                             for f in program.flows},
            "zero_flow_frames": {f.method: sum(f.method in r.get("flow_problems", {})
                                               for r in frames) for f in program.flows}}


def summarize(program: Program, frames: list[dict], totals: Totals,
              dropped: int = 0) -> RunSummary:
    latency = np.array([f["latency_ms"] for f in frames[1:] or frames])
    computed = {s: sum(s in f["computed"] for f in frames) / len(frames) for s in program.stages}
    stage_ms = {}
    for stage in program.stages:
        times = [f["stage_ms"][stage] for f in frames[1:] if stage in f["stage_ms"]]
        stage_ms[stage] = float(np.mean(times)) if times else None
    full = sum(len(f["computed"]) == len(program.stages) for f in frames) / len(frames)
    return RunSummary(
        frames=len(frames), latency_ms_mean=float(latency.mean()),
        latency_ms_p50=float(np.percentile(latency, 50)),
        latency_ms_p99=float(np.percentile(latency, 99)), fps=float(1e3 / latency.mean()),
        computed_fraction=computed, all_stages_fraction=full, stage_ms_mean=stage_ms,
        **totals.scores(), **warp_summary(program, frames),
        **deadline_summary(program, frames, dropped))


def deadline_summary(program: Program, frames: list[dict], dropped: int = 0) -> dict:
    """The :class:`RunSummary` fields of a run with a frame deadline (none without):
    frame 0 (computed in full, as latency statistics) excluded, ``dropped`` frames late."""
    deadline = program.deadline_ms
    timed = frames[1:] or frames
    if deadline is None or "response_ms" not in timed[0]:
        return {}
    response = np.array([f["response_ms"] for f in timed])
    on_time = sum(f["on_time"] for f in timed)
    return {"deadline_ms": deadline, "on_time_fraction": on_time / (len(timed) + dropped),
            "response_ms_p50": float(np.percentile(response, 50)),
            "response_ms_p99": float(np.percentile(response, 99))}


def executor_options(options) -> dict:
    """How a run's executor ran its stages (``options``: ``RunOptions``), for ``run.json``:
    the memory format ``auto`` resolved to, and whether stages were compiled or graphed."""
    fmt = memory_format(options.memory_format, torch.device(options.device),
                        TORCH_DTYPES[options.dtype])
    return {"memory_format": "channels_last" if fmt == torch.channels_last else "contiguous",
            "compile": options.compile, "cuda_graphs": options.cuda_graphs}


def run_inputs(options, weights: str, source) -> dict:
    """What decides a run's result beyond its schedule text, network, dtype, size and
    device (``options``: ``RunOptions``): the weights by content (``random`` for random
    ones), the frames' file or folder (absolute; ``None``: the demo), and the options that
    choose frames. A corpus resumes a stream only where these match (see
    :mod:`cwdsl.run.resume`)."""
    return {"weights_sha256": "random" if weights == "random" else content_digest(weights),
            "source_path": source.path, "max_frames": options.max_frames,
            "keep_partial": options.keep_partial}


def make_record(options, program: Program, weights: str, source, frames: list[dict],
                totals: Totals, started: str, notes: tuple[str, ...],
                realtime: dict | None = None, predictions: dict | None = None) -> RunRecord:
    """The record of a finished run (``options``: the run's ``RunOptions``; ``realtime``:
    its real-time delivery, :func:`cwdsl.run.pacing.realtime_record`, whose dropped frames
    count as late; ``predictions``: what its ``fits`` decisions predicted from at the end,
    :meth:`cwdsl.runtime.deadline.StageTimes.to_json`)."""
    if not frames:
        raise InputError(f"{source.description}: no frames to run on")
    return RunRecord(
        started=started, schedule_path=options.schedule, schedule_name=program.name,
        schedule_text=print_schedule(program.schedule), network=program.network.name,
        weights=weights, device=str(options.device),
        device_name=torch.cuda.get_device_name() if options.device.startswith("cuda")
        else platform.processor() or platform.machine(),
        dtype=options.dtype, concurrency=options.concurrency,
        executor=executor_options(options), torch=torch.__version__,
        source=source.description, size=tuple(source.size), atom_ids=tuple(program.atom_ids),
        frames=tuple(frames), summary=summarize(
            program, frames, totals, (realtime or {}).get("frames_dropped", 0)),
        notes=notes, inputs=run_inputs(options, weights, source), realtime=realtime,
        predictions=predictions)


def _ms(value) -> str:
    return f" {value}" if isinstance(value, str) else f"{value:.2f}"


STAGE_COLUMNS = (Column("stage", 8, align="<"), Column("computed", 10, ".1f", suffix="%"),
                 Column("mean ms", 10, _ms))


def summary_table(record: RunRecord) -> str:
    """The short table ``cwdsl run`` prints."""
    s = record.summary
    lines = [f"throughput: {format_fps(s.fps)} (1000 / mean latency per frame, frame 0 "
             f"excluded)",
             f"latency per frame: mean {s.latency_ms_mean:.2f} ms, p50 "
             f"{s.latency_ms_p50:.2f}, p99 {s.latency_ms_p99:.2f}",
             f"all stages computed on {100 * s.all_stages_fraction:.1f}% of "
             f"{s.frames} frames"]
    if s.mean_iu is not None:
        oracle = "" if s.oracle_mean_iu is None else \
            f" (frame oracle: {100 * s.oracle_mean_iu:.1f})"
        lines.append(f"mean IU vs ground truth: {100 * s.mean_iu:.1f}{oracle}")
    if s.oracle_agreement is not None:
        lines.append(f"agreement with the frame oracle: {100 * s.oracle_agreement:.1f}% of "
                     f"pixels, mean IU {100 * s.mean_iu_vs_oracle:.1f}")
    for stage, frac in (s.warped_fraction or {}).items():
        ms = s.warp_ms_mean[stage]
        lines.append(f"{stage} warped on {100 * frac:.1f}% of frames"
                     + ("" if ms is None else f", {ms:.2f} ms mean"))
    for method, ms in (s.flow_ms_mean or {}).items():
        if ms is not None:
            zero = (s.zero_flow_frames or {}).get(method)
            lines.append(f"{'motion vectors' if method == 'codec' else 'optical flow'} "
                         f"{method}: {ms:.2f} ms mean on the frames it ran"
                         + (f"; {zero} frames had no usable vectors (zero flow: the state "
                            f"held)" if zero else ""))
    if s.on_time_fraction is not None:
        lines.append(f"on time (result within {s.deadline_ms:g} ms of arrival): "
                     f"{100 * s.on_time_fraction:.1f}% of frames after frame 0; from arrival "
                     f"to result p50 {s.response_ms_p50:.2f} ms, p99 {s.response_ms_p99:.2f}")
    rows = [(stage, 100 * frac, FRAME0_ONLY if s.stage_ms_mean[stage] is None
             else s.stage_ms_mean[stage]) for stage, frac in s.computed_fraction.items()]
    return render_table(f"{record.schedule_name} on {record.source} at {record.size[0]}x"
                        f"{record.size[1]}: network {record.network}, {record.device} "
                        f"{record.dtype}", STAGE_COLUMNS, rows, "\n".join(lines), rule=False)
