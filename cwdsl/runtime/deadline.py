"""The executor's predictions for ``fits`` decisions: a device model's times, corrected
online by what the parts of each frame take on this machine.

A part is a stage, a warp (``warp:STAGE``), a flow (``flow:METHOD``) or the fuse. Its
prediction is ``base × slowdown × (1 + SIGMAS × spread)``:

- ``slowdown`` is the machine's state now, shared by every part: an exponentially weighted
  mean (the newest frame weighs :data:`WEIGHT`) of each frame's measured time of the parts
  it ran over their predicted time (``base × slowdown`` before the frame). Parts that run
  on every frame keep it current, so under load every prediction rises together, those of
  stages that have not run for a while included;
- ``base`` is the part's own time at ``slowdown`` 1: the device model's prior (given by
  whoever builds the executor: :mod:`cwdsl.run`) until the part runs, then moved towards
  what it measured, ``measured / slowdown``, by the same weight (the first measurement
  replaces the prior outright);
- ``spread`` is the exponentially weighted standard deviation of the part's relative
  error (measured over predicted, minus 1): a margin against this machine's noise.

Frame 0 is a warm-up (first calls allocate, caches are cold: every part is slower): it
gives each of its parts a base (its share of the frame: the parts' relative times, which
a device model's prior may get wrong by far), and the slowdown it implies holds for frame
1's decisions only (a conservative start); frame 1's measured times then set the slowdown
outright, and from frame 2 on it follows its running mean.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

WEIGHT = 0.2
"""Weight of the newest frame in the running slowdown, bases and spreads."""
SIGMAS = 2.0
"""A prediction adds this many running standard deviations of the part's relative error."""
FUSE = "fuse"
"""The key of the fuse among the parts (stage names never collide: ``fuse`` is a keyword);
a warp's is ``warp:STAGE``, a flow's ``flow:METHOD``."""


@dataclass
class _Part:
    """One part's base time (ms at slowdown 1) and the running variance of its relative
    error."""

    base: float
    variance: float = 0.0
    observed: int = 0


class StageTimes:
    """Predicted times (ms) of a program's stages, warps, flows and fuse for ``fits``
    decisions (:class:`cwdsl.ir.deadline.Predictions`), as the module's docstring says.

    ``prior``: per stage, the device model's time; ``fuse_ms``: the fuse's; ``warp_ms``:
    per warping stage; ``flow_ms``: per flow method. ``weight`` and ``sigmas`` as in the
    module's docstring; ``source`` names the prior (a profile, a roofline) for the record."""

    def __init__(self, prior: Mapping[str, float], fuse_ms: float, source: str = "",
                 weight: float = WEIGHT, sigmas: float = SIGMAS,
                 warp_ms: Mapping[str, float] | None = None,
                 flow_ms: Mapping[str, float] | None = None):
        if not 0 < weight <= 1:
            raise ValueError(f"weight must be in (0, 1], got {weight}")
        self.source = source
        self.prior = dict(prior) | {FUSE: float(fuse_ms)} \
            | {f"warp:{s}": float(ms) for s, ms in (warp_ms or {}).items()} \
            | {f"flow:{m}": float(ms) for m, ms in (flow_ms or {}).items()}
        self.weight, self.sigmas = weight, sigmas
        self.slowdown = 1.0
        self.frames = 0  # frames learned from (frame 0 is not)
        self._parts = {name: _Part(ms) for name, ms in self.prior.items()}

    def predicted_ms(self, part: str) -> float:
        """The predicted time of ``part`` (0 for a warp or flow with neither a prior nor a
        measurement)."""
        p = self._parts.get(part)
        if p is None:
            return 0.0
        return p.base * self.slowdown * (1 + self.sigmas * math.sqrt(p.variance))

    def stage_ms(self, stage: str) -> float:
        return self.predicted_ms(stage)

    @property
    def fuse_ms(self) -> float:
        return self.predicted_ms(FUSE)

    def warp_ms(self, stage: str) -> float:
        return self.predicted_ms(f"warp:{stage}")

    def flow_ms(self, method: str) -> float:
        return self.predicted_ms(f"flow:{method}")

    def observe(self, stage_ms: Mapping[str, float], fuse_ms: float | None = None,
                warp_ms: Mapping[str, float] | None = None,
                flow_ms: Mapping[str, float] | None = None, warm_up: bool = False) -> None:
        """Learn from one frame's measured times (ms): per computed stage, the fuse, per
        warped stage and per flow method computed. ``warm_up``: the frame is frame 0 (see
        the module's docstring)."""
        measured = {**{s: float(ms) for s, ms in stage_ms.items()},
                    **({FUSE: float(fuse_ms)} if fuse_ms is not None else {}),
                    **{f"warp:{s}": float(ms) for s, ms in (warp_ms or {}).items()},
                    **{f"flow:{m}": float(ms) for m, ms in (flow_ms or {}).items()}}
        for name, ms in measured.items():  # a part without a prior: its first time
            self._parts.setdefault(name, _Part(ms / self.slowdown))
        w = self.weight
        expected = sum(self._parts[n].base * self.slowdown for n in measured)
        if expected > 0:
            ratio = sum(measured.values()) / expected
            self.slowdown *= ratio if self.frames == 0 else 1 + w * (ratio - 1)
        for name, ms in measured.items():
            part = self._parts[name]
            error = ms / (part.base * self.slowdown) - 1 if part.base > 0 else 0.0
            if part.observed == 0:  # the first measurement replaces the prior
                part.base = ms / self.slowdown
            else:
                part.base *= 1 + w * error
                part.variance = (1 - w) * (part.variance + w * error * error)
            part.observed += 1
        self.frames += not warm_up

    def to_json(self) -> dict:
        """The priors, bases, spreads and slowdown, and the rule (for a run's record)."""
        return {"source": self.source, "weight": self.weight, "sigmas": self.sigmas,
                "slowdown": round(self.slowdown, 4), "frames_learned": self.frames,
                "parts": {name: {"prior_ms": round(self.prior.get(name, p.base), 4),
                                 "base_ms": round(p.base, 4),
                                 "predicted_ms": round(self.predicted_ms(name), 4),
                                 "spread": round(math.sqrt(p.variance), 4),
                                 "observed": p.observed}
                          for name, p in self._parts.items()}}
