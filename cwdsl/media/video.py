"""Reading video through PyAV, and image I/O through Pillow (frames folders, label maps);
writing video is :mod:`cwdsl.media.encode`.

Frames are ``(H, W, 3)`` uint8 RGB arrays; label maps are ``(H, W)`` uint8 class ids. Every
problem with a file the user named raises :class:`~cwdsl.core.errors.InputError` with a message
``PATH: reason``; writes are atomic (a temp file beside the target, renamed on success only).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np
from PIL import Image, UnidentifiedImageError

from cwdsl.media import palette as _palette
from cwdsl.core.atomic import atomic_path
from cwdsl.core.errors import InputError
from cwdsl.core.inputs import input_file
from cwdsl.media.motionvectors import MOTION_CODECS, CodecMotion, decode_with_motion

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
# FFmpeg demuxers that turn non-video files into "video" (text rendered as ANSI art)
_NOT_VIDEO = {"tty"}


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


def reason(error: BaseException) -> str:
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
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a video file (read it as a frames folder)")
    input_file(path, "video file")  # a FIFO or /dev/zero would hang FFmpeg
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as e:
        raise InputError(f"{path}: not a readable video ({reason(e)})") from None
    if container.format.name in _NOT_VIDEO:
        container.close()
        raise InputError(f"{path}: not a video file (FFmpeg reads it as {container.format.name})")
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: the file has no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container, stream


class MotionLog:
    """The motion vectors of the frames a video source decoded, by frame index, until the
    frame's reader takes them (:meth:`take`): a decoder runs at most a frame ahead of its
    reader, so the log holds a frame or two, however long the video."""

    def __init__(self):
        self._items: dict[int, CodecMotion] = {}

    def put(self, index: int, motion: CodecMotion) -> None:
        self._items[index] = motion

    def take(self, index: int) -> CodecMotion:
        """Frame ``index``'s motion vectors, forgotten here (a ``KeyError`` when that frame
        was not decoded, or was taken already)."""
        return self._items.pop(index)


def _decode(container, stream, path: Path, max_frames: int | None,
            problems: list[str] | None, motion: MotionLog | None = None
            ) -> Iterator[np.ndarray]:
    count = 0

    def fail(message: str) -> None:
        if problems is None:
            raise InputError(f"{path}: {message}")
        problems.append(message)

    try:
        if max_frames == 0:
            return
        decoded = decode_with_motion(container, stream) if motion is not None else \
            ((frame, None) for frame in container.decode(stream))
        for frame, vectors in decoded:
            if vectors is not None:
                motion.put(count, vectors)
            yield frame.to_ndarray(format="rgb24")
            count += 1
            if max_frames is not None and count >= max_frames:
                return
    except av.error.FFmpegError as e:
        fail(f"corrupt video, decoding failed after {count} frames ({reason(e)})")
        return
    finally:
        container.close()
    if count == 0:
        raise InputError(f"{path}: the video has no frames")
    declared = int(stream.frames or 0)
    if max_frames is None and declared - count > max(2, declared // 50):
        fail(f"truncated or corrupt video: decoded {count} of the {declared} frames its "
             f"header declares")


def count_packets(path: str | Path) -> tuple[int, int | None]:
    """(video packets the file holds, frames its header declares or None), by demuxing
    without decoding: seconds for a long video, where decoding takes minutes. A truncated
    file holds fewer packets than it declares."""
    path = Path(path)
    container, stream = _open_video(path)
    count = 0
    try:
        for packet in container.demux(stream):
            count += packet.size > 0
    except av.error.FFmpegError:
        pass  # the packets before the damage are what the file holds
    finally:
        container.close()
    return count, int(stream.frames) or None


def read_video(path: str | Path, max_frames: int | None = None, *,
               problems: list[str] | None = None,
               motion: MotionLog | None = None) -> Iterator[np.ndarray]:
    """Iterate over the frames of a video file (mp4, avi, webm, mkv, ... via PyAV) as RGB arrays.

    The file is opened (and checked) at once; decoding is lazy. Decoding stops after
    ``max_frames`` frames when given. A file that fails to decode, or that ends well before the
    frame count its header declares (a truncated file), raises :class:`InputError` when the
    iteration reaches the problem; containers that declare no count (mkv, webm) cannot tell a
    truncated file from a short one. With a ``problems`` list, such a problem ends the
    iteration instead, and its reason is appended to the list. With a ``motion`` log, the
    decoder exports each frame's motion vectors (:mod:`cwdsl.media.motionvectors`) into it
    before the frame is yielded; a codec that has none is an :class:`InputError`.
    """
    path = Path(path)
    max_frames = _check_max_frames(max_frames)
    container, stream = _open_video(path)
    if motion is not None:
        name = stream.codec_context.name
        if name not in MOTION_CODECS:
            container.close()
            raise InputError(f"{path}: its codec {name} carries no motion vectors FFmpeg "
                             f"exports (those do: H.264, MPEG-4, MPEG-1/2); re-encode it, "
                             f"for example: ffmpeg -i {path.name} -c:v libx264 -x264-params "
                             f"bframes=0:ref=1 out.mp4")
    return _decode(container, stream, path, max_frames, problems, motion)


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
        raise InputError(f"{path}: not a readable image ({reason(e)})") from None


def load_rgb(path: Path) -> np.ndarray:
    """The image at ``path`` as an (H, W, 3) uint8 RGB array; :class:`InputError` if unreadable."""
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise InputError(f"{path}: not a readable image ({reason(e)})") from None


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
        arr = check_frame(frame, None, i, folder)
        target = folder / pattern.format(i)
        with atomic_path(target) as tmp:
            Image.fromarray(arr).save(tmp, format=Image.registered_extensions()
                                                   .get(target.suffix.lower(), "PNG"))
        count += 1
    return count


def check_frame(frame, size: tuple[int, int] | None, index: int, path: Path) -> np.ndarray:
    """``frame`` as a contiguous (H, W, 3) uint8 array, of ``size`` (H, W) when given;
    an ``InputError`` naming ``path`` and the frame ``index`` otherwise."""
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



# --------------------------------------------------------------------------- label maps

def save_label_png(path: str | Path, labels: np.ndarray, palette: np.ndarray | None = None) -> None:
    """Write a label map as a palette-mode ("P") PNG of class indices, atomically.

    ``palette`` is an ``(N, 3)`` RGB table (default: :func:`cwdsl.media.palette.palette` of every
    class); :data:`cwdsl.media.palette.IGNORE_LABEL` is stored black.
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
        raise InputError(f"{path}: not a readable image ({reason(e)})") from None
