"""What ``fits(D)`` means, decided here for the executor and the simulator alike.

A ``fits(D)`` atom in the clock of the rule gating stage ``S`` is decided by a
:class:`~cwdsl.ir.plan.Deadline` step, right before ``S``'s wave runs (after the earlier
waves and the wave's measurements), and fires when what must still run if ``S`` computes
fits:

    elapsed + predicted(S) + predicted(each stage reading S within the frame whose clock
            always fires) + predicted(the counter action of each other stage reading S:
            its warp, and each flow method not yet computed this frame; a cache is free)
            + predicted(fuse) <= D

``elapsed`` is the time in ms from the frame's *arrival* to the decision: the time it
waited for the processor (a paced or live source, :mod:`cwdsl.run.pacing`) and the work of
the frame so far. A later stage whose clock may not fire is counted at its counter action,
what it costs at least; its own ``fits``, if any, decides whether it computes then. So the
decisions are greedy, stage by stage in network order: a shallow stage computes whenever
it fits, a deeper one when it still fits after it. What a prediction is comes from
whoever walks the plan: the simulator's device model (a profile or a roofline), or the
executor's online estimates (:mod:`cwdsl.runtime.deadline`), so the one rule above is the
schedule's meaning in both.
"""
from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol

from cwdsl.core.errors import Diagnostic, InputError, ScheduleError
from cwdsl.ir.graph import Program
from cwdsl.ir.plan import Deadline, Planner
from cwdsl.lang import ast


@dataclass(frozen=True)
class Decision:
    """One ``fits`` decision: ``elapsed_ms`` since the frame's arrival, ``predicted_ms``
    the frame's predicted time to its result if the stage computes (elapsed included),
    ``fires`` whether that is within the deadline."""

    atom: str
    elapsed_ms: float
    predicted_ms: float
    deadline_ms: float
    parts: tuple[tuple[str, float], ...] = ()
    """What the remaining time adds up from: ``(part, predicted ms)``, a stage by its
    name, ``warp:STAGE``, ``flow:METHOD``, ``fuse``."""

    @property
    def fires(self) -> bool:
        return self.predicted_ms <= self.deadline_ms

    def to_json(self) -> dict:
        return {"elapsed_ms": round(self.elapsed_ms, 4),
                "predicted_ms": round(self.predicted_ms, 4),
                "deadline_ms": self.deadline_ms, "fits": self.fires,
                "predicted_parts_ms": {name: round(ms, 4) for name, ms in self.parts}}


class Predictions(Protocol):
    """What a ``fits`` decision predicts from, each in ms."""

    def stage_ms(self, stage: str) -> float: ...

    def warp_ms(self, stage: str) -> float: ...

    def flow_ms(self, method: str) -> float: ...

    @property
    def fuse_ms(self) -> float: ...


def decide(step: Deadline, elapsed_ms: float, predictions: Predictions,
           flowed: Collection[str] = ()) -> Decision:
    """Decide ``step`` (the module's rule) ``elapsed_ms`` after the frame's arrival;
    ``flowed``: the flow methods already computed this frame."""
    p = predictions
    parts = [(s, p.stage_ms(s)) for s in step.stages]
    parts += [(f"warp:{s}", p.warp_ms(s)) for s, method in step.counters if method is not None]
    methods = sorted({method for _, method in step.counters if method is not None})
    parts += [(f"flow:{m}", p.flow_ms(m)) for m in methods if m not in flowed]
    parts.append(("fuse", p.fuse_ms))
    remaining = sum(ms for _, ms in parts)
    return Decision(step.atom, elapsed_ms, elapsed_ms + remaining, step.deadline_ms,
                    tuple(parts))


def cheapest_frame_ms(planner: Planner, stage_ms: Callable[[str], float], fuse_ms: float,
                      overhead_ms: float = 0.0) -> float:
    """The least any frame after frame 0 can cost, whatever its clocks' values: the stages
    whose clocks always fire (:func:`~cwdsl.lang.ast.always_fires`), the fuse and the
    frame's overhead. A lower bound (a frame may also pay counter actions, measurements and
    stages its ``every`` clocks force), so a deadline below it can never be met."""
    schedule = planner.program.schedule
    clocks = {decl.name.name: decl.expr for decl in schedule.clocks}
    known: dict = {}
    always = [r.stage.name for r in schedule.rules
              if r.stage.name in planner.stages and ast.always_fires(r.clock, clocks, known)]
    return sum(stage_ms(s) for s in always) + fuse_ms + overhead_ms


def check_reachable(program: Program, cheapest_ms: float, device: str) -> None:
    """An error for each ``fits`` whose deadline is below ``cheapest_ms`` (the cheapest
    frame on ``device``, :func:`cheapest_frame_ms`): at the deadline as written (a
    ``ScheduleError`` with its position), or naming ``--deadline`` when it came from the
    command line (an ``InputError``)."""
    errors, command_line = [], None
    for node in program.deadlines:
        if node.deadline_ms is None or node.deadline_ms >= cheapest_ms:
            continue
        written = node.expr.deadline or program.schedule.network.deadline
        message = (f"deadline {node.deadline_ms:g} ms is below the cheapest frame of this "
                   f"schedule, {cheapest_ms:.2f} ms on {device} (the stages whose clocks "
                   f"always fire, the fuse and the frame's overhead); no frame can meet it")
        if written is not None and written.span is not None:
            errors.append(Diagnostic(message, written.span, source=program.schedule.source))
        else:
            command_line = message
    if errors:
        raise ScheduleError(errors)
    if command_line is not None:
        raise InputError(f"--deadline: {command_line}")
