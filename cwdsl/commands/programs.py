"""Schedules loaded for the commands that score several on one network (``eval``, ``sweep``).

When such a command runs schedules on a network other than their own (``--net``, or the demo
network for generated data), a schedule that checks on its own network but not on that one
(a learned clock's model trained for another network, a layer the other network lacks) is
left out with a note naming the reason, so ``cwdsl eval schedules/*.cw --data shift16``
scores every bundled schedule that can run on the demo. A schedule that fails on its own
network, or one given alone, is an error as ever. Likewise a schedule warping by the codec's
motion vectors (``flow=codec``) is left out with a note when the data has none (no
``--codec``) and other schedules can run (:func:`without_codec`).
"""
from __future__ import annotations

from typing import Callable

from cwdsl.commands.options import given
from cwdsl.core.errors import CwdslError, InputError, ScheduleError
from cwdsl.ir.graph import Program, load


def load_programs(paths: list[str], network: str | None,
                  note: Callable[[str], None], deadline_ms: float | None = None
                  ) -> list[Program]:
    """``paths`` compiled for ``network`` (None: each schedule's own), skipping with a note
    those that only fail because ``network`` is not their own (see the module's docstring);
    ``deadline_ms``: every schedule's frame deadline (``--deadline``)."""
    if network is None or len(paths) == 1:
        return [load(path, network, deadline_ms) for path in paths]
    programs = []
    for path in paths:
        try:
            programs.append(load(path, network, deadline_ms))
        except ScheduleError as error:
            try:
                own = load(path, None)
            except CwdslError:
                raise error from None
            if own.network.name == network:
                raise
            reason = error.diagnostics[0].message if error.diagnostics else str(error)
            note(f"{path}: left out: it runs on network {own.network.name}, not on "
                 f"{network} ({reason})")
    if not programs:
        raise InputError(f"none of the schedules runs on network {network}; give --net with "
                         f"their network")
    return programs


def without_codec(programs: list[Program], codec: str | None,
                  note: Callable[[str], None]) -> list[Program]:
    """``programs`` less those that warp by ``flow=codec``, with a note each, when no
    ``codec`` encodes the data and some program does not need it (else all of them: the
    evaluation then says what is missing)."""
    from cwdsl.runtime.codecflow import needs_motion

    if codec is not None:
        return programs
    kept = [p for p in programs if not needs_motion(p)]
    if not kept:
        return programs
    for program in programs:
        if needs_motion(program):
            where = program.schedule.source.path if program.schedule.source else program.name
            note(f"{where}: left out: it warps by flow=codec, the motion vectors of a coded video, "
                 f"and the data has none (give --codec h264 to encode it)")
    return kept


def check_clock_options(args, programs) -> None:
    """An ``InputError`` for ``--fire-rate``, ``--trace`` or ``--seed`` when no schedule of
    ``programs`` has a data-driven clock (none would read a clock value)."""
    named = [f"{option} {value}" for option, value in (
        ("--fire-rate", args.fire_rate), ("--trace", args.trace),
        ("--seed", args.seed if given(args, "seed") else None)) if value is not None]
    if named and not any(p.atom_ids for p in programs):
        raise InputError(f"{named[0]}: {', '.join(p.name for p in programs)} has no "
                         f"data-driven clock (labeldiff, pixeldiff, predicted) to read it")
