"""How fast each score layer changes, and how accurate each truncated output is (paper §3:
Table 1 and Fig. 2).

For every frame the full network runs once; each score head's argmax map (the whole map,
as the authors' ``youtube-differences`` notebook takes it from the uncropped score blobs,
and as ``labeldiff`` compares by default) is compared with the previous frame's: the
temporal difference is the fraction of labels that changed (the Hamming distance of one-hot
maps, normalised). A feature head (``Head.kind == "features"``) has no labels: no value. Truncated outputs fuse the heads up to a depth
(``s1``: the shallowest head; ...; ``full``) and are scored against ground truth.
``size`` runs the network on frames resized to it; temporal differences are measured on
its score maps, and truncated outputs are resized back to the ground truth's size, as
``cwdsl eval`` does (:func:`~cwdsl.evaluate.evaluation.labels_at`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from cwdsl.core.tables import Column, render_table
from cwdsl.core.metrics import confusion, label_change, mean_iu
from cwdsl.core.units import HW
from cwdsl.evaluate.evaluation import labels_at, network_frame
from cwdsl.evaluate.protocol import EvalData, LabeledClip
from cwdsl.nets.preprocess import normalize


@dataclass(frozen=True)
class LayerStats:
    """Temporal differences per head over every consecutive frame pair, per clip."""

    heads: tuple[str, ...]
    changes: dict[str, dict[str, np.ndarray]]   # clip name → head → per-frame differences
    pixel_changes: dict[str, np.ndarray]         # clip name → per-frame input change
    truncated_miu: dict[str, float]              # "s1", "s1+s2", ..., "full" → mean IU


@dataclass(frozen=True)
class LayerRow:
    """One row of Table 1: a score layer's (or the input's) temporal difference, its depth,
    and the truncated output that ends at it with that output's mean IU (%)."""

    layer: str
    depth: int
    mean: float
    std: float
    output: str | None
    mean_iu: float | None

    def to_json(self) -> dict:
        return {"layer": self.layer, "depth": self.depth, "mean": self.mean, "std": self.std,
                "output": self.output, "mean_iu": self.mean_iu}


def _head_order(net) -> tuple[str, ...]:
    names = net.spec.layer_names
    return tuple(sorted((h.name for h in net.spec.heads),
                        key=lambda h: names.index(net.spec.head(h).reads)))


@torch.inference_mode()
def layer_stats(net, data: EvalData, progress=None, size: HW | None = None) -> LayerStats:
    """Run ``net`` on every frame of ``data`` (see the module's docstring), at ``size``
    (height, width; None: each frame's own)."""
    net.eval()
    device = next(net.parameters()).device
    heads = _head_order(net)
    names = net.spec.layer_names
    deepest = net.spec.head(heads[-1]).reads
    k = net.spec.num_classes
    truncations = {("s1" if i == 0 else "+".join(f"s{j + 1}" for j in range(i + 1)))
                   if i < len(heads) - 1 else "full": heads[:i + 1] for i in range(len(heads))}
    totals = {name: np.zeros((k, k), np.int64) for name in truncations}
    changes, pixel_changes = {}, {}
    for c, clip in enumerate(data.clips):
        key = clip.name or f"clip{c}"
        previous, previous_rgb = None, None
        per_head = {h: [] for h in heads}
        pixels = []
        for rgb, truth in zip(clip.frames, clip.labels):
            x = normalize(network_frame(rgb, size).to(device), net.spec.norm)
            _, scores = net.run_stage(x, names[0], deepest, heads)
            hw = x.shape[-2:]
            current = {h: scores[h][0].argmax(0).cpu().numpy() for h in heads
                       if net.spec.head(h).kind == "scores"}
            if previous is not None:
                for h in current:
                    per_head[h].append(label_change(previous[h], current[h]))
                pixels.append(float(np.abs(rgb.astype(np.float32) - previous_rgb).mean() / 255))
            previous, previous_rgb = current, rgb.astype(np.float32)
            if truth is not None:
                for name, chosen in truncations.items():
                    fused = net.fuse({h: scores[h] for h in chosen}, hw)
                    totals[name] += confusion(labels_at(fused, truth.shape), truth, k)
            if progress is not None:
                progress(1)
        changes[key] = {h: np.array(v) for h, v in per_head.items()}
        pixel_changes[key] = np.array(pixels)
    return LayerStats(heads, changes, pixel_changes,
                      {name: 100 * mean_iu(n) for name, n in totals.items()})


