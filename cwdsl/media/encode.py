"""Writing video files through PyAV: H.264 (or MPEG-4) in MP4, MOV, MKV or AVI, atomically."""
from __future__ import annotations

import math
import numbers
from fractions import Fraction
from itertools import chain
from pathlib import Path
from typing import Iterable

import av
import numpy as np

from cwdsl.core.atomic import atomic_path
from cwdsl.core.errors import InputError
from cwdsl.media.video import check_frame, reason

# container suffix -> FFmpeg muxer
_MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}


def available_encoders() -> tuple[str, ...]:
    """The H.264 / MPEG-4 encoders this PyAV build offers, in order of preference."""
    out = []
    for name in ("libx264", "mpeg4"):
        try:
            av.Codec(name, "w")
        except Exception:  # noqa: BLE001 - any failure means "not available"
            continue
        out.append(name)
    return tuple(out)


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float = 15.0, *,
                codec: str | None = None, crf: int = 18) -> int:
    """Encode RGB frames into a video file (H.264 / yuv420p MP4 by default); the frame count.

    ``codec`` defaults to libx264, or mpeg4 where this PyAV build lacks libx264. Odd sizes are
    padded to even by repeating the last row / column. ``crf`` is the x264 quality (lower is
    better). The file appears atomically: on any error nothing is left behind.
    """
    path = Path(path)
    muxer = _MUXERS.get(path.suffix.lower())
    if muxer is None:
        raise InputError(f"{path}: unsupported video file type {path.suffix or '(none)'!r}; "
                         f"use one of {', '.join(_MUXERS)}")
    if path.is_dir():
        raise InputError(f"{path}: is a folder")
    if isinstance(fps, bool) or not isinstance(fps, numbers.Real) \
            or not math.isfinite(fps) or fps <= 0:
        raise InputError(f"{path}: fps must be a positive number, got {fps!r}")
    encoders = available_encoders()
    if codec is None:
        if not encoders:
            raise InputError(f"{path}: this PyAV build has neither libx264 nor mpeg4 encoders")
        codec = encoders[0]
    else:
        try:
            av.Codec(codec, "w")
        except Exception:  # noqa: BLE001
            raise InputError(f"{path}: no '{codec}' encoder in this PyAV build; available: "
                             f"{', '.join(encoders) or 'none'}") from None
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise InputError(f"{path}: no frames to write")
    first = check_frame(first, None, 0, path)
    h, w = first.shape[:2]
    pad_h, pad_w = h % 2, w % 2
    rate = Fraction(float(fps)).limit_denominator(1001)
    count = 0
    with atomic_path(path) as tmp:
        try:
            container = av.open(str(tmp), mode="w", format=muxer)
        except (av.error.FFmpegError, OSError, ValueError) as e:
            raise InputError(f"{path}: cannot create the video ({reason(e)})") from None
        done = False
        try:
            stream = container.add_stream(codec, rate=rate)
            stream.width, stream.height = w + pad_w, h + pad_h
            stream.pix_fmt = "yuv420p"
            if codec == "libx264":
                stream.options = {"crf": str(int(crf)), "preset": "veryfast"}
            else:
                bits = 2.0 * stream.width * stream.height * float(rate)   # ~2 bits per pixel
                stream.bit_rate = int(max(2_000_000, bits))
            for frame in chain([first], it):
                arr = check_frame(frame, (h, w), count, path)
                if pad_h or pad_w:
                    arr = np.pad(arr, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
                for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                    container.mux(packet)
                count += 1
            for packet in stream.encode():
                container.mux(packet)
            done = True
        except av.error.FFmpegError as e:
            raise InputError(f"{path}: encoding failed at frame {count} ({reason(e)})") from None
        finally:
            try:
                container.close()
            except av.error.FFmpegError as e:
                if done:
                    raise InputError(f"{path}: cannot finish the video ({reason(e)})") from None
    return count
