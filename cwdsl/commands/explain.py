"""``cwdsl explain``: the frame × stage plan of a schedule."""
from __future__ import annotations

from cwdsl.commands.programs import check_clock_options
from cwdsl.commands.options import (add_clock_source, add_command, add_deadline, bounded_int,
                                    clock_source, one_deadline, print_warnings)

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
    add_deadline(p)


def handle(args) -> int:
    from cwdsl.ir.explain import plans, render_grid
    from cwdsl.ir.graph import load
    from cwdsl.ir.plan import Planner

    program = load(args.file, deadline_ms=one_deadline(args))
    clocks = clock_source(args)
    if not program.deadlines:  # (fits atoms read the clock source here too)
        check_clock_options(args, [program])
    print_warnings(program)
    planner = Planner(program)
    # explain times nothing: fits decisions are replayed from a run record, or drawn at
    # the firing rate like the data-driven clocks
    trace = clocks.trace(program.atom_ids + planner.deadline_ids, args.frames)
    print(render_grid(planner, plans(planner, args.frames, trace)))
    if trace is not None and program.atom_ids:
        print(clocks.describe())
    if planner.deadline_ids:
        print("fits decisions " + (f"replayed from {clocks.trace_path}" if clocks.trace_path
                                   else f"drawn at rate {clocks.rate} (seed {clocks.seed}): "
                                        f"explain times nothing; 'cwdsl simulate' decides them "
                                        f"on a device model, --trace RUN.json replays a run's"))
    return 0
