"""Values of data-driven clock atoms over frames, for planning without running.

Two sources: a firing trace written by ``cwdsl run`` (``run.json``: ``frames[i].atoms``
maps each atom id to its measured value), or a seeded Bernoulli firing rate.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from cwdsl.core.errors import InputError
from cwdsl.core.jsonfile import read_json_object

AtomTrace = list[dict[str, bool]]
"""Per frame ``t``, the values of every data-driven atom (``trace[t][atom_id]``)."""

CHUNK = 4096
"""Frames of firing draws made at a time by :func:`fire_rate_values`."""


def fire_rate_trace(atom_ids: Sequence[str], frames: int, rate: float, seed: int = 0) -> AtomTrace:
    """Each atom fires independently with probability ``rate`` on each frame."""
    return list(fire_rate_values(atom_ids, frames, rate, seed))


def fire_rate_values(atom_ids: Sequence[str], frames: int, rate: float, seed: int = 0,
                     chunk: int = CHUNK) -> Iterator[dict[str, bool]]:
    """:func:`fire_rate_trace` frame by frame, drawn ``chunk`` frames at a time (the same
    values: the generator's stream does not depend on how it is cut)."""
    if not 0.0 <= rate <= 1.0:  # checked now, not at the first frame
        raise InputError(f"--fire-rate must be in [0, 1], got {rate}")
    return _draws(tuple(atom_ids), frames, rate, np.random.default_rng(seed), chunk)


def _draws(atom_ids: tuple[str, ...], frames: int, rate: float, rng, chunk: int
           ) -> Iterator[dict[str, bool]]:
    for start in range(0, frames, chunk):
        draws = rng.random((min(chunk, frames - start), len(atom_ids))) < rate
        for row in draws:
            yield dict(zip(atom_ids, map(bool, row)))


def recorded_trace(path: str | Path, atom_ids: Sequence[str], frames: int | None = None
                   ) -> AtomTrace:
    """Atom values replayed from a run record; every atom the schedule needs must be there."""
    path = Path(path)
    record = read_json_object(path, "trace")
    rows = record.get("frames")
    if not isinstance(rows, list) or not rows:
        raise InputError(f"{path}: not a cwdsl run record (no 'frames' list)")
    out: AtomTrace = []
    for i, row in enumerate(rows[:frames] if frames else rows):
        values = row.get("atoms", {}) if isinstance(row, dict) else None
        if not isinstance(values, dict):
            raise InputError(f"{path}: frame {i} has no 'atoms' mapping")
        missing = [a for a in atom_ids if a not in values and i > 0]
        if missing:
            raise InputError(f"{path}: frame {i} has no value for clock atom '{missing[0]}'; "
                             f"the trace was recorded with another schedule "
                             f"(it has: {', '.join(sorted(values)) or 'none'})")
        out.append({a: bool(values.get(a, True)) for a in atom_ids})
    if frames and len(out) < frames:
        raise InputError(f"{path}: the trace has {len(out)} frames, {frames} were asked for")
    return out


DEFAULT_FIRE_RATE = 0.5
STREAM_OFFSET = 7  # frames between the positions of consecutive streams in a cycled trace


@dataclass(frozen=True)
class ClockSource:
    """Where data-driven clock values come from when nothing is measured: a run record
    replayed (``trace_path``) or a seeded firing rate (``fire_rate``; None: 0.5)."""

    trace_path: str | None = None
    fire_rate: float | None = None
    seed: int = 0

    @property
    def rate(self) -> float:
        return DEFAULT_FIRE_RATE if self.fire_rate is None else self.fire_rate

    def trace(self, atom_ids: Sequence[str], frames: int, stream: int = 0,
              cycle: bool = False) -> AtomTrace | None:
        """Values of ``atom_ids`` for ``frames`` frames (None when there are no atoms).
        Stream ``i`` draws with seed ``seed + i``; with ``cycle`` a recorded trace repeats as
        needed, stream ``i`` starting :data:`STREAM_OFFSET` ``× i`` frames in. Without it
        the record must hold ``frames`` frames."""
        values = self.values(atom_ids, frames, stream, cycle)
        return None if values is None else list(values)

    def values(self, atom_ids: Sequence[str], frames: int, stream: int = 0,
               cycle: bool = False, chunk: int = CHUNK) -> Iterator[dict[str, bool]] | None:
        """:meth:`trace` frame by frame, in memory ``chunk`` frames of draws (or the
        record) at a time, however many ``frames``."""
        if not atom_ids:
            return None
        if self.trace_path is None:
            return fire_rate_values(atom_ids, frames, self.rate, self.seed + stream, chunk)
        if not cycle:
            return iter(recorded_trace(self.trace_path, atom_ids, frames))
        return self.streams(atom_ids)(stream, frames)

    def streams(self, atom_ids: Sequence[str]
                ) -> Callable[[int, int], Iterator[dict[str, bool]] | None]:
        """``values_for(stream, frames)``: :meth:`values` cycled, of any stream, a record
        read once for them all."""
        if not atom_ids or self.trace_path is None:
            return lambda stream, frames: self.values(atom_ids, frames, stream, cycle=True)
        recorded = recorded_trace(self.trace_path, atom_ids)

        def values_for(stream: int, frames: int) -> Iterator[dict[str, bool]]:
            offset = stream * STREAM_OFFSET
            return (recorded[(t + offset) % len(recorded)] for t in range(frames))

        return values_for

    def describe(self, cycle: bool = False) -> str:
        """How the clocks were driven, in a sentence."""
        if self.trace_path is not None:
            return f"data-driven clocks replayed from {self.trace_path}" + \
                (" (cycled)" if cycle else "")
        return f"data-driven clocks fire at rate {self.rate} (seed {self.seed})"
