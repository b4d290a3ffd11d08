"""``cwdsl layers``: how fast each score layer changes; truncated outputs' accuracy
(the paper's Table 1 and Fig. 2)."""
from __future__ import annotations

from cwdsl.commands.options import (add_command, add_data_options, check_data_options,
                                    data_setup, eval_network, size_phrase)
from cwdsl.core.errors import InputError


def register(sub) -> None:
    p = add_command(
        sub, "layers", handle, "how fast each score layer changes; truncated outputs' accuracy "
        "(Table 1, Fig. 2)",
        "cwdsl layers --plot fig2.png\n"
        "  cwdsl layers --data camvid/val --net fcn8s_camvid --void 11")
    add_data_options(p, default="motion",
                     extra="; motion: two generated clips, large and small motion (default)",
                     net_default="tiny for generated data; required for a folder",
                     time_column=False)
    p.add_argument("--plot", metavar="OUT.png", help="per-frame temporal difference (Fig. 2)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def handle(args) -> int:
    import json

    from cwdsl.core.figures import check_plot_path
    from cwdsl.core.netspec import get_network
    from cwdsl.core.progress import progress_bar
    from cwdsl.demo.clip import DEMO
    from cwdsl.evaluate.evaluation import prepare_network
    from cwdsl.evaluate.layers import (format_layer_table, layer_stats, layer_table,
                                       motion_clips, plot_changes)
    from cwdsl.nets.bundled import resolve_weights
    from cwdsl.runtime.device import resolve_device

    check_plot_path(args.plot)
    check_data_options(args)
    motion = args.data == "motion"
    name = DEMO.network if motion and not args.net else eval_network(args)
    if name is None:
        raise InputError(f"--data {args.data}: give --net (no schedule names the network here)")
    spec = get_network(name)
    if motion:
        if args.stride != 1:
            raise InputError(f"--stride {args.stride}: --data motion is two generated clips of "
                             f"fixed motion; --stride subsamples --data demo or a folder")
        weights = resolve_weights(spec.name, args.weights)
        resolve_device(args.device)
        data = motion_clips()
    else:
        weights, data = data_setup(args, spec.name)
    net = prepare_network(spec, weights, args.device)
    with progress_bar(not args.quiet, total=data.frames, desc="layers", unit="frame") as bar:
        stats = layer_stats(net, data, bar.update, args.size)
    rows = layer_table(net, stats)
    if args.json:
        print(json.dumps({"data": data.description, "network": spec.name,
                          "rows": [row.to_json() for row in rows]}, indent=2))
    else:
        print(format_layer_table(rows, f"{data.description}; network {spec.name} "
                                       f"{size_phrase(args.size)}"))
    if args.plot:
        plot_changes(args.plot, stats)
        print(f"wrote {args.plot}")
    return 0
