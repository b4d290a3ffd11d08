"""``cwdsl train-clock``: fit a learned clock model (:mod:`cwdsl.core.clockmodel`) from video,
no labels needed.

**Stage split.** A schedule names the stages: the *atom stage* (the stage a ``predicted``
clock reads: its deepest head's argmax labels) and the *gated stage* (the stage whose
clock uses the atom). :func:`clock_split` finds them (the schedule's first ``predicted``
atom and the rule that uses it, or the stages given).

**Samples.** Every clip's frames run through the *full* network once, stage by stage
(``StagedNetwork.run_stage``). For every key frame ``k`` (where the atom fired and the
gated stage last computed) and every ``t = k+1 .. k+gap``: the signals are what
:func:`cwdsl.runtime.measure.clock_signals` measures at ``t`` when the atom last fired at
``k`` and did not fire in between (the same function the executor calls), and the target is
what keeping the cache costs (the ``cache`` counter-clock): the fraction of output pixels
whose argmax label differs between ``fuse(every output head at t, except the gated stage's
heads taken from k)`` and ``fuse(every output head at t)``. Stages other than the gated one
are taken at ``t``, as if computed (the atom stage must compute on every frame, as a
learned clock reads it every frame).

**Fit** (:mod:`cwdsl.train.clockfit`): a small monotone perceptron on standardised
signals, with a held-out share to report on, split by still (:func:`by_source`): every clip
made from one still is held out or fitted as a whole, so held-out scores are on images the
fit never saw; a clip of its own (a video) is split into groups of :data:`GROUP_FRAMES` key
frames. The model's ``trained_on.fit`` records the rule and the stills on each side.
:func:`train_clock` does it all and writes the model file.
"""
from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from dataclasses import dataclass, replace

import numpy as np
import torch

from cwdsl.core.clockmodel import SIGNALS, TARGET, ClockModel, make_model
from cwdsl.core.errors import InputError, did_you_mean
from cwdsl.train.clockfit import FitSettings, Samples, fit_clock, held_out_groups
from cwdsl.train.motionclips import Motion, clip_source, open_clip_set
from cwdsl.ir.graph import Program
from cwdsl.lang import ast
from cwdsl.nets.preprocess import normalize
from cwdsl.nets.staged import StagedNetwork
from cwdsl.runtime.measure import SignalState, changed_fraction, clock_signals, label_map

GROUP_FRAMES = 24
"""Key frames per held-out group of a long clip (a short clip is one group)."""
FUSE_BATCH = 64
"""(k, t) pairs fused at once."""
CACHE_TARGET = (f"{TARGET}: the fraction of output pixels whose argmax label differs between "
                f"fusing the gated stage's heads kept from the frame the atom last fired "
                f"(the cache counter-clock) and fusing them computed now")


@dataclass(frozen=True)
class ClockSplit:
    """Which stage a learned clock reads and which it gates. ``reads``/``head``: the atom
    stage and its deepest head (whose labels the signals compare); ``fires``/``fires_heads``:
    the gated stage and its heads the output fuses; ``stages``: every computed stage as
    ``(name, first layer, last layer, heads)`` in network order; ``output_heads``: every
    head the fuse combines."""

    reads: str
    head: str
    fires: str
    fires_heads: tuple[str, ...]
    stages: tuple[tuple[str, str, str, tuple[str, ...]], ...]
    output_heads: tuple[str, ...]

    def to_json(self) -> dict:
        return {"reads": self.reads, "head": self.head, "fires": self.fires,
                "fires_heads": list(self.fires_heads),
                "stages": {name: f"{first} .. {last} head {', '.join(heads)}"
                           for name, first, last, heads in self.stages}}


def _atoms(program: Program, expr: ast.ClockExpr) -> Iterator[ast.ClockExpr]:
    """Every node of ``expr``, named clocks followed (each once)."""
    pending, seen = [expr], set()
    while pending:
        for node in ast.walk_clock(pending.pop()):
            if isinstance(node, ast.ClockRef) and node.name.name not in seen:
                seen.add(node.name.name)
                pending.append(program.clock(node.name.name).expr)
            yield node


