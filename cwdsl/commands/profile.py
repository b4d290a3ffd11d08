"""``cwdsl profile``: time every layer, head, fuse and clock of a network on a device."""
from __future__ import annotations

from cwdsl.commands.options import add_command, count, positive_int
from cwdsl.core.units import DTYPE_NAMES


def register(sub) -> None:
    p = add_command(
        sub, "profile", handle, "time every layer, head, fuse and clock of a network on a device",
        "cwdsl profile --net fcn8s --size 256x256 --device cpu -o cpu.json")
    p.add_argument("--net", required=True)
    p.add_argument("--size", required=True, metavar="HxW")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    p.add_argument("--dtype", default="float32", choices=DTYPE_NAMES)
    p.add_argument("--weights", metavar="PATH",
                   help="weights to load (timings rarely depend on them)")
    p.add_argument("--warmup", type=count, default=2, help="untimed runs first (default 2)")
    p.add_argument("--repeats", type=positive_int, default=7, help="timed runs; medians are kept")
    p.add_argument("--threads", type=positive_int, help="torch threads (default: torch's)")
    p.add_argument("-o", "--out", required=True, metavar="OUT.json")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def handle(args) -> int:
    from cwdsl.core.outputs import check_output
    from cwdsl.sim.profiling import run_profile

    check_output(args.out, "profile")
    out = run_profile(args.net, args.size, args.device, args.dtype, args.out, args.weights,
                      progress=not args.quiet, warmup=args.warmup, repeats=args.repeats,
                      threads=args.threads)
    print(f"wrote {out}")
    return 0
