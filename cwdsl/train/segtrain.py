"""Train ESPNet on a labeled folder by its authors' recipe (:mod:`cwdsl.train.recipe`),
with a held-out part of the training folder choosing the checkpoint, a progress file and
resumable checkpoints (:mod:`cwdsl.train.checkpoint`).

``val`` is scored once, on the chosen checkpoint: it never chooses anything. A step budget
(``steps``) fixes the learning-rate schedule and the batches, so a run is reproducible
from its seed; ``minutes`` is a cap on the wall time that stops it early (the report says
where and why). Frames are scored at ``eval_size`` (the folder's frames resized as
``cwdsl eval --size`` does: bilinear, labels nearest).
"""
from __future__ import annotations

import copy
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from cwdsl.core.atomic import write_json
from cwdsl.core.metrics import class_iu, confusion, mean_iu, pixel_accuracy
from cwdsl.core.progress import progress_bar
from cwdsl.nets import build_network
from cwdsl.nets.preprocess import frame_tensor, normalize
from cwdsl.nets.weights import save_weights
from cwdsl.run.sources import resize_image
from cwdsl.runtime.machine import machine_info
from cwdsl.train.augment import Augment
from cwdsl.train.checkpoint import (check_resume, checkpoint_path, load_checkpoint,
                                    progress_path, save_checkpoint, write_progress)
from cwdsl.train.recipe import batch_at, enet_class_weights, epochs, poly_lr, recipe_loss

LOSS_WINDOW = 50
"""Steps the progress bar's and the report's loss is averaged over."""


@dataclass(frozen=True)
class RecipeConfig:
    """One training run: what every step depends on (``recipe``) and how it runs."""

    net: str = "espnet"
    data: str = ""
    val: str = ""
    void: int | None = None
    hold_out: str = "every:8"     # a sequence name, or every:N (every Nth frame by name)
    steps: int = 6000
    batch: int = 8
    size: tuple[int, int] = (176, 224)   # training crop (sides a multiple of 8)
    eval_size: tuple[int, int] = (184, 240)
    lr: float = 1e-3
    weight_decay: float = 2e-4
    warmup: int = 100
    power: float = 0.9
    encoder_weight: float = 0.4
    eval_every: int = 200
    augment: Augment = field(default_factory=lambda: Augment(scale=(0.75, 1.25), jitter=0.2))
    seed: int = 0
    minutes: float | None = None  # a wall-time cap (not part of the recipe)
    threads: int | None = None    # torch threads (not part of the recipe)

    def recipe(self) -> dict:
        """What the weights depend on: every field but the wall-time cap and threads."""
        d = asdict(self)
        for k in ("minutes", "threads"):
            d.pop(k)
        d["size"], d["eval_size"] = list(self.size), list(self.eval_size)
        d["augment"] = {"flip": self.augment.flip, "scale": list(self.augment.scale),
                        "jitter": self.augment.jitter}
        return d