def clock_split(program: Program, reads: str | None = None,
                fires: str | None = None) -> ClockSplit:
    """The :class:`ClockSplit` of ``program``: ``reads`` defaults to the stage of its first
    ``predicted`` atom, ``fires`` to the first stage whose clock reads ``reads`` with a
    ``predicted`` or ``labeldiff`` atom. An ``InputError`` (``--reads``/``--fires``
    named) for an unknown stage, a gated stage not after the atom stage or not in the
    output, or a default that cannot be found."""
    stages = program.stages
    where = program.schedule.source.path if program.schedule.source else program.name
    for option, name in (("--reads", reads), ("--fires", fires)):
        if name is not None and name not in stages:
            raise InputError(f"{option} {name}: {where} has no computed stage '{name}' "
                             f"(stages: {', '.join(stages)}){did_you_mean(name, stages)}")
    if reads is None:
        learned = [m for m in program.measures if m.model is not None]
        if not learned:
            raise InputError(f"{where} has no predicted(...) clock: name the stage the "
                             f"learned clock will read with --reads STAGE (e.g. --reads "
                             f"{stages[min(1, len(stages) - 1)]})")
        reads = learned[0].stage
    if fires is None:
        for node in program.stage_nodes:
            if any(isinstance(a, (ast.Predicted, ast.LabelDiff)) and a.stage.name == reads
                   for a in _atoms(program, program.clock(node.gate).expr)):
                fires = node.name
                break
        else:
            raise InputError(f"no clock of {where} reads stage {reads} with predicted "
                             f"or labeldiff: name the stage the clock gates with --fires STAGE")
    if stages.index(fires) <= stages.index(reads):
        raise InputError(f"--fires {fires}: the gated stage must come after the stage the "
                         f"clock reads ({reads}); a clock cannot wait for the stage it gates")
    if fires not in program.output_stages:
        raise InputError(f"--fires {fires}: the output does not fuse stage {fires}, so firing "
                         f"it changes nothing (output fuses {', '.join(program.output_stages)})")
    spec = program.network
    return ClockSplit(reads, spec.deepest_head(program.stage(reads).heads), fires,
                      tuple(h for h in program.stage(fires).heads if h in program.output_heads),
                      tuple((s.name, s.first, s.last, s.heads) for s in program.stage_nodes),
                      program.output_heads)


