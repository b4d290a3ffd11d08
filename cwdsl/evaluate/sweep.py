"""``cwdsl sweep``: vary schedules' data-driven thresholds θ and score each setting (paper
Fig. 6: % of frames with every stage computed against mean IU, one curve per schedule), and
compare such curves at given firing rates (:func:`interpolate_miu`, :func:`compare_curves`).

A *firing rate* here is the eval table's ``all stages %``: the frames after each clip's
warm-up frame 0 that computed every stage, in %.
"""
from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from pathlib import Path

import numpy as np

from cwdsl.core.errors import InputError
from cwdsl.core.tables import Column, render_table
from cwdsl.core.units import HW
from cwdsl.evaluate.evaluation import ScoreRow, evaluate_schedules
from cwdsl.evaluate.protocol import EvalData
from cwdsl.ir.graph import Program, compile_schedule
from cwdsl.lang import ast
from cwdsl.lang.parser import parse_file
from cwdsl.runtime.distributed import World
from cwdsl.devices.model import DeviceModel

FIRING_RATES = (20.0, 35.0, 50.0, 65.0, 80.0)
"""Firing rates (%) :func:`compare_curves` reads curves at unless told others."""
Point = tuple[float, float]
"""(firing rate %, mean IU %): one point of a curve."""


MAX_GRID = 1000
"""The most values a ``--theta`` or ``--at`` grid may hold."""


def _parse_numbers(text: str, option: str, low: float, high: float, example: str,
                   what: str) -> tuple[float, ...]:
    try:
        if ":" in text:
            start, stop, step = (float(x) for x in text.split(":"))
            if not all(map(math.isfinite, (start, stop, step))) or step <= 0 or stop < start:
                raise ValueError
            count = int(np.floor((stop - start) / step + 1e-9)) + 1
            if count > MAX_GRID:
                raise InputError(f"{option} {text!r}: more than {MAX_GRID} values (each is "
                                 f"a full evaluation); take a larger STEP")
            values = tuple(round(start + i * step, 10) for i in range(count))
        else:
            values = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise InputError(f"{option} {text!r}: expected START:STOP:STEP (e.g. {example}) or "
                         f"a comma-separated list") from None
    if not values or any(not low <= v <= high for v in values):
        raise InputError(f"{option} {text!r}: {what} must lie in [{low:g}, {high:g}]")
    return values


def parse_range(text: str) -> tuple[float, ...]:
    """``START:STOP:STEP`` (STOP included when on the grid) or ``a,b,c`` → θ values in [0, 1]."""
    return _parse_numbers(text, "--theta", 0, 1, "0:0.5:0.05", "thresholds")


def parse_rates(text: str) -> tuple[float, ...]:
    """``--at``: firing rates in % (``20,35,50`` or ``20:80:15``), each in [0, 100]."""
    return _parse_numbers(text, "--at", 0, 100, "20:80:15", "firing rates (%)")


def has_theta(node) -> bool:
    return is_dataclass(node) and any(f.name == "theta" for f in fields(node))


def _retheta(expr: ast.ClockExpr, theta: float) -> ast.ClockExpr:
    return ast.map_atoms(expr, lambda atom: replace(atom, theta=theta)
                         if has_theta(atom) else atom)


def with_theta(schedule: ast.Schedule, theta: float) -> ast.Schedule:
    """The schedule with every data-driven threshold (any clock atom with a ``theta``:
    label difference, pixel difference, a learned clock's prediction) set to ``theta``."""
    clocks = tuple(replace(c, expr=_retheta(c.expr, theta)) for c in schedule.clocks)
    rules = tuple(replace(r, clock=_retheta(r.clock, theta)) for r in schedule.rules)
    return replace(schedule, clocks=clocks, rules=rules)


