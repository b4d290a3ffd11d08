"""Warp against cache on motion that is not a translation, and on the real validation video.

  python benchmarks/bench_warp_motion.py [CASE …] [--out-dir benchmarks/results]

The warp results in REPRODUCTION.md were measured on translated crops (which phase
correlation, the flow's start, solves outright) and on the validation sequence at 5 Hz.
Here the same schedules (``oracle``, ``skipframe``, ``skipframe_warp``, ``dff_cache``,
``dff``, ``accel``; network ``fcn8s_camvid``, CamVid's void 11 ignored) are scored by
``cwdsl eval`` on:

- ``zoom-rotate``: ``--data motion,stills=12,frames=10:../shared/data/camvid-half/val``, a
  synthetic camera over 12 of the 101 validation stills (evenly spaced), 10 frames each at
  180x240, panning 2-8 px, zooming -4%..+6% and turning -2..2° a frame (every frame scored);
- ``pan``: the same clips with ``zoom=0,rotate=0`` (the same pans, translation alone), and
  ``zoom`` (``rotate=0``) and ``rotate`` (``zoom=0``), to separate what each costs the warp
  and the network;
- ``val-5hz``: the real 101-frame 15 Hz sequence at ``--stride 3`` (34 frames).

Capped for a 2-core machine (12 stills of 10 frames; one torch thread). Time: the simulator
on its default device model (``titanx``), as ``cwdsl eval`` prints it. Each case writes
``warp-CASE.json`` (``_common.write_results``: the command, machine, date, commit) whose
``results`` hold the rows of ``eval --json``;
:func:`render` makes the Markdown table.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import chosen_cases  # noqa: E402
from bench_tuning import VAL, run_cwdsl, write_result  # noqa: E402

SCHEDULES = ["schedules/oracle.cw", "schedules/skipframe.cw", "schedules/skipframe_warp.cw",
             "schedules/dff_cache.cw", "schedules/dff.cw", "schedules/accel.cw"]
OPTIONS = ["--net", "fcn8s_camvid", "--void", "11", "--json", "--quiet"]
CASES = {
    "zoom-rotate": ["--data", f"motion,stills=12,frames=10:{VAL}"],
    "pan": ["--data", f"motion,stills=12,frames=10,zoom=0,rotate=0:{VAL}"],
    "zoom": ["--data", f"motion,stills=12,frames=10,rotate=0:{VAL}"],
    "rotate": ["--data", f"motion,stills=12,frames=10,zoom=0:{VAL}"],
    "val-5hz": ["--data", VAL, "--stride", "3"],
}


def run_case(name: str, out_dir: Path) -> dict:
    argv = ["eval", *SCHEDULES, *CASES[name], *OPTIONS]
    print(f"{name}: cwdsl {' '.join(argv)}", flush=True)
    stdout, seconds = run_cwdsl(argv)
    table = json.loads(stdout)
    payload = {"case": name, "seconds": seconds, "threads": 1, "data": table["data"],
               "network": table["network"], "rows": table["rows"]}
    return write_result(out_dir / f"warp-{name}.json", "bench_warp_motion",
                        "cwdsl " + " ".join(argv) + " --threads 1", payload)


def render(results) -> str:
    """A Markdown table of ``warp-*.json`` results (dicts, or a folder holding them): mean
    IU (and its loss against the case's frame oracle), boundary mean IU and time per
    schedule, one column group per case."""
    if isinstance(results, (str, Path)):
        results = [json.loads(p.read_text(encoding="utf-8"))
                   for p in sorted(Path(results).glob("warp-*.json"))]
    results = [r.get("results", r) for r in results]  # a record, or its results
    results.sort(key=lambda r: list(CASES).index(r["case"]) if r["case"] in CASES else len(CASES))
    names = [row["schedule"] for row in results[0]["rows"]]
    head = "| schedule | " + " | ".join(
        f"{r['case']}: time %, mean IU (Δ oracle), mIU-bdry" for r in results) + " |"
    lines = [head, "|---|" + "---|" * len(results)]
    for i, name in enumerate(names):
        cells = []
        for r in results:
            row, oracle = r["rows"][i], r["rows"][0]
            cells.append(f"{row['time_pct_of_full']:.1f}, {row['mean_iu']:.1f} "
                         f"({row['mean_iu'] - oracle['mean_iu']:+.1f}), "
                         f"{row['mean_iu_bdry']:.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    frames = "; ".join(f"{r['case']}: {r['data']}" for r in results)
    return "\n".join(lines) + f"\n\nData: {frames}."


def main() -> None:
    names, out_dir = chosen_cases(__doc__, CASES)
    print(render([run_case(name, out_dir) for name in names]))


if __name__ == "__main__":
    main()
