"""Train a network on generated labeled scenes or a labeled folder (CPU) and evaluate it.

The demo network ``tiny`` bundled with cwdsl was trained with ``cwdsl train`` (defaults
below); ``fcn8s_camvid`` with ``cwdsl train --net fcn8s_camvid --data DIR/train --val
DIR/val --void 11 --hold-out 0006R0`` on CamVid. Each report (held-out mean IU of the full
and truncated outputs, what it was trained on, how the checkpoint was chosen) sits beside
the weights as JSON.

With ``hold_out`` a whole sequence (drive) of the training folder is kept out of training;
the network is scored on it every ``eval_every`` steps and the best of those checkpoints
(by the full output's mean IU) is the result. ``val`` is scored once, at the end, on that
checkpoint: it never chooses anything. FCN's bilinear upsamplers stay fixed (as FCN's
authors and wkentaro/pytorch-fcn keep them): no gradient, not in the optimiser.
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

from cwdsl.core.atomic import write_json
from cwdsl.train.augment import Augment
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
    hold_out: str | None = None   # with data: a sequence of it kept out, to choose the checkpoint
    eval_every: int = 250         # with hold_out: steps between its checks
    augment: Augment = Augment()  # with data: flips, scale + crop, colour jitter
    minutes: float | None = None  # train for this wall time instead of ``steps`` (the
    #                               schedule follows the clock; not bit-reproducible)


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
    steps: int = 0                   # optimiser steps taken (with minutes: as many as fit)
    trained_on: dict | None = None   # with data: folder, sequence → frames, frames
    held_out: dict | None = None     # with hold_out: sequence, frames, mean IU, pixel accuracy
    selection: dict | None = None    # with hold_out: how the checkpoint was chosen
    command_seconds: float | None = None  # the whole of train(): data, training, scoring


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

    return folder_clip(open_labeled_folder(path, void), Path(path).name, num_classes)


def folder_clip(folder, name: str, num_classes: int):
    """A :class:`~cwdsl.evaluate.datasets.LabeledFolder` (every image labeled) as one clip."""
    from cwdsl.evaluate.protocol import LabeledClip

    pairs = list(folder.pairs(num_classes))
    return LabeledClip(name, tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))


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


def freeze_upsamplers(net: StagedNetwork) -> list[str]:
    """Stop gradients to the transposed convs (FCN's bilinear upsamplers stay bilinear);
    returns the frozen modules' names."""
    frozen = []
    for name, module in net.named_modules():
        if isinstance(module, torch.nn.ConvTranspose2d):
            module.requires_grad_(False)
            frozen.append(name)
    return frozen


ONE_CYCLE_WARMUP = 0.1
"""Fraction of training spent warming up to the peak learning rate."""


def one_cycle(done: float, peak: float) -> tuple[float, float]:
    """Learning rate and Adam's beta1 at fraction ``done`` of training: PyTorch's
    ``OneCycleLR`` with its defaults as a function of progress (cosine from peak/25 up to
    the peak over the first :data:`ONE_CYCLE_WARMUP`, then down to peak/25/1e4; beta1 0.95
    down to 0.85 and back), so a run can follow the clock instead of a step count."""
    def cos(a: float, b: float, t: float) -> float:
        return b + (a - b) / 2 * (1 + math.cos(math.pi * t))

    low = peak / 25
    if done < ONE_CYCLE_WARMUP:
        t = done / ONE_CYCLE_WARMUP
        return cos(low, peak, t), cos(0.95, 0.85, t)
    t = min((done - ONE_CYCLE_WARMUP) / (1 - ONE_CYCLE_WARMUP), 1.0)
    return cos(peak, low / 1e4, t), cos(0.85, 0.95, t)


def set_one_cycle(optimizer: torch.optim.Optimizer, done: float, peak: float) -> None:
    lr, beta1 = one_cycle(done, peak)
    for group in optimizer.param_groups:
        group["lr"] = lr
        group["betas"] = (beta1, group["betas"][1])


def scores(net: StagedNetwork, clips, progress: bool, desc: str):
    """Mean IU and pixel accuracy of every truncated output over ``clips``, with a bar."""
    miu, acc = {}, {}
    frames = sum(len(clip.frames) for clip in clips) * len(TRUNCATIONS)
    with progress_bar(progress, total=frames, desc=desc, unit="frame") as bar:
        for name, heads in TRUNCATIONS.items():
            bar.set_postfix_str(f"output {name}")
            n = evaluate(net, clips, heads, bar.update)
            miu[name], acc[name] = mean_iu(n), pixel_accuracy(n)
    return miu, acc


def train(config: TrainConfig, progress: bool = True) -> tuple[StagedNetwork, TrainReport]:
    """Train ``config.net`` from scratch on generated scenes; return it and its report.
    With ``config.minutes`` the budget covers the whole command: reading the data, training,
    the held-out checks and the final scoring (measured on one frame first and reserved)."""
    command_start = time.perf_counter()
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    net = build_network(config.net)
    init_for_training(net)
    freeze_upsamplers(net)
    classes = net.spec.num_classes
    weight = trained_on = None
    held_clips = []
    if config.data is None:
        if config.hold_out is not None:
            raise InputError("--hold-out needs --data: a labeled folder with sequences")
        if classes != NUM_CLASSES:
            raise InputError(f"network {config.net} has {classes} classes; the demo scenes "
                             f"have {NUM_CLASSES} (give --data for a labeled folder)")
        scenes = iter_batches(config.seed, config.batch, config.size)
        batches = ((b.frames, b.labels) for b in scenes)
        clips = validation_clips(config)
    else:
        from cwdsl.train.augment import augmented_crops
        from cwdsl.evaluate.datasets import open_labeled_folder

        if config.val is None:
            raise InputError("--data needs --val: a held-out labeled folder to report on")
        folder = open_labeled_folder(config.data, config.void)
        if config.hold_out is not None:
            folder, held = folder.hold_out(config.hold_out)
            held_clips = [folder_clip(held, config.hold_out, classes)]
        trained_on = {"folder": config.data, "sequences": folder.sequences(),
                      "frames": len(folder)}
        pairs = list(folder.pairs(classes))  # read once: crops and class weights share them
        batches = augmented_crops(pairs, config.batch, config.size, config.seed, config.augment)
        clips = [_folder_clip(config.val, config.void, classes)]
        if config.balance:
            weight = _class_weights([label for _, label in pairs], classes)
    trainable = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=1e-4)
    losses, history, best = [], [], None   # best: (mean IU, step, state dict)
    budget = check_cost = None
    if config.minutes is not None:
        frame_s = _scoring_seconds_per_frame(net, clips[0])
        check_cost = frame_s * sum(len(c.frames) for c in held_clips)
        reserve = 1.15 * frame_s * len(TRUNCATIONS) * sum(len(c.frames)
                                                         for c in clips + held_clips)
        budget = 60 * config.minutes - (time.perf_counter() - command_start) - reserve \
            - 1.15 * check_cost
        if budget <= 0:
            need = (60 * config.minutes - budget) / 60
            raise InputError(f"--minutes {config.minutes:g} leaves no time to train: reading "
                             f"the data and scoring the held-out frames alone take about "
                             f"{need:.1f} minutes on this machine; give more")
    start = time.perf_counter()
    net.train()
    total, unit = (config.steps, "step") if budget is None else (round(budget), "s")
    with progress_bar(progress, total=total, desc="train", unit=unit) as bar:
        step = shown = 0   # shown: what the bar has counted (steps, or whole seconds)
        while True:
            elapsed = time.perf_counter() - start
            done = step / config.steps if budget is None else elapsed / budget
            if done >= 1 or (budget is not None and step and
                             elapsed + _next_cost(elapsed / step, step, config, check_cost,
                                                  bool(held_clips)) > budget):
                break
            set_one_cycle(optimizer, done, config.lr)
            frames, labels = next(batches)
            x = normalize(torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
                          .float().div_(255), net.spec.norm)
            y = torch.from_numpy(labels).long()
            loss = F.cross_entropy(net(x), y, weight=weight, ignore_index=IGNORE)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            step += 1
            now = time.perf_counter() - start
            last = (step == config.steps if budget is None
                    else now + _next_cost(now / step, step, config, check_cost,
                                          bool(held_clips)) > budget)
            if held_clips and (step % config.eval_every == 0 or last):
                miu = mean_iu(evaluate(net, held_clips))
                net.train()
                history.append([step, miu])
                if best is None or miu > best[0]:
                    best = (miu, step, copy.deepcopy(net.state_dict()))
            shown, before = (step, shown) if budget is None else (
                min(round(time.perf_counter() - start), total), shown)
            bar.update(shown - before)
            postfix = {"loss": f"{np.mean(losses[-LOSS_WINDOW:]):.3f}"}
            if budget is not None:
                postfix["step"] = step
            if best is not None:
                postfix["held_out"] = f"{100 * history[-1][1]:.1f} (best {100 * best[0]:.1f})"
            bar.set_postfix(**postfix)
    seconds = time.perf_counter() - start
    held_out = selection = None
    if best is not None:
        net.load_state_dict(best[2])
        selection = {"by": f"mean IU of the full output on held-out frames {config.hold_out}",
                     "every": config.eval_every, "best_step": best[1], "history": history}
        h_miu, h_acc = scores(net, held_clips, progress, config.hold_out)
        held_out = {"sequence": config.hold_out, "frames": len(held_clips[0].frames),
                    "mean_iu": h_miu, "pixel_accuracy": h_acc}
    miu, acc = scores(net, clips, progress, "held-out" if held_out is None else "val")
    recorded = asdict(config) | ({"steps": None} if budget is not None else {})  # unused
    report = TrainReport(recorded, seconds, float(np.mean(losses[-LOSS_WINDOW:])), miu,
                         acc, losses, len(losses), trained_on, held_out, selection,
                         command_seconds=time.perf_counter() - command_start)
    return net, report


def _scoring_seconds_per_frame(net: StagedNetwork, clip) -> float:
    """Seconds the full network takes to score one frame of ``clip`` (the fastest of three
    timed passes after one that warms up: a busy machine's spikes are not the rule), for
    the share of a budget scoring needs."""
    one = SimpleNamespace(frames=clip.frames[:1], labels=clip.labels[:1])
    evaluate(net, [one])
    times = []
    for _ in range(3):
        start = time.perf_counter()
        evaluate(net, [one])
        times.append(time.perf_counter() - start)
    net.train()
    return min(times)


def _next_cost(step_s: float, step: int, config, check_cost, held: bool) -> float:
    """Seconds the next step costs: the mean step, and a held-out check when one is due."""
    due = held and (step + 1) % config.eval_every == 0
    return step_s + (check_cost if due else 0.0)


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
