"""ESPNet trained here (``espnet_camvid``, the bundled default) beside the authors' released
checkpoint, on the same frames, at the same size, with the same profile pricing time.

  python benchmarks/bench_espnet_camvid.py [--out-dir benchmarks/results] [--figure PNG]

What it measures (CamVid at half size, void 11 ignored, one torch thread, 184x240):

1. A profile of this machine (``cwdsl profile --net espnet --size 184x240 --threads 1``):
   the time column of every eval below (the two weights' networks are the same layers).
2. For each weights (bundled ``espnet_camvid``; the authors' ``espnet_p_2_q_8_camvid.pth``
   from ``../shared``): ``cwdsl eval schedules/espnet/{oracle,alternating,adaptive,
   pipeline3}.cw`` on the whole 101-frame validation sequence and on its **report split**,
   frames 50-100: ``schedules/espnet/adaptive.cw``'s θ was chosen on frames 0-49
   (``bench_tuning.py espnet-camvid``), so only the report split is out of sample for it.
3. The picture: the validation sequence encoded as an H.264 file (what a dashcam gives)
   and ``cwdsl run schedules/espnet/adaptive.cw --video val.mp4 --size 184x240 --save
   overlay``; one frame of its ``overlay.mp4`` written to ``--figure``.

Writes ``espnet-camvid.json`` (``_common.write_results``); :func:`render` makes the
Markdown table REPRODUCTION.md embeds (with cog).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import ROOT  # noqa: E402
from bench_tuning import VAL, run_cwdsl, write_result  # noqa: E402

AUTHORS = "../shared/weights/espnet/espnet_p_2_q_8_camvid.pth"
SCHEDULES = ["oracle", "alternating", "adaptive", "pipeline3"]
SIZE = "184x240"
REPORT_FROM = 50
"""The report split's first frame: adaptive.cw's θ was tuned on frames 0-49."""
FIGURE_FRAME = 60
WEIGHTS = {"espnet_camvid (bundled)": [], "authors' checkpoint": ["--weights", AUTHORS]}


def report_split(scratch: Path) -> Path:
    """Frames REPORT_FROM.. of the validation sequence as a labeled folder (links)."""
    from cwdsl.evaluate.datasets import open_labeled_folder

    folder = open_labeled_folder(ROOT / VAL, 11)
    out = scratch / "val-report"
    for sub in ("images", "labels"):
        (out / sub).mkdir(parents=True)
    for image, label in list(zip(folder.images, folder.labels))[REPORT_FROM:]:
        os.symlink(image.resolve(), out / "images" / image.name)
        os.symlink(label.resolve(), out / "labels" / label.name)
    return out


def evaluate(weights: list[str], data: str, profile: Path) -> dict:
    argv = ["eval", *(f"schedules/espnet/{s}.cw" for s in SCHEDULES), "--data", data,
            "--net", "espnet", *weights, "--void", "11", "--size", SIZE, "--sim-device",
            str(profile), "--json", "--quiet"]
    stdout, seconds = run_cwdsl(argv)
    rows = {r["schedule"]: r for r in json.loads(stdout)["rows"]}
    return {"seconds": seconds, "rows": {s: {k: rows[s][k] for k in (
        "mean_iu", "mean_iu_bdry", "time_pct_of_full", "all_stages_pct")} for s in SCHEDULES}}


def overlay_figure(scratch: Path, figure: Path | None) -> dict:
    """The validation sequence as an H.264 file, run with the bundled weights, one overlay
    frame saved as a PNG."""
    import av
    import numpy as np
    from PIL import Image

    from cwdsl.evaluate.datasets import open_labeled_folder
    from cwdsl.media.transcode import encode, parse_codec

    folder = open_labeled_folder(ROOT / VAL, 11)
    video = scratch / "val.mp4"
    video.write_bytes(encode([folder.image(i) for i in range(len(folder))],
                             parse_codec("h264"), fps=15))
    out = scratch / "run"
    stdout, seconds = run_cwdsl(["run", "schedules/espnet/adaptive.cw", "--video", str(video),
                                 "--size", SIZE, "--save", "overlay", "--out", str(out),
                                 "--quiet"])
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    with av.open(str(out / "overlay.mp4")) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    if figure is not None:
        figure.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(frames[FIGURE_FRAME])).save(figure, optimize=True)
    summary = record.get("summary", {})
    return {"seconds": seconds, "frames": len(frames), "figure_frame": FIGURE_FRAME,
            "figure": None if figure is None else figure.resolve().relative_to(ROOT).as_posix(),
            "summary": {k: summary[k] for k in summary if isinstance(summary[k], (int, float))}}


def render(results) -> str:
    """Markdown: per weights, the oracle's mean IU and each schedule's difference and time,
    on the whole sequence and on the report split."""
    if isinstance(results, (str, Path)):
        results = json.loads((Path(results) / "espnet-camvid.json").read_text(encoding="utf-8"))
    results = results.get("results", results)
    names = {"oracle": "frame oracle", "alternating": "alternating",
             "adaptive": f"adaptive (θ = {results['theta']})", "pipeline3": "3-stage pipeline"}
    lines = ["| weights | schedule | val, 101 frames: mean IU | time % oracle | frames fully "
             "computed | report split (50-100): mean IU | time % oracle |",
             "|---|---|---|---|---|---|---|"]
    for weights, runs in results["weights"].items():
        for s in SCHEDULES:
            cells = []
            for split in ("val", "report"):
                r, o = runs[split]["rows"][s], runs[split]["rows"]["oracle"]
                diff = "" if s in ("oracle", "pipeline3") else \
                    f" ({r['mean_iu'] - o['mean_iu']:+.1f})"
                cells += [f"{r['mean_iu']:.1f}{diff}", f"{r['time_pct_of_full']:.1f}"]
                if split == "val":
                    cells.append(f"{r['all_stages_pct']:.0f}%")
            lines.append(f"| {weights} | {names[s]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    ap.add_argument("--figure", type=Path, help="write one overlay frame here (PNG)")
    args = ap.parse_args()
    from cwdsl.evaluate.tuning import written_theta

    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        profile = scratch / f"espnet-{SIZE}.json"
        run_cwdsl(["profile", "--net", "espnet", "--size", SIZE, "--quiet", "-o", str(profile)])
        split = report_split(scratch)
        runs = {name: {"val": evaluate(w, VAL, profile), "report": evaluate(w, str(split), profile)}
                for name, w in WEIGHTS.items() if not w or (ROOT / AUTHORS).is_file()}
        picture = overlay_figure(scratch, args.figure)
    payload = {"threads": 1, "size": SIZE, "report_from": REPORT_FROM,
               "theta": written_theta(ROOT / "schedules/espnet/adaptive.cw"),
               "weights": runs, "overlay": picture}
    commands = [f"cwdsl profile --net espnet --size {SIZE} --threads 1 -o espnet-{SIZE}.json"]
    commands += [f"cwdsl eval {' '.join(f'schedules/espnet/{s}.cw' for s in SCHEDULES)} "
                 f"--data {data} --net espnet {' '.join(w)} --void 11 --size {SIZE} "
                 f"--sim-device espnet-{SIZE}.json --json --quiet --threads 1".replace("  ", " ")
                 for w in WEIGHTS.values() for data in (VAL, "VAL-FRAMES-50-100")]
    commands.append(f"cwdsl run schedules/espnet/adaptive.cw --video val.mp4 --size {SIZE} "
                    f"--save overlay --out run --quiet --threads 1")
    record = write_result(args.out_dir / "espnet-camvid.json", "bench_espnet_camvid",
                          " ; ".join(commands), payload)
    print(render(record))


if __name__ == "__main__":
    main()
