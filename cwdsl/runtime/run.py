"""``cwdsl run``: a schedule over real frames, with records, masks, overlays and scores."""
from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from cwdsl.core.atomic import write_json
from cwdsl.core.errors import InputError
from cwdsl.runtime.executor import Executor, FrameResult
from cwdsl.ir.graph import Program, load
from cwdsl.evaluate.metrics import confusion, mean_iu, pixel_accuracy
from cwdsl.nets import build_network
from cwdsl.runtime.palette import overlay
from cwdsl.nets.preprocess import frame_tensor, normalize
from cwdsl.lang.printer import print_schedule
from cwdsl.core.staging import staged_dir
from cwdsl.runtime.video import open_frames, save_label_png, video_info, write_video
from cwdsl.nets.weights import load_weights

DEMO_NETWORK = "tiny"
DEMO_SEED = 2016
DEMO_FRAMES = 120
DEMO_SIZE = (128, 128)
DEMO_FPS = 15.0
SAVE_CHOICES = ("masks", "overlay")


BUNDLED_WEIGHTS = {"tiny": "tiny-demo.pt", "fcn8s_camvid": "fcn8s_camvid.pt"}


def bundled_weights(network: str = DEMO_NETWORK) -> Path | None:
    """The weights shipped with the package for ``network`` (None if there are none)."""
    name = BUNDLED_WEIGHTS.get(network)
    if name is None:
        return None
    path = Path(str(resources.files("cwdsl").joinpath("data", name)))
    return path if path.is_file() else None


def resolve_weights(network: str, weights: str | None) -> str:
    """``weights`` as given, else ``network``'s bundled weights; a clear error if none."""
    if weights is not None:
        return weights
    bundled = bundled_weights(network)
    if bundled is None:
        have = ", ".join(n for n in BUNDLED_WEIGHTS if bundled_weights(n))
        raise InputError(f"network {network} needs --weights PATH (a state dict "
                         f"in the layout of the PyTorch conversion of the Caffe model) or "
                         f"--weights random for timing runs; networks with bundled weights: "
                         f"{have} (e.g. --net {DEMO_NETWORK})")
    return str(bundled)


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
    from cwdsl.demo.scenes import generate_clip
    n = min(DEMO_FRAMES, max_frames or DEMO_FRAMES)
    clip = generate_clip(DEMO_SEED, n, DEMO_SIZE)
    return FrameSource(f"demo clip (seed {DEMO_SEED}, {n} frames, "
                       f"{DEMO_SIZE[0]}x{DEMO_SIZE[1]})", iter(clip.frames), iter(clip.labels),
                       DEMO_FPS, n)


def file_source(video: str | None, frames_dir: str | None, max_frames: int | None) -> FrameSource:
    path = video or frames_dir
    info = video_info(path)  # fails early, with the path and the reason
    count = info.frames if info.frames else None
    if count is not None and max_frames:
        count = min(count, max_frames)
    return FrameSource(str(path), open_frames(video, frames_dir, max_frames=max_frames), None,
                       float(info.fps or DEMO_FPS), count)


def _device(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"unknown device '{name}'; use cpu or cuda[:N]") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: CUDA is not available on this machine")
    if device.type not in ("cpu", "cuda"):
        raise InputError(f"unsupported device '{name}'; use cpu or cuda[:N]")
    return device


def prepare(options: RunOptions) -> tuple[Program, torch.nn.Module, FrameSource, str]:
    """Everything that can fail on bad input, before anything is written."""
    demo = options.video is None and options.frames_dir is None
    if options.video and options.frames_dir:
        raise InputError("give --video or --frames, not both")
    network = options.net or (DEMO_NETWORK if demo else None)
    program = load(options.schedule, network)
    weights = resolve_weights(program.network.name, options.weights)
    device = _device(options.device)
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