def layer_table(net, stats: LayerStats) -> list[LayerRow]:
    """Table 1's rows: input pixels, then each head: temporal difference mean ± std over
    all frame pairs, depth (parametric layers from the input), truncated output accuracy."""
    spec = net.spec
    rows = []
    pix = np.concatenate([v for v in stats.pixel_changes.values()] or [np.zeros(0)])
    rows.append(LayerRow("pixels (mean |Δ|)", 0,
                         float(pix.mean()) if pix.size else float("nan"),
                         float(pix.std()) if pix.size else float("nan"), None, None))
    truncs = list(stats.truncated_miu)
    for i, h in enumerate(stats.heads):
        reads = spec.head(h).reads
        depth = sum(1 for layer in spec.layers[:spec.layer_index(reads) + 1]
                    if layer.kind == "conv") + 1  # + the score layer
        values = np.concatenate([c[h] for c in stats.changes.values()] or [np.zeros(0)])
        rows.append(LayerRow(f"{h} (reads {reads})", depth,
                             float(values.mean()) if values.size else float("nan"),
                             float(values.std()) if values.size else float("nan"),
                             truncs[i], stats.truncated_miu[truncs[i]]))
    return rows


LAYER_COLUMNS = (Column("score layer", 28, align="<"),
                 Column("temporal difference", 21, lambda v: f"{v[0]:>13.3f} ± {v[1]:.3f}"),
                 Column("depth", 7), Column("output", 10), Column("mean IU", 9, ".1f"))


def format_layer_table(rows: Sequence[LayerRow], header: str) -> str:
    return render_table(
        header, LAYER_COLUMNS,
        [(r.layer, (r.mean, r.std), r.depth, r.output, r.mean_iu) for r in rows],
        "temporal difference: fraction of a score layer's argmax labels that change between "
        "consecutive frames; depth: convolutions from the input, the score layer included; "
        "mean IU: the truncated output fusing the heads up to this one")


def plot_changes(path, stats: LayerStats, frames: int = 75, heads: Sequence[str] | None = None):
    """Fig. 2: per-frame temporal difference of the chosen heads (default: the two deepest),
    one panel per clip."""
    from cwdsl.core.figures import pyplot, save_figure

    plt = pyplot()

    heads = tuple(heads or stats.heads[-2:])
    clips = list(stats.changes)
    fig, axes = plt.subplots(1, len(clips), figsize=(4.2 * len(clips), 3.2), squeeze=False,
                             sharey=True)
    colours = {h: c for h, c in zip(stats.heads[::-1], ("tab:blue", "tab:green", "tab:orange",
                                                         "tab:red", "tab:purple"))}
    for ax, clip in zip(axes[0], clips):
        for h in heads:
            values = stats.changes[clip][h][:frames]
            ax.plot(np.arange(1, len(values) + 1), values, color=colours[h], lw=1.2, label=h)
        ax.set_title(clip, fontsize=9)
        ax.set_xlabel("frame")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("labels changed from previous frame")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def motion_clips(frames: int = 75, size=(128, 128), seed: int = 7) -> EvalData:
    """Two generated clips for Fig. 2: large motion (fast pans, moving objects, cuts) and
    small motion (slow pans, slow objects, no cuts)."""
    from cwdsl.demo.scenes import Motion, generate_clip

    small = Motion(still=0.2, pan=0.5, hold=0.3, pan_speed=(0.3, 0.8),
                   object_speed=(0.1, 0.4), spin=0.005, cut_rate=0.0)
    clips = []
    for name, motion in (("large motion", "busy"), ("small motion", small)):
        clip = generate_clip(seed, frames, size, motion=motion)
        clips.append(LabeledClip(name, tuple(clip.frames), tuple(clip.labels)))
    return EvalData(f"two generated clips of {frames} frames (large and small motion)",
                    tuple(clips))
