"""``cwdsl sweep``: vary a schedule's data-driven threshold θ and score each setting
(paper Fig. 6: % of frames fully computed against mean IU)."""
from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from cwdsl.core.errors import InputError
from cwdsl.core.units import HW
from cwdsl.evaluate.evaluation import ScoreRow, evaluate_schedules
from cwdsl.evaluate.protocol import EvalData
from cwdsl.ir.graph import Program, compile_schedule
from cwdsl.lang import ast
from cwdsl.lang.parser import parse_file
from cwdsl.sim.devices import DeviceModel


def parse_range(text: str) -> tuple[float, ...]:
    """``START:STOP:STEP`` (STOP included when on the grid) or ``a,b,c`` → θ values in [0, 1]."""
    try:
        if ":" in text:
            start, stop, step = (float(x) for x in text.split(":"))
            if step <= 0 or stop < start:
                raise ValueError
            count = int(np.floor((stop - start) / step + 1e-9)) + 1
            values = tuple(round(start + i * step, 10) for i in range(count))
        else:
            values = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise InputError(f"--theta {text!r}: expected START:STOP:STEP (e.g. 0:0.5:0.05) or "
                         f"a comma-separated list") from None
    bad = [v for v in values if not 0 <= v <= 1]
    if bad or not values:
        raise InputError(f"--theta {text!r}: thresholds must lie in [0, 1]")
    return values


def _retheta(expr: ast.ClockExpr, theta: float) -> ast.ClockExpr:
    return ast.map_atoms(expr, lambda atom: replace(atom, theta=theta))


def with_theta(schedule: ast.Schedule, theta: float) -> ast.Schedule:
    """The schedule with every label- and pixel-difference threshold set to ``theta``."""
    clocks = tuple(replace(c, expr=_retheta(c.expr, theta)) for c in schedule.clocks)
    rules = tuple(replace(r, clock=_retheta(r.clock, theta)) for r in schedule.rules)
    return replace(schedule, clocks=clocks, rules=rules)


def sweep_programs(path: str | Path, thetas: Sequence[float], network: str | None):
    """One compiled program per θ, and the frame oracle of the same stages (every rule's
    clock ``1``) for reference."""
    schedule = parse_file(path)
    atoms = [n for e in [*(c.expr for c in schedule.clocks), *(r.clock for r in schedule.rules)]
             for n in ast.walk_clock(e) if isinstance(n, (ast.LabelDiff, ast.PixelDiff))]
    if not atoms:
        raise InputError(f"{path}: the schedule has no labeldiff or pixeldiff threshold to sweep")
    programs = [compile_schedule(with_theta(schedule, theta), network) for theta in thetas]
    oracle = replace(schedule, clocks=(),
                     rules=tuple(replace(r, clock=ast.Const(1)) for r in schedule.rules))
    return programs, compile_schedule(oracle, network)


@dataclass(frozen=True)
class SweepResult:
    """The frame oracle's row (labelled ``frame oracle``) and one row per θ (``θ = 0.25``)."""

    thetas: tuple[float, ...]
    oracle: ScoreRow
    rows: tuple[ScoreRow, ...]


def score_sweep(data: EvalData, weights: str, programs: Sequence[Program], oracle: Program,
                thetas: Sequence[float], device: str = "cpu",
                sim_device: DeviceModel | str = "titanx", progress: bool = True,
                size: HW | None = None) -> SweepResult:
    """Score the frame oracle and each θ's program (from :func:`sweep_programs`) on ``data``,
    the network running at ``size`` (None: the frames' own; see :func:`evaluate_schedules`)."""
    rows = evaluate_schedules(data, weights, [oracle, *programs], device, sim_device, progress,
                              size)
    return SweepResult(tuple(thetas), replace(rows[0], schedule="frame oracle"),
                       tuple(replace(row, schedule=f"θ = {theta:g}")
                             for theta, row in zip(thetas, rows[1:])))


CSV_COLUMNS = ("theta", "all_stages_pct", "mean_iu", "fw_iu", "mean_iu_bdry", "fw_iu_bdry",
               "time_pct_of_full")


def sweep_csv(thetas: Sequence[float], rows: Sequence[ScoreRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for theta, row in zip(thetas, rows):
        writer.writerow([f"{theta:g}"] + [f"{getattr(row, c):.4f}" for c in CSV_COLUMNS[1:]])
    return out.getvalue()


def plot_sweep(path: str | Path, thetas: Sequence[float], rows: Sequence[ScoreRow],
               oracle: ScoreRow | None, title: str) -> None:
    """% frames fully computed (x) against mean IU (y), points labelled with θ."""
    from cwdsl.core.figures import pyplot, save_figure

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    x = [r.all_stages_pct for r in rows]
    y = [r.mean_iu for r in rows]
    ax.plot(x, y, "o-", color="tab:blue", label="adaptive clock, θ swept")
    for theta, xi, yi in zip(thetas, x, y):
        ax.annotate(f"{theta:g}", (xi, yi), textcoords="offset points", xytext=(4, -10),
                    fontsize=7)
    if oracle is not None:
        ax.axhline(oracle.mean_iu, color="k", ls="--", lw=1, label="frame oracle")
    ax.set_xlabel("frames with every stage computed (%, frame 0 of each clip excluded)")
    ax.set_ylabel("mean IU (%)")
    ax.set_xlim(-2, 108)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)
