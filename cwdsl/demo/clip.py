"""The bundled demo clip: what ``cwdsl run`` plays without ``--video``/``--frames`` and what
``--data demo`` scores. One generated clip with ground truth, the same on every machine."""
from __future__ import annotations

from dataclasses import dataclass

from cwdsl.demo.scenes import Clip, generate_clip


@dataclass(frozen=True)
class DemoClip:
    """The demo's facts: the network its bundled weights were trained for, the scene
    generator's seed, the clip's length, frame size (height, width) and frame rate."""

    network: str
    seed: int
    frames: int
    size: tuple[int, int]
    fps: float


DEMO = DemoClip(network="tiny", seed=2016, frames=120, size=(128, 128), fps=15.0)


def demo_clip(max_frames: int | None = None) -> Clip:
    """The demo clip, or its first ``max_frames`` frames."""
    frames = min(DEMO.frames, max_frames or DEMO.frames)
    return generate_clip(DEMO.seed, frames, DEMO.size)
