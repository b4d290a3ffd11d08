"""Synthetic labeled video for demos and training: shapes carry the class, textures do not.

See :mod:`cwdsl.demo.scenes` for the generator and its parameters.
"""
from cwdsl.demo.clip import DEMO, DemoClip, demo_clip
from cwdsl.demo.scenes import (
    CLASS_NAMES, MOTION_PRESETS, NUM_CLASSES, Clip, ClipSummary, LabeledFrames, Motion, Segment,
    generate_clip, generate_dataset, iter_batches,
)
from cwdsl.demo.shapes import SHAPES
from cwdsl.demo.textures import Texture, random_texture

__all__ = [
    "CLASS_NAMES", "DEMO", "MOTION_PRESETS", "NUM_CLASSES", "SHAPES", "Clip", "ClipSummary",
    "DemoClip", "LabeledFrames", "Motion", "Segment", "Texture", "demo_clip", "generate_clip",
    "generate_dataset", "iter_batches", "random_texture",
]
