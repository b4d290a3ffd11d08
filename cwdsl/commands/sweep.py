"""``cwdsl sweep``: score schedules over a range of their clock threshold (Fig. 6)."""
from __future__ import annotations

import sys
from pathlib import Path

from cwdsl.commands.evaluate import quiet_unless_main
from cwdsl.core.errors import InputError
from cwdsl.commands.options import (add_command, add_data_options, encoded, eval_network,
                                    eval_setup, size_phrase)
from cwdsl.commands.threads import add_nproc, add_threads, apply_threads

DEFAULT_THETA = "0:0.5:0.05"
DEFAULT_CHOICE = "rate:50"


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
    p.add_argument("--tune", metavar="DATA|split:F",
                   help="choose each schedule's θ on this data and report it on --data: "
                        "another --data spec that shares no frame or still with it (e.g. "
                        "shift16:TRAIN_DIR to tune, --data VAL_DIR to report), or split:F, the "
                        "first share F of --data's clips (by clip when it has several, else by "
                        "frame of its one sequence) tunes and the rest reports; the result "
                        "printed last is the report set's, the tune set's curve is shown apart")
    p.add_argument("--choose", metavar="rate:P|loss:D",
                   help="with --tune, how θ is chosen on the tune curve: rate:P, the θ whose "
                        "frames with every stage computed lie nearest P%% (default rate:50); "
                        "loss:D, the θ computing every stage on the fewest frames within D mean "
                        "IU of the tune set's frame oracle")
    p.add_argument("-o", "--out", required=True, metavar="OUT.png",
                   help="the plot; the table goes beside it as .csv (both written, or neither)")
    add_data_options(p, codec=True)
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
    from cwdsl.evaluate.protocol import is_sequence, load_eval_data
    from cwdsl.evaluate.sweepplot import plot_curves
    from cwdsl.evaluate.tuning import load_tune_data, parse_choice
    from cwdsl.runtime.distributed import joined

    if args.nproc > 1:
        return scale_out(args)
    apply_threads(args)
    out = Path(args.out)
    check_plot_path(out)
    csv_path = check_output(out.with_suffix(".csv"), "table")
    ranges = [parse_range(text) for text in args.theta or [DEFAULT_THETA]]
    rates = parse_rates(args.at) if args.at else None
    if args.choose and not args.tune:
        raise InputError("--choose picks θ on the --tune set: give --tune DATA or --tune split:F")
    choice = parse_choice(args.choose or DEFAULT_CHOICE) if args.tune else None
    with quiet_unless_main():
        plans = plan_sweeps(args.schedules, ranges, eval_network(args))
        weights, model, data = eval_setup(
            args, [p for plan in plans for p in (plan.oracle, *plan.programs)])
        if args.tune:
            tune, data = load_tune_data(args.tune, args.data, data, lambda spec: encoded(
                args, load_eval_data(spec, plans[0].oracle.network.num_classes, args.void,
                                     args.scenes, args.score, 1 if args.stride > 1 and not
                                     is_sequence(spec) else args.stride)), args.scenes)
    w = joined(args.device)  # every input is checked: the first collective
    if args.tune:
        return _tuned(args, plans, tune, data, weights, model, w, out, csv_path, rates, choice)
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


def _tuned(args, plans, tune, data, weights, model, w, out, csv_path, rates, choice) -> int:
    """``--tune``: sweep the tune set, choose θ, score the report set; rank 0 prints the
    tune set's curve, the choices, and the report set's table last (the result)."""
    from cwdsl.core.atomic import atomic_path
    from cwdsl.evaluate.sweep import compare_curves, format_sweep_table
    from cwdsl.evaluate.sweepplot import plot_curves
    from cwdsl.evaluate.tuning import format_choices, score_tuned, tuned_csv

    result = score_tuned(tune, data, weights, plans, args.schedules, eval_network(args),
                         choice, w.device, model, progress=not args.quiet and w.main,
                         size=args.size, world=w)
    if not w.main:
        return 0
    net = plans[0].oracle.network.name
    names = ", ".join(plan.name for plan in plans)
    where = f"network {net} {size_phrase(args.size)}"
    with atomic_path(csv_path) as csv_tmp, atomic_path(out) as plot_tmp:
        csv_tmp.write_text(tuned_csv(result), encoding="utf-8")
        plot_curves(plot_tmp, result.tune.curves, result.tune.oracles,
                    f"tune set (θ chosen here): {names} on {tune.description}",
                    (result.report.curves, result.report.oracles,
                     f"report set (the result): {data.description}\n{where}"))
    print(format_sweep_table(result.tune, f"TUNE SET (θ is chosen here; not the result): "
                                          f"{tune.description}; {where}"))
    if rates:
        print()
        print(compare_curves(result.tune.curves, rates).table())
    print()
    print(format_choices(result, args.schedules))
    print()
    print(format_sweep_table(result.report, f"RESULT, on the report set at the θ chosen on "
                                            f"the tune set: {data.description}; {where}"))
    print(f"wrote {out} and {csv_path}", file=sys.stderr)
    return 0
