"""What ``cwdsl run`` runs on: the demo clip or a user's video / frames folder, at the size
the network runs at.

The size rule: ``--size HxW`` if given; else the schedule's ``input HxW`` when the schedule
runs on the network it names (``--net`` for another network makes its ``input`` line
describe a network that is not running); else the frames' own size. Frames (and the demo's
ground truth) are resized to it; a size far from the network's training size is noted.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

from cwdsl.core.errors import InputError
from cwdsl.core.inputs import input_file
from cwdsl.core.netspec import NetworkSpec, get_network
from cwdsl.core.units import HW, MAX_INPUT_SIDE
from cwdsl.demo.clip import DEMO, demo_clip
from cwdsl.demo.render import NUM_CLASSES as DEMO_CLASSES
from cwdsl.ir.graph import Program
from cwdsl.runtime.codecflow import needs_motion
from cwdsl.media.live import OPEN_TIMEOUT, LiveStream, is_live, open_live
from cwdsl.media.video import (MotionLog, count_packets, list_images, natural_key,
                               read_frames_dir, read_video, video_info)

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".ts",
                  ".flv", ".wmv", ".ogv")
"""What ``--videos DIR`` takes for a video file."""
FALLBACK_FPS = 15.0  # for a video that does not say its frame rate
FAR_FROM_TRAINING = 1.5  # warn when the linear scale differs from training by more


@dataclass(frozen=True)
class FrameSource:
    """Frames to run on; ``labels`` when ground truth exists (the demo). ``size`` is the
    frames' (height, width); ``problems`` collects what ``--keep-partial`` let pass."""

    description: str
    frames: Iterator[np.ndarray]
    labels: Iterator[np.ndarray] | None
    fps: float
    count: int | None
    size: HW
    notes: tuple[str, ...] = ()
    problems: list[str] = field(default_factory=list)
    path: str | None = None   # the video file or frames folder, absolute (None: the demo)
    live: LiveStream | None = None  # a live source (cwdsl.media.live): frames arrive on their own
    motion: MotionLog | None = None  # each frame's motion vectors (a video read for flow=codec)

    def close(self) -> None:
        """Stop reading a live source (nothing to do for the others)."""
        if self.live is not None:
            self.live.close()


def demo_source(max_frames: int | None, spec: NetworkSpec) -> FrameSource:
    """The bundled demo clip; its ground truth only when its label set is ``spec``'s (the
    demo network's classes, by number and name): labels of another set cannot be scored."""
    clip = demo_clip(max_frames)
    n = len(clip.frames)
    labels, notes = iter(clip.labels), ()
    demo = get_network(DEMO.network)
    if spec.name != DEMO.network and (spec.num_classes, spec.class_names) != \
            (demo.num_classes, demo.class_names):
        labels = None
        notes = (f"the demo's ground truth labels network {DEMO.network}'s {DEMO_CLASSES} "
                 f"classes, network {spec.name} has another label set ({spec.num_classes} "
                 f"classes): scoring against ground truth skipped",)
    return FrameSource(f"demo clip (seed {DEMO.seed}, {n} frames, "
                       f"{DEMO.size[0]}x{DEMO.size[1]})", iter(clip.frames), labels,
                       DEMO.fps, n, DEMO.size, notes)


