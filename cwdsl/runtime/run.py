"""``cwdsl run``: a schedule over real frames, with records, masks, overlays and scores."""
from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from cwdsl.core.atomic import write_json
from cwdsl.core.errors import InputError
from cwdsl.core.progress import progress_bar
from cwdsl.core.staging import staged_dir
from cwdsl.core.tables import Column, render_table
from cwdsl.demo.clip import DEMO, demo_clip
from cwdsl.core.metrics import confusion, mean_iu, pixel_accuracy
from cwdsl.ir.graph import Program, load
from cwdsl.lang.printer import print_schedule
from cwdsl.nets import build_network
from cwdsl.nets.bundled import resolve_weights
from cwdsl.nets.preprocess import frame_tensor, normalize
from cwdsl.nets.weights import load_weights
from cwdsl.runtime.device import resolve_device
from cwdsl.runtime.executor import Executor, FrameResult
from cwdsl.runtime.palette import overlay
from cwdsl.runtime.video import open_frames, save_label_png, video_info, write_video

SAVE_CHOICES = ("masks", "overlay")
FALLBACK_FPS = 15.0  # for a video that does not say its frame rate
LATENCY_NOTE = "latency statistics exclude frame 0 (warm-up, computed in full)"


@dataclass(frozen=True)
class RunOptions:
    schedule: str
    video: str | None = None
    frames_dir: str | None = None
    net: str | None = None
    weights: str | None = None
    device: str = "cpu"
    dtype: str = "float32"
    out: str | None = None
    max_frames: int | None = None
    save: frozenset[str] = frozenset()
    concurrency: str = "auto"
    oracle: bool | None = None
    progress: bool = True


@dataclass(frozen=True)
class FrameSource:
    """Frames to run on; ``labels`` when ground truth exists (the demo)."""

    description: str
    frames: Iterator[np.ndarray]
    labels: Iterator[np.ndarray] | None
    fps: float
    count: int | None


def demo_source(max_frames: int | None) -> FrameSource:
    clip = demo_clip(max_frames)
    n = len(clip.frames)
    return FrameSource(f"demo clip (seed {DEMO.seed}, {n} frames, "
                       f"{DEMO.size[0]}x{DEMO.size[1]})", iter(clip.frames), iter(clip.labels),
                       DEMO.fps, n)


def file_source(video: str | None, frames_dir: str | None, max_frames: int | None) -> FrameSource:
    path = video or frames_dir
    info = video_info(path)  # fails early, with the path and the reason
    count = info.frames if info.frames else None
    if count is not None and max_frames:
        count = min(count, max_frames)
    return FrameSource(str(path), open_frames(video, frames_dir, max_frames=max_frames), None,
                       float(info.fps or FALLBACK_FPS), count)


def prepare(options: RunOptions) -> tuple[Program, torch.nn.Module, FrameSource, str]:
    """Everything that can fail on bad input, before anything is written."""
    demo = options.video is None and options.frames_dir is None
    if options.video and options.frames_dir:
        raise InputError("give --video or --frames, not both")
    network = options.net or (DEMO.network if demo else None)
    program = load(options.schedule, network)
    weights = resolve_weights(program.network.name, options.weights)
    device = resolve_device(options.device)
    net = build_network(program.network)
    if weights != "random":
        load_weights(net, weights)
    bad = set(options.save) - set(SAVE_CHOICES)
    if bad:
        raise InputError(f"--save: unknown item(s) {', '.join(sorted(bad))}; choose from "
                         f"{', '.join(SAVE_CHOICES)}")
    if options.save and not options.out:
        raise InputError("--save needs --out DIR")
    source = demo_source(options.max_frames) if demo else \
        file_source(options.video, options.frames_dir, options.max_frames)
    return program, net.to(device), source, weights


