"""Batches in the device model: a profile's ``timings.batches`` read, checked and used.

A profile made with ``cwdsl profile --batch 1,2,4,8`` holds, per batch size ``b > 1``,
every range of head segments with its heads timed on ``b`` frames at once, and the fuse
of all heads (:mod:`cwdsl.profile.batch`). A stage computing in ``k`` streams of one
wave, run as one batch, costs:

- ``stage_ms * range(b) / range(1)`` at a measured size ``b`` (1 included), the range
  being the smallest measured range of head segments holding the stage (the stage
  itself when it is one): the batch-1 stage model scaled as its range scales;
- between measured sizes, linear interpolation; above the largest, linear extrapolation
  by the last two sizes' cost per extra stream (never negative);
- with no batch timings (a profile without ``--batch``, or a roofline): ``k * stage_ms``,
  no batching gain (the traced cost model prices one frame: it has no batch size).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from cwdsl.core.errors import file_error


def _fail(path, where: str, why: str) -> Exception:
    return file_error(path, f"not a valid cwdsl profile: '{where}' {why}")


def _median(path, value, where: str) -> float:
    if not isinstance(value, dict) or "median_ms" not in value:
        raise _fail(path, where, "should be timings with a 'median_ms'")
    ms = value["median_ms"]
    if isinstance(ms, bool) or not isinstance(ms, (int, float)) or ms < 0:
        raise _fail(path, f"{where}.median_ms", f"should be a non-negative number, got {ms!r}")
    return float(ms)


def check_batches(path: str | Path, timings: Mapping, layers: Sequence[str]) -> None:
    """Validate ``timings.batches`` when present (``InputError`` naming the path and the
    reason): keys are batch sizes (whole numbers >= 2), each holding a ``fuse`` and a
    ``ranges`` list with every range the batch-1 ``timings.ranges`` has."""
    if "batches" not in timings:
        return
    batches = timings["batches"]
    if not isinstance(batches, dict):
        raise _fail(path, "timings.batches", f"should be an object, got "
                                             f"{type(batches).__name__}")
    wanted = {(r["first"], r["last"]) for r in timings["ranges"]}
    for key, group in batches.items():
        where = f"timings.batches.{key}"
        try:
            size = int(key)
        except ValueError:
            raise _fail(path, where, "is not a batch size (a whole number)") from None
        if size < 1 or str(size) != key:
            raise _fail(path, where, "is not a batch size (a positive whole number)")
        if size == 1:
            raise _fail(path, where, "repeats batch 1 (the profile's own 'ranges')")
        if not isinstance(group, dict):
            raise _fail(path, where, f"should be an object, got {type(group).__name__}")
        _median(path, group.get("fuse"), f"{where}.fuse")
        ranges = group.get("ranges")
        if not isinstance(ranges, list):
            raise _fail(path, f"{where}.ranges", "should be a list")
        have = set()
        for i, r in enumerate(ranges):
            at = f"{where}.ranges[{i}]"
            if not isinstance(r, dict) or not isinstance(r.get("first"), str) \
                    or not isinstance(r.get("last"), str) or not isinstance(r.get("heads"), list):
                raise _fail(path, at, "should have 'first', 'last' (strings) and 'heads' (a list)")
            if r["first"] not in layers or r["last"] not in layers:
                raise _fail(path, f"{at}.first/last", "name layers not in 'layers'")
            _median(path, r.get("direct"), f"{at}.direct")
            have.add((r["first"], r["last"]))
        missing = sorted(wanted - have)
        if missing:
            raise _fail(path, f"{where}.ranges", f"lacks range {missing[0][0]}..{missing[0][1]}")


def range_ratios(data: Mapping, first: str, last: str) -> tuple[tuple[int, float], ...]:
    """Per batch size ``b > 1`` of a (validated) profile, ``range(b) / range(1)`` for the
    smallest measured range of head segments holding layers ``first .. last``; ``()``
    without batch timings."""
    t = data["timings"]
    if not t.get("batches"):
        return ()
    order = list(data["layers"])
    segs = [(order.index(s["first"]), order.index(s["last"]))
            for s in t["in_frame"]["segments"]]

    def segment(index: int) -> int:
        return next((i for i, (lo, hi) in enumerate(segs) if lo <= index <= hi), len(segs) - 1)

    a, z = segs[segment(order.index(first))][0], segs[segment(order.index(last))][1]
    key = (order[a], order[z])
    one = next(r["direct"]["median_ms"] for r in t["ranges"] if (r["first"], r["last"]) == key)
    out = []
    for size, group in sorted(t["batches"].items(), key=lambda kv: int(kv[0])):
        ms = next(r["direct"]["median_ms"] for r in group["ranges"]
                  if (r["first"], r["last"]) == key)
        out.append((int(size), ms / one if one > 0 else float(size)))
    return tuple(out)


def batch_ms(base_ms: float, points: Sequence[tuple[int, float]], k: int) -> float:
    """A stage's cost on a batch of ``k`` frames: ``base_ms`` at 1, ``points`` the
    measured ``(size, ms)`` above 1 in increasing size (see the module's docstring)."""
    if k < 1:
        raise ValueError(f"a batch has at least one frame, got {k}")
    pts = [(1, base_ms), *points]
    if len(pts) == 1:
        return k * base_ms
    for (k0, m0), (k1, m1) in zip(pts, pts[1:]):
        if k <= k1:
            return m0 + (m1 - m0) * (k - k0) / (k1 - k0)
    (k0, m0), (k1, m1) = pts[-2], pts[-1]
    return m1 + max(0.0, (m1 - m0) / (k1 - k0)) * (k - k1)


def batch_line(data: Mapping) -> str:
    """The profile summary's line on batches ("" without batch timings)."""
    if not data["timings"].get("batches"):
        return ""
    costs = batch_frame_costs(data["timings"])
    return ("per-frame cost by batch size (head segments and fuse over the batch): "
            + ", ".join(f"{b}: {ms:.2f}" for b, ms in costs.items()) + " ms\n")


def batch_frame_costs(timings: Mapping) -> dict[int, float]:
    """Per-frame cost (ms) at each batch size a profile's ``timings`` hold: the head
    segments' direct times plus the fuse of all heads, over the batch size (1: the
    profile's own ``ranges``; the summary's line)."""
    segments = {(s["first"], s["last"]) for s in timings["in_frame"]["segments"]}
    every = max(timings["fuses"], key=lambda k: len(k.split("+")))

    def per_frame(ranges, fuse_ms: float, b: int) -> float:
        seg = sum(r["direct"]["median_ms"] for r in ranges
                  if (r["first"], r["last"]) in segments)
        return (seg + fuse_ms) / b

    out = {1: per_frame(timings["ranges"], timings["fuses"][every]["median_ms"], 1)}
    for key, group in timings.get("batches", {}).items():
        out[int(key)] = per_frame(group["ranges"], group["fuse"]["median_ms"], int(key))
    return dict(sorted(out.items()))

