"""Stage your own backbone: register a small encoder–decoder so schedules can say
``network toynet``.

The trunk is a DAG of named layers: ``down2`` reads ``down1`` *and* the image (pooled to
its scale and concatenated, as ESPNet does). Heads are class scores (``score_d2``,
``score_d3``) or a feature map only the fuse understands (``skip_d1``, kind
``"features"``). The fuse is an ``nn.Module`` with weights: a small decoder that
upsamples the deep scores and adds the skip connections.

Use it as a plugin of the command line::

    cwdsl --plugin examples/custom_backbone.py check examples/custom_backbone.cw
    cwdsl --plugin examples/custom_backbone.py run examples/custom_backbone.cw --weights random

or run it to build the network and push a random frame through it, whole and by stages::

    python examples/custom_backbone.py
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from cwdsl.core.netspec import InputNorm
from cwdsl.nets import build_network, stage_module

NUM_CLASSES = 5


def conv(cin: int, cout: int, stride: int) -> nn.Module:
    """3x3 conv + BatchNorm + ReLU; ``stride`` 2 halves the resolution."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class WithImage(nn.Module):
    """A layer reading two things: features and the image, pooled to the features' size."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = conv(cin + 3, cout, 2)

    def forward(self, features: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        image = F.adaptive_avg_pool2d(image, features.shape[-2:])
        return self.conv(torch.cat([features, image], 1))


class Decoder(nn.Module):
    """The fuse: upsample the deepest scores given, add the next ones, project the skip
    features to classes and add them; bilinear to the frame. Heads left out (a truncated
    schedule) add nothing."""

    def __init__(self, skip_channels: int, classes: int):
        super().__init__()
        self.project = nn.Conv2d(skip_channels, classes, 1)

    def forward(self, heads: dict[str, torch.Tensor], input_hw) -> torch.Tensor:
        total = None
        for name in ("score_d3", "score_d2", "skip_d1"):
            if name not in heads:
                continue
            part = self.project(heads[name]) if name == "skip_d1" else heads[name]
            if total is not None:
                total = F.interpolate(total, size=part.shape[-2:], mode="bilinear",
                                      align_corners=False) + part
            else:
                total = part
        return F.interpolate(total, size=tuple(input_hw), mode="bilinear", align_corners=False)


# The trunk in execution order: (layer name, module[, what it reads]). A layer reads the
# layer before it unless it names its inputs: earlier layers and/or "image".
LAYERS = [
    ("stem", conv(3, 16, 1)),
    ("down1", conv(16, 32, 2)),                              # 1/2
    ("down2", WithImage(32, 64), ("down1", "image")),        # 1/4, sees the image again
    ("down3", conv(64, 96, 2)),                              # 1/8
]
# Heads: name -> (the layer it reads, module[, kind]); kind "scores" (the default) gives
# one channel per class, "features" a map only the fuse reads.
HEADS = {
    "skip_d1": ("down1", nn.Identity(), "features"),
    "score_d2": ("down2", nn.Conv2d(64, NUM_CLASSES, 1)),
    "score_d3": ("down3", nn.Conv2d(96, NUM_CLASSES, 1)),
}

# norm is required: how an RGB frame in [0, 1] becomes the network's input.
# side_multiple=8: three stride-2 layers; frames of other sizes are refused with a clear
# error where they enter. key_map=((regex, replacement), ...) would rename a foreign
# checkpoint's keys to these modules' (layers.<layer>.*, heads.<head>.*, fuse_module.*).
TOYNET = stage_module("toynet", LAYERS, HEADS, num_classes=NUM_CLASSES,
                      default_input=(96, 128), fuse=Decoder(32, NUM_CLASSES),
                      norm=InputNorm(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)),
                      side_multiple=8,
                      description="a four-layer encoder-decoder with a skip connection",
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
        feats, s1 = net.run_stage(frame, "stem", "down2", ["skip_d1", "score_d2"])
        _, s2 = net.run_stage(feats, "down3", "down3", ["score_d3"])
        staged = net.fuse({**s1, **s2}, frame.shape[-2:])
        truncated = net.fuse(s1, frame.shape[-2:])
    print(f"stage s1 hands on {', '.join(feats)}; output {tuple(whole.shape)}; "
          f"staged == whole: {torch.equal(staged, whole)}; truncated (s1 only) "
          f"{tuple(truncated.shape)}")


if __name__ == "__main__":
    main()
