"""``cwdsl train``: train a network on generated labeled scenes or a labeled folder."""
from __future__ import annotations

import math
from pathlib import Path

from cwdsl.commands.options import (Given, add_command, bounded_int, finite_float, given,
                                    label_value, positive_int, seed, size_arg, thread_count)
from cwdsl.core.errors import InputError

MAX_STEPS = 10_000_000
"""``--steps``: over a day of training on a GPU."""
MAX_BATCH = 1024
"""``--batch``: the crops of a step are held in memory together."""
MAX_MINUTES = 7 * 24 * 60
"""``--minutes``: a week (the handler checks it is positive)."""
MAX_LR = 10.0
"""``--lr``: far above any rate that trains (the handler checks it is positive)."""


def register(sub) -> None:
    p = add_command(
        sub, "train", handle, "train a network on generated labeled scenes or a labeled folder",
        "cwdsl train --net tiny --steps 6000 -o tiny.pt\n"
        "  cwdsl train --net fcn8s_camvid --data camvid/train --val camvid/val "
        "--void 11 --hold-out 0006R0 --steps 2500 -o camvid.pt\n"
        "  cwdsl train --net espnet --data camvid/train --val camvid/val --void 11 "
        "--steps 9000 --background -o espnet_camvid.pt")
    p.add_argument("--net", default="tiny", metavar="NAME",
                   help="network to train from scratch (default tiny, the demo's)")
    p.add_argument("--steps", type=bounded_int(MAX_STEPS),
                   help="optimiser steps (default 6000: about 13 minutes on 2 CPU cores for "
                        "tiny, 50 for ESPNet)")
    p.add_argument("--minutes", type=finite_float(-math.inf, MAX_MINUTES), metavar="M",
                   help="spend M minutes of wall time on the whole command instead of giving "
                        "--steps: reading the data, training and the final scoring (timed on "
                        "one frame first and reserved); the learning-rate schedule follows "
                        "the clock, and the report says how many steps fit (the crops stay "
                        "seeded, the step count depends on the machine); with ESPNet's "
                        "recipe a cap: the schedule follows --steps and the run stops "
                        "early at M minutes, as the report says")
    p.add_argument("--threads", type=thread_count, metavar="N",
                   help="torch threads (default: torch's choice; 1 is faster on a busy machine)")
    p.add_argument("--batch", type=bounded_int(MAX_BATCH), default=8,
                   help=f"crops per optimiser step, at most {MAX_BATCH} (default 8)")
    p.add_argument("--size", type=size_arg, metavar="HxW",
                   help="training crop (default: the network's input; ESPNet 176x224)")
    p.add_argument("--lr", type=finite_float(-math.inf, MAX_LR), default=2e-3, action=Given,
                   help=f"peak learning rate of the one-cycle schedule (ESPNet: of its "
                        f"warm-up and poly decay), at most {MAX_LR:g} (default 0.002; "
                        f"ESPNet 0.001)")
    p.add_argument("--data", metavar="DIR",
                   help="a labeled folder (DIR/images, DIR/labels) instead of generated scenes")
    p.add_argument("--val", metavar="DIR", help="with --data: the held-out labeled folder")
    p.add_argument("--void", type=label_value, metavar="LABEL",
                   help="with --data: the label value to ignore (CamVid: 11)")
    p.add_argument("--hold-out", metavar="SEQUENCE",
                   help="with --data: keep this sequence (drive) of it out of training, or "
                        "every:N (every Nth frame by name), score the network on it every "
                        "--eval-every steps and keep the best checkpoint; a frame's "
                        "sequence is its name up to the first '_' (CamVid: 0001TP, 0006R0, "
                        "0016E5); ESPNet's default every:8")
    p.add_argument("--eval-every", type=positive_int, default=250, metavar="N", action=Given,
                   help="with --hold-out: steps between its checks (default 250; ESPNet 200)")
    p.add_argument("--no-augment", action="store_true",
                   help="with --data: plain random crops (no flips, scaling or colour jitter)")
    p.add_argument("--scale", default="0.75:1.5", metavar="LOW:HIGH", action=Given,
                   help="with --data: random scale range before cropping (default 0.75:1.5; "
                        "ESPNet 0.75:1.25)")
    p.add_argument("--jitter", type=finite_float(-math.inf, 1.0), default=0.3, action=Given,
                   help="with --data: brightness, contrast and saturation factors drawn "
                        "from [1-J, 1+J] (default 0.3, ESPNet 0.2; 0: none)")
    recipe = p.add_argument_group("ESPNet's recipe (--net espnet: ENet class weights, Adam "
                                  "with poly decay, checkpoints to resume from)")
    recipe.add_argument("--encoder-weight", type=finite_float(0.0, 100.0), default=0.4,
                        metavar="W", action=Given,
                        help="weight of the encoder classifier's loss beside the decoder's "
                             "(default 0.4; 0: the decoder's alone)")
    recipe.add_argument("--eval-size", type=size_arg, metavar="HxW", action=Given,
                        help="size the held-out and --val frames are scored at (default: "
                             "their size with sides rounded up to a multiple of 8, e.g. "
                             "184x240 for CamVid at half size)")
    recipe.add_argument("--background", action="store_true",
                        help="check the options, then train in a detached process and return; "
                             "watch OUT.progress.json, the log is OUT.log")
    recipe.add_argument("--resume", action="store_true",
                        help="continue the run that wrote OUT.ckpt (same options): it "
                             "checkpoints at every held-out check")
    p.add_argument("--seed", type=seed, default=0,
                   help="seed of the initial weights, the training crops and their "
                        "augmentation (default 0)")
    p.add_argument("-o", "--out", required=True, metavar="PATH",
                   help="weights file; the report goes beside it as .json")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def handle(args) -> int:
    from cwdsl.core.netspec import get_network
    from cwdsl.core.outputs import check_outputs
    from cwdsl.train.augment import Augment, scale_range
    from cwdsl.train.train import LOSS_WINDOW, TrainConfig, train_to

    check_outputs((args.out, "weights"), (Path(args.out).with_suffix(".json"), "report"))
    spec = get_network(args.net, option="--net")
    from cwdsl.nets.espnet import is_espnet_kind
    if is_espnet_kind(spec):
        from cwdsl.commands.train_recipe import handle_recipe
        return handle_recipe(args, spec)
    for option, dest in (("--encoder-weight", "encoder_weight"), ("--eval-size", "eval_size")):
        if given(args, dest):
            raise InputError(f"{option}: acts on ESPNet's recipe (--net espnet); {args.net} "
                             f"trains by the one-cycle recipe")
    for option in ("background", "resume"):
        if getattr(args, option):
            raise InputError(f"--{option}: ESPNet's recipe (--net espnet) runs in the "
                             f"background and resumes from checkpoints; {args.net} trains "
                             f"in one sitting")
    size = args.size or spec.default_input
    if args.lr <= 0:
        raise InputError(f"--lr must be positive, got {args.lr}")
    if args.minutes is not None and not 0 < args.minutes <= MAX_MINUTES:
        raise InputError(f"--minutes must be positive (at most a week), got {args.minutes:g}")
    if args.minutes is not None and args.steps is not None:
        raise InputError("give --steps or --minutes, not both")
    steps = 6000 if args.steps is None else args.steps
    augment = Augment.off() if args.no_augment else Augment(scale=scale_range(args.scale),
                                                             jitter=args.jitter)
    check_train_options(args)  # after the values' own checks: a bad one is named first
    report = train_to(TrainConfig(net=args.net, steps=steps, batch=args.batch,
                                  size=tuple(size), lr=args.lr, seed=args.seed, data=args.data,
                                  val=args.val, void=args.void, hold_out=args.hold_out,
                                  eval_every=args.eval_every, augment=augment,
                                  minutes=args.minutes, threads=args.threads), args.out,
                      progress=not args.quiet)
    print(f"trained {args.net} for {report.steps} steps in {report.seconds / 60:.1f} min; "
          f"final loss {report.final_loss:.3f} (mean of the last "
          f"{min(LOSS_WINDOW, report.steps)} steps, as the bar showed)")
    if args.minutes is not None:
        print(f"the whole command (data, training, scoring) took "
              f"{report.command_seconds / 60:.2f} of the {args.minutes:g} minutes given")
    if report.held_out is not None:
        print(f"kept the checkpoint of step {report.selection['best_step']} (the best of "
              f"{len(report.selection['history'])} checks on held-out sequence {args.hold_out})")
        for name, miu in report.held_out["mean_iu"].items():
            print(f"held-out {args.hold_out} mean IU, output {name:<6}: {100 * miu:.1f}")
    label = "held-out" if report.held_out is None else "val"
    for name, miu in report.val_mean_iu.items():
        print(f"{label} mean IU, output {name:<6}: {100 * miu:.1f}")
    print(f"wrote {args.out} and {Path(args.out).with_suffix('.json')}")
    return 0


