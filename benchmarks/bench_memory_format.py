"""How far channels_last (the memory format ``auto`` picks on a CPU) moves a network's scores
from contiguous memory, where the ESPNet oracle is bit-identical to the upstream model.

  python benchmarks/bench_memory_format.py [--frames 8] [--out FILE.json]

For ``espnet`` (the released CamVid checkpoint at ../shared/weights/espnet, at 184×240) and
``fcn8s_camvid`` (bundled weights, 180×240), on the first ``--frames`` frames of CamVid's
validation sequence: the frame oracle through the executor with ``memory_format="contiguous"``
and with ``"channels_last"``; the largest absolute difference of any score, and the share of
pixels whose label differs. Not a timing: the machine does not matter, the CPU's kernels do.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import ROOT, write_results  # noqa: E402

from cwdsl import load  # noqa: E402
from cwdsl.evaluate.evaluation import network_frame, prepare_network  # noqa: E402
from cwdsl.media.video import load_rgb  # noqa: E402
from cwdsl.nets.bundled import resolve_weights  # noqa: E402
from cwdsl.runtime.executor import Executor  # noqa: E402

SHARED = ROOT.parent / "shared"
CASES = (("espnet", "schedules/espnet/oracle.cw",
          str(SHARED / "weights" / "espnet" / "espnet_p_2_q_8_camvid.pth"), (184, 240)),
         ("fcn8s_camvid", "schedules/oracle.cw", None, (180, 240)))


def scores(program, net, frames, memory_format: str) -> list[torch.Tensor]:
    executor = Executor(program, net, "cpu", concurrency="sequential",
                        memory_format=memory_format)
    try:
        return [executor.step(f).scores.float().clone() for f in frames]
    finally:
        executor.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--data", default=str(SHARED / "data" / "camvid-half" / "val" / "images"))
    ap.add_argument("--out", metavar="FILE.json")
    args = ap.parse_args()
    images = sorted(Path(args.data).glob("*.png"))[:args.frames]
    rows = []
    for network, schedule, weights, size in CASES:
        if weights is not None and not Path(weights).exists():
            print(f"{network}: {weights} is not here, skipped")
            continue
        program = load(ROOT / schedule, network=network)
        net = prepare_network(program.network, resolve_weights(network, weights))
        frames = [network_frame(load_rgb(p), size) for p in images]
        with torch.inference_mode():
            a = scores(program, net, frames, "contiguous")
            b = scores(program, net, frames, "channels_last")
        diff = max(float((x - y).abs().max()) for x, y in zip(a, b))
        flipped = sum(int((x.argmax(1) != y.argmax(1)).sum()) for x, y in zip(a, b))
        pixels = sum(x.argmax(1).numel() for x in a)
        scale = max(float(x.abs().max()) for x in a)
        rows.append({"network": network, "size": list(size), "frames": len(frames),
                     "max_abs_score_difference": diff, "max_abs_score": scale,
                     "labels_differing": flipped, "pixels": pixels})
        print(f"{network} {size[0]}x{size[1]}, {len(frames)} frames: scores differ by at most "
              f"{diff:.2e} (largest |score| {scale:.1f}); {flipped} of {pixels} labels differ")
    if args.out:
        write_results(args.out, "bench_memory_format", rows)


if __name__ == "__main__":
    main()