def frame_oracle(schedule: ast.Schedule) -> ast.Schedule:
    """The frame oracle of ``schedule``'s stages: every rule's clock ``1`` (and no ``else``,
    which could never act)."""
    return replace(schedule, clocks=(), rules=tuple(
        replace(r, clock=ast.Const(1), otherwise=None, flow=None) for r in schedule.rules))


def sweep_programs(path: str | Path, thetas: Sequence[float], network: str | None):
    """One compiled program per θ, and the frame oracle of the same stages (every rule's
    clock ``1``) for reference."""
    schedule = parse_file(path)
    exprs = [*(c.expr for c in schedule.clocks), *(r.clock for r in schedule.rules)]
    if not any(has_theta(n) for e in exprs for n in ast.walk_clock(e)):
        raise InputError(f"{path}: the schedule has no labeldiff or pixeldiff threshold to "
                         f"sweep (nor any other clock atom with a θ)")
    programs = [compile_schedule(with_theta(schedule, theta), network) for theta in thetas]
    return programs, compile_schedule(frame_oracle(schedule), network)


def is_frame_oracle(program: Program) -> bool:
    """Whether every rule computes its stage on every frame, undelayed (clock ``1``,
    ``every 1`` or a clock declared so): the frame oracle, drawn as a line, not a point."""
    decls = {d.name.name: d.expr for d in program.schedule.clocks}

    def always(expr) -> bool:
        seen = set()
        while isinstance(expr, ast.ClockRef) and expr.name.name not in seen:
            seen.add(expr.name.name)
            expr = decls.get(expr.name.name)
        return (isinstance(expr, ast.Const) and expr.value == 1) or (
            isinstance(expr, ast.Every) and expr.period == 1)

    return all(r.delay == 0 and always(r.clock) for r in program.schedule.rules)


@dataclass(frozen=True)
class SweepPlan:
    """One schedule to sweep: its name, θ values, one program per θ and its frame oracle."""

    name: str
    thetas: tuple[float, ...]
    programs: tuple[Program, ...]
    oracle: Program


def plan_sweeps(paths: Sequence[str | Path], ranges: Sequence[Sequence[float]],
                network: str | None) -> tuple[SweepPlan, ...]:
    """:func:`sweep_programs` for each schedule; ``ranges``: one θ list for all, or one per
    schedule in order (an ``InputError`` otherwise). Schedules are named by their file's
    stem, by their path when two stems agree."""
    if len(ranges) not in (1, len(paths)):
        raise InputError(f"--theta is given {len(ranges)} times for {len(paths)} schedules: "
                         f"give one range for all of them, or one per schedule in order")
    names = [Path(p).stem for p in paths]
    if len(set(names)) < len(names):
        names = [str(p) for p in paths]
    if len(set(names)) < len(names):
        raise InputError("a schedule is given twice; sweep it once over all its θ values")
    plans = []
    for name, path, thetas in zip(names, paths, ranges * len(paths) if len(ranges) == 1
                                  else ranges):
        programs, oracle = sweep_programs(path, thetas, network)
        plans.append(SweepPlan(name, tuple(thetas), tuple(programs), oracle))
    return tuple(plans)


@dataclass(frozen=True)
class SweepCurve:
    """One schedule's scores over θ: ``rows[i]`` (labelled ``θ = 0.25``) was scored with
    ``thetas[i]``; no ``thetas``: an unswept schedule, one point (``eval --curve``)."""

    schedule: str
    thetas: tuple[float, ...]
    rows: tuple[ScoreRow, ...]

    @property
    def points(self) -> tuple[Point, ...]:
        """(all stages %, mean IU %) per row."""
        return tuple((r.all_stages_pct, r.mean_iu) for r in self.rows)


@dataclass(frozen=True)
class SweepsResult:
    """Several schedules swept on the same data: one row per distinct frame oracle (labelled
    ``frame oracle``, or ``frame oracle (NAME)`` when the schedules' stages differ) and one
    curve per schedule."""

    oracles: tuple[ScoreRow, ...]
    curves: tuple[SweepCurve, ...]


