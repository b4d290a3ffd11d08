"""``cwdsl sweep``: score schedules over a range of their clock threshold (Fig. 6)."""
from __future__ import annotations

import sys
from pathlib import Path

from cwdsl.commands.evaluate import quiet_unless_main
from cwdsl.commands.options import (add_command, add_data_options, add_nproc, add_threads,
                                    apply_threads, eval_network, eval_setup, size_phrase)

DEFAULT_THETA = "0:0.5:0.05"


def register(sub) -> None:
    p = add_command(
        sub, "sweep", handle, "score schedules over a range of their clock threshold, one "
        "curve each (Fig. 6)",
        "cwdsl sweep schedules/adaptive.cw --theta 0:0.5:0.05 -o sweep.png\n"
        "  cwdsl sweep schedules/adaptive.cw schedules/pixeldiff.cw --theta 0:0.12:0.01 "
        "--theta 0:0.1:0.01 --at 20,35,50,65,80 -o fig6.png")
    p.add_argument("schedules", nargs="+", metavar="SCHEDULE",
                   help="schedule files (.cw) with a threshold clock (labeldiff … >= θ), "
                        "scored on one network")
    p.add_argument("--theta", action="append", metavar="RANGE",
                   help=f"START:STOP:STEP or a list a,b,c; once for every schedule, or once "
                        f"per schedule in order (default {DEFAULT_THETA})")
    p.add_argument("--at", metavar="P,P,…",
                   help="also print each schedule's mean IU interpolated at these rates of "
                        "frames with every stage computed (%%), and how the first schedule's "
                        "curve compares with each other's")
    p.add_argument("-o", "--out", required=True, metavar="OUT.png",
                   help="the plot; the table goes beside it as .csv (both written, or neither)")
    add_data_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_threads(p)
    add_nproc(p, "the (schedule, θ, clip) runs")
    p.set_defaults(scales_out=lambda args: True)


def handle(args) -> int:
    from cwdsl.commands.launch import scale_out
    from cwdsl.core.atomic import atomic_path
    from cwdsl.core.figures import check_plot_path
    from cwdsl.core.outputs import check_output
    from cwdsl.evaluate.sweep import (compare_curves, format_sweep_table, parse_range,
                                      parse_rates, plan_sweeps, score_sweeps, sweep_csv)
    from cwdsl.evaluate.sweepplot import plot_curves
    from cwdsl.runtime.distributed import joined

    if args.nproc > 1:
        return scale_out(args)
    apply_threads(args)
    out = Path(args.out)
    check_plot_path(out)
    csv_path = check_output(out.with_suffix(".csv"), "table")
    ranges = [parse_range(text) for text in args.theta or [DEFAULT_THETA]]
    rates = parse_rates(args.at) if args.at else None
    with quiet_unless_main():
        plans = plan_sweeps(args.schedules, ranges, eval_network(args))
        weights, model, data = eval_setup(
            args, [p for plan in plans for p in (plan.oracle, *plan.programs)])
    w = joined(args.device)  # every input is checked: the first collective
    result = score_sweeps(data, weights, plans, w.device, model,
                          progress=not args.quiet and w.main, size=args.size, world=w)
    if not w.main:  # rank 0 prints and writes
        return 0
    net = plans[0].oracle.network.name
    names = ", ".join(plan.name for plan in plans)
    with atomic_path(csv_path) as csv_tmp, atomic_path(out) as plot_tmp:
        csv_tmp.write_text(sweep_csv(result.curves), encoding="utf-8")
        plot_curves(plot_tmp, result.curves, result.oracles,
                    f"{names} on {data.description}\nnetwork {net}")
    print(format_sweep_table(result, f"{data.description}; network {net} "
                                     f"{size_phrase(args.size)}"))
    if rates:
        print()
        print(compare_curves(result.curves, rates).table())
    print(f"wrote {out} and {csv_path}", file=sys.stderr)  # stdout: the tables alone
    return 0
