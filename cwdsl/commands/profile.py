"""``cwdsl profile``: time every layer, head, fuse, clock, optical flow and warp of a network
on a device."""
from __future__ import annotations

from cwdsl.commands.options import (add_command, add_dtype, add_fast_path, bounded_int,
                                    fast_path, thread_count)

MAX_RUNS = 1000
"""``--warmup`` and ``--repeats``: each is that many calls of every part."""


def register(sub) -> None:
    p = add_command(
        sub, "profile", handle,
        "time every layer, head, fuse, clock, optical flow and warp of a network on a device",
        "cwdsl profile --net fcn8s --size 256x256 --device cpu -o cpu.json")
    p.add_argument("--net", required=True, metavar="NAME",
                   help="network to time (a registered one: fcn8s, tiny, fcn8s_camvid, …)")
    p.add_argument("--size", required=True, metavar="HxW",
                   help="input size the timings are for (simulate uses the profile only "
                        "at this size)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    add_dtype(p, "the float type timed")
    p.add_argument("--weights", metavar="PATH",
                   help="weights to load (default: the network's bundled weights, if any; "
                        "they decide its fast paths, e.g. FCN's grouped upsamplers)")
    p.add_argument("--warmup", type=bounded_int(MAX_RUNS, 0), default=2,
                   help=f"untimed runs first, at most {MAX_RUNS} (default 2)")
    p.add_argument("--repeats", type=bounded_int(MAX_RUNS), default=7,
                   help=f"timed runs of each part, at most {MAX_RUNS}; their median is kept "
                        f"(default 7)")
    p.add_argument("--threads", type=thread_count, help="torch threads (default: torch's)")
    p.add_argument("-o", "--out", required=True, metavar="OUT.json",
                   help="the profile to write (for simulate --device OUT.json)")
    add_fast_path(p)  # profile the path the executor will run
    p.add_argument("--batch", metavar="B1,B2,…",
                   help="batch sizes to time the head segments' ranges and the fuse at too, "
                        "like 1,2,4,8, for simulate --streams N --batched (default: 1 only)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def handle(args) -> int:
    from cwdsl.core.jsonfile import read_json_object
    from cwdsl.core.netspec import get_network
    from cwdsl.core.outputs import check_output
    from cwdsl.core.units import parse_size
    from cwdsl.runtime.device import resolve_device, torch_dtype
    from cwdsl.profile.summary import format_profile_summary
    from cwdsl.profile.harness import run_profile
    from cwdsl.profile.batch import parse_batches

    check_output(args.out, "profile")  # every option checked before the bar appears
    get_network(args.net, option="--net")
    size = parse_size(args.size)
    torch_dtype(args.dtype, resolve_device(args.device))
    fast = fast_path(args)
    batches = parse_batches(args.batch)
    out = run_profile(args.net, size, args.device, args.dtype, args.out, args.weights,
                      progress=not args.quiet, warmup=args.warmup, repeats=args.repeats,
                      threads=args.threads, batches=batches, **fast)
    print(format_profile_summary(read_json_object(out, "profile"), out))
    return 0
