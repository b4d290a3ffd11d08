"""``cwdsl sweep --tune``: choose each schedule's θ on one set of labeled clips and report it
on another, so a tuned number is never scored on the frames it was tuned on.

The *tune set* is swept over the θ grid (the usual curve); a rule (:func:`parse_choice`)
picks one θ per schedule from that curve and its frame oracle; the *report set* is scored at
the chosen θ (and, for comparison, at the θ the schedule's file holds, when that differs).
The tune set is

- another ``--data`` spec (:func:`load_tune_data`), refused when the two share a source
  image (:func:`data_sources`: the same generated scenes, the same files of a folder, the
  demo clip twice), or
- ``split:F``: the first share ``F`` of the report spec's own data (:func:`split_data`), by
  clip when it holds several clips (translated crops or motion clips of different stills: the
  two sets share no still), else by frame of its one sequence (the first ``F`` of the frames
  tune, the rest report, each part from a fresh state).
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cwdsl.core.errors import InputError
from cwdsl.evaluate.protocol import SCENE_SEED, EvalData, LabeledClip

if TYPE_CHECKING:
    from cwdsl.evaluate.sweep import SweepsResult

SPLIT = re.compile(r"split:(.*)", re.S)


@dataclass(frozen=True)
class Choice:
    """How θ is chosen on the tune curve: ``rate`` — the θ whose share of frames with every
    stage computed lies nearest ``value`` %; ``loss`` — the θ computing every stage on the
    fewest frames whose mean IU is at most ``value`` below the tune set's frame oracle."""

    kind: str
    value: float

    def __str__(self) -> str:
        return f"{self.kind}:{self.value:g}"

    def describe(self) -> str:
        return (f"the θ whose frames with every stage computed lie nearest {self.value:g}%"
                if self.kind == "rate" else
                f"the θ computing every stage on the fewest frames within {self.value:g} "
                f"mean IU of the frame oracle")


def parse_choice(text: str) -> Choice:
    """``rate:P`` (P in [0, 100]) or ``loss:D`` (D ≥ 0 mean IU points); an ``InputError``
    otherwise."""
    found = re.fullmatch(r"(rate|loss):(.+)", text.strip())
    try:
        value = float(found.group(2)) if found else math.nan
    except ValueError:
        value = math.nan
    if not found or not math.isfinite(value) or value < 0 or (
            found.group(1) == "rate" and value > 100):
        raise InputError(f"--choose {text!r}: expected rate:P (the θ firing nearest P% of "
                         f"frames, P in 0..100, e.g. rate:50) or loss:D (the cheapest θ within "
                         f"D mean IU of the frame oracle, D >= 0, e.g. loss:0.5)")
    return Choice(found.group(1), value)


def choose_theta(thetas: Sequence[float], rows: Sequence, oracle_miu: float,
                 choice: Choice) -> tuple[float, str]:
    """The θ of ``thetas`` (rows: their :class:`~cwdsl.evaluate.evaluation.ScoreRow` s on
    the tune set) that ``choice`` picks, and why in words. Ties go to the larger θ (the
    cheaper clock). ``loss`` with no θ within the bound: the θ of the highest mean IU."""
    scored = list(zip(thetas, rows))
    if choice.kind == "rate":  # distances rounded: 27/49 and 22/49 of frames tie at 50%
        theta, row = min(scored, key=lambda p: (round(abs(p[1].all_stages_pct - choice.value),
                                                      6), -p[0]))
        return theta, (f"{row.all_stages_pct:.1f}% of frames with every stage computed "
                       f"(nearest {choice.value:g}%), mean IU {row.mean_iu:.1f}")
    within = [p for p in scored if p[1].mean_iu >= oracle_miu - choice.value]
    if not within:
        theta, row = max(scored, key=lambda p: (p[1].mean_iu, p[0]))
        return theta, (f"no θ within {choice.value:g} of the oracle's {oracle_miu:.1f}: the "
                       f"best, {row.mean_iu:.1f} at {row.all_stages_pct:.1f}% of frames")
    theta, row = min(within, key=lambda p: (p[1].all_stages_pct, -p[0]))
    return theta, (f"{row.all_stages_pct:.1f}% of frames, mean IU {row.mean_iu:.1f} "
                   f"({oracle_miu - row.mean_iu:+.1f} below the oracle's {oracle_miu:.1f}, "
                   f"bound {choice.value:g})")


def _labeled(clip: LabeledClip) -> int:
    return sum(lab is not None for lab in clip.labels)


