"""``cwdsl eval``: score schedules on labeled video (the paper's Tables 3-6)."""
from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

from cwdsl.commands.options import (add_command, add_cost_model, add_data_options,
                                    add_deadline, add_fast_path, eval_network, eval_setup,
                                    fast_path, one_deadline, size_phrase)
from cwdsl.commands.threads import add_nproc, add_threads, apply_threads
from cwdsl.core.errors import InputError


def quiet_unless_main():
    """Under torchrun, every process but rank 0 keeps its warnings to itself while the
    inputs are checked (a bad input still fails on every process, each saying why)."""
    from cwdsl.runtime.distributed import launched_main

    if launched_main():
        return contextlib.nullcontext()
    return contextlib.redirect_stderr(io.StringIO())


def register(sub) -> None:
    p = add_command(
        sub, "eval", handle, "score schedules on labeled video (the paper's Tables 3-6)",
        "cwdsl eval schedules/oracle.cw schedules/pipeline3.cw --data shift16\n"
        "  cwdsl eval schedules/oracle.cw schedules/adaptive.cw --stride 3 --curve points.png\n"
        "  cwdsl eval schedules/*.cw --data camvid/val --net fcn8s_camvid --void 11")
    p.add_argument("schedules", nargs="+", metavar="SCHEDULE",
                   help="schedule files (.cw) to score on one network")
    add_data_options(p, codec=True)
    add_fast_path(p)
    add_deadline(p)
    add_cost_model(p)
    p.add_argument("--timeline", metavar="OUT.png",
                   help="plot when each schedule computed every stage on the first clip (Fig. 7)")
    p.add_argument("--curve", metavar="OUT.png",
                   help="plot each schedule as a point, frames with every stage computed (%%) "
                        "against mean IU (Fig. 6's axes); a frame oracle (every stage on every "
                        "frame, undelayed) as a horizontal line")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_threads(p)
    add_nproc(p, "the (schedule, clip) pairs")
    p.set_defaults(scales_out=lambda args: True)


def handle(args) -> int:
    import json

    from contextlib import ExitStack

    from cwdsl.commands.launch import scale_out
    from cwdsl.core.atomic import atomic_path
    from cwdsl.core.figures import check_plot_path
    from cwdsl.evaluate.evaluation import evaluate_schedules, format_eval_table, plot_timeline
    from cwdsl.evaluate.sweep import SweepCurve, is_frame_oracle
    from cwdsl.evaluate.sweepplot import plot_curves
    from cwdsl.commands.programs import load_programs, without_codec
    from cwdsl.runtime.distributed import joined

    if args.nproc > 1:
        return scale_out(args)
    apply_threads(args)
    network = eval_network(args)
    executor_options = fast_path(args)
    check_plot_path(args.timeline)
    check_plot_path(args.curve)
    if args.curve and args.timeline and Path(args.curve).resolve() == Path(args.timeline).resolve():
        raise InputError(f"--curve and --timeline both name {args.curve}; give two files")
    with quiet_unless_main():
        say = lambda text: print(f"note: {text}", file=sys.stderr)  # noqa: E731
        programs = without_codec(load_programs(args.schedules, network, say,
                                               one_deadline(args)), args.codec, say)
        weights, model, data = eval_setup(args, programs)
    w = joined(args.device)  # every input is checked: the first collective
    rows = evaluate_schedules(data, weights, programs, w.device, model,
                              progress=not args.quiet and w.main, size=args.size,
                              executor_options=executor_options, world=w,
                              cost_model=args.cost_model)
    if not w.main:  # rank 0 prints and writes
        return 0
    net = programs[0].network.name
    if args.json:
        codec = {"codec": data.codec} if data.codec is not None else {}  # --codec's record
        print(json.dumps({"data": data.description, **codec, "network": net,
                          "weights": weights,
                          "size": list(args.size) if args.size else None,
                          "rows": [row.to_json() for row in rows]}, indent=2))
    else:
        header = (f"{data.description}; {data.scored} scored frames; network {net} "
                  f"{size_phrase(args.size)}; time on {model.name} ({model.source})")
        print(format_eval_table(rows, header))
    with ExitStack() as outputs:  # every plot is written, or none
        if args.timeline:
            plot_timeline(outputs.enter_context(atomic_path(args.timeline)), rows, data,
                          f"{data.clips[0].name or data.description}: frames computing every "
                          f"stage (network {net})")
        if args.curve:
            plot_curves(outputs.enter_context(atomic_path(args.curve)),
                        [SweepCurve(p.name, (), (r,)) for p, r in zip(programs, rows)
                         if not is_frame_oracle(p)],
                        [r for p, r in zip(programs, rows) if is_frame_oracle(p)],
                        f"{data.description}\nnetwork {net}")
    if not args.json:
        for path in (args.timeline, args.curve):
            if path:
                print(f"wrote {path}", file=sys.stderr)  # stdout: the table alone
    return 0
