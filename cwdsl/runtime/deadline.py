"""The executor's predictions for ``fits`` decisions: a device model's times, corrected
online by what each stage and the fuse take on this machine.

Each part (a stage, the fuse) starts at its prior (the device model's prediction, given by
whoever builds the executor: :mod:`cwdsl.run`) until it first runs; from then on it
follows an exponentially weighted mean and variance of its measured times (the newest
time weighs :data:`WEIGHT`), and a prediction is that mean plus :data:`SIGMAS` standard
deviations: under load the means rise and the decisions turn to cheaper frames; the
spread keeps a margin against the machine's noise. Frame 0 computes every stage, so every
stage has a measured time from frame 1 on.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

WEIGHT = 0.2
"""Weight of the newest time in each part's running mean and variance."""
SIGMAS = 2.0
"""A prediction is the running mean plus this many running standard deviations."""
FUSE = "fuse"
"""The key of the fuse among the parts (stage names never collide: ``fuse`` is a keyword);
a warp's is ``warp:STAGE``, a flow's ``flow:METHOD``."""


@dataclass
class _Running:
    """An exponentially weighted mean and variance of one part's times (ms)."""

    mean: float
    variance: float = 0.0
    observed: int = 0

    def add(self, ms: float, weight: float) -> None:
        if self.observed == 0:  # the first measurement replaces the model's prior
            self.mean, self.variance = ms, 0.0
        else:
            delta = ms - self.mean
            self.mean += weight * delta
            self.variance = (1 - weight) * (self.variance + weight * delta * delta)
        self.observed += 1


class StageTimes:
    """Predicted times (ms) of a program's stages, warps, flows and fuse for ``fits``
    decisions (:class:`cwdsl.ir.deadline.Predictions`).

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
        self._parts = {name: _Running(ms) for name, ms in self.prior.items()}

    def stage_ms(self, stage: str) -> float:
        """The predicted time of ``stage`` (or of the fuse, :data:`FUSE`)."""
        part = self._parts[stage]
        return part.mean + self.sigmas * math.sqrt(part.variance)

    @property
    def fuse_ms(self) -> float:
        return self.stage_ms(FUSE)

    def warp_ms(self, stage: str) -> float:
        """A warp's predicted time (0 until it has a prior or a measurement)."""
        return self.stage_ms(f"warp:{stage}") if f"warp:{stage}" in self._parts else 0.0

    def flow_ms(self, method: str) -> float:
        """A flow's predicted time (0 until it has a prior or a measurement)."""
        return self.stage_ms(f"flow:{method}") if f"flow:{method}" in self._parts else 0.0

    def observe(self, stage_ms: Mapping[str, float], fuse_ms: float | None = None,
                warp_ms: Mapping[str, float] | None = None,
                flow_ms: Mapping[str, float] | None = None) -> None:
        """Take one frame's measured times: per computed stage, the fuse's, per warped
        stage and per flow method computed."""
        for stage, ms in stage_ms.items():
            self._parts[stage].add(float(ms), self.weight)
        if fuse_ms is not None:
            self._parts[FUSE].add(float(fuse_ms), self.weight)
        for kind, times in (("warp", warp_ms), ("flow", flow_ms)):
            for name, ms in (times or {}).items():
                self._parts.setdefault(f"{kind}:{name}", _Running(float(ms))).add(
                    float(ms), self.weight)

    def to_json(self) -> dict:
        """The priors, the running means and spreads, and the rule (for a run's record)."""
        return {"source": self.source, "weight": self.weight, "sigmas": self.sigmas,
                "parts": {name: {"prior_ms": round(self.prior.get(name, p.mean), 4),
                                 "mean_ms": round(p.mean, 4),
                                 "std_ms": round(math.sqrt(p.variance), 4),
                                 "observed": p.observed}
                          for name, p in self._parts.items()}}