def video_source(video: str, max_frames: int | None, keep_partial: bool,
                 motion: bool = False) -> FrameSource:
    """A video file, checked (and scanned for truncation) before a frame is decoded;
    ``motion``: its decoder exports each frame's motion vectors into the source's log."""
    info = video_info(video)  # fails early, with the path and the reason
    count = info.frames
    notes = ()
    packets, declared = count_packets(video)
    short = declared is not None and declared - packets > max(2, declared // 50)
    if short and (max_frames is None or max_frames > packets):
        problem = (f"truncated or corrupt video: the file holds {packets} packets of the "
                   f"{declared} frames its header declares")
        if not keep_partial:
            raise InputError(f"{video}: {problem}; --keep-partial runs on the frames that "
                             f"decode")
        notes, count = (f"{video}: {problem}; --keep-partial: running on the frames that "
                        f"decode from them",), packets
    if count is not None and max_frames:
        count = min(count, max_frames)
    problems: list[str] = []
    log = MotionLog() if motion else None
    frames = read_video(video, max_frames, problems=problems if keep_partial else None,
                        motion=log)
    return FrameSource(str(video), frames, None, float(info.fps or FALLBACK_FPS), count,
                       info.size, notes, problems, os.path.abspath(video), motion=log)


def folder_source(folder: str, max_frames: int | None) -> FrameSource:
    """A folder of images in name order."""
    count = len(list_images(Path(folder), max_frames))  # "no such frames folder", no images
    frames = read_frames_dir(folder, max_frames)
    info = video_info(folder)
    return FrameSource(str(folder), frames, None, FALLBACK_FPS, count, info.size,
                       path=os.path.abspath(folder))


def live_source(video: str, max_frames: int | None, stall_timeout: float) -> FrameSource:
    """A camera, network stream or standard input (:func:`cwdsl.media.live.is_live`),
    opened and read until its first frame (which gives the size); its count is unknown."""
    stream = open_live(video, stall_timeout, max_frames)
    try:
        size = stream.wait_first(max(OPEN_TIMEOUT, stall_timeout))
    except BaseException:
        stream.close()
        raise
    return FrameSource(stream.description, iter(()), None, stream.fps or FALLBACK_FPS, None,
                       size, path=video, live=stream)


def file_source(video: str | None, frames_dir: str | None, max_frames: int | None,
                keep_partial: bool = False, motion: bool = False) -> FrameSource:
    """``--video`` (a folder given there is read as a frames folder) or ``--frames``;
    ``motion``: with each frame's motion vectors (a video file only)."""
    if frames_dir is not None or Path(video).is_dir():
        return folder_source(frames_dir or video, max_frames)
    input_file(video, "video file")  # a FIFO or a device: refused before FFmpeg opens it
    return video_source(video, max_frames, keep_partial, motion)


def check_motion(program: Program, video: str | None, frames_dir: str | None,
                 realtime: bool = False) -> None:
    """An ``InputError`` when ``program`` warps by ``flow=codec`` and the frames would
    come without motion vectors: the demo clip, a frames folder, a live source, or a file
    paced in real time (its dropped frames' motion would be lost)."""
    if not needs_motion(program):
        return
    why = None
    if video is None and frames_dir is None:
        why = "the demo clip is frames, not a coded video"
    elif frames_dir is not None or Path(video).is_dir():
        why = f"{frames_dir or video} is a folder of images, which has no motion vectors"
    elif is_live(video):
        why = f"{video} is a live source (not supported with flow=codec yet)"
    elif realtime:
        why = "--realtime drops frames, and with them the motion they carried"
    if why is not None:
        raise InputError(f"{program.name} warps by flow=codec, the motion vectors of a coded "
                         f"video: {why}; give --video FILE (H.264 or MPEG-4), or use "
                         f"flow=dis")


def list_videos(folder: str) -> list[str]:
    """The video files (:data:`VIDEO_SUFFIXES`) directly in ``folder``, in name order (digits
    by value, as frames folders); an ``InputError`` for a missing folder or none in it."""
    path = Path(folder)
    if not path.is_dir():
        raise InputError(f"{folder}: no such folder of videos")
    videos = sorted((p for p in path.iterdir()
                     if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()),
                    key=lambda p: natural_key(p.name))
    if not videos:
        raise InputError(f"{folder}: holds no video files ({', '.join(VIDEO_SUFFIXES)})")
    return [str(p) for p in videos]


def run_size(size: HW | None, program: Program, own_network: bool, native: HW) -> HW:
    """The (height, width) frames run at (see the module's docstring)."""
    if size is None:
        stated = program.schedule.network.input
        size = stated.hw if stated is not None and own_network else native
    if max(size) > MAX_INPUT_SIDE:
        raise InputError(f"size {size[0]}x{size[1]} is too large (at most {MAX_INPUT_SIDE} "
                         f"a side)")
    return size


def scale_note(size: HW, spec: NetworkSpec, trained: HW | None = None) -> str | None:
    """A note when ``size`` is far from the size the network's weights were trained at
    (``trained``, else the network's input; a size that breaks the network's side rule is
    refused later, with its nearest valid size)."""
    trained = trained or spec.default_input
    scale = math.sqrt(size[0] * size[1] / (trained[0] * trained[1]))
    if 1 / FAR_FROM_TRAINING <= scale <= FAR_FROM_TRAINING:
        return None
    aspect = (size[0] / size[1]) / (trained[0] / trained[1])
    fit = trained if abs(aspect - 1) < 0.05 else spec.nearest_valid(
        (max(1, round(size[0] / scale)), max(1, round(size[1] / scale))))
    return (f"frames run at {size[0]}x{size[1]}, {scale:.2g}x the linear size network "
            f"{spec.name} was trained at ({trained[0]}x{trained[1]}); "
            f"its labels may be wrong at this scale: --size {fit[0]}x{fit[1]} resizes the frames")


def resize_image(image: np.ndarray, size: HW, nearest: bool = False) -> np.ndarray:
    """``image`` at ``size`` (height, width): bilinear (a frame), or nearest (labels)."""
    if image.shape[:2] == size:
        return image
    method = Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(image).resize((size[1], size[0]), method))


def _resize(images: Iterator[np.ndarray], size: HW, nearest: bool) -> Iterator[np.ndarray]:
    for image in images:
        yield resize_image(image, size, nearest)


def resized(source: FrameSource, size: HW) -> FrameSource:
    """``source`` at ``size``: frames bilinear, ground truth nearest."""
    if size == source.size:
        return source
    labels = None if source.labels is None else _resize(source.labels, size, nearest=True)
    return replace(source, frames=_resize(source.frames, size, nearest=False), labels=labels,
                   size=size, notes=source.notes + (
                       f"frames resized from {source.size[0]}x{source.size[1]} to "
                       f"{size[0]}x{size[1]}",))


def frame_source(video: str | None, frames_dir: str | None, max_frames: int | None,
                 keep_partial: bool, program: Program, own_network: bool,
                 size: HW | None, stall_timeout: float = 5.0,
                 trained: HW | None = None) -> FrameSource:
    """The frames to run on, at the size they run at, with notes for the user (``trained``:
    the size the weights were trained at, else the network's input); a live source
    (``stall_timeout``: seconds without a frame that end it) is open and read from here
    on: :meth:`FrameSource.close` stops it."""
    check_motion(program, video, frames_dir)
    if video is None and frames_dir is None:
        source = demo_source(max_frames, program.network)
    elif video is not None and is_live(video):
        source = live_source(video, max_frames, stall_timeout)
    else:
        source = file_source(video, frames_dir, max_frames, keep_partial,
                             needs_motion(program))
    try:
        source = resized(source, run_size(size, program, own_network, source.size))
        program.network.check_input(source.size)  # before any note: one suggestion, not two
    except BaseException:
        source.close()
        raise
    note = scale_note(source.size, program.network, trained)
    return source if note is None else replace(source, notes=source.notes + (note,))
