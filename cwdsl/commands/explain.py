"""``cwdsl explain``: the frame × stage plan of a schedule."""
from __future__ import annotations

from cwdsl.commands.options import (add_clock_source, add_command, bounded_int, clock_source,
                                    given, print_warnings)
from cwdsl.core.errors import InputError

MAX_EXPLAIN_FRAMES = 100_000
"""The most frames ``explain`` plans: its grid has a column per frame."""


def register(sub) -> None:
    p = add_command(
        sub, "explain", handle, "print the frame × stage plan of a schedule",
        "cwdsl explain schedules/adaptive.cw --frames 12 --fire-rate 0.3")
    p.add_argument("file", metavar="FILE", help="a schedule file (.cw)")
    p.add_argument("--frames", type=bounded_int(MAX_EXPLAIN_FRAMES, 1, "frames a grid shows"),
                   default=8, help=f"frames to plan (default 8, at most {MAX_EXPLAIN_FRAMES:,}: "
                                   f"one column each)")
    add_clock_source(p)


def handle(args) -> int:
    from cwdsl.ir.explain import plans, render_grid
    from cwdsl.ir.graph import load
    from cwdsl.ir.plan import Planner

    program = load(args.file)
    clocks = clock_source(args)
    check_clock_options(args, [program])
    print_warnings(program)
    planner = Planner(program)
    trace = clocks.trace(program.atom_ids, args.frames)
    print(render_grid(planner, plans(planner, args.frames, trace)))
    if trace is not None:
        print(clocks.describe())
    return 0


def check_clock_options(args, programs) -> None:
    """An ``InputError`` for ``--fire-rate``, ``--trace`` or ``--seed`` when no schedule of
    ``programs`` has a data-driven clock (none would read a clock value)."""
    named = [f"{option} {value}" for option, value in (
        ("--fire-rate", args.fire_rate), ("--trace", args.trace),
        ("--seed", args.seed if given(args, "seed") else None)) if value is not None]
    if named and not any(p.atom_ids for p in programs):
        raise InputError(f"{named[0]}: {', '.join(p.name for p in programs)} has no "
                         f"data-driven clock (labeldiff, pixeldiff, predicted) to read it")