def default_eval_size(folder, multiple: int) -> tuple[int, int]:
    """The size of ``folder``'s first frame with sides rounded up to ``multiple``."""
    h, w = folder.image(0).shape[:2]
    return (-(-h // multiple) * multiple, -(-w // multiple) * multiple)


def score(net, pairs, size: tuple[int, int], done=None) -> np.ndarray:
    """Confusion matrix of the whole network over ``pairs`` (image, label) at ``size``."""
    net.eval()
    classes = net.spec.num_classes
    total = np.zeros((classes, classes), np.int64)
    with torch.inference_mode():
        for image, label in pairs:
            x = normalize(frame_tensor(resize_image(image, size)), net.spec.norm)
            pred = net(x.contiguous(memory_format=torch.channels_last))[0].argmax(0).numpy()
            total += confusion(pred, resize_image(label, size, nearest=True), classes)
            if done is not None:
                done(1)
    net.train()
    return total


def class_ious(n: np.ndarray, names) -> dict[str, float | None]:
    """Class name → IU (4 decimals; None for a class absent from truth and prediction)."""
    return {name: (None if not np.isfinite(v) else round(float(v), 4))
            for name, v in zip(names, class_iu(n))}


class _Stop(Exception):
    """SIGTERM (e.g. ``kill`` of a background run): stop after saving the checkpoint."""


def _on_term(signum, frame):
    raise _Stop()


def train_recipe(config: RecipeConfig, out: str | Path, resume: bool = False,
                 progress: bool = True) -> dict:
    """Train, write ``out`` (weights) and ``out`` with suffix ``.json`` (the report);
    return the report. Checkpoints go to ``OUT.ckpt`` at every held-out check (removed
    once the weights are written), progress to ``OUT.progress.json``."""
    from cwdsl.evaluate.datasets import open_labeled_folder

    command_start = time.perf_counter()
    if config.threads:
        torch.set_num_threads(config.threads)
    out = Path(out)
    recipe = config.recipe()
    check_resume(out, resume)
    state = load_checkpoint(out, recipe) if resume else None
    torch.manual_seed(config.seed)
    net = build_network(config.net)
    classes = net.spec.num_classes
    folder = open_labeled_folder(config.data, config.void)
    train_part, held_part = folder.hold_out(config.hold_out)
    pairs = list(train_part.pairs(classes))
    held = list(held_part.pairs(classes))
    val = list(open_labeled_folder(config.val, config.void).pairs(classes))
    weight = enet_class_weights([label for _, label in pairs], classes)
    net = net.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr,
                                 weight_decay=config.weight_decay)
    step, losses, history, best, before = 0, [], [], None, 0.0
    if state is not None:
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, losses, history = state["step"], state["losses"], state["history"]
        best, before = state["best"], state["seconds"]
    resumed_at = step if state is not None else None

    def snapshot(seconds: float) -> dict:
        return {"recipe": recipe, "step": step, "model": net.state_dict(),
                "optimizer": optimizer.state_dict(), "losses": losses, "history": history,
                "best": best, "seconds": seconds}

    def report_progress(state_name: str, seconds: float, **extra) -> None:
        rate = (seconds - before) / max(step - (resumed_at or 0), 1)
        write_progress(out, state=state_name, step=step, steps=config.steps,
                       epoch=round(epochs(step, config.batch, len(pairs)), 2),
                       loss=round(float(np.mean(losses[-LOSS_WINDOW:])), 4) if losses else None,
                       lr=poly_lr(min(step, config.steps - 1), config.steps, config.lr,
                                  config.warmup, config.power),
                       seconds=round(seconds, 1),
                       eta_seconds=round(rate * (config.steps - step), 1),
                       held_out=history[-1] if history else None,
                       best=None if best is None else [best["step"], best["mean_iu"]],
                       checkpoint=str(checkpoint_path(out)), **extra)

    old = signal.signal(signal.SIGTERM, _on_term)
    start = time.perf_counter()
    stopped_by = None
    net.train()
    try:
        with progress_bar(progress, total=config.steps, desc="train", unit="step") as bar:
            bar.update(step)
            while step < config.steps:
                seconds = before + time.perf_counter() - start
                if config.minutes is not None and seconds > 60 * config.minutes:
                    stopped_by = f"the {config.minutes:g}-minute cap at step {step}"
                    break
                lr = poly_lr(step, config.steps, config.lr, config.warmup, config.power)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                frames, labels = batch_at(pairs, step, config.batch, config.size,
                                          config.seed, config.augment)
                x = normalize(torch.from_numpy(frames).permute(0, 3, 1, 2).float().div_(255),
                              net.spec.norm).contiguous(memory_format=torch.channels_last)
                loss, parts = recipe_loss(net, x, torch.from_numpy(labels).long(), weight,
                                          config.encoder_weight)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
                step += 1
                bar.update(1)
                if step % config.eval_every == 0 or step == config.steps:
                    miu = mean_iu(score(net, held, config.eval_size))
                    history.append([step, round(miu, 5)])
                    if best is None or miu > best["mean_iu"]:
                        best = {"step": step, "mean_iu": round(miu, 5),
                                "model": copy.deepcopy(net.state_dict())}
                    seconds = before + time.perf_counter() - start
                    save_checkpoint(out, snapshot(seconds))
                    report_progress("running", seconds)
                elif step % 10 == 0:
                    report_progress("running", before + time.perf_counter() - start)
                bar.set_postfix(loss=f"{np.mean(losses[-LOSS_WINDOW:]):.3f}",
                                held_out="-" if not history else
                                f"{100 * history[-1][1]:.1f} (best {100 * best['mean_iu']:.1f})")
    except (KeyboardInterrupt, _Stop):
        seconds = before + time.perf_counter() - start
        report_progress("interrupted", seconds, note=(
            f"stopped at step {step}; the checkpoint holds step "
            f"{history[-1][0] if history else 0}: run the same command with --resume"))
        raise
    finally:
        signal.signal(signal.SIGTERM, old)
    seconds = before + time.perf_counter() - start
    if not history or history[-1][0] != step:  # stopped by the cap between checks
        miu = mean_iu(score(net, held, config.eval_size))
        history.append([step, round(miu, 5)])
        if best is None or miu > best["mean_iu"]:
            best = {"step": step, "mean_iu": round(miu, 5),
                    "model": copy.deepcopy(net.state_dict())}
    net.load_state_dict(best["model"])
    report_progress("scoring", seconds)
    with progress_bar(progress, total=len(held) + len(val), desc="score", unit="frame") as bar:
        n_held = score(net, held, config.eval_size, bar.update)
        n_val = score(net, val, config.eval_size, bar.update)
    names = net.spec.class_names or [str(i) for i in range(classes)]
    report = {
        "network": config.net, "recipe": recipe,
        "data": {"train": config.data, "frames": len(pairs), "sequences": train_part.sequences(),
                 "held_out": {"rule": config.hold_out, "frames": len(held),
                              "names": [p.name for p in held_part.images]},
                 "val": config.val, "val_frames": len(val)},
        "class_weights": {n: round(float(w), 4) for n, w in zip(names, weight)},
        "steps": step, "epochs": round(epochs(step, config.batch, len(pairs)), 2),
        "stopped_by": stopped_by, "resumed_at": resumed_at,
        "seconds": round(seconds, 1), "command_seconds": round(time.perf_counter()
                                                                - command_start, 1),
        "final_loss": float(np.mean(losses[-LOSS_WINDOW:])) if losses else None,
        "losses": [round(v, 4) for v in losses[::10]],
        "selection": {"by": f"mean IU on the held-out frames ({config.hold_out}) at "
                            f"{config.eval_size[0]}x{config.eval_size[1]}",
                      "every": config.eval_every, "best_step": best["step"],
                      "history": history},
        "held_out": {"mean_iu": mean_iu(n_held), "pixel_accuracy": pixel_accuracy(n_held)},
        "val": {"mean_iu": mean_iu(n_val), "pixel_accuracy": pixel_accuracy(n_val),
                "class_iu": class_ious(n_val, names)},
        "machine": machine_info(torch.device("cpu")), "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    save_weights(net.to(memory_format=torch.contiguous_format), out)
    write_json(out.with_suffix(".json"), report)
    report_progress("done", seconds, weights=str(out), val_mean_iu=report["val"]["mean_iu"])
    checkpoint_path(out).unlink(missing_ok=True)
    return report


__all__ = ["RecipeConfig", "train_recipe", "progress_path"]
