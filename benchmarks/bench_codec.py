"""Warping by the codec's motion vectors against DIS optical flow, on this CPU.

  python benchmarks/bench_codec.py [--out-dir benchmarks/results]

What it measures (network ``fcn8s_camvid``, CamVid's void 11 ignored, one torch thread):

1. **Accuracy** (``cwdsl eval --codec h264``: every sequence encoded with ``--codec``'s
   defaults, crf 23, one key frame, no B frames, and every schedule run on the decoded
   frames): ``oracle``, ``dff_cache``, ``dff`` (DIS) and ``dff_codec`` on
   ``camvid-half/val`` at 15 Hz (stride 1, 101 frames) and 5 Hz (stride 3, 34 frames), and
   on ``motion`` clips (12 stills × 10 frames panning, zooming and turning); and ESPNet's
   (the authors' checkpoint at 184×240, its ``dff`` and ``dff_cache`` written from
   ``schedules/espnet/dff_codec.cw`` with the other counter-clocks) at 15 Hz. The share
   of the mean IU that DIS recovers over the cache which the codec's vectors keep:
   ``(dff_codec − dff_cache) / (dff − dff_cache)``.
2. **Flow cost on this CPU**: ``cwdsl profile --net fcn8s_camvid --size 180x240`` times
   every flow method round robin on the same frames (``flow:dis``, ``flow:codec``); and
   ``cwdsl run`` of ``dff`` and ``dff_codec`` on the validation sequence encoded as a file
   (the executor's own per-frame flow time, ``flow_ms_mean``); and what reading the vectors
   adds to decoding that file (with and without them, alternating passes).
3. **Simulated GPUs**: ``cwdsl simulate`` of the four schedules as written (FCN-8s at
   500×500), at CamVid's 180×240 (``fcn8s_camvid``, where DIS costs more than the network
   on a GPU) and of ``espnet/dff_codec`` beside ``espnet/oracle`` (360×480), on ``titanx``
   and ``h200``: time as % of the frame oracle's.

Writes ``codec.json`` (``_common.write_results``); :func:`render` makes the Markdown table
REPRODUCTION.md embeds (with cog).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import ROOT  # noqa: E402
from bench_tuning import VAL, run_cwdsl, write_result  # noqa: E402

SCHEDULES = ["oracle", "dff_cache", "dff", "dff_codec"]
FCN = [f"schedules/{s}.cw" for s in SCHEDULES]
ESPNET_WEIGHTS = "../shared/weights/espnet/espnet_p_2_q_8_camvid.pth"
OPTIONS = ["--void", "11", "--json", "--quiet", "--codec", "h264"]
CASES = {  # name: (schedules, options); ESPNET's dff and dff_cache are made from dff_codec
    "val-15hz": (FCN, ["--data", VAL, "--net", "fcn8s_camvid"]),
    "val-5hz": (FCN, ["--data", VAL, "--stride", "3", "--net", "fcn8s_camvid"]),
    "zoom-rotate": (FCN, ["--data", f"motion,stills=12,frames=10:{VAL}", "--net",
                          "fcn8s_camvid"]),
    "espnet-val-15hz": ("espnet", ["--data", VAL, "--net", "espnet", "--weights",
                                   ESPNET_WEIGHTS, "--size", "184x240"]),
}
SIMULATED = [f"schedules/{s}.cw" for s in SCHEDULES]
SIMULATED_CASES = (
    ("fcn8s 500x500", SIMULATED, []),
    ("fcn8s_camvid 180x240", SIMULATED, ["--net", "fcn8s_camvid", "--size", "180x240"]),
    ("espnet 360x480", ["schedules/espnet/oracle.cw", "schedules/espnet/dff_codec.cw"], []),
)
DEVICES = ("titanx", "h200")


def espnet_schedules(tmp: Path) -> list[str]:
    """ESPNet's oracle and dff_codec, and beside them its dff (DIS) and dff_cache: the same
    clocks as ``schedules/espnet/dff_codec.cw``, written into ``tmp``."""
    text = (ROOT / "schedules/espnet/dff_codec.cw").read_text(encoding="utf-8")
    for name, counter in (("dff", "else warp(flow=dis)"), ("dff_cache", "else cache")):
        (tmp / f"{name}.cw").write_text(text.replace("else warp(flow=codec)", counter),
                                        encoding="utf-8")
    return ["schedules/espnet/oracle.cw", str(tmp / "dff_cache.cw"), str(tmp / "dff.cw"),
            "schedules/espnet/dff_codec.cw"]


def accuracy(case: str, tmp: Path) -> dict | None:
    schedules, options = CASES[case]
    if schedules == "espnet":
        if not (ROOT / ESPNET_WEIGHTS).is_file():
            print(f"{case}: skipped, no {ESPNET_WEIGHTS}", flush=True)
            return None
        schedules = espnet_schedules(tmp)
    argv = ["eval", *schedules, *options, *OPTIONS]
    print(f"{case}: cwdsl {' '.join(argv)}", flush=True)
    stdout, seconds = run_cwdsl(argv)
    table = json.loads(stdout)
    rows = {r["schedule"]: r for r in table["rows"]}
    miu = {name: rows[name]["mean_iu"] for name in SCHEDULES}
    gained = miu["dff"] - miu["dff_cache"]
    return {"case": case, "data": table["data"], "codec": table["codec"], "seconds": seconds,
            "mean_iu": miu, "mean_iu_bdry": {n: rows[n]["mean_iu_bdry"] for n in SCHEDULES},
            "time_pct_titanx": {n: rows[n]["time_pct_of_full"] for n in SCHEDULES},
            "kept_of_dis_gain": None if abs(gained) < 1e-9 else
            (miu["dff_codec"] - miu["dff_cache"]) / gained}


def flow_cost(tmp: Path) -> dict:
    profile = tmp / "profile.json"
    run_cwdsl(["profile", "--net", "fcn8s_camvid", "--size", "180x240", "-o", str(profile),
               "--quiet"])
    flows = json.loads(profile.read_text())["timings"]["flows"]
    profiled = {m: flows[m]["median_ms"] for m in ("dis", "codec")}
    from cwdsl.media.transcode import CodecSettings, encode
    from cwdsl.media.video import read_frames_dir

    video = tmp / "val.mp4"
    video.write_bytes(encode(list(read_frames_dir(f"{VAL}/images")), CodecSettings()))
    decode = decode_cost(video)
    executed = {}
    for name in ("dff", "dff_codec"):
        out = tmp / name
        run_cwdsl(["run", f"schedules/{name}.cw", "--net", "fcn8s_camvid", "--video",
                   str(video), "--out", str(out), "--quiet", "--size", "180x240"])
        summary = json.loads((out / "run.json").read_text())["summary"]
        executed.update(summary["flow_ms_mean"])
    read = max(decode["with_vectors_ms"] - decode["frames_only_ms"], 0.0)
    return {"profile_median_ms": profiled, "executor_mean_ms": executed, "decode": decode,
            "read_ms": read, "profile_ratio": profiled["codec"] / profiled["dis"],
            "executor_ratio": executed["codec"] / executed["dis"],
            "executor_ratio_with_read": (executed["codec"] + read) / executed["dis"]}


def decode_cost(video: Path, rounds: int = 9) -> dict:
    """Per frame, ms to decode ``video`` (RGB frames), without and with its motion vectors
    read (FFmpeg's export, the side data, :class:`MotionReader`): medians of ``rounds``
    alternating passes, so both see the machine alike."""
    import time

    from cwdsl.media.video import MotionLog, read_video

    def frames_only():
        return sum(1 for _ in read_video(video))

    def with_vectors():
        log = MotionLog()
        for i, _ in enumerate(read_video(video, motion=log)):
            log.take(i)
        return i + 1

    times = {"frames_only_ms": [], "with_vectors_ms": []}
    for _ in range(rounds):
        for key, fn in (("frames_only_ms", frames_only), ("with_vectors_ms", with_vectors)):
            began = time.perf_counter()
            count = fn()
            times[key].append(1e3 * (time.perf_counter() - began) / count)
    return {key: sorted(v)[len(v) // 2] for key, v in times.items()} | {"rounds": rounds}


def simulated() -> dict:
    """Time % of the oracle of each schedule, by device and network/size."""
    out = {}
    for device in DEVICES:
        for label, group, extra in SIMULATED_CASES:
            done = subprocess.run([sys.executable, "-m", "cwdsl", "simulate", *group,
                                   "--device", device, "--json", *extra], cwd=ROOT,
                                  capture_output=True, text=True, check=True)
            out[f"{device}, {label}"] = {Path(path).stem: row["time_pct_of_full"] for path, row
                                         in zip(group, json.loads(done.stdout))}
    return out


def render(results) -> str:
    """The Markdown tables of ``codec.json`` (a record, its results, or a folder holding
    it): mean IU per schedule and case with the share of DIS's gain kept, the flow costs,
    and the simulated times."""
    if isinstance(results, (str, Path)):
        results = json.loads((Path(results) / "codec.json").read_text(encoding="utf-8"))
    results = results.get("results", results)
    cases = results["accuracy"]
    lines = ["| schedule | " + " | ".join(f"{c['case']}: mean IU (mIU-bdry)" for c in cases)
             + " |", "|---|" + "---|" * len(cases)]
    for name in SCHEDULES:
        lines.append(f"| {name} | " + " | ".join(
            f"{c['mean_iu'][name]:.1f} ({c['mean_iu_bdry'][name]:.1f})" for c in cases) + " |")
    lines.append("| **codec's share of DIS's gain over the cache** | " + " | ".join(
        "—" if c["kept_of_dis_gain"] is None else f"**{100 * c['kept_of_dis_gain']:.0f}%**"
        for c in cases) + " |")
    cost = results["flow_cost"]
    lines += ["", "| flow per frame, this CPU | DIS (`dis`) | motion vectors (`codec`) | "
                  "codec / DIS |", "|---|---|---|---|",
              f"| `cwdsl profile` (median, round robin) | {cost['profile_median_ms']['dis']:.2f}"
              f" ms | {cost['profile_median_ms']['codec']:.2f} ms | "
              f"{100 * cost['profile_ratio']:.0f}% |",
              f"| `cwdsl run` (executor, mean) | {cost['executor_mean_ms']['dis']:.2f} ms | "
              f"{cost['executor_mean_ms']['codec']:.2f} ms | "
              f"{100 * cost['executor_ratio']:.0f}% |",
              f"| `cwdsl run`, with reading the vectors as the decoder runs (+"
              f"{cost['read_ms']:.2f} ms: decoding with them, {cost['decode']['with_vectors_ms']:.2f}"
              f" ms a frame, against {cost['decode']['frames_only_ms']:.2f} without) | "
              f"{cost['executor_mean_ms']['dis']:.2f} ms | "
              f"{cost['executor_mean_ms']['codec'] + cost['read_ms']:.2f} ms | "
              f"{100 * cost['executor_ratio_with_read']:.0f}% |"]
    sim = results["simulated"]
    lines += ["", "| simulated, % of the frame oracle's time | " + " | ".join(SCHEDULES) + " |",
              "|---|" + "---|" * len(SCHEDULES)]
    for where, row in sim.items():
        lines.append(f"| {where} | " + " | ".join(
            f"{row[n]:.1f}%" if n in row else "" for n in SCHEDULES) + " |")
    data = "; ".join(f"{c['case']}: {c['data']}" for c in cases)
    return "\n".join(lines) + f"\n\nData: {data}."


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cost = flow_cost(Path(tmp))
        scored = [accuracy(case, Path(tmp)) for case in CASES]
    payload = {"threads": 1, "accuracy": [a for a in scored if a is not None],
               "flow_cost": cost, "simulated": simulated()}
    shown = {"espnet": ["schedules/espnet/oracle.cw", "TMP/dff_cache.cw", "TMP/dff.cw",
                        "schedules/espnet/dff_codec.cw"]}
    commands = [f"cwdsl eval {' '.join(shown[s] if isinstance(s, str) else s)} "
                f"{' '.join(o)} {' '.join(OPTIONS)} --threads 1" for s, o in CASES.values()]
    record = write_result(args.out_dir / "codec.json", "bench_codec", " ; ".join(commands),
                          payload)
    print(render(record))


if __name__ == "__main__":
    main()
