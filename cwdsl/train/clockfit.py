"""The fit of ``cwdsl train-clock`` (:mod:`cwdsl.train.clocktrain` gathers the samples).

Signals are standardised (mean and scale kept in the model) and a multilayer perceptron
(one ReLU hidden layer, a sigmoid output) is fitted to the target fractions with Adam on
the binary cross-entropy, full batch, seeded. By default it is *monotone*: the predicted
cost of keeping the cache never falls when a signal grows (:func:`monotone_signs`). Samples
come in groups (every clip of one still, or a run of key frames of a longer video:
:func:`cwdsl.train.clocktrain.by_source`); a seeded share of the groups is held out, the model
is fitted on the rest, and its held-out R², rank correlation (Spearman's ρ) and mean absolute
error are reported beside each signal's own rank correlation with the target.
"""
from __future__ import annotations

import time

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from cwdsl.core.clockmodel import SIGNALS
from cwdsl.core.errors import InputError


@dataclass(frozen=True)
class Samples:
    """Training rows: ``signals`` (n, len(SIGNALS)) in :data:`SIGNALS` order, ``target``
    (n,) fractions in [0, 1], ``group`` (n,) held-out group ids, ``gap`` (n,) ``t - k``."""

    signals: np.ndarray
    target: np.ndarray
    group: np.ndarray
    gap: np.ndarray

    def __len__(self) -> int:
        return len(self.target)

    @staticmethod
    def join(parts: Sequence["Samples"]) -> "Samples":
        if not parts:
            return Samples(np.zeros((0, len(SIGNALS))), np.zeros(0), np.zeros(0, int),
                           np.zeros(0, int))
        return Samples(*(np.concatenate([getattr(p, f) for p in parts])
                         for f in ("signals", "target", "group", "gap")))


def ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values``, ties given their average rank."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return (ends - (counts - 1) / 2)[inverse]


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's ρ (Pearson's correlation of average ranks); 0 when either is constant."""
    ra, rb = ranks(np.asarray(a)), ranks(np.asarray(b))
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


@dataclass(frozen=True)
class FitSettings:
    """How :func:`fit_clock` fits: the ``signals`` read, one hidden layer of ``hidden``
    units (0: none, a logistic regression), ``epochs`` full-batch Adam steps at ``lr``,
    the share ``hold_out`` of groups held out, ``seed`` (split and initial weights).
    ``monotone``: every weight positive, so the prediction never falls when a signal grows
    (a larger change, a longer wait can only make keeping the cache cost more), also
    beyond the range of the data, e.g. after more frames than ``--gap`` without firing."""

    signals: tuple[str, ...] = tuple(SIGNALS)
    hidden: int = 16
    epochs: int = 3000
    lr: float = 0.03
    hold_out: float = 0.2
    seed: int = 0
    monotone: bool = True


def held_out_groups(groups: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A boolean mask of the samples in a seeded ``share`` of the distinct ``groups`` (at
    least one group, and at least one left to fit on); an ``InputError`` with one group."""
    distinct = np.unique(groups)
    if len(distinct) < 2:
        raise InputError("the data gives one clip (group of key frames) only: a held-out "
                         "split needs at least two; give more or longer clips")
    n = min(max(1, round(share * len(distinct))), len(distinct) - 1)
    held = np.random.default_rng(seed).permutation(distinct)[:n]
    return np.isin(groups, held)


