"""``cwdsl sweep``: score a schedule over a range of its clock threshold (Fig. 6)."""
from __future__ import annotations

from pathlib import Path

from cwdsl.commands.options import (add_command, add_data_options, eval_network, eval_setup,
                                    size_phrase)


def register(sub) -> None:
    p = add_command(
        sub, "sweep", handle, "score a schedule over a range of its clock threshold (Fig. 6)",
        "cwdsl sweep schedules/adaptive.cw --theta 0:0.5:0.05 -o sweep.png")
    p.add_argument("schedule", metavar="SCHEDULE",
                   help="a schedule file (.cw) with a threshold clock (labeldiff … >= θ)")
    p.add_argument("--theta", default="0:0.5:0.05",
                   help="START:STOP:STEP or a list a,b,c (default 0:0.5:0.05)")
    p.add_argument("-o", "--out", required=True, metavar="OUT.png",
                   help="the plot; the table goes beside it as .csv")
    add_data_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def handle(args) -> int:
    from cwdsl.core.atomic import write_text
    from cwdsl.core.figures import check_plot_path
    from cwdsl.core.outputs import check_output
    from cwdsl.evaluate.evaluation import format_eval_table
    from cwdsl.evaluate.sweep import (parse_range, plot_sweep, score_sweep, sweep_csv,
                                      sweep_programs)

    out = Path(args.out)
    check_plot_path(out)
    check_output(out.with_suffix(".csv"), "table")
    thetas = parse_range(args.theta)
    programs, oracle = sweep_programs(args.schedule, thetas, eval_network(args))
    weights, model, data = eval_setup(args, [oracle, *programs])
    result = score_sweep(data, weights, programs, oracle, thetas, args.device, model,
                         progress=not args.quiet, size=args.size)
    csv_path = out.with_suffix(".csv")
    write_text(csv_path, sweep_csv(result.thetas, result.rows))
    net = oracle.network.name
    plot_sweep(out, result.thetas, result.rows, result.oracle,
               f"{programs[0].name} on {data.description}\nnetwork {net}")
    print(format_eval_table([result.oracle, *result.rows],
                            f"{data.description}; network {net} {size_phrase(args.size)}"))
    print(f"wrote {out} and {csv_path}")
    return 0
