"""``cwdsl run``: run a schedule over video with a real network."""
from __future__ import annotations

from pathlib import Path

from cwdsl.commands.options import add_command, positive_int
from cwdsl.core.units import DTYPE_NAMES


def register(sub) -> None:
    p = add_command(
        sub, "run", handle, "run a schedule over video with a real network",
        "cwdsl run schedules/adaptive.cw --out out/ --save masks,overlay")
    p.add_argument("schedule", metavar="SCHEDULE")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--video", metavar="PATH", help="a video file (mp4, avi, webm, mkv, …)")
    src.add_argument("--frames", dest="frames_dir", metavar="DIR",
                     help="a folder of images, in name order")
    p.add_argument("--net", metavar="NAME",
                   help="run on this network instead of the schedule's (same layer names); "
                        "default for the demo: tiny")
    p.add_argument("--weights", metavar="PATH",
                   help="state dict to load; default for tiny: the bundled demo weights; "
                        "'random' for timing runs")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    p.add_argument("--dtype", default="float32", choices=DTYPE_NAMES)
    p.add_argument("--out", metavar="DIR", help="write run.json (and --save items) here")
    p.add_argument("--max-frames", type=positive_int, metavar="N")
    p.add_argument("--save", default="", metavar="ITEMS",
                   help="comma-separated: masks (palette PNGs), overlay (overlay.mp4)")
    p.add_argument("--sequential", action="store_true",
                   help="run pipelined stages one after the other instead of concurrently")
    p.add_argument("--no-oracle", action="store_true",
                   help="skip the comparison with the frame oracle on the demo")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def handle(args) -> int:
    from cwdsl.runtime.run import RunOptions, run, summary_table

    options = RunOptions(
        schedule=args.schedule, video=args.video, frames_dir=args.frames_dir, net=args.net,
        weights=args.weights, device=args.device, dtype=args.dtype, out=args.out,
        max_frames=args.max_frames,
        save=frozenset(item.strip() for item in args.save.split(",") if item.strip()),
        concurrency="sequential" if args.sequential else "auto",
        oracle=False if args.no_oracle else None, progress=not args.quiet)
    record = run(options)
    print(summary_table(record))
    if args.out:
        written = ["run.json"] + [name for item, name in (("masks", "masks/"),
                                                          ("overlay", "overlay.mp4"))
                                  if item in options.save]
        print(f"wrote {', '.join(str(Path(args.out) / w) for w in written)}")
    return 0
