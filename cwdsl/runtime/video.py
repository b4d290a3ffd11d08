"""Video and image I/O: real files through PyAV (video) and Pillow (images, label maps).

Frames are ``(H, W, 3)`` uint8 RGB arrays; label maps are ``(H, W)`` uint8 class ids. Every
problem with a file the user named raises :class:`~cwdsl.core.errors.InputError` with a message
``PATH: reason``; writes are atomic (a temp file beside the target, renamed on success only).
"""
from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np
from PIL import Image, UnidentifiedImageError

from cwdsl.runtime import palette as _palette
from cwdsl.core.atomic import atomic_path
from cwdsl.core.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
# container suffix -> FFmpeg muxer for write_video
# FFmpeg demuxers that turn non-video files into "video" (text rendered as ANSI art)
_NOT_VIDEO = {"tty"}
_MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}


@dataclass(frozen=True)
class VideoInfo:
    """What is known about a video (or a frames folder) before decoding it.

    ``frames`` and ``fps`` are ``None`` when the container does not say (a folder has no fps).
    """

    path: str
    width: int
    height: int
    frames: int | None
    fps: float | None
    codec: str | None

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.height, self.width


def _reason(error: BaseException) -> str:
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return text.rstrip(".")


def _check_max_frames(max_frames: int | None) -> int | None:
    if max_frames is None:
        return None
    if isinstance(max_frames, bool) or not isinstance(max_frames, (int, np.integer)) \
            or max_frames < 0:
        raise InputError(f"max_frames must be a whole number >= 0, got {max_frames!r}")
    return int(max_frames)


# --------------------------------------------------------------------------- reading video

def _open_video(path: Path):
    if not path.exists():
        raise InputError(f"{path}: no such video file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a video file (read it as a frames folder)")
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as e:
        raise InputError(f"{path}: not a readable video ({_reason(e)})") from None
    if container.format.name in _NOT_VIDEO:
        container.close()
        raise InputError(f"{path}: not a video file (FFmpeg reads it as {container.format.name})")
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: the file has no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container, stream


def _decode(container, stream, path: Path, max_frames: int | None) -> Iterator[np.ndarray]:
    count = 0
    try:
        if max_frames == 0:
            return
        for frame in container.decode(stream):
            yield frame.to_ndarray(format="rgb24")
            count += 1
            if max_frames is not None and count >= max_frames:
                return
    except av.error.FFmpegError as e:
        raise InputError(f"{path}: corrupt video, decoding failed after {count} frames "
                         f"({_reason(e)})") from None
    finally:
        container.close()
    if count == 0:
        raise InputError(f"{path}: the video has no frames")
    declared = int(stream.frames or 0)
    if max_frames is None and declared - count > max(2, declared // 50):
        raise InputError(f"{path}: truncated or corrupt video: decoded {count} of the "
                         f"{declared} frames its header declares")


def read_video(path: str | Path, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Iterate over the frames of a video file (mp4, avi, webm, mkv, ... via PyAV) as RGB arrays.

    The file is opened (and checked) at once; decoding is lazy. Decoding stops after
    ``max_frames`` frames when given. A file that fails to decode, or that ends well before the
    frame count its header declares (a truncated file), raises :class:`InputError` when the
    iteration reaches the problem; containers that declare no count (mkv, webm) cannot tell a
    truncated file from a short one.
    """
    path = Path(path)
    max_frames = _check_max_frames(max_frames)
    container, stream = _open_video(path)
    return _decode(container, stream, path, max_frames)


def video_info(path: str | Path) -> VideoInfo:
    """Size, frame count and frame rate of a video file, or of a frames folder."""
    path = Path(path)
    if path.is_dir():
        files = list_images(path, None)
        width, height = _image_size(files[0])
        return VideoInfo(str(path), width, height, len(files), None, None)
    container, stream = _open_video(path)
    try:
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        return VideoInfo(str(path), int(ctx.width), int(ctx.height), int(stream.frames) or None,
                         float(rate) if rate else None, ctx.name)
    finally:
        container.close()


# --------------------------------------------------------------------------- frames folders

def natural_key(name: str):
    """Sort key that orders embedded numbers by value: ``frame2`` before ``frame10``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part.lower())
            for part in re.split(r"(\d+)", name)]


