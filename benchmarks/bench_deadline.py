"""Frame deadlines kept: ESPNet on CamVid's 15 Hz validation sequence, this CPU, one thread.

  python benchmarks/bench_deadline.py [--out-dir benchmarks/results] [--no-load]

What it measures (the authors' ESPNet checkpoint at 184x240, ``../shared``):

1. A profile of this machine (``cwdsl profile --net espnet --size 184x240 --threads 1``).
2. Deadlines ``D`` at 70, 80, 90 and 100% of the frame oracle's time as that profile
   prices it (all but the last between the cheapest frame of
   ``schedules/espnet/deadline.cw`` and the oracle's), so no one deadline is picked.
3. The simulator beside the executor at 90%: ``cwdsl run`` of the oracle, staggered,
   adaptive and deadline schedules over the frames (its ``run.json``), then ``cwdsl
   simulate`` of the same schedule on the profile, replaying the run's data-driven clock
   values (``--trace``; ``fits`` decided by the simulator itself): on-time share and p99
   latency side by side. Run first, nearest the profile in time.
4. At each ``D``: ``cwdsl eval`` of the frame oracle, the fixed schedules (alternating,
   pipeline3, staggered), adaptive (no deadline clock) and ``schedules/espnet/deadline.cw``
   on the 101 frames with ``--deadline D`` (``fits`` predicting from the profile until it
   has measured): mean IU and the share of frames after frame 0 the executor finished
   within ``D`` (run back to back, as ``eval`` runs them).
5. At 90%, adaptive, staggered and deadline again while another process keeps a core busy
   (``--no-load`` skips it).

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
SHARES = (0.7, 0.8, 0.9, 1.0)  # D = share x the oracle's frame, as the profile prices it
LOADED_SHARE = 0.9
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


def choose_deadlines(profile: Path) -> dict:
    """The rule of step 2 on ``profile``: the cheapest frame, the oracle's, and each ``D``
    (ms, by share of the oracle's)."""
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
    return {"cheapest_ms": round(cheapest, 2), "oracle_ms": round(oracle, 2),
            "deadlines_ms": {f"{share:g}": round(share * oracle) for share in SHARES}}


def evaluate(names: list[str], deadline: int, profile: Path) -> dict:
    argv = ["eval", *[schedule(n) for n in names], "--data", VAL, *NET, "--void", "11",
            "--size", SIZE, "--deadline", f"{deadline}ms", "--sim-device", str(profile),
            "--cost-model", str(profile),
            "--threads", "1", "--quiet", "--json"]
    out, seconds = cwdsl(argv)
    rows = json.loads(out)["rows"]
    return {"seconds": seconds, "rows": {r["schedule"]: {
        "mean_iu": round(r["mean_iu"], 2), "on_time_pct": round(r["on_time_pct"], 1),
        "all_stages_pct": round(r["all_stages_pct"], 1),
        "time_pct_of_full": round(r["time_pct_of_full"], 1)} for r in rows}}


def loaded(fn):
    """``fn()`` while two processes keep both cores busy."""
    hogs = [subprocess.Popen([sys.executable, "-c", HOG])]
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
               "--deadline", f"{deadline}ms", "--cost-model", str(profile), "--threads", "1",
               "--quiet", "--out", str(folder)])
        record = json.loads((folder / "run.json").read_text())
        s = record["summary"]
        frames = len(record["frames"])
        trace = ["--trace", str(folder / "run.json")] if record["atoms"] else []
        sim_out, _ = cwdsl(["simulate", schedule(name), "--net", "espnet", "--size", SIZE,
                            "--device", str(profile), "--deadline", f"{deadline}ms",
                            "--frames", str(frames), *trace, "--quiet", "--json"])
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
        chosen = choose_deadlines(profile)
        print(f"deadlines: {chosen}", flush=True)
        loaded_ms = chosen["deadlines_ms"][f"{LOADED_SHARE:g}"]
        sim = simulated(SIMULATED, loaded_ms, profile, scratch)
        print(json.dumps(sim, indent=1), flush=True)
        quiet = {}
        for share, deadline in chosen["deadlines_ms"].items():
            quiet[share] = evaluate(SCHEDULES, deadline, profile)
            print(share, json.dumps(quiet[share]), flush=True)
        load = None if args.no_load else loaded(
            lambda: evaluate(UNDER_LOAD, loaded_ms, profile))
    results = {"size": SIZE, "threads": 1, "profile_seconds": profile_s, **chosen,
               "rule": "D = 70, 80, 90, 100% of the frame oracle's time, from a profile of "
                       "this machine", "eval": quiet, "loaded_share": LOADED_SHARE,
               "under_load": load, "simulated_share": LOADED_SHARE, "simulated": sim}
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
    shares = list(r["deadlines_ms"])
    lines = [f"Deadlines at {', '.join(f'{100 * float(s):.0f}%' for s in shares)} of the frame "
             f"oracle's {r['oracle_ms']} ms as a profile of this machine prices it "
             f"({', '.join(f'{d} ms' for d in r['deadlines_ms'].values())}; cheapest frame "
             f"at least {r['cheapest_ms']} ms); {record['machine']}, commit "
             f"{record['commit']}, load average {record['load_average']}. Each cell: mean "
             f"IU, then the share of frames after frame 0 on time (bold: ≥ 99%).", "",
             "| schedule | " + " | ".join(f"D = {d} ms" for d in r["deadlines_ms"].values())
             + " |", "|---|" + "---|" * len(shares)]
    names = list(r["eval"][shares[0]]["rows"])
    for name in names:
        cells = []
        for share in shares:
            row = r["eval"][share]["rows"][name]
            on_time = f"{row['on_time_pct']:.0f}%"
            cells.append(f"{row['mean_iu']:.1f}, " + (f"**{on_time}**"
                                                      if row["on_time_pct"] >= 99 else on_time))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    load = (r.get("under_load") or {}).get("rows", {})
    if load:
        d = r["deadlines_ms"][f"{r['loaded_share']:g}"]
        lines += ["", f"Under load (another process keeping a core busy), D = {d} ms:", "",
                  "| schedule | mean IU | on time | quiet: on time |", "|---|---|---|---|"]
        quiet = r["eval"][f"{r['loaded_share']:g}"]["rows"]
        for name, row in load.items():
            lines.append(f"| {name} | {row['mean_iu']:.1f} | {row['on_time_pct']:.0f}% | "
                         f"{quiet[name]['on_time_pct']:.0f}% |")
    d = r["deadlines_ms"][f"{r['simulated_share']:g}"]
    lines += ["", f"The simulator beside the executor, D = {d} ms (one run each):", "",
              "| schedule | on time: executor / simulated | p99 ms: executor / simulated |",
              "|---|---|---|"]
    for name, both in r["simulated"].items():
        e, s = both["executor"], both["simulated"]
        lines.append(f"| {name} | {e['on_time_pct']:.0f}% / {s['on_time_pct']:.0f}% | "
                     f"{e['latency_ms_p99']:.1f} / {s['latency_ms_p99']:.1f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
