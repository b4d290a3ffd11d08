"""``cwdsl train-clock``: fit a learned clock model from video, labels not needed."""
from __future__ import annotations

import json
import math

from cwdsl.commands.options import (Given, add_command, bounded_int, finite, finite_float,
                                    given, positive_int, seed, size_arg, thread_count)
from cwdsl.core.errors import InputError

MAX_CLIP_FRAMES = 1000
"""``--clip-frames``: a clip's frames are held in memory together."""
MAX_CLIPS_PER_IMAGE = 1000
MAX_HIDDEN = 4096
MAX_EPOCHS = 1_000_000
MAX_SPEED = 1000.0
"""``--max-speed``, pixels per frame."""
MAX_LR = 10.0
"""``--lr``: far above any rate that fits (the handler checks it is positive)."""


def register(sub) -> None:
    p = add_command(
        sub, "train-clock", handle,
        "fit a learned clock model (predicted(STAGE, model=…)) from video, no labels needed",
        "cwdsl train-clock schedules/learned.cw --data motion:camvid/train "
        "--clips-per-image 2 -o clock.json\n"
        "  cwdsl train-clock schedules/adaptive.cw --reads s2 --net tiny --data scenes:40 "
        "-o clock_demo.json")
    p.add_argument("schedule", metavar="SCHEDULE",
                   help="a schedule (.cw) giving the network and its stages")
    p.add_argument("--data", action="append", required=True, metavar="SPEC",
                   help="repeatable: demo; scenes:N (N generated clips); shift16, shift32, "
                        "shift16:DIR, shift32:DIR (the paper's translated crops); motion:DIR "
                        "(synthetic pans and zooms over each image of DIR or DIR/images); or "
                        "DIR (a video as a folder of frames, one clip per sequence)")
    p.add_argument("--reads", metavar="STAGE",
                   help="the stage the clock reads (default: the stage of the schedule's "
                        "first predicted(...) clock)")
    p.add_argument("--fires", metavar="STAGE",
                   help="the stage the clock gates (default: the first stage whose clock "
                        "reads --reads with predicted or labeldiff)")
    p.add_argument("--net", metavar="NAME", help="network (default: the schedule's)")
    p.add_argument("--weights", metavar="PATH",
                   help="its weights (default: the network's bundled ones)")
    p.add_argument("--size", type=size_arg, metavar="HxW",
                   help="frame size the network runs at (default: the schedule's input, or "
                        "the network's own size with --net)")
    p.add_argument("--stride", type=positive_int, default=1, metavar="N", action=Given,
                   help="keep every N-th frame of a video (DIR, demo) (default 1)")
    p.add_argument("--gap", type=positive_int, default=12, metavar="G",
                   help="frames t - k after the clock fired at k to sample, 1..G (default 12)")
    p.add_argument("--clip-frames", type=bounded_int(MAX_CLIP_FRAMES), default=12, metavar="N",
                   action=Given,
                   help="frames of a motion:DIR clip (default 12)")
    p.add_argument("--clips-per-image", type=bounded_int(MAX_CLIPS_PER_IMAGE), default=1,
                   metavar="N", action=Given,
                   help="motion:DIR clips per image, each with its own motion (default 1)")
    p.add_argument("--max-speed", type=finite_float(0.0, MAX_SPEED), default=12.0, metavar="PX",
                   action=Given,
                   help="motion:DIR: the fastest pan in output pixels per frame (default 12)")
    p.add_argument("--signals", metavar="A,B,…",
                   help="the signals the model reads (default all: labeldiff_fired, "
                        "labeldiff_previous, pixeldiff_fired, pixeldiff_previous, "
                        "frames_since_fired)")
    p.add_argument("--hidden", type=bounded_int(MAX_HIDDEN, 0), default=16, metavar="N",
                   help="units of the hidden layer (default 16; 0: logistic regression)")
    p.add_argument("--no-monotone", dest="monotone", action="store_false",
                   help="let the prediction fall as a signal grows (by default it never does)")
    p.add_argument("--epochs", type=bounded_int(MAX_EPOCHS), default=3000,
                   help="full-batch Adam steps (default 3000)")
    p.add_argument("--lr", type=finite_float(-math.inf, MAX_LR), default=0.03,
                   help=f"Adam's learning rate, at most {MAX_LR:g} (default 0.03)")
    p.add_argument("--minutes", type=finite, metavar="M",
                   help="spend at most M minutes of wall time on the whole command: sampling "
                        "stops taking new clips at 80%% of it (the report counts the clips "
                        "left out) and the fit stops its epochs at the end (default: no "
                        "limit)")
    p.add_argument("--hold-out", type=finite, default=0.2, metavar="SHARE",
                   help="share of clips held out to report the fit on (default 0.2)")
    p.add_argument("--seed", type=seed, default=0,
                   help="seed of the motion, the held-out split and the initial weights")
    p.add_argument("--threads", type=thread_count, metavar="N", help="torch threads")
    p.add_argument("-o", "--out", required=True, metavar="MODEL.json",
                   help="the clock model file (written whole, or not at all)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def check_clock_data_options(args) -> None:
    """An ``InputError`` for a data option given where no ``--data`` it names reads it: the
    motion clips' options (``--clip-frames``, ``--clips-per-image``, ``--max-speed``) without
    a ``motion:`` spec, ``--stride`` with nothing but ``motion:`` specs (their frames are
    made, not subsampled)."""
    motion = [spec.startswith("motion") for spec in args.data]
    if not any(motion):
        for option, dest in (("--clip-frames", "clip_frames"),
                             ("--clips-per-image", "clips_per_image"),
                             ("--max-speed", "max_speed")):
            if given(args, dest):
                raise InputError(f"{option} {getattr(args, dest):g}: shapes the synthetic "
                                 f"clips of --data motion:DIR, and no --data is one")
    if all(motion) and given(args, "stride"):
        raise InputError(f"--stride {args.stride}: subsamples a video (DIR, demo, scenes:N); "
                         f"--data motion:DIR clips are made at their own motion per frame "
                         f"(--max-speed)")


def handle(args) -> int:
    import torch

    from cwdsl.core.clockmodel import SIGNALS
    from cwdsl.core.outputs import check_output
    from cwdsl.train.clocktrain import ClockTrainConfig, FitSettings, train_clock
    from cwdsl.train.motionclips import Motion

    check_output(args.out, "clock model")
    check_clock_data_options(args)
    signals = tuple(s.strip() for s in args.signals.split(",")) if args.signals else \
        tuple(SIGNALS)
    if args.lr <= 0:
        raise InputError(f"--lr must be positive, got {args.lr:g}")
    if not 0 <= args.max_speed <= 1000:
        raise InputError(f"--max-speed must lie in [0, 1000] pixels per frame, got "
                         f"{args.max_speed:g}")
    if args.minutes is not None and not 0 < args.minutes <= 7 * 24 * 60:
        raise InputError(f"--minutes must be positive (at most a week), got {args.minutes:g}")
    if args.clip_frames < 2:
        raise InputError(f"--clip-frames must be at least 2, got {args.clip_frames}")
    if args.threads:
        torch.set_num_threads(args.threads)
    config = ClockTrainConfig(
        schedule=args.schedule, data=tuple(args.data), reads=args.reads, fires=args.fires,
        net=args.net, weights=args.weights, size=args.size, stride=args.stride, gap=args.gap,
        per_image=args.clips_per_image, minutes=args.minutes,
        motion=Motion(frames=args.clip_frames, speed=(0.0, args.max_speed)),
        fit=FitSettings(signals=signals, hidden=args.hidden, epochs=args.epochs, lr=args.lr,
                        hold_out=args.hold_out, seed=args.seed,
                        monotone=args.monotone))
    report = train_clock(config, args.out, progress=not args.quiet)
    held, fitted = report.metrics["held_out"], report.metrics["fitted"]
    alone = report.metrics["held_out_signal_rank_correlation"]
    print(f"sampled {report.clips} clips ({report.frames} frames, {report.samples} samples) "
          f"in {report.seconds / 60:.1f} min")
    print(f"held out {report.metrics['groups']['held_out']} of "
          f"{sum(report.metrics['groups'].values())} clip groups: R² {held['r2']:.3f}, rank "
          f"correlation {held['rank_correlation']:.3f}, mean abs error {held['mae']:.4f} "
          f"(fitted: R² {fitted['r2']:.3f}, rank correlation "
          f"{fitted['rank_correlation']:.3f})")
    print("held-out rank correlation of each signal alone: "
          + ", ".join(f"{name} {rho:.3f}" for name, rho in alone.items()))
    budget = json.loads(report.model.trained_on).get("budget")
    if budget is not None:
        print(f"the whole command took {report.seconds / 60:.2f} of the {args.minutes:g} "
              f"minutes given: {budget['clips_left_out']} clips left out of sampling, "
              f"{budget['epochs_run']} of {args.epochs} epochs fitted")
    print(f"wrote {args.out}")
    return 0
