"""``cwdsl run``: run a schedule over video with a real network."""
from __future__ import annotations

import sys
from pathlib import Path

from cwdsl.commands.options import (Given, add_command, add_cost_model, add_deadline,
                                    add_fast_path, fast_path, given, positive_float,
                                    positive_int, stream_count)
from cwdsl.commands.threads import add_nproc, add_threads, apply_threads
from cwdsl.core.errors import InputError
from cwdsl.core.units import DTYPE_NAMES, parse_size


def register(sub) -> None:
    p = add_command(
        sub, "run", handle, "run a schedule over video with a real network",
        "cwdsl run schedules/adaptive.cw --out out/ --save masks,overlay")
    p.add_argument("schedule", metavar="SCHEDULE", help="a schedule file (.cw)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--video", metavar="PATH", action="append",
                     help="a video file (mp4, avi, webm, mkv, …); repeat it to run several "
                          "streams through one network (batched), each into --out DIR/<stem>/; "
                          "or a live source, run in real time: a camera (/dev/video0), a "
                          "stream URL (rtsp://, tcp://, udp://, http://, https://) or - "
                          "(MPEG-TS on standard input)")
    src.add_argument("--frames", dest="frames_dir", metavar="DIR",
                     help="a folder of images, in name order")
    src.add_argument("--videos", dest="videos_dir", metavar="DIR",
                     help="every video file in DIR (name order), one stream each; a stream "
                          "whose --out DIR/<stem>/ holds a finished run of the same schedule "
                          "and options is skipped (a corpus run resumes); under torchrun each "
                          "process runs its share")
    p.add_argument("--streams", type=stream_count, metavar="N",
                   help="replay the source (--video, or the demo) as N streams, stream i "
                        "starting i x (frames / N) frames in and wrapping (benchmarking); "
                        "outputs in --out DIR/stream-<i>/ (N = 1: the one stream, a plain run "
                        "in --out DIR)")
    p.add_argument("--max-batch", type=stream_count, metavar="N",
                   help="with several streams (not --unbatched): at most N streams a batch; "
                        "a stage's batches run concurrently on a CPU's lane threads (one a "
                        "stage of the schedule, none with --sequential or one stage) and one "
                        "after another on CUDA (one stream a stage); default: every stream "
                        "of one frame size")
    p.add_argument("--unbatched", action="store_true",
                   help="with several streams: run them one frame at a time instead of "
                        "batching their stages (the baseline)")
    p.add_argument("--realtime", action="store_true",
                   help="deliver the video file, frames folder or demo as a camera would: "
                        "frame i arrives at i / fps seconds, a frame not taken before the "
                        "next arrives is dropped (with its ground truth); implied for a live "
                        "source; one stream only")
    p.add_argument("--fps", type=positive_float, metavar="F",
                   help="with --realtime: the frame rate frames arrive at (default: the "
                        "video's own, 15 for a frames folder)")
    p.add_argument("--stall-timeout", type=positive_float, default=5.0, metavar="S",
                   action=Given,
                   help="a live source that sends no frame for S seconds ends the run, "
                        "which keeps the frames so far (default 5)")
    add_deadline(p, streams=True)
    add_cost_model(p)
    p.add_argument("--net", metavar="NAME",
                   help="run on this network instead of the schedule's (same layer names); "
                        "default: the schedule's network line; on the demo a schedule whose "
                        "network has no bundled weights runs on tiny")
    p.add_argument("--weights", metavar="PATH",
                   help="state dict to load; default: the network's bundled weights; "
                        "'random' for timing runs")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    p.add_argument("--size", metavar="HxW",
                   help="resize frames to HEIGHTxWIDTH; default: the schedule's 'input HxW' "
                        "when it runs on the network it names, else the frames' own size")
    p.add_argument("--dtype", default="float32", choices=DTYPE_NAMES,
                   help="the network's number type (default float32)")
    p.add_argument("--out", metavar="DIR",
                   help="write run.json (and --save items) into this folder; it then holds "
                        "this run only (a previous run there is replaced)")
    p.add_argument("--max-frames", type=positive_int, metavar="N",
                   help="stop after the first N frames")
    p.add_argument("--force", action="store_true",
                   help="let --out replace a non-empty folder that is not a previous run "
                        "(its contents are deleted)")
    p.add_argument("--save", default="", metavar="ITEMS",
                   help="comma-separated: masks (palette PNGs), overlay (overlay.mp4)")
    p.add_argument("--keep-partial", action="store_true",
                   help="on a truncated or corrupt video file, run on the frames that decode "
                        "(and say so) instead of failing")
    p.add_argument("--sequential", action="store_true",
                   help="run pipelined stages (and a wave's batches of several streams) one "
                        "after the other instead of concurrently; refused where none would "
                        "run concurrently")
    add_fast_path(p)
    p.add_argument("--no-oracle", action="store_true",
                   help="skip the comparison with the frame oracle on the demo (the only "
                        "source compared with it: it has ground truth)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_threads(p)
    add_nproc(p, "the streams (--videos, --video repeated, --streams)")
    p.set_defaults(scales_out=_several_streams)


def _several_streams(args) -> bool:
    """Whether the run has several streams (as ``RunOptions.multistream``), which
    ``torchrun``'s or ``--nproc``'s processes share."""
    return len(args.video or ()) > 1 or args.videos_dir is not None or (args.streams or 1) > 1


def note(text: str) -> None:
    print(f"note: {text}", file=sys.stderr)


def handle(args) -> int:
    from cwdsl.run.records import summary_table
    from cwdsl.run.run import RunOptions, check_options, run

    videos = tuple(args.video or ())
    options = RunOptions(
        schedule=args.schedule, video=videos[0] if len(videos) == 1 else None,
        frames_dir=args.frames_dir, net=args.net,
        weights=args.weights, device=args.device, dtype=args.dtype, out=args.out,
        max_frames=args.max_frames,
        save=frozenset(item.strip() for item in args.save.split(",") if item.strip()),
        concurrency="sequential" if args.sequential else "auto",
        oracle=False if args.no_oracle else None, progress=not args.quiet,
        size=parse_size(args.size) if args.size else None, force=args.force,
        keep_partial=args.keep_partial, videos=videos, videos_dir=args.videos_dir,
        streams=args.streams, batched=not args.unbatched, max_batch=args.max_batch,
        realtime=args.realtime, fps=args.fps, stall_timeout=args.stall_timeout,
        deadlines=args.deadline or (), cost_model=args.cost_model,
        **fast_path(args))
    if given(args, "stall_timeout") and not options.live:
        raise InputError(f"--stall-timeout {args.stall_timeout:g}: ends a live source that "
                         f"stops sending frames; give one to --video (a camera, a URL, -)")
    check_options(options)  # an option that cannot act is refused before processes start
    if args.nproc > 1:
        if not _several_streams(args):
            raise InputError("--nproc deals streams among processes: give several (--videos "
                             "DIR, --video more than once, or --streams N)")
        from cwdsl.commands.launch import scale_out

        return scale_out(args)
    apply_threads(args)
    if options.multistream:
        return _streams(options)
    record = run(options, on_note=note)
    print(summary_table(record))
    if args.out:
        written = ["run.json"] + [name for item, name in (("masks", "masks/"),
                                                          ("overlay", "overlay.mp4"))
                                  if item in options.save]
        print(f"wrote {', '.join(str(Path(args.out) / w) for w in written)}")
    return 0


def _streams(options) -> int:
    from cwdsl.runtime.distributed import world
    from cwdsl.run.streamrun import STREAMS_FILE, run_streams
    from cwdsl.run.streamtable import streams_table

    record = run_streams(options, on_note=note)
    if world(options.device).main:
        print(streams_table(record))
        if options.out:
            print(f"wrote {Path(options.out) / STREAMS_FILE} and a folder per stream")
    return 0
