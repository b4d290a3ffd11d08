"""``cwdsl train``: train a network on generated labeled scenes or a labeled folder."""
from __future__ import annotations

from pathlib import Path

from cwdsl.commands.options import add_command, positive_int
from cwdsl.core.errors import InputError


def register(sub) -> None:
    p = add_command(
        sub, "train", handle, "train a network on generated labeled scenes or a labeled folder",
        "cwdsl train --net tiny --steps 6000 -o tiny.pt\n"
        "  cwdsl train --net fcn8s_camvid --data camvid/train --val camvid/val "
        "--void 11 --steps 2500 --batch 6 -o camvid.pt")
    p.add_argument("--net", default="tiny", metavar="NAME",
                   help="network to train from scratch (default tiny, the demo's)")
    p.add_argument("--steps", type=positive_int, default=6000,
                   help="optimiser steps (default 6000: about 13 minutes on 2 CPU cores)")
    p.add_argument("--batch", type=positive_int, default=8,
                   help="crops per optimiser step (default 8)")
    p.add_argument("--size", metavar="HxW", help="training crop (default: the network's input)")
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate of the one-cycle schedule (default 0.002)")
    p.add_argument("--data", metavar="DIR",
                   help="a labeled folder (DIR/images, DIR/labels) instead of generated scenes")
    p.add_argument("--val", metavar="DIR", help="with --data: the held-out labeled folder")
    p.add_argument("--void", type=int, metavar="LABEL",
                   help="with --data: the label value to ignore (CamVid: 11)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the initial weights and the training crops (default 0)")
    p.add_argument("-o", "--out", required=True, metavar="PATH",
                   help="weights file; the report goes beside it as .json")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def handle(args) -> int:
    from cwdsl.core.netspec import get_network
    from cwdsl.core.outputs import check_outputs
    from cwdsl.core.units import parse_size
    from cwdsl.evaluate.train import LOSS_WINDOW, TrainConfig, train_to

    check_outputs((args.out, "weights"), (Path(args.out).with_suffix(".json"), "report"))
    spec = get_network(args.net, option="--net")
    size = parse_size(args.size) if args.size else spec.default_input
    if args.lr <= 0:
        raise InputError(f"--lr must be positive, got {args.lr}")
    report = train_to(TrainConfig(net=args.net, steps=args.steps, batch=args.batch,
                                  size=tuple(size), lr=args.lr, seed=args.seed, data=args.data,
                                  val=args.val, void=args.void), args.out,
                      progress=not args.quiet)
    print(f"trained {args.net} for {args.steps} steps in {report.seconds / 60:.1f} min; "
          f"final loss {report.final_loss:.3f} (mean of the last "
          f"{min(LOSS_WINDOW, args.steps)} steps, as the bar showed)")
    for name, miu in report.val_mean_iu.items():
        print(f"held-out mean IU, output {name:<6}: {100 * miu:.1f}")
    print(f"wrote {args.out} and {Path(args.out).with_suffix('.json')}")
    return 0
