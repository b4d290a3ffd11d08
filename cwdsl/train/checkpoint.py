"""A long training run's files beside its weights ``OUT``: the checkpoint it resumes from
(``OUT.ckpt``: weights, optimiser, step, losses, the held-out history and the best
weights so far) and the progress file a user watches (``OUT.progress.json``: step, loss,
learning rate, time, the held-out checks, the run's state). Both are written whole
(:mod:`cwdsl.core.atomic`): an interruption leaves the previous one intact."""
from __future__ import annotations

import time
from pathlib import Path

import torch

from cwdsl.core.atomic import atomic_path, write_json
from cwdsl.core.errors import InputError


def checkpoint_path(out: str | Path) -> Path:
    return Path(f"{out}.ckpt")


def progress_path(out: str | Path) -> Path:
    return Path(f"{out}.progress.json")


def log_path(out: str | Path) -> Path:
    return Path(f"{out}.log")


def save_checkpoint(out: str | Path, state: dict) -> None:
    """Write ``state`` (tensors and plain values) as ``OUT.ckpt``."""
    with atomic_path(checkpoint_path(out)) as tmp:
        torch.save(state, tmp)


def check_resume(out: str | Path, resume: bool) -> None:
    """An ``InputError`` when a fresh run would overwrite an earlier run's checkpoint, or
    ``--resume`` has none to continue."""
    path = checkpoint_path(out)
    if not resume and path.exists():
        raise InputError(f"{path}: an earlier run of -o {out} left a checkpoint; --resume "
                         f"continues it, or delete it to start afresh")
    if resume and not path.is_file():
        raise InputError(f"{path}: no checkpoint to resume from (--resume continues a run "
                         f"that wrote one: give the same -o as that run)")


def load_checkpoint(out: str | Path, recipe: dict) -> dict:
    """The checkpoint of an earlier run of the same recipe (an ``InputError`` naming the
    file when it is missing, unreadable or of another recipe)."""
    path = checkpoint_path(out)
    check_resume(out, True)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a torn or foreign file: say which and why
        raise InputError(f"{path}: not a checkpoint cwdsl can read "
                         f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")
    if not isinstance(state, dict) or "recipe" not in state:
        raise InputError(f"{path}: not a cwdsl training checkpoint")
    differ = sorted(k for k in set(recipe) | set(state["recipe"])
                    if recipe.get(k) != state["recipe"].get(k))
    if differ:
        shown = ", ".join(f"{k} {state['recipe'].get(k)!r} → {recipe.get(k)!r}"
                          for k in differ[:4])
        raise InputError(f"{path}: written by a run with other settings ({shown}); resume "
                         f"with the same options, or start afresh with another -o")
    return state


def write_progress(out: str | Path, **fields) -> None:
    """``OUT.progress.json``: ``fields`` and the time it was written (UTC)."""
    write_json(progress_path(out), fields | {
        "updated": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())})
