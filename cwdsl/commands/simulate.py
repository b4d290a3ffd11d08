"""``cwdsl simulate``: estimate latency and compute of schedules without running them."""
from __future__ import annotations

import argparse

from cwdsl.commands.options import (Given, add_clock_source, add_command, add_deadline, add_dtype,
                                    bounded_int, clock_source, finite_float, given,
                                    positive_float, print_warnings, size_arg)
from cwdsl.core.errors import InputError

MAX_FRAMES = 10**15
"""``--frames``: fixed clocks are priced a period at a time, frame counts are 64-bit."""
MAX_PLOT_FRAMES = 2000
"""``--plot-frames``: the plot draws a bar a frame."""
MAX_FPS = 1e6


def register(sub) -> None:
    p = add_command(
        sub, "simulate", handle, "estimate latency and compute of schedules without running them",
        "cwdsl simulate schedules/*.cw --net fcn8s --size 500x500 --device h100")
    p.add_argument("schedules", nargs="+", metavar="SCHEDULE", help="schedule files (.cw)")
    p.add_argument("--net", metavar="NAME", help="price the schedules on this network instead")
    p.add_argument("--size", type=size_arg, metavar="HxW",
                   help="input size (default: the schedule's)")
    p.add_argument("--device", default="titanx",
                   help="h100, h200, a100, titanx, cpu, a device spec JSON, a profile JSON "
                        "from cwdsl profile, or several profiles of one device (A.json,B.json "
                        "or a folder): the one of the asked size and dtype, else one predicted "
                        "from them, the header says which (default titanx, the paper's GPU)")
    add_dtype(p, "the float type priced")
    p.add_argument("--frames", type=bounded_int(MAX_FRAMES), default=10_000,
                   help="frames (default 10000; data-driven clocks are priced frame by frame: "
                        "at most 10,000,000 of them)")
    add_clock_source(p, cycled=True)
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--plot", metavar="OUT.png",
                   help="draw each of the first --plot-frames frames: its latency by part (bars) "
                        "and its work (dots)")
    p.add_argument("--plot-frames", type=bounded_int(MAX_PLOT_FRAMES, 1, "a bar a frame"),
                   default=48, metavar="N", action=Given,
                   help=f"frames the plot draws, at most {MAX_PLOT_FRAMES} (default 48)")
    p.add_argument("--streams", type=streams_option, metavar="N|auto",
                   help="capacity: N camera streams share the device, at most 4096 "
                        "('auto': the most it sustains: with a deadline, 99%% of frames on "
                        "time, dropped ones late; without, no frame dropped and 99%% done "
                        "within a frame interval)")
    add_deadline(p, streams=True)
    p.add_argument("--fps", type=finite_float(1e-3, MAX_FPS), default=30.0, action=Given,
                   help="with --streams: frame rate of each stream (default 30)")
    p.add_argument("--seconds", type=positive_float, default=10.0, action=Given,
                   help="with --streams: simulated seconds (default 10; a capacity run simulates at most "
                        "10,000,000 frames, all streams together)")
    p.add_argument("--batched", action="store_true",
                   help="with --streams: one executor batches a stage across the streams "
                        "computing it in a wave (priced from a profile's --batch timings; "
                        "without them a batch of k costs k frames)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (one is drawn for long work: over 200,000 frames "
                        "priced one by one or simulated in a capacity run)")


def streams_option(text: str) -> int | str:
    """``--streams``: ``auto`` or a whole number in ``1 ..``
    :data:`cwdsl.sim.capacity.MAX_STREAMS`."""
    from cwdsl.sim.capacity import MAX_STREAMS  # (torch is imported only when needed)

    if text == "auto":
        return text
    try:
        streams = int(text)
    except ValueError:
        streams = 0
    if not 1 <= streams <= MAX_STREAMS:
        raise argparse.ArgumentTypeError(f"takes a whole number in 1..{MAX_STREAMS} or "
                                         f"'auto', got {text!r}")
    return streams


streams_option.numeric = True


def handle(args) -> int:
    import json

    from cwdsl.commands.programs import check_clock_options
    from cwdsl.core.figures import check_plot_path
    from cwdsl.ir.graph import load
    from cwdsl.fitting.load import load_device
    from cwdsl.sim.report import (SimulateOptions, format_report, plot_timeline,
                                  simulate_schedules)

    check_plot_path(args.plot)
    device = load_device(args.device)
    if args.batched and args.streams is None:
        raise InputError("--batched prices a capacity run: give --streams N (or auto) too")
    for option in ("fps", "seconds"):
        if given(args, option) and args.streams is None:
            raise InputError(f"--{option} sets a capacity run's streams: give --streams N (or "
                             f"auto) too")
    if given(args, "plot_frames") and not args.plot:
        raise InputError("--plot-frames says how many frames --plot draws: give --plot OUT.png "
                         "too")
    deadlines = args.deadline
    if deadlines is not None and len(set(deadlines)) > 1 and args.streams is None:
        raise InputError(f"--deadline {','.join(f'{d:g}ms' for d in deadlines)}: one "
                         f"deadline a stream needs a capacity run: give --streams N (or "
                         f"auto), or one deadline")
    if deadlines is not None and args.batched:
        raise InputError("--deadline with --batched: batched capacity runs keep one frame "
                         "interval as the deadline; leave out --batched to keep deadlines")
    options = SimulateOptions(device=device, size=args.size, dtype=args.dtype, frames=args.frames,
                              clocks=clock_source(args),
                              streams=args.streams, fps=args.fps, seconds=args.seconds,
                              timeline=args.plot_frames if args.plot else 0,
                              batched=args.batched, progress=not args.quiet,
                              deadlines=deadlines)
    programs = []
    for path in args.schedules:  # the first deadline is the table's (stream 0's)
        programs.append(load(path, args.net, deadlines[0] if deadlines else None))
        print_warnings(programs[-1])
    check_clock_options(args, programs)
    report = simulate_schedules(programs, options)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(format_report(report))
    if args.plot:
        plot_timeline(report.sims, args.plot, args.plot_frames)
        drawn = min(args.plot_frames, args.frames)
        print(f"wrote {args.plot} (the first {drawn} of {args.frames} frames; --plot-frames "
              f"sets how many)")
    return 0
