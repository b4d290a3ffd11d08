"""The motion vectors a video's decoder already knows: FFmpeg's ``export_mvs``.

H.264 and the MPEG-4 family code each inter block of a frame as a vector into a reference
frame plus a residual. Asked with ``flags2=+export_mvs``, FFmpeg's decoder attaches them to
the frame it returns as ``MOTION_VECTORS`` side data (``AVMotionVector``: the block's size
``w × h``, its centre in this frame ``dst_x, dst_y``, the vector ``motion_x, motion_y`` in
units of ``1 / motion_scale`` pixels, and ``source``: negative for a block predicted from
the past, positive for the future). Reading them costs no second decode: the decoder
computed them anyway. Intra blocks, and intra (I) frames, have none. HEVC, VP9 and AV1
decoders export nothing (FFmpeg 8), nor do intra-only codecs (MJPEG, FFV1, PNG).

Which frame a vector points to: FFmpeg exports the reference list, not the index within
it. :class:`MotionReader` takes a P frame's vectors to point to the last I or P frame
before it in display order, and a B frame's past vectors to the last reference frame
before it: for H.264 a frame whose slices have a non-zero ``nal_ref_idc`` (B frames are
references under x264's b-pyramid, for the B frames after them; :class:`ReferenceTracker`
reads it from the packets), for the MPEG family an I or P frame. That is exact for x264's
streams with one reference frame (what ``--codec`` encodes: ``ref=1``; ``write_video``'s
preset too); a stream with several references is read the same way, an approximation
(docs/language.md says so).
FFmpeg exports no vectors for MPEG-4 part 2 B frames (all zero): such a frame is read as
having none.

A vector ``(dx, dy) = (motion_x, motion_y) / motion_scale`` is ``src - dst``: the block's
content was at ``x + (dx, dy)`` in the reference frame, the convention of
:mod:`cwdsl.runtime.flow` (``current(x) ≈ reference(x + flow(x))``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

MOTION_CODECS = ("h264", "mpeg4", "mpeg1video", "mpeg2video", "h263", "h263p", "msmpeg4v2",
                 "msmpeg4v3", "wmv1", "wmv2", "flv1")
"""FFmpeg decoders that export motion vectors (H.264 and the MPEG video family)."""

ANCHOR_PICTURES = ("I", "P", "SI", "SP")
"""Picture types a later frame's past vectors may point to (B frames are not references
in the streams this module reads exactly)."""

BLOCK_SIDES = (4, 8, 16, 32, 64)
"""Block sides an ``AVMotionVector`` may have (H.264 partitions; larger for other codecs)."""

COLUMNS = ("dst_x", "dst_y", "w", "h", "dx", "dy")
"""The columns of :attr:`CodecMotion.past`."""


@dataclass(frozen=True, eq=False)
class CodecMotion:
    """One decoded frame's motion vectors into its past reference frame.

    ``past``: (N, 6) float32, a row per block: its centre in this frame (``dst_x``,
    ``dst_y``, pixels), its size (``w``, ``h``) and the vector ``(dx, dy)`` in pixels
    (``src - dst``). ``back``: frames (display order) from this frame back to the one the
    vectors point to (1: the previous frame). ``size``: the frame's (height, width) the
    vectors are in. ``picture``: the picture type (``I``, ``P``, ``B``, ...). ``future``:
    blocks predicted from the future only (no past vector: holes, as intra blocks are).
    ``problem``: why the frame has no usable vectors (an intra frame, corrupt side data),
    None when it has them."""

    past: np.ndarray
    back: int
    size: tuple[int, int]
    picture: str
    future: int = 0
    problem: str | None = None
    reference: bool | None = None
    """Whether later frames' vectors may point to this frame (None: as its picture type
    says, I and P frames)."""

    @property
    def anchor(self) -> bool:
        return self.reference if self.reference is not None else \
            self.picture in ANCHOR_PICTURES

    @property
    def usable(self) -> bool:
        return self.problem is None and len(self.past) > 0


def _vectors(side) -> np.ndarray | None:
    """The structured array of a frame's ``MOTION_VECTORS`` side data, or None."""
    if side is None:
        return None
    return side.to_ndarray()


def check_vectors(array: np.ndarray, size: tuple[int, int]) -> str | None:
    """Why ``array`` (``AVMotionVector`` records) cannot be vectors of a frame of ``size``
    (height, width); None when they can. Vectors may point a little outside the frame
    (unrestricted motion vectors), not further than the frame's size."""
    names = set(array.dtype.names or ())
    missing = {"source", "w", "h", "dst_x", "dst_y", "motion_x", "motion_y",
               "motion_scale"} - names
    if missing:
        return f"side data without {', '.join(sorted(missing))}"
    if len(array) == 0:
        return None
    h, w = size
    if np.any(array["motion_scale"] <= 0):
        return "a motion vector with scale <= 0"
    if not np.all(np.isin(array["w"], BLOCK_SIDES) & np.isin(array["h"], BLOCK_SIDES)):
        return "a block size outside 4..64"
    if np.any((array["dst_x"] < 0) | (array["dst_x"] > w + 64)
              | (array["dst_y"] < 0) | (array["dst_y"] > h + 64)):
        return "a block outside the frame"
    scale = array["motion_scale"].astype(np.float64)
    if np.any(np.abs(array["motion_x"] / scale) > w + 64) \
            or np.any(np.abs(array["motion_y"] / scale) > h + 64):
        return "a vector longer than the frame"
    return None


def picture_type(value) -> str:
    """A PyAV picture type (an enum member or its int) as its letter(s): ``I``, ``P``, ``B``."""
    name = getattr(value, "name", None)
    if name is None:
        from av.video.frame import PictureType

        try:
            name = PictureType(int(value)).name
        except ValueError:
            name = str(value)
    return name