def check_train_options(args) -> None:
    """An ``InputError`` for an option given where it cannot act: the labeled folder's
    options without ``--data`` (generated scenes are drawn, not augmented, and have no
    void label or held-out folder), ``--eval-every`` without ``--hold-out``, and the
    augmentation's ranges with ``--no-augment``."""
    if args.data is None:
        named = [f"--val {args.val}" if args.val else None,
                 f"--void {args.void}" if args.void is not None else None,
                 "--no-augment" if args.no_augment else None,
                 f"--scale {args.scale}" if given(args, "scale") else None,
                 f"--jitter {args.jitter:g}" if given(args, "jitter") else None]
        for option in filter(None, named):
            raise InputError(f"{option}: acts on a labeled folder (--data DIR); without "
                             f"--data the network trains on generated scenes, which are "
                             f"drawn fresh (not augmented) and have no void label")
    if given(args, "eval_every") and args.hold_out is None:
        raise InputError(f"--eval-every {args.eval_every}: sets how often the --hold-out "
                         f"sequence is scored; give --hold-out SEQUENCE")
    if args.no_augment:
        for option, dest in (("--scale", "scale"), ("--jitter", "jitter")):
            if given(args, dest):
                raise InputError(f"{option} {getattr(args, dest)}: --no-augment takes plain "
                                 f"crops, without the scaling and colour jitter {option} "
                                 f"sets; give one of them")
