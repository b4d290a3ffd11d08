"""Live frame sources, read through PyAV: a V4L2 camera (``/dev/video0``), a network stream
(``rtsp://``, ``tcp://``, ``udp://``, ``http://``, ``https://``) or MPEG-TS on standard input
(``-``).

A live source is not a finite file: its frames arrive on their own. A reader thread decodes
them into a buffer that holds only the newest one; a frame not taken before the next arrives
is overwritten and counted as dropped, so a slow consumer never queues without bound. Each
frame is handed out as an :class:`Arrival`: its index in the source, when it was decoded
(``time.perf_counter()`` seconds) and its pixels.

A problem before the first frame (no such camera, an unreachable URL, no frame in time) is an
:class:`~cwdsl.core.errors.InputError` naming the source and the reason. After it, the end
of the stream, a stall (no frame within the stall timeout) and a disconnect end the stream:
:meth:`LiveStream.next` returns ``None`` and :attr:`LiveStream.ended` says why.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Iterator

import av
import numpy as np

from cwdsl.core.errors import InputError
from cwdsl.media.video import reason

LIVE_SCHEMES = ("rtsp", "tcp", "udp", "http", "https")
"""URL schemes ``--video`` reads as a live stream."""
OPEN_TIMEOUT = 10.0
"""Seconds a live source may take to open (at least the stall timeout)."""
STREAM_ENDED = "stream ended"
_POLL = 0.1       # seconds between looks at a stop request while waiting for a frame
_PROBE = {"analyzeduration": "100000"}  # probe 0.1 s of stream, not 5


@dataclass(frozen=True)
class Arrival:
    """A frame delivered to a run: ``index`` in its source (from 0; frames dropped before it
    are skipped indices), ``arrival`` the ``time.perf_counter()`` second it arrived (``None``:
    not in real time, it is there whenever asked), ``frame`` (H, W, 3) uint8 RGB and
    ``label`` its (H, W) ground truth where the source has one."""

    index: int
    arrival: float | None
    frame: np.ndarray
    label: np.ndarray | None = None


def is_live(video: str) -> bool:
    """Whether ``--video`` names a live source: ``-`` (standard input), a V4L2 camera
    (``/dev/video*``) or a URL of one of :data:`LIVE_SCHEMES`."""
    scheme, sep, _ = video.partition("://")
    return video == "-" or video.startswith("/dev/video") or bool(
        sep and scheme.lower() in LIVE_SCHEMES)


def _why(error: BaseException, seconds: float) -> str:
    """An FFmpeg error as a reason; its interrupt (PyAV's timeout) as the time it waited."""
    if isinstance(error, av.error.ExitError):
        return f"no data within {seconds:g} s"
    return reason(error)


def _open(video: str, open_s: float, read_s: float):
    """The container of ``video``, opened with PyAV's ``timeout=(open_s, read_s)``."""
    kind, target, extra = "stream", video, {}
    if video == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise InputError("-: standard input is a terminal; pipe an MPEG-TS stream into it "
                             "(… | cwdsl run SCHEDULE --video -)")
        kind, target, extra = "MPEG-TS stream on standard input", sys.stdin.buffer, \
            {"format": "mpegts"}
    elif video.startswith("/dev/video"):
        if not os.path.exists(video):
            raise InputError(f"{video}: no such camera")
        kind, extra = "camera", {"format": "v4l2"}
    try:
        container = av.open(target, timeout=(open_s, read_s), options=dict(_PROBE), **extra)
    except (av.error.FFmpegError, OSError, ValueError) as e:
        raise InputError(f"{video}: cannot open the {kind} ({_why(e, open_s)})") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"{video}: the {kind} has no video")
    return container


