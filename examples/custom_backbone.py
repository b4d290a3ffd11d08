"""Stage your own backbone: register a small conv net so schedules can say ``network toynet``.

Use it as a plugin of the command line::

    cwdsl --plugin examples/custom_backbone.py check examples/custom_backbone.cw
    cwdsl --plugin examples/custom_backbone.py explain examples/custom_backbone.cw

or run it to build the network and push a random frame through it, whole and by stages::

    python examples/custom_backbone.py
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from cwdsl.nets import build_network, stage_module

NUM_CLASSES = 5


def conv(cin: int, cout: int, stride: int) -> nn.Module:
    """3x3 conv + BatchNorm + ReLU; ``stride`` 2 halves the resolution."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


# The trunk in execution order: (layer name, module). Schedules name these in stage ranges.
LAYERS = [
    ("stem", conv(3, 16, 1)),
    ("down1", conv(16, 32, 2)),    # 1/2
    ("down2", conv(32, 64, 2)),    # 1/4
    ("down3", conv(64, 96, 2)),    # 1/8
]
# Score heads: name -> (the layer whose output it reads, module giving class scores).
HEADS = {
    "score_d1": ("down1", nn.Conv2d(32, NUM_CLASSES, 1)),
    "score_d2": ("down2", nn.Conv2d(64, NUM_CLASSES, 1)),
    "score_d3": ("down3", nn.Conv2d(96, NUM_CLASSES, 1)),
}

# No fuse given: the default resizes each head's scores to the frame and sums them, so a
# truncated schedule (fusing fewer heads) still yields full-size scores. Pass
# ``fuse=my_fuse`` with ``my_fuse(scores: dict[str, Tensor], input_hw) -> Tensor`` to
# change that; an nn.Module fuse has weights of its own.
TOYNET = stage_module("toynet", LAYERS, HEADS, num_classes=NUM_CLASSES,
                      default_input=(96, 128),
                      description="a four-layer conv net with three score heads",
                      replace=True)


def main() -> None:
    from cwdsl import load

    schedule = Path(__file__).with_suffix(".cw")
    program = load(schedule)
    print(f"{schedule.name}: network {program.network.name}, stages "
          f"{', '.join(program.stages)}")

    torch.manual_seed(0)
    net = build_network("toynet")
    frame = torch.randn(1, 3, *program.input_size)
    with torch.no_grad():
        whole = net(frame)
        feats, s1 = net.run_stage(frame, "stem", "down2", ["score_d1", "score_d2"])
        _, s2 = net.run_stage(feats, "down3", "down3", ["score_d3"])
        staged = net.fuse({**s1, **s2}, frame.shape[-2:])
        truncated = net.fuse(s1, frame.shape[-2:])
    print(f"output {tuple(whole.shape)}; staged == whole: {torch.equal(staged, whole)}; "
          f"truncated (s1 only) {tuple(truncated.shape)}")


if __name__ == "__main__":
    main()
