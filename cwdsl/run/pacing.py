"""How a run's frames are delivered, as one iterator of
:class:`~cwdsl.media.live.Arrival` s for :func:`cwdsl.run.run.run`: as fast as asked (a
file, not in real time), paced as a camera would deliver them (``--realtime``: a video file,
frames folder or the demo), or as a live source's frames arrive.

Each delivery counts the frames it ``delivered`` and ``dropped`` and says why it ``ended``.
"""
from __future__ import annotations

import math
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from typing import Callable, Iterator

import numpy as np

from cwdsl.core.units import HW
from cwdsl.media.live import STREAM_ENDED, Arrival, LiveStream
from cwdsl.run.sources import FrameSource, resize_image


class Unpaced:
    """Frames (and labels) one after the other, each there when asked: not in real time."""

    live = False
    fps = None
    dropped = 0

    def __init__(self, frames: Iterator[np.ndarray], labels: Iterator[np.ndarray] | None):
        self._frames, self._labels = frames, labels
        self.delivered = 0
        self.ended: str | None = None

    def __iter__(self) -> Iterator[Arrival]:
        for index, frame in enumerate(self._frames):
            label = None if self._labels is None else next(self._labels, None)
            self.delivered += 1
            yield Arrival(index, None, frame, label)
        self.ended = STREAM_ENDED


class Paced:
    """The frames of a finite source delivered as a camera would: frame ``i`` arrives at
    ``start + i / fps`` seconds of ``clock`` (``start``: when iteration starts). Asked early,
    it ``sleep`` s until the next frame arrives; asked late, it hands out the newest frame
    that has arrived and counts the ones it skips as dropped (their labels are skipped with
    them, so a label stays with its frame). Skipped frames are still decoded, in order."""

    live = False

    def __init__(self, frames: Iterator[np.ndarray], labels: Iterator[np.ndarray] | None,
                 fps: float, clock: Callable[[], float] = time.perf_counter,
                 sleep: Callable[[float], None] = time.sleep):
        if not fps > 0:
            raise ValueError(f"fps must be above 0, got {fps}")
        self._frames, self._labels = iter(frames), labels
        self.fps = fps
        self._clock, self._sleep = clock, sleep
        self.delivered = self.dropped = 0
        self.ended: str | None = None

    def __iter__(self) -> Iterator[Arrival]:
        start = self._clock()
        wanted = 0   # the next frame's index
        while True:
            newest = math.floor((self._clock() - start) * self.fps + 1e-9)
            taken = None
            for index in range(wanted, max(wanted, newest) + 1):
                frame = next(self._frames, None)
                if frame is None:
                    break
                label = None if self._labels is None else next(self._labels, None)
                taken = Arrival(index, start + index / self.fps, frame, label)
            if taken is None:
                self.ended = STREAM_ENDED
                return
            if newest < wanted:  # early: wait for the frame to arrive
                self._sleep(max(0.0, taken.arrival - self._clock()))
            self.dropped += taken.index - wanted
            self.delivered += 1
            wanted = taken.index + 1
            yield taken


class Live:
    """A live source's frames as they arrive, resized to the run's ``size`` (bilinear, as
    :func:`cwdsl.run.sources.resized` resizes a file's)."""

    live = True

    def __init__(self, stream: LiveStream, size: HW):
        self.stream, self.size = stream, size
        self.fps = stream.fps

    delivered = property(lambda self: self.stream.delivered)
    dropped = property(lambda self: self.stream.dropped)
    ended = property(lambda self: self.stream.ended)

    def __iter__(self) -> Iterator[Arrival]:
        for arrival in self.stream:
            if arrival.frame.shape[:2] != self.size:
                arrival = replace(arrival, frame=resize_image(arrival.frame, self.size))
            yield arrival


Delivery = Unpaced | Paced | Live


def deliver(source: FrameSource, realtime: bool, fps: float | None = None,
            clock: Callable[[], float] = time.perf_counter,
            sleep: Callable[[float], None] = time.sleep) -> Delivery:
    """How ``source`` is delivered: as it arrives (a live source, always real time), paced
    at ``fps`` (else the source's own rate) with ``realtime``, else as fast as asked."""
    if source.live is not None:
        return Live(source.live, source.size)
    if realtime:
        return Paced(source.frames, source.labels, fps or source.fps, clock, sleep)
    return Unpaced(source.frames, source.labels)


def realtime_record(delivery: Delivery) -> dict | None:
    """The run-level ``"realtime"`` object of ``run.json`` (None when not in real time):
    the source's frame rate (frames per second; None when a live source does not say), the
    frames run and dropped, and why the source ended."""
    if isinstance(delivery, Unpaced):
        return None
    return {"live": delivery.live, "source_fps": delivery.fps,
            "frames_delivered": delivery.delivered, "frames_dropped": delivery.dropped,
            "ended": delivery.ended}


def end_note(description: str, delivery: Delivery) -> str | None:
    """The note a real-time run ends with: why its source ended, frames run and dropped."""
    if isinstance(delivery, Unpaced):
        return None
    arrived = delivery.delivered + delivery.dropped
    paced = "" if delivery.live else f" (paced at {delivery.fps:g} fps)"
    return (f"{description}: {delivery.ended}: ran {delivery.delivered} of the {arrived} "
            f"frames that arrived{paced}, {delivery.dropped} dropped")


@contextmanager
def interrupts_end(delivery: Delivery) -> Iterator[None]:
    """While the block runs on a live source (in the main thread): Ctrl-C (SIGINT) or
    SIGTERM ends the stream after the frame being run, as the stream's own end would (the
    run is kept); a second one interrupts (``KeyboardInterrupt``: nothing is written).
    Otherwise the signals keep their handlers: an interrupted file writes nothing."""
    if not isinstance(delivery, Live) or threading.current_thread() is not \
            threading.main_thread():
        yield
        return
    stream = delivery.stream

    def handler(signum, frame):
        if stream.stopping:
            raise KeyboardInterrupt
        stream.stop("interrupted (Ctrl-C)" if signum == signal.SIGINT else "terminated")

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