@dataclass(frozen=True)
class SweepResult:
    """The frame oracle's row (labelled ``frame oracle``) and one row per θ (``θ = 0.25``)."""

    thetas: tuple[float, ...]
    oracle: ScoreRow
    rows: tuple[ScoreRow, ...]


def score_sweeps(data: EvalData, weights: str, plans: Sequence[SweepPlan],
                 device: str = "cpu", sim_device: DeviceModel | str = "titanx",
                 progress: bool = True, size: HW | None = None,
                 world: World | None = None) -> SweepsResult:
    """Score each distinct frame oracle once (schedules with the same stages, network and
    output share it) and every plan's programs on ``data``, the network at ``size`` (None:
    the frames' own; see :func:`evaluate_schedules`, which deals the (program, clip) pairs
    over ``world``'s processes)."""
    oracles: list[Program] = []
    owners: list[str] = []
    for plan in plans:
        if all(plan.oracle.schedule != o.schedule for o in oracles):
            oracles.append(plan.oracle)
            owners.append(plan.name)
    programs = [p for plan in plans for p in plan.programs]
    rows = evaluate_schedules(data, weights, [*oracles, *programs], device, sim_device,
                              progress, size, world=world)
    label = ["frame oracle"] if len(oracles) == 1 else [f"frame oracle ({n})" for n in owners]
    oracle_rows = tuple(replace(r, schedule=s) for r, s in zip(rows, label))
    curves, at = [], len(oracles)
    for plan in plans:
        scored = rows[at:at + len(plan.programs)]
        at += len(plan.programs)
        curves.append(SweepCurve(plan.name, plan.thetas, tuple(
            replace(row, schedule=f"θ = {theta:g}") for theta, row in zip(plan.thetas, scored))))
    return SweepsResult(oracle_rows, tuple(curves))


def score_sweep(data: EvalData, weights: str, programs: Sequence[Program], oracle: Program,
                thetas: Sequence[float], device: str = "cpu",
                sim_device: DeviceModel | str = "titanx", progress: bool = True,
                size: HW | None = None) -> SweepResult:
    """One schedule's :func:`score_sweeps`: the frame oracle and each θ's program (from
    :func:`sweep_programs`)."""
    plan = SweepPlan(programs[0].name if programs else oracle.name, tuple(thetas),
                     tuple(programs), oracle)
    result = score_sweeps(data, weights, [plan], device, sim_device, progress, size)
    return SweepResult(tuple(thetas), result.oracles[0], result.curves[0].rows)


def format_sweep_table(result: SweepsResult, header: str) -> str:
    """The eval table: the oracle row(s), then each schedule's θ rows under its name (one
    schedule: its θ rows alone, as ``cwdsl sweep`` always printed)."""
    from cwdsl.evaluate.evaluation import format_eval_table

    if len(result.curves) == 1:
        return format_eval_table([*result.oracles, *result.curves[0].rows], header)
    rows: list[ScoreRow | str] = list(result.oracles)
    for curve in result.curves:
        rows += [curve.schedule, *(replace(r, schedule="  " + r.schedule) for r in curve.rows)]
    return "\n".join(line.rstrip() for line in format_eval_table(rows, header).split("\n"))


CSV_COLUMNS = ("schedule", "theta", "all_stages_pct", "mean_iu", "fw_iu", "mean_iu_bdry",
               "fw_iu_bdry", "time_pct_of_full")


