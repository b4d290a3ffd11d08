"""``--codec h264[:crf=N,gop=G,bframes=B]``: a labelled sequence encoded and decoded again,
so that schedules warping by the codec's motion vectors run on frames that have them.

Every schedule of an ``eval`` or ``sweep`` (the oracle too) then runs on the decoded
frames, so the comparison is fair: all see the same compression. The encoder is libx264
(``h264``) or FFmpeg's MPEG-4 part 2 (``mpeg4``); H.264 is encoded with one reference
frame and B frames that are not references (``ref=1``, ``b-pyramid=none``), so that each
vector's source frame is known (:mod:`cwdsl.media.motionvectors`). Encoding is in memory;
odd sizes are padded by an edge row/column for the encoder and cropped after decoding.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from fractions import Fraction
from collections.abc import Sequence

import av
import numpy as np

from cwdsl.core.errors import InputError
from cwdsl.media.motionvectors import CodecMotion, decode_with_motion

CODECS = {"h264": "libx264", "mpeg4": "mpeg4"}
"""``--codec`` name → the FFmpeg encoder."""
DEFAULTS = {"crf": 23, "gop": 250, "bframes": 0}
"""x264's own defaults for quality and key-frame interval (crf 23, keyint 250); no B
frames: every frame's vectors point to the frame before."""
LIMITS = {"crf": (0, 51), "gop": (1, 100_000), "bframes": (0, 16)}
QSCALE = 4
"""MPEG-4's fixed quantiser (``qscale``) when crf is not applicable."""


@dataclass(frozen=True)
class CodecSettings:
    """How ``--codec`` encodes: the codec (``h264``, ``mpeg4``), the quality (x264's crf;
    MPEG-4 uses a fixed quantiser), the key-frame interval and B frames between anchors."""

    codec: str = "h264"
    crf: int = DEFAULTS["crf"]
    gop: int = DEFAULTS["gop"]
    bframes: int = DEFAULTS["bframes"]

    @property
    def text(self) -> str:
        """The canonical ``--codec`` text."""
        quality = f"crf={self.crf}," if self.codec == "h264" else ""
        return f"{self.codec}:{quality}gop={self.gop},bframes={self.bframes}"

    def to_json(self) -> dict:
        encoder = CODECS[self.codec]
        return {"codec": self.codec, "encoder": encoder, "crf": self.crf if
                self.codec == "h264" else None, "qscale": QSCALE if self.codec == "mpeg4"
                else None, "gop": self.gop, "bframes": self.bframes,
                "options": encoder_options(self), "libavcodec": ".".join(
                    map(str, av.library_versions["libavcodec"]))}


def parse_codec(text: str) -> CodecSettings:
    """``h264``, ``h264:crf=28,gop=30,bframes=2``, ``mpeg4:gop=12`` → settings; an
    ``InputError`` naming the option for anything else."""
    found = re.fullmatch(r"([a-z0-9]+)(?::(.*))?", text.strip())
    if found is None or found.group(1) not in CODECS:
        raise InputError(f"--codec {text}: name a codec of {', '.join(CODECS)}, optionally "
                         f"with settings, for example h264:crf=23,gop=250")
    codec, values = found.group(1), dict(DEFAULTS)
    for item in filter(None, (found.group(2) or "").split(",")):
        key, eq, value = item.partition("=")
        key = key.strip()
        if key not in DEFAULTS or not eq:
            raise InputError(f"--codec {text}: unknown setting {item!r}; settings are "
                             f"{', '.join(f'{k}=N' for k in DEFAULTS)}")
        if key == "bframes" and codec == "mpeg4" and value.strip() not in ("0", ""):
            raise InputError(f"--codec {text}: FFmpeg exports MPEG-4 B frames' motion vectors "
                             f"as zero; use bframes=0, or h264")
        if key == "crf" and codec != "h264":
            raise InputError(f"--codec {text}: crf is x264's; mpeg4 encodes at a fixed "
                             f"quantiser ({QSCALE})")
        low, high = LIMITS[key]
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            raise InputError(f"--codec {text}: {key} must be a whole number in "
                             f"{low}..{high}, got {value!r}")
        values[key] = number
    return CodecSettings(codec, **values)


def encoder_options(settings: CodecSettings) -> dict[str, str]:
    """The FFmpeg encoder's options for ``settings``."""
    if settings.codec == "h264":
        return {"crf": str(settings.crf), "preset": "medium",
                "x264-params": f"keyint={settings.gop}:min-keyint={min(settings.gop, 25)}"
                               f":bframes={settings.bframes}:b-pyramid=none:ref=1"}
    return {"g": str(settings.gop), "bf": str(settings.bframes), "qscale": str(QSCALE)}


def encode(frames: Sequence[np.ndarray], settings: CodecSettings, fps: float = 15.0) -> bytes:
    """``frames`` (RGB, one size) encoded in an MP4 in memory."""
    h, w = frames[0].shape[:2]
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream(CODECS[settings.codec],
                                      rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = w + w % 2, h + h % 2
        stream.pix_fmt = "yuv420p"
        stream.options = encoder_options(settings)
        if settings.codec == "mpeg4":
            stream.codec_context.qscale = QSCALE
        for rgb in frames:
            if rgb.shape[:2] != (h, w):
                raise InputError(f"--codec: frames of one sequence differ in size "
                                 f"({rgb.shape[1]}x{rgb.shape[0]} and {w}x{h})")
            padded = np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
            for packet in stream.encode(av.VideoFrame.from_ndarray(padded, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def decode(data: bytes, size: tuple[int, int]) -> tuple[list[np.ndarray], list[CodecMotion]]:
    """The frames of an encoded video (cropped to ``size`` = (H, W)) and each one's
    motion vectors, in display order."""
    frames, motions = [], []
    with av.open(io.BytesIO(data), mode="r") as container:
        for frame, motion in decode_with_motion(container, container.streams.video[0]):
            motions.append(motion)
            frames.append(frame.to_ndarray(format="rgb24")[:size[0], :size[1]])
    return frames, motions


@dataclass(frozen=True)
class Transcoded:
    """A sequence after :func:`transcode`: its decoded frames, their motion vectors, the
    compressed size in bytes and the frames' PSNR against the originals (dB)."""

    frames: tuple[np.ndarray, ...]
    motions: tuple[CodecMotion, ...]
    bytes: int
    psnr_db: float


def transcode(frames: Sequence[np.ndarray], settings: CodecSettings,
              fps: float = 15.0) -> Transcoded:
    """Encode ``frames`` with ``settings`` and decode them again (see the module)."""
    if len(frames) == 0:
        raise InputError("--codec: a sequence without frames")
    size = frames[0].shape[:2]
    data = encode(frames, settings, fps)
    decoded, motions = decode(data, size)
    if len(decoded) != len(frames):
        raise InputError(f"--codec {settings.text}: {len(frames)} frames encoded, "
                         f"{len(decoded)} decoded")
    error = np.mean([np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2)
                     for a, b in zip(frames, decoded)])
    psnr = float(10 * np.log10(255.0 ** 2 / max(error, 1e-12)))
    return Transcoded(tuple(decoded), tuple(motions), len(data), psnr)