def _nal_units(data: bytes, length_size: int | None):
    """The NAL units of an H.264 packet: length-prefixed (``length_size`` bytes, MP4's
    avcC) or, with ``length_size`` None, separated by Annex B start codes."""
    if length_size is not None:
        at = 0
        while at + length_size <= len(data):
            size = int.from_bytes(data[at:at + length_size], "big")
            yield data[at + length_size:at + length_size + size]
            at += length_size + size
        return
    for unit in data.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01"):
        if unit:
            yield unit


class ReferenceTracker:
    """Which H.264 pictures are references, read from their packets (in decode order) and
    asked for by the decoded frames' time stamps (in display order): a picture is a
    reference when its slices' NAL header has a non-zero ``nal_ref_idc``."""

    SLICE_TYPES = (1, 5)  # coded slice of a non-IDR picture, of an IDR picture

    def __init__(self, extradata: bytes | None):
        avcc = bool(extradata) and extradata[0] == 1 and len(extradata) > 4
        self._length = (extradata[4] & 3) + 1 if avcc else None
        self._by_pts: dict[int, bool] = {}

    def note(self, packet) -> None:
        if packet.size == 0 or packet.pts is None:
            return
        for unit in _nal_units(bytes(packet), self._length):
            if unit and unit[0] & 31 in self.SLICE_TYPES:
                self._by_pts[int(packet.pts)] = bool(unit[0] >> 5 & 3)
                return

    def is_reference(self, frame) -> bool | None:
        """Whether ``frame`` is a reference picture (None: its packet was not seen)."""
        return None if frame.pts is None else self._by_pts.pop(int(frame.pts), None)


class MotionReader:
    """Reads the motion vectors of decoded frames, given in display order (what a decoder
    returns), keeping track of the reference frames their past vectors point to.
    ``codec``: the decoder's name (its B frames: see the module's docstring)."""

    def __init__(self, codec: str = "h264"):
        self.codec = codec
        self.index = 0
        self._anchor: int | None = None      # the last reference frame (B frames point here)
        self._i_or_p: int | None = None      # the last I or P frame (P frames point here)

    def read(self, frame, reference: bool | None = None) -> CodecMotion:
        """The :class:`CodecMotion` of the next frame (a PyAV ``VideoFrame`` decoded with
        ``export_mvs``); ``reference``: whether later frames may point to it (None: its
        picture type says, I and P frames)."""
        picture = picture_type(frame.pict_type)
        size = (int(frame.height), int(frame.width))
        last = self._anchor if picture == "B" else self._i_or_p
        back = self.index - last if last is not None else 1
        try:
            array = _vectors(frame.side_data.get("MOTION_VECTORS"))
        except Exception as e:  # noqa: BLE001 - side data PyAV cannot read is corrupt
            array, problem = None, f"unreadable motion vectors ({type(e).__name__})"
        else:
            problem = None
        if picture == "B" and self.codec != "h264":
            array, problem = None, f"a B frame of {self.codec}, whose vectors FFmpeg exports as zero"
        motion = from_array(array, size, back, picture, problem)
        if reference is not None:
            motion = replace(motion, reference=reference)
        if motion.anchor:
            self._anchor = self.index
        if picture in ANCHOR_PICTURES:
            self._i_or_p = self.index
        self.index += 1
        return motion


def from_array(array: np.ndarray | None, size: tuple[int, int], back: int, picture: str,
               problem: str | None = None) -> CodecMotion:
    """A :class:`CodecMotion` from ``AVMotionVector`` records (None: the frame had none)."""
    empty = np.zeros((0, len(COLUMNS)), np.float32)
    if problem is None and array is None:
        problem = "intra frame (no motion vectors)" if picture == "I" else \
            "no motion vectors exported (every block intra, or none decoded)"
    if problem is None:
        problem = check_vectors(array, size)
        if problem is not None:
            problem = f"corrupt motion vectors: {problem}"
    if problem is not None:
        return CodecMotion(empty, max(back, 1), size, picture, 0, problem)
    from_past = array["source"] < 0
    past = array[from_past]
    scale = past["motion_scale"].astype(np.float32)
    rows = np.stack([past["dst_x"].astype(np.float32), past["dst_y"].astype(np.float32),
                     past["w"].astype(np.float32), past["h"].astype(np.float32),
                     past["motion_x"] / scale, past["motion_y"] / scale], 1) \
        if len(past) else empty
    # a bidirectional block has one past and one future record at the same place
    future_only = 0
    if not from_past.all():
        def place(records):
            return records["dst_x"].astype(np.int64) * 65536 + records["dst_y"]
        future_only = len(np.setdiff1d(place(array[~from_past]), place(past)))
    if not len(rows):
        return CodecMotion(empty, max(back, 1), size, picture, future_only,
                           "no motion vectors into the past")
    return CodecMotion(np.ascontiguousarray(rows, np.float32), max(back, 1), size, picture,
                       future_only)


def decode_with_motion(container, stream):
    """Decode ``stream`` of an open PyAV ``container``, yielding each frame (display order)
    with its :class:`CodecMotion`; for H.264 the packets say which frames are references
    (:class:`ReferenceTracker`)."""
    context = stream.codec_context
    context.options = {"flags2": "+export_mvs"}
    reader = MotionReader(context.name)
    tracker = ReferenceTracker(context.extradata) if context.name == "h264" else None
    for packet in container.demux(stream):
        if tracker is not None:
            tracker.note(packet)
        for frame in packet.decode():
            reference = tracker.is_reference(frame) if tracker is not None else None
            yield frame, reader.read(frame, reference)
