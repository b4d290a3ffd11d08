"""``cwdsl simulate``: estimate latency and compute of schedules without running them."""
from __future__ import annotations

from cwdsl.commands.options import (add_clock_source, add_command, add_dtype, clock_source,
                                    positive_int, print_warnings)
from cwdsl.core.errors import InputError


def register(sub) -> None:
    p = add_command(
        sub, "simulate", handle, "estimate latency and compute of schedules without running them",
        "cwdsl simulate schedules/*.cw --net fcn8s --size 500x500 --device h100")
    p.add_argument("schedules", nargs="+", metavar="SCHEDULE", help="schedule files (.cw)")
    p.add_argument("--net", metavar="NAME", help="price the schedules on this network instead")
    p.add_argument("--size", metavar="HxW", help="input size (default: the schedule's)")
    p.add_argument("--device", default="titanx",
                   help="h100, h200, a100, titanx, cpu, a device spec JSON, or a profile JSON "
                        "from cwdsl profile (default titanx, the paper's GPU)")
    add_dtype(p, "the float type priced")
    p.add_argument("--frames", type=positive_int, default=10_000, help="frames (default 10000)")
    add_clock_source(p, cycled=True)
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--plot", metavar="OUT.png",
                   help="draw per-frame work and latency of the first --plot-frames frames")
    p.add_argument("--plot-frames", type=positive_int, default=48, metavar="N",
                   help="frames the plot draws (default 48)")
    p.add_argument("--streams", metavar="N|auto",
                   help="capacity: N camera streams share the device "
                        "('auto': the most it sustains)")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of each stream (default 30)")
    p.add_argument("--seconds", type=float, default=10.0, help="simulated seconds (default 10)")
    p.add_argument("--batched", action="store_true",
                   help="with --streams: one executor batches a stage across the streams "
                        "computing it in a wave (priced from a profile's --batch timings; "
                        "without them a batch of k costs k frames)")


def streams_option(text: str | None) -> int | str | None:
    """``--streams``: None, ``auto`` or a whole number of at least 1."""
    if text is None or text == "auto":
        return text
    try:
        streams = int(text)
        if streams < 1:
            raise ValueError
    except ValueError:
        raise InputError(f"--streams takes a whole number >= 1 or 'auto', got {text!r}") from None
    return streams


def handle(args) -> int:
    import json

    from cwdsl.core.figures import check_plot_path
    from cwdsl.core.units import parse_size
    from cwdsl.ir.graph import load
    from cwdsl.sim.devices import load_device
    from cwdsl.sim.report import SimulateOptions, format_report, simulate_schedules
    from cwdsl.sim.simulate import plot_timeline

    check_plot_path(args.plot)
    device = load_device(args.device)
    size = parse_size(args.size) if args.size else None
    streams = streams_option(args.streams)
    if args.fps <= 0 or args.seconds <= 0:
        raise InputError("--fps and --seconds must be positive")
    if args.batched and streams is None:
        raise InputError("--batched prices a capacity run: give --streams N (or auto) too")
    options = SimulateOptions(device=device, size=size, dtype=args.dtype, frames=args.frames,
                              clocks=clock_source(args),
                              streams=streams, fps=args.fps, seconds=args.seconds,
                              timeline=args.plot_frames if args.plot else 0,
                              batched=args.batched)
    programs = []
    for path in args.schedules:
        programs.append(load(path, args.net))
        print_warnings(programs[-1])
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