def list_images(path: Path, max_frames: int | None) -> list[Path]:
    """The image files in folder ``path`` in natural order (the first ``max_frames`` of them)."""
    if not path.exists():
        raise InputError(f"{path}: no such frames folder")
    if not path.is_dir():
        raise InputError(f"{path}: not a folder (expected a folder of frame images)")
    files = sorted((p for p in path.iterdir()
                    if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                   key=lambda p: natural_key(p.name))
    if not files:
        raise InputError(f"{path}: the folder has no images "
                         f"({', '.join(s[1:] for s in IMAGE_SUFFIXES)})")
    return files if max_frames is None else files[:max_frames]


def _image_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as img:
            return img.size
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise InputError(f"{path}: not a readable image ({_reason(e)})") from None


def load_rgb(path: Path) -> np.ndarray:
    """The image at ``path`` as an (H, W, 3) uint8 RGB array; :class:`InputError` if unreadable."""
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise InputError(f"{path}: not a readable image ({_reason(e)})") from None


def _iter_images(files: list[Path], size: tuple[int, int]) -> Iterator[np.ndarray]:
    for path in files:
        frame = load_rgb(path)
        if (frame.shape[1], frame.shape[0]) != size:
            raise InputError(f"{path}: image is {frame.shape[1]}x{frame.shape[0]}, the other "
                             f"frames are {size[0]}x{size[1]}")
        yield frame


def read_frames_dir(path: str | Path, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Iterate over the images of a folder as RGB frames, in natural name order.

    ``frame2.png`` comes before ``frame10.png``. All images must have the same size; the
    listing and every image header are checked at once, pixels are decoded lazily.
    """
    path = Path(path)
    max_frames = _check_max_frames(max_frames)
    files = list_images(path, max_frames)
    if not files:
        return iter(())
    size = _image_size(files[0])
    for other in files[1:]:
        other_size = _image_size(other)
        if other_size != size:
            raise InputError(f"{other}: image is {other_size[0]}x{other_size[1]}, but "
                             f"{files[0].name} is {size[0]}x{size[1]}; all frames must have "
                             f"the same size")
    return _iter_images(files, size)


def open_frames(video: str | Path | None = None, frames_dir: str | Path | None = None, *,
                max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Frames from exactly one source: a video file or a folder of images.

    A folder given as ``video`` is read as a frames folder.
    """
    if (video is None) == (frames_dir is None):
        raise InputError("give exactly one frame source: a video file or a frames folder")
    if video is not None:
        if Path(video).is_dir():
            return read_frames_dir(video, max_frames)
        return read_video(video, max_frames)
    return read_frames_dir(frames_dir, max_frames)


def write_frames_dir(path: str | Path, frames: Iterable[np.ndarray],
                     pattern: str = "{:06d}.png") -> int:
    """Write frames as images ``pattern.format(i)`` into a folder (each file atomic); the count."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: exists and is not a folder")
    count = 0
    for i, frame in enumerate(frames):
        arr = _check_frame(frame, None, i, folder)
        target = folder / pattern.format(i)
        with atomic_path(target) as tmp:
            Image.fromarray(arr).save(tmp, format=Image.registered_extensions()
                                                   .get(target.suffix.lower(), "PNG"))
        count += 1
    return count


# --------------------------------------------------------------------------- writing video

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


def _check_frame(frame, size: tuple[int, int] | None, index: int, path: Path) -> np.ndarray:
    arr = np.asarray(frame)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise InputError(f"{path}: frame {index} must be an (H, W, 3) uint8 RGB array, got "
                         f"shape {arr.shape} dtype {arr.dtype}")
    if size is not None and arr.shape[:2] != size:
        raise InputError(f"{path}: frame {index} is {arr.shape[1]}x{arr.shape[0]}, the first "
                         f"frame is {size[1]}x{size[0]}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InputError(f"{path}: frame {index} is empty")
    return np.ascontiguousarray(arr)


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
    first = _check_frame(first, None, 0, path)
    h, w = first.shape[:2]
    pad_h, pad_w = h % 2, w % 2
    rate = Fraction(float(fps)).limit_denominator(1001)
    count = 0
    with atomic_path(path) as tmp:
        try:
            container = av.open(str(tmp), mode="w", format=muxer)
        except (av.error.FFmpegError, OSError, ValueError) as e:
            raise InputError(f"{path}: cannot create the video ({_reason(e)})") from None
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
                arr = _check_frame(frame, (h, w), count, path)
                if pad_h or pad_w:
                    arr = np.pad(arr, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
                for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                    container.mux(packet)
                count += 1
            for packet in stream.encode():
                container.mux(packet)
            done = True
        except av.error.FFmpegError as e:
            raise InputError(f"{path}: encoding failed at frame {count} ({_reason(e)})") from None
        finally:
            try:
                container.close()
            except av.error.FFmpegError as e:
                if done:
                    raise InputError(f"{path}: cannot finish the video ({_reason(e)})") from None
    return count


# --------------------------------------------------------------------------- label maps

def save_label_png(path: str | Path, labels: np.ndarray, palette: np.ndarray | None = None) -> None:
    """Write a label map as a palette-mode ("P") PNG of class indices, atomically.

    ``palette`` is an ``(N, 3)`` RGB table (default: :func:`cwdsl.runtime.palette.palette` of every
    class); :data:`cwdsl.runtime.palette.IGNORE_LABEL` is stored black.
    """
    path = Path(path)
    arr = np.asarray(labels)
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer) or arr.size == 0:
        raise InputError(f"{path}: labels must be a non-empty (H, W) integer array, got shape "
                         f"{arr.shape} dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() > 255:
        raise InputError(f"{path}: labels must lie in [0, 255] to fit a PNG, got "
                         f"[{arr.min()}, {arr.max()}]")
    lut = _palette.lookup_table(palette)
    if path.is_dir():
        raise InputError(f"{path}: is a folder")
    img = Image.fromarray(arr.astype(np.uint8))   # mode "L"; putpalette makes it "P"
    img.putpalette(lut.reshape(-1).tolist())
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")


def load_label_png(path: str | Path) -> np.ndarray:
    """Read a label map PNG (palette "P" or grayscale "L" of class indices) as (H, W) uint8."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such label file")
    try:
        with Image.open(path) as img:
            if img.mode not in ("P", "L"):
                raise InputError(f"{path}: not a label map (image mode {img.mode}); expected a "
                                 f"palette or grayscale PNG of class indices")
            return np.array(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise InputError(f"{path}: not a readable image ({_reason(e)})") from None
