"""The simulator out of sample: profiles predicting a size or dtype left out of them.

Two parts, each writing a results file in ``benchmarks/results/``:

``--h200`` (no device needed): the five shared H200 profiles
(``../shared/measurements/h200-2026-11-26``). Each is left out in turn; the other four
price the paper schedules at its size and dtype, (a) as a profile set
(:mod:`cwdsl.fitting.profileset`: a predicted profile) and (b) as a roofline calibrated on
the four (:mod:`cwdsl.fitting.calibrate`); both are compared with what the executor measured
on the H200 at that size and dtype (the shared ``executor-*.json``), next to the exact
profile's own prediction (in sample). Kendall's τ between predicted and measured frame time
over the schedules, per profile. Writes ``predict-h200.json``.

``--cpu``: on this machine, profiles ``fcn8s_camvid`` and ``espnet`` at four sizes (one torch
thread), runs each paper schedule with the executor at each size (the demo clip's frames,
round-robin over schedules and sizes, a schedule's time the median of its rounds' means,
the first frame excluded), then leaves each size out and predicts it from the other three.
Writes ``predict-cpu.json``.

  python benchmarks/bench_predict.py --h200
  python benchmarks/bench_predict.py --cpu [--frames 12] [--rounds 3] [--repeats 15]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import RESULTS, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "measurements" / "h200-2026-11-26"
PAPER = ("oracle", "alternating", "exponential", "skipframe", "adaptive", "pipeline2",
         "pipeline3", "baseline3")
FIXED = tuple(s for s in PAPER if s != "adaptive")
"""The fixed-clock paper schedules (adaptive's clock is data-driven)."""
CPU_NETS = {"fcn8s_camvid": ("120x160", "180x240", "240x320", "360x480"),
            "espnet": ("120x160", "184x240", "240x320", "360x480")}
ESPNET_SCHEDULES = ("oracle", "alternating", "adaptive", "pipeline3")


def save(name: str, command: str, body: dict) -> Path:
    """``body`` as ``benchmarks/results/NAME`` (the shared writer: command, machine, date,
    commit, load)."""
    return write_results(RESULTS / name, "bench_predict", body, command=command)


def kendall(predicted: list[float], measured: list[float]) -> float:
    """Kendall's τ-b of two rankings (SciPy)."""
    from scipy.stats import kendalltau

    return float(kendalltau(predicted, measured).statistic)


def price(program, device, hw, dtype, frames: int, trace, skipped: int) -> float:
    """Mean simulated frame time (ms) of ``program`` over ``frames`` frames (``trace``: its
    clocks' values per frame; None: every data-driven atom False), the first ``skipped``
    frames excluded as in the measured run."""
    from cwdsl.ir.plan import Planner
    from cwdsl.sim.costs import schedule_costs
    from cwdsl.sim.simulate import simulate

    planner = Planner(program)
    if trace is None and planner.atom_ids:
        trace = [dict.fromkeys(planner.atom_ids, False)] * frames
    sim = simulate(planner, schedule_costs(program, device, hw, dtype), frames, trace,
                   timeline=frames)
    return statistics.mean(p.latency_ms for p in sim.timeline[skipped:])


def errors(rows: dict[str, float], measured: dict[str, float]) -> dict[str, float]:
    return {s: rows[s] / measured[s] - 1 for s in rows}


# -- H200 -------------------------------------------------------------------------------------
def h200() -> Path:
    from cwdsl import load
    from cwdsl.fitting.calibrate import calibrate
    from cwdsl.devices.profiled import load_profile
    from cwdsl.fitting.profileset import ProfileSet
    from cwdsl.devices.named import NAMED
    from cwdsl.devices.roofline import Roofline

    paths = sorted(SHARED.glob("profile-*.json"))
    if not paths:
        raise SystemExit(f"{SHARED}: no profiles (the shared H200 measurements are not here)")
    cases = []
    for held in paths:
        exact = load_profile(held)
        hw, dtype = exact.input_hw, exact.dtype
        (run_path,) = SHARED.glob(f"executor-{exact.network}-{hw[0]}x{hw[1]}*.json")
        run = json.loads(run_path.read_text())
        frames = int(run["frames"])
        measured = {s: run[dtype]["schedules"][s]["measured_ms"] for s in PAPER}
        others = [load_profile(p) for p in paths if p != held]
        models = {"exact profile (in sample)": exact,
                  "profile set, this one left out": ProfileSet(others),
                  "roofline calibrated on the others":
                      Roofline(calibrate(others, NAMED["h200"]).spec)}
        predicted = {}
        for label, model in models.items():
            predicted[label] = {
                s: price(load(ROOT / "schedules" / f"{s}.cw", network=exact.network), model,
                         hw, dtype, frames, None, 2) for s in PAPER}
        cases.append({"profile": held.name, "size": f"{hw[0]}x{hw[1]}", "dtype": dtype,
                      "frames": frames, "measured_ms": measured, "predicted_ms": predicted,
                      "how": models["profile set, this one left out"].how,
                      "kendall_tau": {label: kendall([p[s] for s in PAPER],
                                                     [measured[s] for s in PAPER])
                                      for label, p in predicted.items()}})
    return save("predict-h200.json", "python benchmarks/bench_predict.py --h200",
                         {"source": "../shared/measurements/h200-2026-11-26 (profiles and "
                                    "executor runs of 2026-11-26, torch 2.11 + CUDA 13.0)",
                          "schedules": list(PAPER), "fixed": list(FIXED), "cases": cases})


# -- this CPU -----------------------------------------------------------------------------------
def cpu(frames: int, rounds: int, repeats: int, nets: list[str]) -> Path:
    import torch

    from cwdsl import load
    from cwdsl.core.units import parse_size
    from cwdsl.demo.scenes import generate_clip
    from cwdsl.devices.profiled import load_profile
    from cwdsl.fitting.profileset import ProfileSet
    from cwdsl.nets import build_network
    from cwdsl.nets.bundled import bundled_weights
    from cwdsl.nets.preprocess import frame_tensor
    from cwdsl.nets.weights import load_weights
    from cwdsl.profile.harness import run_profile
    from cwdsl.runtime.executor import Executor

    torch.set_num_threads(1)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for net_name in nets:
            sizes = [parse_size(s) for s in CPU_NETS[net_name]]
            names = ESPNET_SCHEDULES if net_name == "espnet" else PAPER
            folder = "espnet/" if net_name == "espnet" else ""
            weights = bundled_weights(net_name)
            profiles = []
            for hw in sizes:
                out = Path(tmp) / f"{net_name}-{hw[0]}x{hw[1]}.json"
                run_profile(net_name, hw, "cpu", "float32", out=out, weights=weights,
                            progress=False, repeats=repeats, threads=1)
                profiles.append(load_profile(out))
            torch.manual_seed(0)
            net = build_network(net_name)
            if weights:
                load_weights(net, weights)
            programs = {s: load(ROOT / "schedules" / f"{folder}{s}.cw", network=net_name)
                        for s in names}
            clips = {hw: [frame_tensor(f) for f in generate_clip(2016, frames, hw).frames]
                     for hw in sizes}
            means = {(hw, s): [] for hw in sizes for s in names}
            traces = {}
            for _ in range(rounds):  # round-robin: a drift in load hits every case alike
                for hw in sizes:
                    for s, program in programs.items():
                        executor = Executor(program, net, "cpu", "float32")
                        steps = [executor.step(x) for x in clips[hw]]
                        executor.close()
                        means[(hw, s)].append(statistics.mean(r.latency_ms for r in steps[1:]))
                        traces[(hw, s)] = [r.atom_values for r in steps]
            cases = []
            for k, (hw, exact) in enumerate(zip(sizes, profiles)):
                measured = {s: statistics.median(means[(hw, s)]) for s in names}
                others = ProfileSet([p for j, p in enumerate(profiles) if j != k])
                models = {"exact profile (in sample)": exact,
                          "profile set, this one left out": others}
                predicted = {label: {s: price(programs[s], m, hw, "float32", frames,
                                              traces[(hw, s)], 1) for s in names}
                             for label, m in models.items()}
                cases.append({"size": f"{hw[0]}x{hw[1]}", "dtype": "float32",
                              "frames": frames, "measured_ms": measured,
                              "predicted_ms": predicted, "how": others.how,
                              "kendall_tau": {label: kendall([p[s] for s in names],
                                                             [measured[s] for s in names])
                                              for label, p in predicted.items()}})
            results[net_name] = {"schedules": list(names), "cases": cases,
                                 "profiles": {"repeats": repeats, "threads": 1}}
    return save(
        "predict-cpu.json",
        f"python benchmarks/bench_predict.py --cpu --frames {frames} --rounds {rounds} "
        f"--repeats {repeats}",
        {"torch_threads": 1, "rounds": rounds, "networks": results})


# -- reading the results -----------------------------------------------------------------------
def render(path: str | Path) -> str:
    """A results file as a Markdown table: per left-out size (and network), each model's
    worst error over the fixed schedules, its mean absolute error, and Kendall's τ over
    every schedule, adaptive included."""
    data = json.loads(Path(path).read_text())["results"]
    groups = data["networks"] if "networks" in data else {"fcn8s": data}
    first = next(iter(groups.values()))["cases"][0]
    labels = list(first["predicted_ms"])
    head = ["network", "size, dtype", "measured oracle ms"] + [
        f"{label}: worst fixed / mean abs / τ" for label in labels]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for net, group in groups.items():
        fixed = [s for s in group.get("fixed", group["schedules"]) if s != "adaptive"]
        for case in group["cases"]:
            cells = [net, f"{case['size']} {case['dtype']}",
                     f"{case['measured_ms']['oracle']:.2f}"]
            for label in labels:
                err = {s: case["predicted_ms"][label][s] / case["measured_ms"][s] - 1
                       for s in fixed}
                worst = max(fixed, key=lambda s: abs(err[s]))
                mean = statistics.mean(abs(e) for e in err.values())
                cells.append(f"{worst} {100 * err[worst]:+.0f}% / {100 * mean:.0f}% / "
                             f"{case['kendall_tau'][label]:.2f}")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--h200", action="store_true", help="leave-one-out on the H200 set")
    parser.add_argument("--cpu", action="store_true", help="profile and measure here")
    parser.add_argument("--nets", default=",".join(CPU_NETS))
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    if not (args.h200 or args.cpu):
        parser.error("give --h200, --cpu or both")
    if args.h200:
        out = h200()
        print(render(out))
        print(f"wrote {out}")
    if args.cpu:
        out = cpu(args.frames, args.rounds, args.repeats, args.nets.split(","))
        print(render(out))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