def sweep_csv(curves: Sequence[SweepCurve]) -> str:
    """One line per schedule and θ (:data:`CSV_COLUMNS`; percentages to 4 decimals)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for curve in curves:
        for theta, row in zip(curve.thetas, curve.rows):
            writer.writerow([curve.schedule, f"{theta:g}"]
                            + [f"{getattr(row, c):.4f}" for c in CSV_COLUMNS[2:]])
    return out.getvalue()


def curves_from_csv(text: str) -> dict[str, tuple[Point, ...]]:
    """A sweep CSV (:func:`sweep_csv`) read back: schedule → its (all stages %, mean IU %)
    points in file order, for :func:`compare_curves` across separate sweeps. A ``sweep
    --tune`` CSV (:func:`cwdsl.evaluate.tuning.tuned_csv`): the tune set's curves, and the
    report set's rows as ``NAME (tuned, report)`` and ``NAME (as written, report)``."""
    curves: dict[str, list[Point]] = {}
    for line in csv.DictReader(io.StringIO(text)):
        try:
            point = (float(line["all_stages_pct"]), float(line["mean_iu"]))
        except (KeyError, TypeError, ValueError):
            raise InputError("not a cwdsl sweep CSV (columns: "
                             f"{', '.join(CSV_COLUMNS)})") from None
        name = line.get("schedule") or "schedule"
        if "role" in line:  # sweep --tune: the tune curves; report rows named apart
            if line["role"] == "oracle":
                continue
            if line.get("split") == "report":
                name = f"{name} ({line['role']}, report)"
        curves.setdefault(name, []).append(point)
    return {name: tuple(points) for name, points in curves.items()}


def interpolate_miu(points: Sequence[Point], rates: Sequence[float] = FIRING_RATES
                    ) -> tuple[float | None, ...]:
    """Mean IU at each firing rate in ``rates`` (%), linearly interpolated over ``points``
    (firing %, mean IU) sorted by firing %; points at the same firing % are averaged. None
    for a rate outside the curve's [lowest, highest] firing % (no extrapolation)."""
    if not points:
        return tuple(None for _ in rates)
    xs = sorted({float(x) for x, _ in points})
    ys = [float(np.mean([y for x, y in points if float(x) == at])) for at in xs]
    return tuple(float(np.interp(r, xs, ys)) if xs[0] <= r <= xs[-1] else None
                 for r in rates)


@dataclass(frozen=True)
class CurveComparison:
    """Curves read at common firing rates: ``miu[name][j]`` is curve ``name``'s mean IU at
    ``rates[j]`` (None: outside its range)."""

    rates: tuple[float, ...]
    miu: Mapping[str, tuple[float | None, ...]]

    def above(self, a: str, b: str) -> int:
        """At how many rates curve ``a`` lies strictly above curve ``b`` (both defined)."""
        return sum(x is not None and y is not None and x > y
                   for x, y in zip(self.miu[a], self.miu[b]))

    def both_defined(self, a: str, b: str) -> int:
        """At how many rates both curves are defined."""
        return sum(x is not None and y is not None for x, y in zip(self.miu[a], self.miu[b]))

    def table(self) -> str:
        """Rates down, curves across, then how the first curve fares against each other."""
        names = list(self.miu)
        columns = [Column("all stages %", 14, ".1f", suffix="%")] + [
            Column(name, max(10, len(name) + 2)) for name in names]
        rows = [(rate, *("-" if self.miu[n][j] is None else f"{self.miu[n][j]:.1f}"
                         for n in names)) for j, rate in enumerate(self.rates)]
        notes = [f"{names[0]} above {other} at {self.above(names[0], other)} of "
                 f"{len(self.rates)} rates (both defined at {self.both_defined(names[0], other)})"
                 for other in names[1:]]
        return render_table("mean IU (%) interpolated at each rate of frames with every stage "
                            "computed; - outside a curve's range", columns, rows,
                            "\n".join(notes) or None)


def compare_curves(curves: Mapping[str, Sequence[Point]] | Sequence[SweepCurve],
                   rates: Sequence[float] = FIRING_RATES) -> CurveComparison:
    """:func:`interpolate_miu` of each curve (name → points, or :class:`SweepCurve` s) at
    ``rates`` (%)."""
    named = curves if isinstance(curves, Mapping) else {c.schedule: c.points for c in curves}
    return CurveComparison(tuple(rates), {name: interpolate_miu(points, rates)
                                          for name, points in named.items()})