@dataclass(frozen=True)
class RunSummary:
    """A run's totals: latency (frame 0 excluded), how often each stage computed, and,
    where ground truth or the frame oracle was compared, the scores (fractions in [0, 1])."""

    frames: int
    latency_ms_mean: float
    latency_ms_p50: float
    latency_ms_p99: float
    fps: float
    computed_fraction: dict[str, float]
    all_stages_fraction: float
    stage_ms_mean: dict[str, float]
    note: str = LATENCY_NOTE
    mean_iu: float | None = None               # against ground truth
    pixel_accuracy: float | None = None
    oracle_mean_iu: float | None = None        # the frame oracle against ground truth
    oracle_agreement: float | None = None      # pixels labelled as the frame oracle does
    mean_iu_vs_oracle: float | None = None

    def to_json(self) -> dict:
        out = {"frames": self.frames, "latency_ms_mean": self.latency_ms_mean,
               "latency_ms_p50": self.latency_ms_p50, "latency_ms_p99": self.latency_ms_p99,
               "fps": self.fps, "computed_fraction": dict(self.computed_fraction),
               "all_stages_fraction": self.all_stages_fraction,
               "stage_ms_mean": dict(self.stage_ms_mean), "note": self.note}
        for key in ("mean_iu", "pixel_accuracy", "oracle_mean_iu", "oracle_agreement",
                    "mean_iu_vs_oracle"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True)
class RunRecord:
    """What ``run.json`` holds: the schedule, where it ran, every frame, the summary."""

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
    torch: str
    source: str
    atom_ids: tuple[str, ...]
    frames: tuple[dict, ...]   # per frame: computed stages, atoms, differences, timings
    summary: RunSummary

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
            "torch": self.torch,
            "source": self.source,
            "atoms": list(self.atom_ids),
            "frames": list(self.frames),
            "summary": self.summary.to_json(),
        }


def run(options: RunOptions) -> RunRecord:
    """Run a schedule; write the record and files into ``options.out``; return the record."""
    program, net, source, weights = prepare(options)
    executor = Executor(program, net, options.device, options.dtype, options.concurrency)
    compare_oracle = source.labels is not None if options.oracle is None else options.oracle
    frames_out: list[dict] = []
    totals = _Totals(program.network.num_classes)
    deepest = program.stages[-1]

    def frames(bar) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        labels_iter = source.labels
        deepest_count = 0
        for rgb in source.frames:
            x = frame_tensor(rgb)
            result = executor.step(x)
            labels = result.labels.to("cpu", torch.uint8).numpy()
            truth = next(labels_iter) if labels_iter is not None else None
            oracle = _oracle_labels(net, x, executor) if compare_oracle else None
            totals.add(labels, truth, oracle)
            frames_out.append(_frame_record(result))
            if masks_dir is not None:
                save_label_png(masks_dir / f"{result.frame:06d}.png", labels)
            deepest_count += deepest in result.computed
            bar.update(1)
            if options.progress:
                bar.set_postfix_str(f"{1e3 / max(result.latency_ms, 1e-6):.0f} fps, {deepest} "
                                    f"on {100 * deepest_count / len(frames_out):.0f}%")
            yield rgb, labels

    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    with progress_bar(options.progress, total=source.count, desc=program.name,
                      unit="frame") as bar:
        try:
            if options.out:
                with staged_dir(options.out) as tmp:
                    masks_dir = tmp / "masks" if "masks" in options.save else None
                    if masks_dir is not None:
                        masks_dir.mkdir()
                    if "overlay" in options.save:
                        write_video(tmp / "overlay.mp4",
                                    (overlay(rgb, lab) for rgb, lab in frames(bar)),
                                    fps=source.fps)
                    else:
                        _drain(frames(bar))
                    record = _record(options, program, weights, source, frames_out, totals,
                                     started)
                    write_json(tmp / "run.json", record.to_json())
            else:
                masks_dir = None
                _drain(frames(bar))
                record = _record(options, program, weights, source, frames_out, totals, started)
        finally:
            executor.close()
    return record