def run(options: RunOptions) -> dict:
    """Run a schedule; write the record and files into ``options.out``; return the record."""
    program, net, source, weights = prepare(options)
    executor = Executor(program, net, options.device, options.dtype, options.concurrency)
    compare_oracle = source.labels is not None if options.oracle is None else options.oracle
    frames_out: list[dict] = []
    totals = _Totals(program.network.num_classes)
    bar = _progress(source, options.progress, program)

    def frames() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        labels_iter = source.labels
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
            if bar is not None:
                bar.update(1)
                deepest = program.stages[-1]
                full = sum(deepest in f["computed"] for f in frames_out) / len(frames_out)
                bar.set_postfix_str(f"{1e3 / max(result.latency_ms, 1e-6):.0f} fps, "
                                    f"{program.stages[-1]} on {100 * full:.0f}%")
            yield rgb, labels

    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    try:
        if options.out:
            with staged_dir(options.out) as tmp:
                masks_dir = tmp / "masks" if "masks" in options.save else None
                if masks_dir is not None:
                    masks_dir.mkdir()
                if "overlay" in options.save:
                    write_video(tmp / "overlay.mp4", (overlay(rgb, lab) for rgb, lab in frames()),
                                fps=source.fps)
                else:
                    _drain(frames())
                record = _record(options, program, weights, source, frames_out, totals, started)
                write_json(tmp / "run.json", record)
        else:
            masks_dir = None
            _drain(frames())
            record = _record(options, program, weights, source, frames_out, totals, started)
    finally:
        executor.close()
        if bar is not None:
            bar.close()
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

    def summary(self) -> dict:
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
    return {"frame": result.frame, "computed": list(result.computed), "atoms": result.atoms,
            "differences": {k: round(v, 6) for k, v in result.differences.items()},
            "stage_ms": {k: round(float(v), 4) for k, v in result.stage_ms.items()},
            "latency_ms": round(result.latency_ms, 4)}


def _record(options, program: Program, weights, source: FrameSource, frames, totals,
            started) -> dict:
    if not frames:
        raise InputError(f"{source.description}: no frames to run on")
    latency = np.array([f["latency_ms"] for f in frames[1:] or frames])
    computed = {s: sum(s in f["computed"] for f in frames) / len(frames) for s in program.stages}
    stage_ms = {s: float(np.mean([f["stage_ms"][s] for f in frames[1:] if s in f["stage_ms"]]
                                 or [np.nan])) for s in program.stages}
    full = sum(len(f["computed"]) == len(program.stages) for f in frames) / len(frames)
    return {
        "cwdsl_run": 1,
        "started": started,
        "schedule": {"path": options.schedule, "name": program.name,
                     "text": print_schedule(program.schedule)},
        "network": program.network.name,
        "weights": weights,
        "device": str(options.device),
        "device_name": torch.cuda.get_device_name() if options.device.startswith("cuda")
        else platform.processor() or platform.machine(),
        "dtype": options.dtype,
        "concurrency": options.concurrency,
        "torch": torch.__version__,
        "source": source.description,
        "atoms": list(program.atoms),
        "frames": frames,
        "summary": {
            "frames": len(frames),
            "latency_ms_mean": float(latency.mean()),
            "latency_ms_p50": float(np.percentile(latency, 50)),
            "latency_ms_p99": float(np.percentile(latency, 99)),
            "fps": float(1e3 / latency.mean()),
            "computed_fraction": computed,
            "all_stages_fraction": full,
            "stage_ms_mean": stage_ms,
            "note": "latency statistics exclude frame 0 (warm-up, computed in full)",
            **totals.summary(),
        },
    }


def _progress(source: FrameSource, enabled: bool, program: Program):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=source.count, desc=program.name, unit="frame", dynamic_ncols=True)


def summary_table(record: dict) -> str:
    """The short table ``cwdsl run`` prints."""
    s = record["summary"]
    lines = [f"{record['schedule']['name']} on {record['source']}: network {record['network']}, "
             f"{record['device']} {record['dtype']}", "",
             f"{'stage':<8}{'computed':>10}{'mean ms':>10}"]
    for stage, frac in s["computed_fraction"].items():
        lines.append(f"{stage:<8}{100 * frac:>9.1f}%{s['stage_ms_mean'][stage]:>10.2f}")
    lines += ["", f"latency per frame: mean {s['latency_ms_mean']:.2f} ms, p50 "
              f"{s['latency_ms_p50']:.2f}, p99 {s['latency_ms_p99']:.2f} ({s['fps']:.0f} fps)",
              f"all stages computed on {100 * s['all_stages_fraction']:.1f}% of "
              f"{s['frames']} frames"]
    if "mean_iu" in s:
        oracle = f" (frame oracle: {100 * s['oracle_mean_iu']:.1f})" if "oracle_mean_iu" in s else ""
        lines.append(f"mean IU vs ground truth: {100 * s['mean_iu']:.1f}{oracle}")
    if "oracle_agreement" in s:
        lines.append(f"agreement with the frame oracle: {100 * s['oracle_agreement']:.1f}% of "
                     f"pixels, mean IU {100 * s['mean_iu_vs_oracle']:.1f}")
    return "\n".join(lines)
