"""The learned clock (``model=camvid``) against the label difference on CamVid's validation
sequence: how well each ranks the cost of keeping s3's cache, and the two clocks' sweeps at
every phase of the 5 Hz subsequence and at 15 Hz.

  python benchmarks/bench_learned_clock.py [--data ../shared/data/camvid-half/val]
      [--parts ranks,phases,15hz] [--out FILE.json]

``--out`` keeps the parts an earlier run wrote there that this run does not measure.

ranks: for every frame k of the sequence (every 3rd frame, and every frame) and t = k+1 ..
k+12, the signals the executor measures at t and the share of output labels that keeping s3's
state from k changes (what ``cwdsl train-clock`` fits on, here on the validation frames it never
saw); the rank correlation of the bundled model's prediction with it, and of
``labeldiff_fired`` (what ``adaptive.cw`` thresholds) alone.
phases: ``cwdsl sweep schedules/learned.cw schedules/adaptive.cw`` (the thresholds of
docs/evaluation.md) on each phase of every 3rd frame (frames 0, 3, …; 1, 4, …; 2, 5, …: a
folder of links per phase) and the mean IU of each curve at 20/35/50/65/80% of frames with
s3, averaged over the phases. 15hz: the same sweep on every frame.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import ROOT, write_results  # noqa: E402

RATES = (20.0, 35.0, 50.0, 65.0, 80.0)
SWEEP = ["schedules/learned.cw", "schedules/adaptive.cw", "--theta", "0.04:0.3:0.01",
         "--theta", "0.08:0.3:0.01", "--net", "fcn8s_camvid", "--void", "11", "--quiet"]


def ranks(data: str, stride: int) -> dict:
    from cwdsl import load
    from cwdsl.core.clockmodel import SIGNALS, load_clock_model
    from cwdsl.evaluate.evaluation import network_frame, prepare_network
    from cwdsl.nets.bundled import resolve_weights
    from cwdsl.train.clockfit import Samples, rank_correlation
    from cwdsl.train.clocktrain import clip_samples, clock_split
    from cwdsl.train.motionclips import open_clip_set

    program = load(ROOT / "schedules" / "adaptive.cw", network="fcn8s_camvid")
    split = clock_split(program, "s2")
    net = prepare_network(program.network, resolve_weights("fcn8s_camvid", None))
    size = (180, 240)
    parts = [clip_samples(net, split, [network_frame(f, size) for f in rgb], 12)
             for _, rgb in open_clip_set(data, size, stride=stride).clips()]
    samples = Samples.join(parts)
    model = load_clock_model(ROOT / "cwdsl" / "data" / "clock_camvid.json")
    names = list(SIGNALS)
    predicted = np.array([model.predict(dict(zip(names, row))) for row in samples.signals])
    fired = samples.signals[:, names.index("labeldiff_fired")]
    return {"stride": stride, "samples": len(samples),
            "model": rank_correlation(predicted, samples.target),
            "labeldiff_fired": rank_correlation(fired, samples.target)}


def sweep_at_rates(data: str, folder: Path, name: str) -> dict[str, list]:
    from cwdsl.evaluate.sweep import curves_from_csv, interpolate_miu

    png = folder / f"{name}.png"
    done = subprocess.run([sys.executable, "-m", "cwdsl", "sweep", *SWEEP, "--data", data,
                           "--at", ",".join(f"{r:g}" for r in RATES), "-o", str(png)],
                          cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True)
    curves = curves_from_csv(png.with_suffix(".csv").read_text())
    row = next(line.split() for line in done.stdout.splitlines()
               if line.startswith("frame oracle"))  # its row: name (schedule), time %, mean IU
    oracle = float(row[next(i for i, word in enumerate(row) if word.endswith("%")) + 1])
    return {"curves": {n: list(interpolate_miu(p, RATES)) for n, p in curves.items()},
            "oracle_miu": oracle}


def phase_folder(data: Path, phase: int, into: Path) -> Path:
    """Links to every 3rd labeled frame of ``data`` from frame ``phase``."""
    images = sorted((data / "images").iterdir())
    for sub in ("images", "labels"):
        (into / sub).mkdir(parents=True)
    for path in images[phase::3]:
        (into / "images" / path.name).symlink_to(path.resolve())
        (into / "labels" / path.name).symlink_to((data / "labels" / path.name).resolve())
    return into


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data/camvid-half/val")
    ap.add_argument("--parts", default="ranks,phases,15hz")
    ap.add_argument("--out", metavar="FILE.json")
    args = ap.parse_args()
    parts = args.parts.split(",")
    data = (ROOT / args.data).resolve() if not Path(args.data).is_absolute() else Path(args.data)
    results: dict = {"data": args.data, "rates": list(RATES)}
    if "ranks" in parts:
        results["ranks"] = [ranks(str(data), stride) for stride in (3, 1)]
        for r in results["ranks"]:
            print(f"every {r['stride']} frame(s): {r['samples']} samples; rank correlation "
                  f"model {r['model']:.3f}, labeldiff_fired {r['labeldiff_fired']:.3f}",
                  flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        from concurrent.futures import ThreadPoolExecutor

        jobs = {}
        with ThreadPoolExecutor(4) as pool:  # one process a sweep
            if "phases" in parts:
                for p in range(3):
                    folder = phase_folder(data, p, tmp / f"phase{p}")
                    jobs[p] = pool.submit(sweep_at_rates, str(folder), tmp, f"phase{p}")
            if "15hz" in parts:
                jobs["15hz"] = pool.submit(sweep_at_rates, str(data), tmp, "every-frame")
        if "phases" in parts:
            phases = [jobs[p].result() for p in range(3)]
            names = list(phases[0]["curves"])
            mean = {n: [None if any(ph["curves"][n][i] is None for ph in phases) else
                        statistics.mean(ph["curves"][n][i] for ph in phases)
                        for i in range(len(RATES))] for n in names}
            results["phases"] = {"each": phases, "mean": mean,
                                 "oracle_miu": statistics.mean(p["oracle_miu"] for p in phases)}
            for n, values in mean.items():
                print(f"mean of 3 phases, {n}: " + ", ".join(
                    "-" if v is None else f"{v:.2f}" for v in values), flush=True)
        if "15hz" in parts:
            results["15hz"] = jobs["15hz"].result()
            for n, values in results["15hz"]["curves"].items():
                print(f"15 Hz, {n}: " + ", ".join("-" if v is None else f"{v:.2f}"
                                                  for v in values), flush=True)
    if args.out:
        out = Path(args.out)
        if out.exists():  # parts measured by an earlier run (--parts) are kept
            import json

            earlier = json.loads(out.read_text())
            kept = {k: v for k, v in earlier.get("results", {}).items() if k not in results}
            results = {**kept, **results}
            if kept:
                print(f"kept from {earlier.get('date')}: {', '.join(kept)}")
        write_results(args.out, "bench_learned_clock", results)


if __name__ == "__main__":
    main()
