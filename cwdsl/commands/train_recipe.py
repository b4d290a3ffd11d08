"""``cwdsl train --net espnet``: ESPNet's recipe (:mod:`cwdsl.train.segtrain`), in this
process or, with ``--background``, in a detached one that writes a progress file."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cwdsl.commands.options import given
from cwdsl.core.errors import InputError

RECIPE_DEFAULTS = {"lr": 1e-3, "eval_every": 200, "scale": "0.75:1.25", "jitter": 0.2,
                   "size": (176, 224), "hold_out": "every:8"}
"""Where ESPNet's recipe differs from ``cwdsl train``'s defaults (those of ``tiny`` and
FCN): an option not given takes these."""


def recipe_config(args, spec):
    """The :class:`~cwdsl.train.segtrain.RecipeConfig` of the command line, its data
    checked (folders, the hold-out rule, sizes) so a background run fails here, not later."""
    from cwdsl.evaluate.datasets import open_labeled_folder
    from cwdsl.train.augment import Augment, scale_range
    from cwdsl.train.segtrain import RecipeConfig, default_eval_size

    if args.data is None or args.val is None:
        raise InputError(f"--net {args.net} trains on a labeled folder: give --data DIR "
                         f"(training) and --val DIR (reported on once, at the end)")
    if args.lr is not None and args.lr <= 0:
        raise InputError(f"--lr must be positive, got {args.lr}")
    if args.minutes is not None and args.minutes <= 0:
        raise InputError(f"--minutes must be positive, got {args.minutes:g}")

    def pick(dest):
        return getattr(args, dest) if given(args, dest) else RECIPE_DEFAULTS[dest]

    size = tuple(args.size) if args.size else RECIPE_DEFAULTS["size"]
    multiple = spec.side_multiple or 1
    folder = open_labeled_folder(args.data, args.void)
    val = open_labeled_folder(args.val, args.void)
    folder.hold_out(args.hold_out or RECIPE_DEFAULTS["hold_out"])  # a bad rule fails now
    eval_size = tuple(args.eval_size) if given(args, "eval_size") else \
        default_eval_size(val, multiple)
    for option, hw in (("--size", size), ("--eval-size", eval_size)):
        if hw[0] % multiple or hw[1] % multiple:
            raise InputError(f"{option} {hw[0]}x{hw[1]}: network {args.net} needs sides "
                             f"divisible by {multiple}")
    augment = Augment.off() if args.no_augment else Augment(scale=scale_range(pick("scale")),
                                                             jitter=pick("jitter"))
    return RecipeConfig(net=args.net, data=args.data, val=args.val, void=args.void,
                        hold_out=args.hold_out or RECIPE_DEFAULTS["hold_out"],
                        steps=6000 if args.steps is None else args.steps, batch=args.batch,
                        size=size, eval_size=eval_size, lr=pick("lr"),
                        encoder_weight=args.encoder_weight, eval_every=pick("eval_every"),
                        augment=augment, seed=args.seed, minutes=args.minutes,
                        threads=args.threads)


def handle_recipe(args, spec) -> int:
    from cwdsl.train.checkpoint import check_resume, progress_path
    from cwdsl.train.segtrain import train_recipe

    if args.no_augment:
        for option, dest in (("--scale", "scale"), ("--jitter", "jitter")):
            if given(args, dest):
                raise InputError(f"{option} {getattr(args, dest)}: --no-augment takes plain "
                                 f"crops; give one of them")
    config = recipe_config(args, spec)
    out = Path(args.out)
    check_resume(out, args.resume)  # before --background returns
    if args.background:
        return _detach(args, out)
    report = train_recipe(config, out, resume=args.resume, progress=not args.quiet)
    how = f" (stopped by {report['stopped_by']})" if report["stopped_by"] else ""
    print(f"trained {args.net} for {report['steps']} steps ({report['epochs']:g} epochs) in "
          f"{report['seconds'] / 60:.1f} min{how}; final loss {report['final_loss']:.3f}")
    sel = report["selection"]
    print(f"kept the checkpoint of step {sel['best_step']} (the best of {len(sel['history'])} "
          f"checks on the held-out frames, {config.hold_out}): mean IU "
          f"{100 * report['held_out']['mean_iu']:.1f}")
    print(f"val mean IU ({config.eval_size[0]}x{config.eval_size[1]}, "
          f"{report['data']['val_frames']} frames): {100 * report['val']['mean_iu']:.1f}")
    print(f"wrote {out} and {out.with_suffix('.json')}; progress in {progress_path(out)}")
    return 0


def _detach(args, out: Path) -> int:
    """Run this command line without ``--background`` (and quiet) in a new session, its
    output in ``OUT.log``; say where to watch it."""
    from cwdsl.train.checkpoint import log_path, progress_path

    argv = [a for a in args.argv if a != "--background"]
    if "--quiet" not in argv:
        argv.append("--quiet")
    log = log_path(out)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as handle:
        child = subprocess.Popen([sys.executable, "-m", "cwdsl", *argv], stdin=subprocess.DEVNULL,
                                 stdout=handle, stderr=subprocess.STDOUT,
                                 start_new_session=True, cwd=os.getcwd())
    print(f"training in the background (pid {child.pid}); progress: {progress_path(out)}, "
          f"log: {log}\nstop it with `kill {child.pid}` and continue with the same command "
          f"and --resume (it checkpoints at every held-out check)")
    return 0