def fit_clock(samples: Samples, settings: FitSettings, deadline: float | None = None
              ) -> tuple[list, list, list, dict]:
    """Fit the model on the samples outside the held-out groups: ``(mean, scale, layers
    as (weight rows, bias), metrics)``; metrics hold the held-out and fitted R², rank
    correlation and mean absolute error, each signal's own held-out rank correlation and
    the epochs run (fewer than ``settings.epochs`` when ``time.perf_counter()`` passed
    ``deadline``; at least one)."""
    columns = [list(SIGNALS).index(s) for s in settings.signals]
    x_all, y_all = samples.signals[:, columns], samples.target
    held = held_out_groups(samples.group, settings.hold_out, settings.seed)
    x, y = x_all[~held], y_all[~held]
    mean = x.mean(0)
    scale = np.where(x.std(0) > 1e-12, x.std(0), 1.0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        widths = [len(columns), *([settings.hidden] if settings.hidden else []), 1]
        params = []
        for n_in, n_out in zip(widths, widths[1:]):
            init = torch.nn.Linear(n_in, n_out).double()
            weight = init.weight.detach() - 2.0 if settings.monotone else init.weight.detach()
            params += [weight.requires_grad_(), init.bias.detach().requires_grad_()]
        signs = monotone_signs(widths) if settings.monotone else None
        xt = torch.from_numpy((x - mean) / scale)
        yt = torch.from_numpy(y)[:, None]
        opt = torch.optim.Adam(params, lr=settings.lr)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        epochs = 0
        while epochs < settings.epochs and (
                deadline is None or not epochs or time.perf_counter() < deadline):
            epochs += 1
            opt.zero_grad()
            loss = loss_fn(_forward(params, xt, signs), yt)
            loss.backward()
            opt.step()
        with torch.no_grad():
            logits = _forward(params, torch.from_numpy((x_all - mean) / scale), signs)
            predict = torch.sigmoid(logits)[:, 0].numpy()
            layers = [(_weight(params, i, signs).tolist(), params[2 * i + 1].tolist())
                      for i in range(len(params) // 2)]
    metrics = {"held_out": _scores(predict[held], y_all[held]),
               "fitted": _scores(predict[~held], y), "final_loss": round(loss.item(), 6),
               "epochs_run": epochs,
               "held_out_signal_rank_correlation": {
                   s: round(rank_correlation(samples.signals[held, i], y_all[held]), 4)
                   for i, s in enumerate(SIGNALS)},
               "samples": {"fitted": int((~held).sum()), "held_out": int(held.sum())},
               "groups": {"fitted": len(np.unique(samples.group[~held])),
                          "held_out": len(np.unique(samples.group[held]))}}
    return mean.tolist(), scale.tolist(), layers, metrics


def monotone_signs(widths: list[int]) -> list[torch.Tensor]:
    """The sign of every weight of a monotone perceptron with layer ``widths``: the first
    half of the hidden units take their inputs and give their output with a plus (convex
    pieces), the rest with a minus (``-v relu(b - w x)``, concave pieces); every path from
    an input to the output has an even number of minuses, so the output never falls when
    an input grows, and it may bend either way."""
    unit = [torch.ones(widths[0], dtype=torch.float64)]
    for width in widths[1:-1]:
        unit.append(torch.tensor([1.0] * ((width + 1) // 2) + [-1.0] * (width // 2),
                                 dtype=torch.float64))
    unit.append(torch.ones(widths[-1], dtype=torch.float64))
    return [out[:, None] * into[None, :] for into, out in zip(unit, unit[1:])]


def _weight(params: list[torch.Tensor], i: int, signs: list[torch.Tensor] | None):
    """Layer ``i``'s weight: its parameter, or with ``signs`` (monotone) the parameter's
    softplus (positive) times the signs."""
    if signs is None:
        return params[2 * i]
    return torch.nn.functional.softplus(params[2 * i]) * signs[i]


def _forward(params: list[torch.Tensor], x: torch.Tensor,
             signs: list[torch.Tensor] | None) -> torch.Tensor:
    """The model's logits: layers ``(weight, bias)`` from ``params`` (see :func:`_weight`)
    with ReLU between."""
    for i in range(len(params) // 2):
        x = x @ _weight(params, i, signs).T + params[2 * i + 1]
        if 2 * i + 2 < len(params):
            x = x.relu()
    return x


def _scores(predicted: np.ndarray, target: np.ndarray) -> dict:
    """R², Spearman's ρ and the mean absolute error of ``predicted`` against ``target``."""
    residual = float(((predicted - target) ** 2).sum())
    total = float(((target - target.mean()) ** 2).sum())
    return {"r2": round(1 - residual / total, 4) if total > 0 else 0.0,
            "rank_correlation": round(rank_correlation(predicted, target), 4),
            "mae": round(float(np.abs(predicted - target).mean()), 5),
            "target_mean": round(float(target.mean()), 5)}
