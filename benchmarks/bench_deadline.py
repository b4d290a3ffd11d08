"""Frame deadlines kept: ESPNet on CamVid's 15 Hz validation sequence, this CPU, one thread.

  python benchmarks/bench_deadline.py [--out-dir benchmarks/results] [--no-load]

What it measures (the authors' ESPNet checkpoint at 184x240, ``../shared``):

1. A profile of this machine (``cwdsl profile --net espnet --size 184x240 --threads 1``).
2. The deadline ``D``, fixed by a rule stated before any schedule runs: three quarters of
   the way from the cheapest frame of ``schedules/espnet/deadline.cw`` (every clock false)
   to the frame oracle's frame, both as that profile prices them.
3. ``cwdsl eval`` of the frame oracle, the fixed schedules (alternating, pipeline3,
   staggered), adaptive (no deadline clock) and ``schedules/espnet/deadline.cw`` on the 101
   frames, every one with ``--deadline D``: mean IU and the share of frames after frame 0
   the executor finished within ``D`` (run back to back, as ``eval`` runs them).
4. The same for adaptive, staggered and deadline while two other processes keep both cores
   busy (``--no-load`` skips it).
5. The simulator beside the executor: ``cwdsl run`` of each of those schedules over the
   frames (its ``run.json``), then ``cwdsl simulate`` of the same schedule on the profile,
   replaying the run's data-driven clock values (``--trace``; ``fits`` decided by the
   simulator itself): on-time share and p99 latency side by side.

Writes ``deadline-espnet.json`` (``_common.write_results``); :func:`render` makes the
Markdown table REPRODUCTION.md embeds (with cog).
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import ROOT, write_results  # noqa: E402

VAL = "../shared/data/camvid-half/val"
ESPNET = "../shared/weights/espnet/espnet_p_2_q_8_camvid.pth"
SIZE = "184x240"
NET = ["--net", "espnet", "--weights", ESPNET]
SCHEDULES = ["oracle", "alternating", "pipeline3", "staggered", "adaptive", "deadline"]
UNDER_LOAD = ["adaptive", "staggered", "deadline"]
SIMULATED = ["oracle", "staggered", "adaptive", "deadline"]
DEADLINE_POINT = 0.75  # D = cheapest + 0.75 (oracle - cheapest)
HOG = ("import torch\ntorch.set_num_threads(1)\na = torch.randn(384, 384)\n"
       "while True:\n    a = (a @ a).clamp_(-1, 1)\n")


def schedule(name: str) -> str:
    return f"schedules/espnet/{name}.cw"


def cwdsl(argv: list[str]) -> tuple[str, float]:
    """``python -m cwdsl ARGV`` from the repository root: (stdout, wall seconds); exits on
    failure."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cwdsl", *argv], cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"cwdsl {shlex.join(argv)}: exit {done.returncode}\n{done.stderr}")
    return done.stdout, round(time.perf_counter() - start, 1)


def choose_deadline(profile: Path) -> dict:
    """The rule of step 2 on ``profile``: the cheapest frame, the oracle's, and ``D`` (ms)."""
    from cwdsl.devices.program_times import program_times
    from cwdsl.fitting.load import load_device
    from cwdsl.ir.deadline import cheapest_frame_ms
    from cwdsl.ir.graph import load
    from cwdsl.ir.plan import Planner
    from cwdsl.sim.costs import schedule_costs

    model = load_device(str(profile))
    program = load(ROOT / schedule("deadline"), "espnet")
    hw = tuple(int(x) for x in SIZE.split("x"))
    times = program_times(program, model, hw, "float32")
    cheapest = cheapest_frame_ms(Planner(program), times.stage_ms.__getitem__, times.fuse_ms,
                                 times.overhead_ms)
    oracle = schedule_costs(load(ROOT / schedule("oracle"), "espnet"), model, hw).oracle_ms
    deadline = round(cheapest + DEADLINE_POINT * (oracle - cheapest))
    return {"cheapest_ms": round(cheapest, 2), "oracle_ms": round(oracle, 2),
            "deadline_ms": deadline}


def evaluate(names: list[str], deadline: int, profile: Path) -> dict:
    argv = ["eval", *[schedule(n) for n in names], "--data", VAL, *NET, "--void", "11",
            "--size", SIZE, "--deadline", f"{deadline}ms", "--sim-device", str(profile),
            "--threads", "1", "--quiet", "--json"]
    out, seconds = cwdsl(argv)
    rows = json.loads(out)["rows"]
    return {"seconds": seconds, "rows": {r["schedule"]: {
        "mean_iu": round(r["mean_iu"], 2), "on_time_pct": round(r["on_time_pct"], 1),
        "all_stages_pct": round(r["all_stages_pct"], 1),
        "time_pct_of_full": round(r["time_pct_of_full"], 1)} for r in rows}}


