"""The shared H200 measurements (``../shared/measurements/h200-2026-11-26``), replayed:
for each paper schedule the executor's measured mean frame time next to what the
simulator predicts for the same frames with a given device model."""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from cwdsl import load
from cwdsl.ir.plan import Planner
from cwdsl.sim.costs import schedule_costs
from cwdsl.sim.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "measurements" / "h200-2026-11-26"
PAPER = ("oracle", "alternating", "exponential", "skipframe", "adaptive", "pipeline2",
         "pipeline3", "baseline3")
SKIPPED = 2  # as gpu_check.py ran them: the first two frames excluded


@dataclass(frozen=True)
class Replayed:
    profile: str
    schedule: str
    measured_ms: float
    predicted_ms: float

    @property
    def error(self) -> float:
        """Relative error of the prediction, e.g. +0.05 for 5% too slow."""
        return self.predicted_ms / self.measured_ms - 1


def profiles() -> list[Path]:
    return sorted(SHARED.glob("profile-*.json"))


def executor_run(profile: Path) -> dict:
    """The executor file of the profile's network and size (``frames``: how many the run
    had, 40 at 256 and 500, 12 at 1024)."""
    data = json.loads(profile.read_text())
    h, w = data["input_hw"]
    (path,) = SHARED.glob(f"executor-{data['network']}-{h}x{w}*.json")
    return json.loads(path.read_text())


def measured(profile: Path) -> dict[str, float]:
    """Per paper schedule: the executor's measured mean ms per frame on the profile's
    network, size and dtype (the executor file of the same size)."""
    rows = executor_run(profile)[json.loads(profile.read_text())["dtype"]]["schedules"]
    return {name: rows[name]["measured_ms"] for name in PAPER}


def replay(profile: Path, device) -> list[Replayed]:
    """Each paper schedule priced by ``device`` at ``profile``'s size and dtype over the
    measured run's frames (adaptive's clock never fired there: every atom False)."""
    data = json.loads(profile.read_text())
    hw, dtype = tuple(data["input_hw"]), data["dtype"]
    frames = int(executor_run(profile)["frames"])
    out = []
    for name, ms in measured(profile).items():
        program = load(ROOT / "schedules" / f"{name}.cw", network=data["network"])
        planner = Planner(program)
        trace = [dict.fromkeys(planner.atom_ids, False)] * frames if planner.atom_ids else None
        sim = simulate(planner, schedule_costs(program, device, hw, dtype), frames, trace,
                       timeline=frames)
        predicted = statistics.mean(p.latency_ms for p in sim.timeline[SKIPPED:])
        out.append(Replayed(profile.name, name, ms, predicted))
    return out