def split_data(data: EvalData, fraction: float, spec: str) -> tuple[EvalData, EvalData]:
    """``(tune, report)``: by clip when ``data`` holds several (the first ``fraction`` of
    them, at least one each side), else by frame of its one clip (the first ``fraction`` of
    the frames, at least two each side and a labeled frame in each). An ``InputError``
    naming ``spec`` and the reason when a part would be empty or unscored."""
    if not 0 < fraction < 1:
        raise InputError(f"--tune split:{fraction:g}: the share that tunes must lie strictly "
                         f"between 0 and 1 (e.g. split:0.5)")
    clips = data.clips
    if len(clips) > 1:
        cut = round(fraction * len(clips))
        if not 0 < cut < len(clips):
            side = "tune" if cut == 0 else "report"
            raise InputError(f"--tune split:{fraction:g} of --data {spec} ({len(clips)} clips) "
                             f"leaves no clip to {side} on")
        parts = (clips[:cut], clips[cut:])
        for name, part in zip(("tune", "report"), parts):
            if not sum(_labeled(c) for c in part):
                raise InputError(f"--tune split:{fraction:g} of --data {spec}: the {name} "
                                 f"part ({len(part)} clips) has no labeled frame")
        return tuple(EvalData(f"{name} part of {data.description}: clips {lo + 1}-{hi} of "
                              f"{len(clips)} ({', '.join(c.name for c in p[:2])}"
                              f"{', …' if len(p) > 2 else ''})", p)
                     for name, p, lo, hi in (("tune", parts[0], 0, cut),
                                             ("report", parts[1], cut, len(clips))))
    clip = clips[0]
    n = len(clip.frames)
    cut = round(fraction * n)
    if cut < 2 or n - cut < 2:
        raise InputError(f"--tune split:{fraction:g} of --data {spec}: its one clip has {n} "
                         f"frames; a split at frame {cut} leaves a part of fewer than 2 frames")
    halves = (clip.part(0, cut, f"{clip.name}[:{cut}]"),
              clip.part(cut, None, f"{clip.name}[{cut}:]"))
    for name, part, at in zip(("tune", "report"), halves, ("0", str(cut))):
        if not _labeled(part):
            raise InputError(f"--tune split:{fraction:g} of --data {spec}: the {name} part "
                             f"(frames {at}-…, {len(part.frames)} frames) has no labeled frame")
    return (EvalData(f"frames 0-{cut - 1} of {data.description} (tune)", (halves[0],)),
            EvalData(f"frames {cut}-{n - 1} of {data.description} (report)", (halves[1],)))


def data_sources(spec: str, scenes: int) -> set[str]:
    """What the clips of ``--data spec`` are made of, to find a tune set that shares frames
    with the report set: ``demo``, the generated scenes' seeds (``shift16`` and ``shift32``
    crop the same ones), or the resolved paths of a folder's images (a sequence, the stills
    of ``shiftN:DIR`` or ``motion…:DIR``)."""
    from cwdsl.evaluate.motionclip import motion_spec
    from cwdsl.media.video import list_images

    if spec == "demo":
        return {"the demo clip"}
    if re.fullmatch(r"shift\d+", spec):
        return {f"generated scene {SCENE_SEED + i}" for i in range(scenes)}
    found = re.fullmatch(r"shift\d+:(.+)", spec, re.S)
    motion = motion_spec(spec)
    folder = Path(found.group(1) if found else motion[1] if motion else spec)
    images = folder / "images" if (folder / "images").is_dir() else folder
    if not images.is_dir():
        return set()  # load_eval_data says what is wrong with it
    return {str(p.resolve()) for p in list_images(images, None)}


def check_disjoint(tune: str, report: str, scenes: int) -> None:
    """An ``InputError`` when ``--tune tune`` and ``--data report`` share a source
    (:func:`data_sources`)."""
    shared = sorted(data_sources(tune, scenes) & data_sources(report, scenes))
    if shared:
        raise InputError(f"--tune {tune} and --data {report} overlap: {len(shared)} shared "
                         f"source image(s) or clip(s), e.g. {shared[0]}; θ would be chosen on "
                         f"frames it is reported on (give disjoint data, or --tune split:F)")


def load_tune_data(tune: str, report_spec: str, report: EvalData, load, scenes: int
                   ) -> tuple[EvalData, EvalData]:
    """``(tune set, report set)`` for ``--tune tune`` and ``--data report_spec`` (already
    loaded as ``report``; ``scenes``: ``--scenes``); ``load(spec)`` loads another spec as
    ``--data`` would. Overlapping sets and empty parts are ``InputError`` s."""
    found = SPLIT.fullmatch(tune)
    if found:
        try:
            fraction = float(found.group(1))
        except ValueError:
            fraction = math.nan
        if not math.isfinite(fraction):
            raise InputError(f"--tune {tune}: expected split:F, F the share of --data that "
                             f"tunes (e.g. split:0.5)")
        return split_data(report, fraction, report_spec)
    check_disjoint(tune, report_spec, scenes)
    try:
        return load(tune), report
    except InputError as e:  # the loader speaks of --data; this is --tune
        if len(e.diagnostics) == 1 and f"--data {tune}" in e.diagnostics[0].message:
            raise InputError(e.diagnostics[0].message.replace(f"--data {tune}",
                                                              f"--tune {tune}")) from None
        raise


def written_theta(path: str | Path) -> float | None:
    """The θ the schedule's file gives its data-driven clocks, when they share one (None
    otherwise)."""
    from cwdsl.evaluate.sweep import has_theta
    from cwdsl.lang import ast
    from cwdsl.lang.parser import parse_file

    schedule = parse_file(path)
    exprs = [*(c.expr for c in schedule.clocks), *(r.clock for r in schedule.rules)]
    values = {n.theta for e in exprs for n in ast.walk_clock(e) if has_theta(n)}
    return values.pop() if len(values) == 1 else None