def loaded(fn):
    """``fn()`` while two processes keep both cores busy."""
    hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(2)]
    try:
        time.sleep(2)
        return fn()
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def simulated(names: list[str], deadline: int, profile: Path, scratch: Path) -> dict:
    """Per schedule: the executor's run and the simulator's price of it (step 5)."""
    out = {}
    for name in names:
        folder = scratch / f"run-{name}"
        cwdsl(["run", schedule(name), "--frames", f"{VAL}/images", *NET, "--size", SIZE,
               "--deadline", f"{deadline}ms", "--threads", "1", "--quiet", "--out",
               str(folder)])
        record = json.loads((folder / "run.json").read_text())
        s = record["summary"]
        frames = len(record["frames"])
        sim_out, _ = cwdsl(["simulate", schedule(name), "--net", "espnet", "--size", SIZE,
                            "--device", str(profile), "--deadline", f"{deadline}ms",
                            "--frames", str(frames), "--trace", str(folder / "run.json"),
                            "--quiet", "--json"])
        row = json.loads(sim_out)[0]
        out[name] = {"executor": {"on_time_pct": round(100 * s["on_time_fraction"], 1),
                                  "latency_ms_p99": round(s["latency_ms_p99"], 2),
                                  "latency_ms_mean": round(s["latency_ms_mean"], 2)},
                     "simulated": {"on_time_pct": round(row["on_time_pct"], 1),
                                   "latency_ms_p99": round(row["latency_ms_p99"], 2),
                                   "latency_ms_mean": round(row["latency_ms_mean"], 2)}}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--no-load", action="store_true", help="skip the run under load")
    args = p.parse_args()
    if not (ROOT / VAL).is_dir() or not (ROOT / ESPNET).is_file():
        sys.exit(f"needs {VAL} and {ESPNET}")
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        profile = scratch / "espnet-184x240.json"
        _, profile_s = cwdsl(["profile", *NET, "--size", SIZE, "--threads", "1", "--quiet",
                              "-o", str(profile)])
        chosen = choose_deadline(profile)
        deadline = chosen["deadline_ms"]
        print(f"deadline {deadline} ms: {chosen}", flush=True)
        quiet = evaluate(SCHEDULES, deadline, profile)
        print(json.dumps(quiet, indent=1), flush=True)
        load = None if args.no_load else loaded(lambda: evaluate(UNDER_LOAD, deadline, profile))
        sim = simulated(SIMULATED, deadline, profile, scratch)
        print(json.dumps(sim, indent=1), flush=True)
    results = {"size": SIZE, "threads": 1, "profile_seconds": profile_s, **chosen,
               "rule": f"D = cheapest + {DEADLINE_POINT} (oracle - cheapest), from a profile "
                       f"of this machine", "eval": quiet, "under_load": load,
               "simulated": sim}
    argv = [a for a in sys.argv[1:]]
    if "--out-dir" in argv:
        at = argv.index("--out-dir")
        argv = argv[:at] + argv[at + 2:]
    write_results(Path(args.out_dir) / "deadline-espnet.json", "bench_deadline", results,
                  command=shlex.join(["python", "benchmarks/bench_deadline.py", *argv]))


def render(results) -> str:
    """The Markdown tables of ``deadline-espnet.json`` (a record, or a folder holding it)."""
    if isinstance(results, (str, Path)):
        path = Path(results)
        record = json.loads((path / "deadline-espnet.json" if path.is_dir() else path)
                            .read_text(encoding="utf-8"))
    else:
        record = results
    r = record.get("results", record)
    lines = [f"Deadline {r['deadline_ms']} ms ({r['rule']}: cheapest frame "
             f"{r['cheapest_ms']} ms, frame oracle {r['oracle_ms']} ms); {record['machine']}, "
             f"commit {record['commit']}, load average {record['load_average']}.", "",
             "| schedule | mean IU | on time | all stages | time % full (simulated) "
             "| on time under load |", "|---|---|---|---|---|---|"]
    load = (r.get("under_load") or {}).get("rows", {})
    for name, row in r["eval"]["rows"].items():
        under = f"{load[name]['on_time_pct']:.1f}%" if name in load else "—"
        lines.append(f"| {name} | {row['mean_iu']:.1f} | {row['on_time_pct']:.1f}% | "
                     f"{row['all_stages_pct']:.1f}% | {row['time_pct_of_full']:.1f}% | "
                     f"{under} |")
    lines += ["", "| schedule | on time: executor / simulated | p99 ms: executor / simulated |",
              "|---|---|---|"]
    for name, both in r["simulated"].items():
        e, s = both["executor"], both["simulated"]
        lines.append(f"| {name} | {e['on_time_pct']:.1f}% / {s['on_time_pct']:.1f}% | "
                     f"{e['latency_ms_p99']:.1f} / {s['latency_ms_p99']:.1f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
