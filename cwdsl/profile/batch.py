"""The profiling harness's batch timings (``cwdsl profile --batch 1,2,4,8``).

A multi-stream executor run batched computes a stage that fires in ``k`` streams of one
wave as one batch of ``k`` frames. For each batch size ``b > 1`` asked for,
:func:`batch_tasks` adds, through the same runner as the profile's batch-1 ``ranges``:

- ``batch:B:range:FIRST..LAST``: every contiguous range of head segments with its heads
  (``run_stage``), its inputs the batch-1 tensors repeated ``b`` times on dim 0;
- ``batch:B:fuse``: the fuse of every head on scores repeated likewise.

:func:`batch_timings` turns their samples into the optional group::

    "batches": {"2": {"ranges": [{"first", "last", "heads", "direct": STATS}],
                      "fuse": STATS}, "4": {...}, ...}

absent when no size above 1 was asked for (the profile is then exactly as without
``--batch``). :mod:`cwdsl.devices.batch_model` validates it and prices batches from it.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

from cwdsl.core.errors import InputError

MAX_BATCH = 256


def parse_batches(text: str | Sequence[int] | None) -> tuple[int, ...]:
    """``--batch``: ``"1,2,4,8"`` (or a sequence of ints) → the sorted distinct sizes, 1
    always included; None → ``(1,)``. ``InputError`` for anything but whole numbers in
    ``1 .. MAX_BATCH``."""
    if text is None:
        return (1,)
    parts = text.split(",") if isinstance(text, str) else list(text)
    sizes = set()
    for part in parts:
        try:
            size = int(str(part).strip())
        except ValueError:
            raise InputError(f"--batch takes batch sizes separated by commas, like 1,2,4,8; "
                             f"got {part!r}") from None
        if not 1 <= size <= MAX_BATCH:
            raise InputError(f"a batch size must be between 1 and {MAX_BATCH}, got {size}")
        sizes.add(size)
    return tuple(sorted(sizes | {1}))


def _repeat(x: torch.Tensor, b: int) -> torch.Tensor:
    """``x`` (batch 1) as a batch of ``b`` identical frames, in ``x``'s memory format."""
    out = x.repeat(b, *([1] * (x.dim() - 1)))
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) \
            and not x.is_contiguous():
        out = out.contiguous(memory_format=torch.channels_last)
    return out


def batch_tasks(net, runner, hw, batches: Sequence[int],
                ranges: Sequence[tuple[str, str, tuple[str, ...]]],
                available: Mapping[str, torch.Tensor],
                scores: Mapping[str, torch.Tensor]) -> dict[str, Callable[[], object]]:
    """The calls of the module's docstring for every size in ``batches`` above 1:
    ``available`` every layer's batch-1 output (and the input) a range may read,
    ``scores`` every head's."""
    tasks: dict[str, Callable[[], object]] = {}
    for b in (b for b in batches if b > 1):
        for first, last, heads in ranges:
            needs = net.plan(first, last, heads).needs
            inputs = {n: _repeat(available[n], b) for n in needs}
            tasks[f"batch:{b}:range:{first}..{last}"] = (
                lambda x, a, z, hs: lambda: runner.run_stage(x, a, z, hs))(inputs, first,
                                                                           last, heads)
        chosen = {h: _repeat(s, b) for h, s in scores.items()}
        tasks[f"batch:{b}:fuse"] = (lambda c: lambda: runner.fuse(c, hw))(chosen)
    return tasks


def batch_timings(samples: Mapping[str, list[float]],
                  ranges: Sequence[tuple[str, str, tuple[str, ...]]],
                  stats: Callable[[list[float]], dict]) -> dict:
    """``{"batches": ...}`` from the tasks' samples (the sizes read from their names), or
    ``{}`` when none was timed."""
    sizes = sorted({int(name.split(":")[1]) for name in samples if name.startswith("batch:")})
    if not sizes:
        return {}
    return {"batches": {str(b): {
        "ranges": [{"first": a, "last": z, "heads": list(hs),
                    "direct": stats(samples[f"batch:{b}:range:{a}..{z}"])}
                   for a, z, hs in ranges],
        "fuse": stats(samples[f"batch:{b}:fuse"])} for b in sizes}}