@dataclass(frozen=True)
class TunedSweeps:
    """``tune``: the sweeps on the tune set; ``chosen[i]``: schedule ``i``'s chosen θ and
    why; ``written[i]``: the θ its file holds (None: several); ``report``: the report set's
    frame oracle(s) and each schedule's rows there, at the chosen θ (labelled ``θ = x
    (tuned)``) and at the written one when it differs (``θ = y (as written)``)."""

    tune: "SweepsResult"
    chosen: tuple[tuple[float, str], ...]
    written: tuple[float | None, ...]
    report: "SweepsResult"
    choice: Choice


def oracle_of(result: "SweepsResult", plans: Sequence, i: int):
    """The frame oracle row of ``plans[i]`` in ``result`` (see :func:`score_sweeps`)."""
    distinct = []
    for plan in plans:
        if all(plan.oracle.schedule != o.schedule for o in distinct):
            distinct.append(plan.oracle)
    return result.oracles[next(j for j, o in enumerate(distinct)
                               if o.schedule == plans[i].oracle.schedule)]


def score_tuned(tune: EvalData, report: EvalData, weights: str, plans: Sequence,
                paths: Sequence[str | Path], network: str | None, choice: Choice,
                device: str = "cpu", sim_device="titanx", progress: bool = True,
                size=None, world=None) -> TunedSweeps:
    """Sweep ``plans`` (:func:`~cwdsl.evaluate.sweep.plan_sweeps` of ``paths``) on
    ``tune``, choose each θ by ``choice``, and score it (and the file's θ, if another) on
    ``report``; see :class:`TunedSweeps`."""
    from dataclasses import replace as _replace

    from cwdsl.evaluate.sweep import SweepCurve, SweepPlan, score_sweeps, sweep_programs

    swept = score_sweeps(tune, weights, plans, device, sim_device, progress, size, world)
    chosen, written, report_plans = [], [], []
    for i, (plan, path, curve) in enumerate(zip(plans, paths, swept.curves)):
        theta, why = choose_theta(plan.thetas, curve.rows, oracle_of(swept, plans, i).mean_iu,
                                  choice)
        chosen.append((theta, why))
        own = written_theta(path)
        written.append(own)
        thetas = (theta,) if own is None or math.isclose(own, theta) else (theta, own)
        programs, oracle = sweep_programs(path, thetas, network)
        report_plans.append(SweepPlan(plan.name, thetas, tuple(programs), oracle))
    scored = score_sweeps(report, weights, report_plans, device, sim_device, progress, size,
                          world)
    curves = tuple(SweepCurve(c.schedule, c.thetas, tuple(
        _replace(row, schedule=row.schedule + (" (tuned)" if j == 0 else " (as written)"))
        for j, row in enumerate(c.rows))) for c in scored.curves)
    return TunedSweeps(swept, tuple(chosen), tuple(written),
                       _replace(scored, curves=curves), choice)


SPLIT_CSV_COLUMNS = ("split", "role")
"""Columns a ``sweep --tune`` CSV puts before :data:`~cwdsl.evaluate.sweep.CSV_COLUMNS`:
``tune``/``report``, and ``oracle``, ``curve`` (a tune θ), ``tuned`` or ``as written``."""


def tuned_csv(result: TunedSweeps) -> str:
    """Every row of ``result``: the tune set's oracle(s) and curves, the report set's
    oracle(s), tuned and as-written rows (:data:`SPLIT_CSV_COLUMNS` first)."""
    import csv
    import io

    from cwdsl.evaluate.sweep import CSV_COLUMNS

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((*SPLIT_CSV_COLUMNS, *CSV_COLUMNS))

    def line(split, role, schedule, theta, row):
        writer.writerow([split, role, schedule, "" if theta is None else f"{theta:g}"]
                        + [f"{getattr(row, c):.4f}" for c in CSV_COLUMNS[2:]])

    for split, sweeps in (("tune", result.tune), ("report", result.report)):
        for row in sweeps.oracles:
            line(split, "oracle", row.schedule, None, row)
        for curve in sweeps.curves:
            for j, (theta, row) in enumerate(zip(curve.thetas, curve.rows)):
                role = "curve" if split == "tune" else ("tuned" if j == 0 else "as written")
                line(split, role, curve.schedule, theta, row)
    return out.getvalue()


def format_choices(result: TunedSweeps, paths: Sequence[str | Path]) -> str:
    """One line per schedule: the θ chosen on the tune set, why, and the file's θ."""
    lines = [f"θ chosen on the tune set ({result.choice}: {result.choice.describe()}):"]
    for curve, (theta, why), own, path in zip(result.tune.curves, result.chosen,
                                              result.written, paths):
        same = ("" if own is None else "; the same as the file's" if math.isclose(own, theta)
                else f"; the file ({Path(path).name}) says θ = {own:g}")
        lines.append(f"  {curve.schedule}: θ = {theta:g} ({why}{same})")
    return "\n".join(lines)
