"""The shared H200 measurements replayed by this checkout's simulator: for each profile in
``../shared/measurements/h200-2026-11-26/`` (NVIDIA H200) and each paper schedule, the executor's
measured mean ms per frame (the ``executor-*.json`` beside it), the simulator's prediction from
that profile, and from the named ``h200`` device model.

  python benchmarks/bench_h200_replay.py [--source DIR] [--out FILE.json]

Nothing is measured here: the measured figures are read from ``--source`` (recorded in the
results file as ``source``); the predictions are this checkout's, so the file goes stale when
the simulator or a device model changes (``python tools/docgen.py`` derives it again before it
regenerates the documents). As ``tests/h200.py``: 40 frames, the first two excluded; adaptive's
clock never fired in those runs (every atom False).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import ROOT, write_results  # noqa: E402

from cwdsl import load  # noqa: E402
from cwdsl.fitting.load import load_device  # noqa: E402
from cwdsl.ir.plan import Planner  # noqa: E402
from cwdsl.sim.costs import schedule_costs  # noqa: E402
from cwdsl.sim.simulate import simulate  # noqa: E402

SOURCE = ROOT.parent / "shared" / "measurements" / "h200-2026-11-26"
PAPER = ("oracle", "alternating", "exponential", "skipframe", "adaptive", "pipeline2",
         "pipeline3", "baseline3")
FRAMES, SKIPPED = 40, 2


def predicted_ms(name: str, network: str, device, hw, dtype: str) -> float:
    program = load(ROOT / "schedules" / f"{name}.cw", network=network)
    planner = Planner(program)
    trace = [dict.fromkeys(planner.atom_ids, False)] * FRAMES if planner.atom_ids else None
    sim = simulate(planner, schedule_costs(program, device, hw, dtype), FRAMES, trace,
                   timeline=FRAMES)
    return statistics.mean(p.latency_ms for p in sim.timeline[SKIPPED:])


def replay(source: Path) -> list[dict]:
    rows = []
    roofline = load_device("h200")
    for profile in sorted(source.glob("profile-*.json")):
        data = json.loads(profile.read_text())
        h, w = data["input_hw"]
        (executor,) = source.glob(f"executor-{data['network']}-{h}x{w}*.json")
        measured = json.loads(executor.read_text())[data["dtype"]]["schedules"]
        model = load_device(str(profile))
        for name in PAPER:
            ms = measured[name]["measured_ms"]
            rows.append({
                "profile": profile.name, "size": f"{h}x{w}", "dtype": data["dtype"],
                "schedule": name, "measured_ms": ms,
                "profile_ms": predicted_ms(name, data["network"], model, (h, w), data["dtype"]),
                "h200_ms": predicted_ms(name, data["network"], roofline, (h, w), data["dtype"]),
            })
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", default=str(SOURCE))
    ap.add_argument("--out", metavar="FILE.json")
    args = ap.parse_args()
    source = Path(args.source)
    if not source.is_dir():
        sys.exit(f"{source}: no such folder")
    rows = replay(source)
    for r in rows:
        print(f"{r['size']:>9} {r['dtype']:<8} {r['schedule']:<12} measured {r['measured_ms']:6.2f}"
              f"  profile {r['profile_ms']:6.2f} ({r['profile_ms'] / r['measured_ms'] - 1:+.0%})"
              f"  h200 {r['h200_ms']:6.2f} ({r['h200_ms'] / r['measured_ms'] - 1:+.0%})")
    if args.out:
        try:
            shown = str(source.resolve().relative_to(ROOT.parent))
            shown = f"../{shown}"
        except ValueError:
            shown = str(source)
        write_results(args.out, "bench_h200_replay", rows, source=shown)


if __name__ == "__main__":
    main()