class LiveStream:
    """A live source being read by its thread. :meth:`next` takes the newest frame (waiting
    for one); ``delivered`` counts the frames taken, :attr:`dropped` those overwritten before
    being taken; :attr:`ended` says why the stream ended (``None`` while it runs)."""

    def __init__(self, video: str, container, stall_timeout: float,
                 max_frames: int | None = None):
        self.description = "standard input" if video == "-" else video
        self.stall_timeout = stall_timeout
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        self.fps: float | None = float(rate) if rate else None
        self.delivered = 0
        self.ended: str | None = None
        self._cond = threading.Condition()
        self._slot: Arrival | None = None   # the newest frame, not yet taken
        self._arrived = 0
        self._last = time.perf_counter()    # when the newest frame arrived
        self._end: str | None = None        # set by the reader when the source ends
        self._stop: str | None = None       # set by stop()
        self._thread = threading.Thread(target=self._read, args=(container, stream, max_frames),
                                        name=f"cwdsl live {self.description}", daemon=True)
        self._thread.start()

    @property
    def arrived(self) -> int:
        """Frames the source has delivered so far."""
        return self._arrived

    @property
    def dropped(self) -> int:
        """Frames that arrived and were overwritten (or left when the stream ended) untaken."""
        return self._arrived - self.delivered - (self._slot is not None and self.ended is None)

    def _read(self, container, stream, max_frames: int | None) -> None:
        end = STREAM_ENDED
        try:
            for frame in container.decode(stream):
                rgb = frame.to_ndarray(format="rgb24")
                with self._cond:
                    if self.ended is not None or self._stop is not None:
                        break  # nothing arrives after the end: the counts stand
                    self._slot = Arrival(self._arrived, time.perf_counter(), rgb)
                    self._last = self._slot.arrival
                    self._arrived += 1
                    self._cond.notify_all()
                if max_frames is not None and self._arrived >= max_frames:
                    end = f"--max-frames {max_frames} reached"
                    break
        except av.error.ExitError:  # PyAV's read timeout
            end = f"stalled: no frame within {self.stall_timeout:g} s"
        except (av.error.FFmpegError, OSError, ValueError) as e:
            end = f"disconnected: {reason(e)}"
        finally:
            try:
                container.close()
            except (av.error.FFmpegError, OSError):
                pass
            with self._cond:
                self._end = end
                self._cond.notify_all()

    def wait_first(self, timeout: float) -> tuple[int, int]:
        """The (height, width) of the first frame, waiting up to ``timeout`` seconds for it
        (it stays to be taken); an ``InputError`` (the stream closed) when none comes."""
        deadline = time.perf_counter() + timeout
        with self._cond:
            while self._slot is None and self._end is None:
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                self._cond.wait(min(left, _POLL))
            if self._slot is not None:
                return self._slot.frame.shape[:2]
            end = self._end
        self.close()
        if end is None or end.startswith("stalled"):
            raise InputError(f"{self.description}: no frame within {timeout:g} s of opening it")
        raise InputError(f"{self.description}: {end} before its first frame")

    def next(self) -> Arrival | None:
        """The newest frame not yet taken, waiting for it; ``None`` once the stream has
        ended, stalled (no frame within the stall timeout of the last one) or been stopped,
        with :attr:`ended` saying which."""
        with self._cond:
            while self.ended is None:
                if self._stop is not None:
                    self.ended = self._stop
                elif self._slot is not None:
                    taken, self._slot = self._slot, None
                    self.delivered += 1
                    return taken
                elif self._end is not None:
                    self.ended = self._end
                else:
                    quiet = time.perf_counter() - self._last
                    if quiet >= self.stall_timeout:
                        self.ended = f"stalled: no frame within {self.stall_timeout:g} s"
                    else:
                        self._cond.wait(min(_POLL, self.stall_timeout - quiet))
            return None

    def __iter__(self) -> Iterator[Arrival]:
        while (arrival := self.next()) is not None:
            yield arrival

    def stop(self, why: str) -> None:
        """End the stream at the next :meth:`next` (safe in a signal handler: it only sets
        a field)."""
        if self._stop is None:
            self._stop = why

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop is not None

    def close(self) -> None:
        """Stop reading; the thread closes the source (within the read timeout where it
        is blocked in a read)."""
        self.stop(self.ended or "closed")
        self._thread.join(timeout=_POLL)


def open_live(video: str, stall_timeout: float = 5.0, max_frames: int | None = None,
              open_timeout: float = OPEN_TIMEOUT) -> LiveStream:
    """``video`` (see :func:`is_live`) opened and read by a thread; ``InputError`` when it
    cannot be opened within ``max(open_timeout, stall_timeout)`` seconds. Reads that wait
    more than ``stall_timeout`` seconds end the stream as stalled; ``max_frames`` ends it
    after that many frames."""
    open_s = max(open_timeout, stall_timeout)
    return LiveStream(video, _open(video, open_s, stall_timeout), stall_timeout, max_frames)
