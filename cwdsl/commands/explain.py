"""``cwdsl explain``: the frame × stage plan of a schedule."""
from __future__ import annotations

from cwdsl.commands.options import add_command, positive_int, print_warnings

NAME = "explain"


def register(sub) -> None:
    p = add_command(sub, NAME, "print the frame × stage plan of a schedule",
                    "cwdsl explain schedules/adaptive.cw --frames 12 --fire-rate 0.3")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--frames", type=positive_int, default=8, help="frames to plan (default 8)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--fire-rate", type=float, metavar="P",
                        help="data-driven clocks fire with probability P (default 0.5)")
    source.add_argument("--trace", metavar="RUN.json",
                        help="replay data-driven clock values from a run record")
    p.add_argument("--seed", type=int, default=0, help="seed for --fire-rate (default 0)")


def handle(args) -> int:
    from cwdsl.ir.explain import plans, render_grid
    from cwdsl.ir.graph import load
    from cwdsl.ir.plan import Planner
    from cwdsl.ir.trace import fire_rate_trace, recorded_trace

    program = load(args.file)
    print_warnings(program)
    planner = Planner(program)
    trace = None
    note = ""
    if program.atom_ids:
        if args.trace:
            trace = recorded_trace(args.trace, program.atom_ids, args.frames)
            note = f"data-driven clocks replayed from {args.trace}"
        else:
            rate = 0.5 if args.fire_rate is None else args.fire_rate
            trace = fire_rate_trace(program.atom_ids, args.frames, rate, args.seed)
            note = f"data-driven clocks drawn at fire rate {rate} (seed {args.seed})"
    print(render_grid(planner, plans(planner, args.frames, trace)))
    if note:
        print(note)
    return 0
