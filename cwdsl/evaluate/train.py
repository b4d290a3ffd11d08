"""Train a network on generated labeled scenes or a labeled folder (CPU) and evaluate it.

The demo network ``tiny`` bundled with cwdsl was trained with ``cwdsl train`` (defaults
below); ``fcn8s_camvid`` with ``cwdsl train --net fcn8s_camvid --data DIR/train --val
DIR/val --void 11`` on CamVid. Each report (held-out mean IU of the full and truncated
outputs) sits beside the weights as JSON.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cwdsl.core.atomic import write_json
from cwdsl.demo.scenes import NUM_CLASSES, generate_clip, iter_batches
from cwdsl.core.errors import InputError
from cwdsl.core.progress import progress_bar
from cwdsl.core.metrics import IGNORE, confusion, mean_iu, pixel_accuracy
from cwdsl.nets import build_network
from cwdsl.nets.staged import StagedNetwork
from cwdsl.nets.preprocess import frame_tensor, normalize
from cwdsl.nets.weights import save_weights


@dataclass(frozen=True)
class TrainConfig:
    net: str = "tiny"
    steps: int = 6000
    batch: int = 8
    size: tuple[int, int] = (128, 128)
    lr: float = 2e-3
    seed: int = 0
    val_clips: int = 8
    val_frames: int = 16
    threads: int | None = None
    data: str | None = None       # a labeled folder (cwdsl.evaluate.datasets); None: generated scenes
    val: str | None = None        # its held-out labeled folder (required with data)
    void: int | None = None       # the folders' label value to ignore
    balance: bool = True          # with data: weight classes by 1/sqrt(frequency)


LOSS_WINDOW = 50
"""The progress bar's loss and the report's ``final_loss``: the mean of the last this many
steps' losses (one figure, so the summary repeats what the bar showed last)."""


@dataclass(frozen=True)
class TrainReport:
    config: dict
    seconds: float
    final_loss: float                      # mean loss of the last LOSS_WINDOW steps
    val_mean_iu: dict[str, float]          # output heads → held-out mean IU
    val_pixel_accuracy: dict[str, float]
    losses: list[float] = field(default_factory=list)


TRUNCATIONS = {  # name → the heads a truncated output fuses
    "full": ("score_pool3", "score_pool4", "score_fr"),
    "s1+s2": ("score_pool3", "score_pool4"),
    "s1": ("score_pool3",),
}


def validation_clips(config: TrainConfig):
    """Held-out clips: seeds far from the training stream's (which derive from config.seed)."""
    return [generate_clip(1_000_000 + i, config.val_frames, config.size)
            for i in range(config.val_clips)]


def _folder_clip(path: str, void: int | None, num_classes: int):
    """A held-out labeled folder (every image labeled) as one clip for :func:`evaluate`."""
    from cwdsl.evaluate.datasets import open_labeled_folder
    from cwdsl.evaluate.protocol import LabeledClip

    pairs = list(open_labeled_folder(path, void).pairs(num_classes))
    return LabeledClip(Path(path).name, tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))


@torch.inference_mode()
def evaluate(net: StagedNetwork, clips, heads=TRUNCATIONS["full"],
             done: Callable[[int], object] | None = None) -> np.ndarray:
    """Confusion matrix of ``net``'s output fusing ``heads`` over every frame of ``clips``;
    ``done(1)`` after each frame (for a progress bar)."""
    net.eval()
    names = net.spec.layer_names
    last = net.spec.deepest_read(heads)
    total = np.zeros((net.spec.num_classes,) * 2, dtype=np.int64)
    for clip in clips:
        for rgb, truth in zip(clip.frames, clip.labels):
            x = normalize(frame_tensor(rgb), net.spec.norm)
            _, scores = net.run_stage(x, names[0], last, heads)
            pred = net.fuse(scores, x.shape[-2:])[0].argmax(0).numpy()
            total += confusion(pred, truth, net.spec.num_classes)
            if done is not None:
                done(1)
    return total


def init_for_training(net: StagedNetwork) -> None:
    """He initialisation for the ReLU trunk, zeros for the score heads (as FCN's authors
    did); PyTorch's default init leaves a 15-layer VGG-style net without normalisation
    predicting only the majority class."""
    for name, module in net.named_modules():
        if isinstance(module, torch.nn.Conv2d):
            if name.startswith("score"):
                torch.nn.init.zeros_(module.weight)
            else:
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)


def train(config: TrainConfig, progress: bool = True) -> tuple[StagedNetwork, TrainReport]:
    """Train ``config.net`` from scratch on generated scenes; return it and its report."""
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    net = build_network(config.net)
    init_for_training(net)
    classes = net.spec.num_classes
    weight = None
    if config.data is None:
        if classes != NUM_CLASSES:
            raise InputError(f"network {config.net} has {classes} classes; the demo scenes "
                             f"have {NUM_CLASSES} (give --data for a labeled folder)")
        scenes = iter_batches(config.seed, config.batch, config.size)
        batches = ((b.frames, b.labels) for b in scenes)
        clips = validation_clips(config)
    else:
        from cwdsl.evaluate.datasets import open_labeled_folder, random_crops

        if config.val is None:
            raise InputError("--data needs --val: a held-out labeled folder to report on")
        folder = open_labeled_folder(config.data, config.void)
        pairs = list(folder.pairs(classes))  # read once: crops and class weights share them
        batches = random_crops(pairs, config.batch, config.size, config.seed)
        clips = [_folder_clip(config.val, config.void, classes)]
        if config.balance:
            weight = _class_weights([label for _, label in pairs], classes)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=config.steps,
                                                   pct_start=0.1)
    losses = []
    start = time.perf_counter()
    net.train()
    with progress_bar(progress, total=config.steps, desc="train", unit="step") as bar:
        for step in range(config.steps):
            frames, labels = next(batches)
            x = normalize(torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
                          .float().div_(255), net.spec.norm)
            y = torch.from_numpy(labels).long()
            loss = F.cross_entropy(net(x), y, weight=weight, ignore_index=IGNORE)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-LOSS_WINDOW:]):.3f}")
    seconds = time.perf_counter() - start
    miu, acc = {}, {}
    frames = sum(len(clip.frames) for clip in clips) * len(TRUNCATIONS)
    with progress_bar(progress, total=frames, desc="held-out", unit="frame") as bar:
        for name, heads in TRUNCATIONS.items():
            bar.set_postfix_str(f"output {name}")
            n = evaluate(net, clips, heads, bar.update)
            miu[name], acc[name] = mean_iu(n), pixel_accuracy(n)
    report = TrainReport(asdict(config), seconds, float(np.mean(losses[-LOSS_WINDOW:])), miu,
                         acc, losses)
    return net, report


def _class_weights(labels, num_classes: int) -> torch.Tensor:
    """1/sqrt(pixel frequency) per class over label maps, mean 1 (rare classes such as
    poles and pedestrians would otherwise barely move the loss)."""
    counts = np.zeros(num_classes, np.int64)
    for label in labels:
        counts += np.bincount(label[label != IGNORE].ravel(), minlength=num_classes)
    freq = np.maximum(counts, 1) / max(counts.sum(), 1)
    w = 1 / np.sqrt(freq)
    return torch.tensor(w / w.mean(), dtype=torch.float32)


def train_to(config: TrainConfig, out: str | Path, progress: bool = True) -> TrainReport:
    """Train and write ``out`` (weights) and ``out`` with suffix ``.json`` (the report)."""
    out = Path(out)
    net, report = train(config, progress)
    save_weights(net, out)
    write_json(out.with_suffix(".json"), asdict(report) | {"losses": report.losses[::10]})
    return report
