"""ESPNet's training recipe (Mehta et al., ECCV 2018, ``sacmehta/ESPNet`` ``train/``) as
pure functions: ENet's class weights, the decaying learning rate, the loss of the decoder's
output with the encoder's classifier supervised beside it, and the seeded batch of a step.

The authors train the encoder (ESPNet-C, its 1/8 classifier on 1/8 labels) first and then
the whole network with the encoder's weights; here both losses are summed from the start
(``encoder_weight`` × the encoder classifier's loss, its scores upsampled to the labels),
which trains the same two outputs in one run. Every batch is a function of the seed and
the step alone (:func:`batch_at`), so a run resumed from a checkpoint takes the batches
an uninterrupted run would have.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from cwdsl.core.metrics import IGNORE
from cwdsl.train.augment import Augment, augment_sample

ENET_C = 1.02
"""ENet's constant in ``w = 1 / ln(c + p)`` (Paszke et al. 2016; ESPNet's ``loadData.py``):
a class's weight is at most ``1 / ln(1.02)`` ≈ 50.5."""


def enet_class_weights(labels: Sequence[np.ndarray], num_classes: int) -> Tensor:
    """``1 / ln(1.02 + p_c)`` per class, ``p_c`` the class's share of the labeled (not
    void) pixels of ``labels`` (ESPNet's ``loadData.py`` computes it over the training
    labels the same way)."""
    counts = np.zeros(num_classes, np.int64)
    for label in labels:
        counts += np.bincount(label[label != IGNORE].ravel(), minlength=num_classes)[:num_classes]
    p = counts / max(int(counts.sum()), 1)
    return torch.tensor(1 / np.log(ENET_C + p), dtype=torch.float32)


def poly_lr(step: int, steps: int, peak: float, warmup: int, power: float = 0.9) -> float:
    """The learning rate of optimiser step ``step`` (0-based) of ``steps``: linear warm-up
    from ``peak / 10`` over ``warmup`` steps, then ``peak × (1 - t)^power`` over the rest
    (the poly schedule of DeepLab and ESPNetv2; ESPNet halves its rate every 100 epochs)."""
    if step < warmup:
        return peak * (0.1 + 0.9 * step / warmup)
    t = (step - warmup) / max(steps - warmup, 1)
    return peak * max(1.0 - t, 0.0) ** power


def recipe_loss(net, x: Tensor, y: Tensor, weight: Tensor | None, encoder_weight: float
                ) -> tuple[Tensor, dict[str, float]]:
    """Class-weighted cross-entropy of the whole network's output, plus ``encoder_weight``
    × that of the encoder's classifier (head ``score_l3``, 1/8 scale, upsampled
    bilinearly); returns the sum and its parts."""
    names = net.spec.layer_names
    _, heads = net.run_stage(x, names[0], net.spec.deepest_read(),
                             tuple(h.name for h in net.spec.heads))
    hw = tuple(x.shape[-2:])
    out = net.fuse(heads, hw)
    loss = F.cross_entropy(out, y, weight=weight, ignore_index=IGNORE)
    parts = {"decoder": loss.item()}
    if encoder_weight > 0:
        enc = F.interpolate(heads["score_l3"], size=hw, mode="bilinear", align_corners=False)
        enc_loss = F.cross_entropy(enc[:, :out.shape[1]], y, weight=weight, ignore_index=IGNORE)
        parts["encoder"] = enc_loss.item()
        loss = loss + encoder_weight * enc_loss
    return loss, parts


def batch_at(pairs: Sequence[tuple[np.ndarray, np.ndarray]], step: int, batch: int,
             size: tuple[int, int], seed: int, augment: Augment
             ) -> tuple[np.ndarray, np.ndarray]:
    """The batch of step ``step``: ``batch`` pairs drawn without replacement within each
    epoch (a seeded permutation per epoch), each through
    :func:`~cwdsl.train.augment.augment_sample` with a generator seeded by (seed, step,
    slot). Returns ``(frames (B, H, W, 3) uint8, labels (B, H, W) uint8)``."""
    n = len(pairs)
    h, w = size
    frames = np.zeros((batch, h, w, 3), np.uint8)
    labels = np.full((batch, h, w), IGNORE, np.uint8)
    for b in range(batch):
        k = step * batch + b                      # the sample's index in the whole stream
        epoch, place = divmod(k, n)
        order = np.random.default_rng([seed, 1, epoch]).permutation(n)
        rng = np.random.default_rng([seed, 2, step, b])
        image, label = pairs[int(order[place])]
        frames[b], labels[b] = augment_sample(image, label, size, augment, rng)
    return frames, labels


def epochs(steps: int, batch: int, frames: int) -> float:
    """How many passes over ``frames`` training images ``steps`` steps of ``batch`` make."""
    return steps * batch / max(frames, 1)