def _drain(frames: Iterator) -> None:
    for _ in frames:
        pass


@torch.inference_mode()
def _oracle_labels(net, x, executor: Executor) -> np.ndarray:
    """The full network on this frame (the frame oracle), outside the timed step."""
    inp = normalize(x.to(executor.device), net.spec.norm).to(executor.dtype)
    return net(inp)[0].argmax(0).to("cpu", torch.uint8).numpy()


class _Totals:
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


def _frame_record(result: FrameResult) -> dict:
    return {"frame": result.frame, "computed": list(result.computed), "atoms": result.atom_values,
            "differences": {k: round(v, 6) for k, v in result.differences.items()},
            "stage_ms": {k: round(float(v), 4) for k, v in result.stage_ms.items()},
            "latency_ms": round(result.latency_ms, 4)}


def _record(options, program: Program, weights, source: FrameSource, frames, totals,
            started) -> RunRecord:
    if not frames:
        raise InputError(f"{source.description}: no frames to run on")
    latency = np.array([f["latency_ms"] for f in frames[1:] or frames])
    computed = {s: sum(s in f["computed"] for f in frames) / len(frames) for s in program.stages}
    stage_ms = {s: float(np.mean([f["stage_ms"][s] for f in frames[1:] if s in f["stage_ms"]]
                                 or [np.nan])) for s in program.stages}
    full = sum(len(f["computed"]) == len(program.stages) for f in frames) / len(frames)
    summary = RunSummary(
        frames=len(frames), latency_ms_mean=float(latency.mean()),
        latency_ms_p50=float(np.percentile(latency, 50)),
        latency_ms_p99=float(np.percentile(latency, 99)), fps=float(1e3 / latency.mean()),
        computed_fraction=computed, all_stages_fraction=full, stage_ms_mean=stage_ms,
        **totals.scores())
    return RunRecord(
        started=started, schedule_path=options.schedule, schedule_name=program.name,
        schedule_text=print_schedule(program.schedule), network=program.network.name,
        weights=weights, device=str(options.device),
        device_name=torch.cuda.get_device_name() if options.device.startswith("cuda")
        else platform.processor() or platform.machine(),
        dtype=options.dtype, concurrency=options.concurrency, torch=torch.__version__,
        source=source.description, atom_ids=tuple(program.atom_ids), frames=tuple(frames),
        summary=summary)


STAGE_COLUMNS = (Column("stage", 8, align="<"), Column("computed", 10, ".1f", suffix="%"),
                 Column("mean ms", 10, ".2f"))


def summary_table(record: RunRecord) -> str:
    """The short table ``cwdsl run`` prints."""
    s = record.summary
    lines = [f"latency per frame: mean {s.latency_ms_mean:.2f} ms, p50 "
             f"{s.latency_ms_p50:.2f}, p99 {s.latency_ms_p99:.2f} ({s.fps:.0f} fps)",
             f"all stages computed on {100 * s.all_stages_fraction:.1f}% of "
             f"{s.frames} frames"]
    if s.mean_iu is not None:
        oracle = "" if s.oracle_mean_iu is None else \
            f" (frame oracle: {100 * s.oracle_mean_iu:.1f})"
        lines.append(f"mean IU vs ground truth: {100 * s.mean_iu:.1f}{oracle}")
    if s.oracle_agreement is not None:
        lines.append(f"agreement with the frame oracle: {100 * s.oracle_agreement:.1f}% of "
                     f"pixels, mean IU {100 * s.mean_iu_vs_oracle:.1f}")
    rows = [(stage, 100 * frac, s.stage_ms_mean[stage])
            for stage, frac in s.computed_fraction.items()]
    return render_table(f"{record.schedule_name} on {record.source}: network "
                        f"{record.network}, {record.device} {record.dtype}",
                        STAGE_COLUMNS, rows, "\n".join(lines), rule=False)
