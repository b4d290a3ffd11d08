"""``cwdsl explain``: the frame × stage plan of a schedule."""
from __future__ import annotations

from cwdsl.commands.options import (add_clock_source, add_command, clock_source, positive_int,
                                    print_warnings)


def register(sub) -> None:
    p = add_command(
        sub, "explain", handle, "print the frame × stage plan of a schedule",
        "cwdsl explain schedules/adaptive.cw --frames 12 --fire-rate 0.3")
    p.add_argument("file", metavar="FILE", help="a schedule file (.cw)")
    p.add_argument("--frames", type=positive_int, default=8, help="frames to plan (default 8)")
    add_clock_source(p)


def handle(args) -> int:
    from cwdsl.ir.explain import plans, render_grid
    from cwdsl.ir.graph import load
    from cwdsl.ir.plan import Planner

    program = load(args.file)
    print_warnings(program)
    planner = Planner(program)
    clocks = clock_source(args)
    trace = clocks.trace(program.atom_ids, args.frames)
    print(render_grid(planner, plans(planner, args.frames, trace)))
    if trace is not None:
        print(clocks.describe())
    return 0