def clip_samples(net: StagedNetwork, split: ClockSplit, frames: Sequence[torch.Tensor],
                 max_gap: int, group: int = 0) -> Samples:
    """The samples of one clip of (1, 3, H, W) [0, 1] ``frames`` (the module docstring):
    one per key frame ``k`` and ``t = k+1 .. min(k+max_gap, last frame)``. Groups are
    ``group``, ``group + 1``, … per :data:`GROUP_FRAMES` key frames; returns them."""
    norm = net.spec.norm
    labels, heads = [], []
    with torch.inference_mode():
        for pixels in frames:
            x, out = normalize(pixels.float(), norm), {}
            for _, first, last, stage_heads in split.stages:
                x, scores = net.run_stage(x, first, last, stage_heads)
                out.update(scores)
            labels.append(label_map(out[split.head]))
            heads.append({h: out[h] for h in split.output_heads})
        hw = tuple(frames[0].shape[-2:])
        fresh = [net.fuse(h, hw).argmax(1) for h in heads]
        pairs = [(k, t) for k in range(len(frames) - 1)
                 for t in range(k + 1, min(k + max_gap, len(frames) - 1) + 1)]
        targets = []
        for at in range(0, len(pairs), FUSE_BATCH):
            chunk = pairs[at:at + FUSE_BATCH]
            batch = {h: torch.cat([heads[k if h in split.fires_heads else t][h]
                                   for k, t in chunk]) for h in split.output_heads}
            stale = net.fuse(batch, hw).argmax(1)
            targets += [changed_fraction(stale[i:i + 1], fresh[t]) for i, (_, t) in
                        enumerate(chunk)]
        rows = []
        for k, t in pairs:
            state = SignalState(labels[k], frames[k], labels[t - 1], frames[t - 1], t - 1 - k)
            values = clock_signals(labels[t], frames[t], state, tuple(SIGNALS))
            rows.append([values[s] for s in SIGNALS])
    return Samples(np.asarray(rows, np.float64).reshape(-1, len(SIGNALS)),
                   np.asarray(targets, np.float64),
                   np.asarray([group + k // GROUP_FRAMES for k, _ in pairs], np.int64),
                   np.asarray([t - k for k, t in pairs], np.int64))


HELD_OUT_BY = ("still: every clip made from one still (motion:DIR, shiftN:DIR) is held out "
               "or fitted as a whole; a clip of its own (a video sequence, a generated "
               "clip) is held out by runs of 24 key frames")
"""How :func:`train_clock` holds samples out (recorded in the model's ``trained_on``)."""


def by_source(parts: Sequence[Samples], sources: Sequence[str]) -> list[Samples]:
    """``parts`` (one per clip, ``sources[i]`` the still clip ``i`` was made from,
    :func:`~cwdsl.train.motionclips.clip_source`) with the groups of every source that gave
    several clips merged into its first clip's first group, so a held-out split
    (:func:`~cwdsl.train.clockfit.held_out_groups`) never puts two clips of one still on
    different sides. A source of one clip keeps its groups (runs of key frames)."""
    first: dict[str, int] = {}
    count: dict[str, int] = {}
    for part, source in zip(parts, sources):
        count[source] = count.get(source, 0) + 1
        first.setdefault(source, int(part.group.min()) if len(part) else 0)
    return [part if count[source] == 1 else replace(
                part, group=np.full_like(part.group, first[source]))
            for part, source in zip(parts, sources)]


def split_sources(parts: Sequence[Samples], sources: Sequence[str], held: np.ndarray,
                  group: np.ndarray) -> dict:
    """Which sources (stills, videos; named by their last path part) gave held-out samples
    and which fitted ones, from the split's own mask ``held`` over the joined samples whose
    groups are ``group``: ``{"held_out": [...], "fitted": [...], "shared": [...]}`` (shared:
    a source on both sides: a video split by runs of key frames)."""
    held_groups = set(np.unique(group[held]).tolist())
    fit_groups = set(np.unique(group[~held]).tolist())
    sides: dict[str, set] = {}
    for part, source in zip(parts, sources):
        name = Path(source.split("|")[-1]).name
        for g in np.unique(part.group).tolist():
            sides.setdefault(name, set()).update(
                ({"held_out"} if g in held_groups else set())
                | ({"fitted"} if g in fit_groups else set()))
    return {side: sorted(n for n, s in sides.items() if s == {side})
            for side in ("held_out", "fitted")} | {
        "shared": sorted(n for n, s in sides.items() if len(s) > 1)}


def build_model(split: ClockSplit, network: str, fitted: tuple[list, list, list, dict],
                settings: FitSettings, trained_on: dict) -> ClockModel:
    """The :class:`ClockModel` of a fit, its target described as the cache counter-clock's."""
    mean, scale, layers, _ = fitted
    model = make_model(network, split.head, settings.signals, mean, scale, layers, trained_on)
    return replace(model, target=CACHE_TARGET)


SAMPLING_SHARE = 0.8
"""With ``--minutes``: the share of the budget sampling may use; the fit gets the rest."""


@dataclass(frozen=True)
class ClockTrainConfig:
    """What ``cwdsl train-clock`` was asked: the ``schedule`` (its stages, network, size),
    ``data`` specs (:func:`cwdsl.train.motionclips.open_clip_set`), the stage split
    (None: :func:`clock_split`'s defaults), network and weights (None: the schedule's, the
    bundled ones), frame ``size`` (None: the schedule's ``input`` when it runs on the
    network it names, else the network's), ``stride`` of sequences, the largest ``gap``
    ``t - k`` in frames, motion clips ``per_image`` and their ``motion``, the fit."""

    schedule: str
    data: tuple[str, ...]
    reads: str | None = None
    fires: str | None = None
    net: str | None = None
    weights: str | None = None
    size: tuple[int, int] | None = None
    stride: int = 1
    gap: int = 12
    minutes: float | None = None  # the whole command's wall time (see train_clock)
    per_image: int = 1
    motion: Motion = Motion()
    fit: FitSettings = FitSettings()


@dataclass(frozen=True)
class ClockTrainReport:
    """What a fit gave: the written ``model``, its fit ``metrics`` (see :func:`fit_clock`),
    clips, frames and samples used, and the wall time in seconds."""

    model: ClockModel
    metrics: dict
    clips: int
    frames: int
    samples: int
    seconds: float


def train_clock(config: ClockTrainConfig, out: str | Path, progress: bool = True
                ) -> ClockTrainReport:
    """Sample every clip of ``config.data``, fit, and write the model to ``out`` (whole or
    not at all). Everything the inputs can get wrong is an ``InputError`` before the first
    frame runs. With ``config.minutes`` the whole command keeps to that wall time: sampling
    stops taking new clips at :data:`SAMPLING_SHARE` of it (the clips left out are counted
    in the report), the fit stops its epochs at the end (at least one)."""
    from cwdsl.core.atomic import write_json
    from cwdsl.core.progress import progress_bar
    from cwdsl.evaluate.evaluation import network_frame, prepare_network
    from cwdsl.ir.graph import compile_schedule
    from cwdsl.lang.parser import parse_file
    from cwdsl.nets.bundled import resolve_weights

    start = time.perf_counter()
    deadline = None if config.minutes is None else start + 60 * config.minutes
    if config.gap < 1:
        raise InputError(f"--gap must be at least 1 frame, got {config.gap}")
    if not 0 < config.fit.hold_out < 1:
        raise InputError(f"--hold-out must lie in (0, 1), got {config.fit.hold_out:g}")
    unknown = [s for s in config.fit.signals if s not in SIGNALS]
    if unknown or not config.fit.signals:
        raise InputError(f"--signals: name some of {', '.join(SIGNALS)}"
                         + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
    schedule = parse_file(config.schedule)
    program = compile_schedule(schedule, config.net)
    split = clock_split(program, config.reads, config.fires)
    spec = program.network
    own = schedule.network.name.name == spec.name
    size = tuple(config.size or (program.input_size if own else spec.default_input))
    weights = resolve_weights(spec.name, config.weights)
    sets = [open_clip_set(d, size, config.fit.seed, config.per_image, config.motion,
                          config.stride) for d in config.data]
    net = prepare_network(spec, weights)
    parts, sources, clips, frames, skipped, seen = [], [], 0, 0, 0, 0
    total = sum(s.count for s in sets)
    stop_sampling = None if deadline is None else start + SAMPLING_SHARE * 60 * config.minutes
    with progress_bar(progress, total=total, desc="train-clock", unit="clip") as bar:
        for clip_set in sets:
            for name, rgb in clip_set.clips():
                if stop_sampling is not None and parts and time.perf_counter() > stop_sampling:
                    skipped = total - seen
                    break
                seen += 1
                bar.update(1)
                if len(rgb) < 2:
                    continue
                group = int(parts[-1].group.max()) + 1 if parts else 0
                parts.append(clip_samples(net, split, [network_frame(f, size) for f in rgb],
                                          config.gap, group))
                sources.append(clip_source(clip_set.spec, name))
                clips, frames = clips + 1, frames + len(rgb)
    parts = by_source(parts, sources)
    samples = Samples.join(parts)
    if len(samples) < 2:
        raise InputError(f"the data ({', '.join(config.data)}) gives {len(samples)} sample(s): "
                         f"a clip needs at least two frames")
    fitted = fit_clock(samples, config.fit, deadline)
    held = held_out_groups(samples.group, config.fit.hold_out, config.fit.seed)
    fitted[3]["held_out_by"] = HELD_OUT_BY
    fitted[3]["stills"] = split_sources(parts, sources, held, samples.group)
    trained_on = {
        "data": [{"spec": s.spec, "description": s.description} for s in sets],
        "clips": clips, "frames": frames, "samples": len(samples),
        "network": spec.name, "weights": Path(weights).name,
        "schedule": Path(config.schedule).name, "split": split.to_json(),
        "size": list(size), "stride": config.stride, "gap": [1, config.gap],
        "motion": {**config.motion.to_json(), "clips_per_image": config.per_image},
        "target": "cache counter-clock: fraction of output pixels whose argmax label differs "
                  "between fusing the gated stage's heads from the frame the atom last fired "
                  "and fusing them computed now",
        "fit": {"signals": list(config.fit.signals), "hidden": config.fit.hidden,
                "monotone": config.fit.monotone,
                "epochs": config.fit.epochs, "lr": config.fit.lr, "loss": "binary cross-entropy",
                "hold_out": config.fit.hold_out, **fitted[3]},
        "seed": config.fit.seed,
        "budget": None if config.minutes is None else {
            "minutes": config.minutes, "clips_left_out": skipped,
            "epochs_run": fitted[3]["epochs_run"]},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - start, 1)}
    model = build_model(split, spec.name, fitted, config.fit, trained_on)
    write_json(out, model.to_json())
    return ClockTrainReport(replace(model, path=str(out)), fitted[3], clips, frames,
                            len(samples), trained_on["seconds"])
