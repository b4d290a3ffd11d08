"""What ``cwdsl profile`` prints after writing a profile: each segment timed alone and in a
frame, the frame oracle, the overhead, flows, warps, learned clocks, the pipelined lanes'
measured overlap and batched timings (the file's format: :mod:`cwdsl.profile.harness`)."""
from __future__ import annotations

from pathlib import Path

from cwdsl.core.tables import Column, render_table
from cwdsl.devices.batch_model import batch_line


def format_profile_summary(data: dict, path: str | Path) -> str:
    """What ``cwdsl profile`` prints after writing ``path``: each segment (the paper's
    stages) timed alone and inside a frame, then the frame oracle (every segment, every
    frame) and the per-frame overhead."""
    t = data["timings"]
    h, w = data["input_hw"]
    rows = [(f"{s['first']}..{s['last']}", s["direct_ms"], s["in_frame"]["median_ms"])
            for s in t["in_frame"]["segments"]]
    header = (f"{data['network']} {h}x{w} {data['dtype']} on {data['device_name']} "
              f"({data['device']}); medians of {data['repeats']} timed runs")
    footer = (f"frame oracle (every segment on every frame, Executor.step): "
              f"{t['in_frame']['step_all_compute']['median_ms']:.2f} ms\n"
              f"whole network in one call: {t['full']['direct']['median_ms']:.2f} ms; "
              f"per-frame overhead: {t['frame_overhead']['median_ms']:.2f} ms\n"
              + _motion_lines(data) + _lanes_line(data) + batch_line(data) +
              f"wrote {path} (use it with cwdsl simulate --device {path})")
    return render_table(header, [Column("segment", 22, align="<"),
                                 Column("alone ms", 10, ".2f"),
                                 Column("in frame ms", 13, ".2f")], rows, footer)


def _lanes_line(data: dict) -> str:
    """The summary's line on pipelined lanes' measured overlap ("" before version 3): the
    simulator prices a pipeline's wave with it (docs/simulator.md)."""
    lanes = data["timings"].get("lanes")
    if lanes is None:
        return ""
    return (f"pipelined lanes: overlap {lanes['overlap']:.2f} (a wave of every segment "
            f"{lanes['sequential']['median_ms']:.2f} ms in turn, "
            f"{lanes['concurrent']['median_ms']:.2f} ms concurrently; 1 = the slowest lane "
            f"alone, 0 = their sum)\n")


def _motion_lines(data: dict) -> str:
    """The summary's lines on flows, warps and learned clocks ("" for an older profile)."""
    t = data["timings"]
    if "flows" not in t:
        return ""
    from cwdsl.core.netspec import get_network
    from cwdsl.cost.motion import warp_parts

    spec = get_network(data["network"])
    warps = ", ".join(f"{s['first']}..{s['last']} "
                      f"{sum(t['warps'][p]['median_ms'] for p in warp_parts(spec, *seg)):.2f}"
                      for s, seg in zip(t["in_frame"]["segments"], spec.head_segments()))
    return ("optical flow (on the host): "
            + ", ".join(f"{m} {s['median_ms']:.2f}" for m, s in t["flows"].items()) + " ms\n"
            f"warp of each segment's state: {warps} ms; composing a flow: "
            f"{t['warps']['compose']['median_ms']:.2f} ms\n"
            "learned clock (every signal): "
            + ", ".join(f"{h} {s['median_ms']:.2f}" for h, s in t["predicted"].items()) + " ms\n")
