"""How many camera streams can share one device: a small deterministic event loop.

``N`` streams deliver frames at ``fps`` (stream ``i`` offset by ``i / N`` of a frame
interval). One device serves frames first-come first-served, one at a time; a frame
costs the *work* of its plan (:class:`~cwdsl.sim.simulate.FrameCost`: the time it keeps
the busier of host and device busy, a pipelined wave's lanes concurrent but never faster
than the device's peak allows for their work together). Each stream keeps at most one
frame waiting: a newer frame replaces a waiting one, which is dropped. A frame is *late*
when it completes more than its stream's deadline after it arrived (without deadlines:
one frame interval). A schedule with ``fits`` decides each frame when it is served,
counting the time it waited (:class:`~cwdsl.sim.simulate.FramePricer`). Each stream runs its own
schedule (its own frame counter and clock state), as one executor per stream would.

With ``--batched`` the streams instead share one executor that batches a stage across the
streams computing it in a wave (:mod:`cwdsl.sim.batching`, whose runs say ``batched``).
"""
from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from cwdsl.core.errors import InputError
from cwdsl.core.progress import progress_bar
from cwdsl.ir.plan import AtomValues, Planner
from cwdsl.sim.costs import ScheduleCosts
from cwdsl.sim.simulate import (BAR_STEP, PROGRESS_FRAMES, FramePricer, frame_prices,
                                periodic_prices)


@dataclass(frozen=True)
class Capacity:
    streams: int
    fps: float
    seconds: float
    arrived: int
    processed: int
    dropped: int
    late: int
    utilization: float
    latency_ms_p50: float
    latency_ms_p99: float
    latency_ms_max: float
    batched: bool = False  # ticks of every stream, stages batched (cwdsl.sim.batching)
    deadlines: tuple[float, ...] | None = None  # per stream, ms (None: one frame interval)

    @property
    def on_time(self) -> float:
        """The fraction of arrived frames done within their deadline (dropped ones late)."""
        return (self.processed - self.late) / self.arrived

    @property
    def sustained(self) -> bool:
        """With deadlines: at least :data:`ON_TIME` of the frames on time (dropped ones
        late); else no frame dropped and 99% of frames done within one frame interval."""
        if self.deadlines is not None:
            return self.on_time >= ON_TIME
        return self.dropped == 0 and self.latency_ms_p99 <= 1e3 / self.fps

    def to_json(self) -> dict:
        """The record ``cwdsl simulate --json`` shows (``seconds`` left out, ``sustained`` in)."""
        return {"streams": self.streams, "fps": self.fps, "arrived": self.arrived,
                "processed": self.processed, "dropped": self.dropped, "late": self.late,
                "utilization": self.utilization, "latency_ms_p50": self.latency_ms_p50,
                "latency_ms_p99": self.latency_ms_p99, "latency_ms_max": self.latency_ms_max,
                "sustained": self.sustained, **({"batched": True} if self.batched else {}),
                **({"deadlines_ms": list(self.deadlines), "on_time": self.on_time}
                   if self.deadlines is not None else {})}


ON_TIME = 0.99
"""With deadlines, a stream count is sustained when this share of frames is on time."""


MAX_STREAMS = 4096
"""The most streams a capacity run simulates (and ``--streams auto`` tries)."""
MAX_CAPACITY_FRAMES = 10_000_000
"""The most frames (all streams together) one capacity run simulates: a minute or a few of
events, their latencies (8 bytes a frame) the memory it keeps."""


def at_most(x: float) -> str:
    """``x`` (> 0) rounded down for a message: whole when at least 1, else to millionths."""
    return str(math.floor(x)) if x >= 1 else f"{math.floor(x * 1e6) / 1e6:g}"


def frames_per_stream(fps: float, seconds: float) -> int:
    """Frames each stream delivers in ``seconds`` at ``fps`` (at least 1); an ``InputError``
    beyond :data:`MAX_CAPACITY_FRAMES`, naming the longest ``--seconds`` that fits."""
    if not (fps > 0 and seconds > 0):
        raise ValueError("fps and seconds must be positive")
    frames = seconds * fps
    if not frames <= MAX_CAPACITY_FRAMES:  # inf and nan too
        raise InputError(f"--seconds {seconds:g} at --fps {fps:g} is {frames:g} frames a "
                         f"stream; a capacity run simulates at most {MAX_CAPACITY_FRAMES:,} "
                         f"frames: at most --seconds {at_most(MAX_CAPACITY_FRAMES / fps)} at "
                         f"this --fps")
    return max(1, int(round(frames)))


def check_capacity(streams: int, fps: float, seconds: float, auto: bool = False) -> int:
    """Frames per stream of a run of ``streams`` streams, or an ``InputError`` naming the
    largest ``--streams`` (``--seconds`` for ``auto``, whose search needs ``streams``) that
    keeps it within :data:`MAX_STREAMS` and :data:`MAX_CAPACITY_FRAMES`."""
    if streams < 1:
        raise ValueError("streams must be positive")
    per_stream = frames_per_stream(fps, seconds)
    total = streams * per_stream
    if streams <= MAX_STREAMS and total <= MAX_CAPACITY_FRAMES:
        return per_stream
    if auto:
        longest = at_most(MAX_CAPACITY_FRAMES // streams / fps)
        raise InputError(f"--streams auto: the search runs {streams} streams, {total:,} frames "
                         f"at --fps {fps:g} for --seconds {seconds:g}; a capacity run "
                         f"simulates at most {MAX_CAPACITY_FRAMES:,} frames: at most "
                         f"--seconds {longest}")
    most = min(MAX_STREAMS, MAX_CAPACITY_FRAMES // per_stream)
    shorter = f", or --seconds {at_most(MAX_CAPACITY_FRAMES // streams / fps)}" \
        if streams <= MAX_STREAMS else ""
    raise InputError(f"--streams {streams}: a capacity run simulates at most {MAX_STREAMS} "
                     f"streams and {MAX_CAPACITY_FRAMES:,} frames ({per_stream:,} a stream at "
                     f"--fps {fps:g} for --seconds {seconds:g}): at most --streams "
                     f"{most}{shorter}")


def stream_deadlines(deadlines: Sequence[float] | None, streams: int
                     ) -> tuple[float, ...] | None:
    """Each stream's deadline (ms): one for all, or stream ``i`` the ``i``-th of several
    (cycled when there are fewer than streams)."""
    if not deadlines:
        return None
    return tuple(deadlines[i % len(deadlines)] for i in range(streams))


def run_capacity(planner: Planner, costs: ScheduleCosts, streams: int, fps: float,
                 seconds: float = 10.0,
                 trace_for: Callable[[int, int], Iterable[AtomValues] | None] | None = None,
                 progress: bool = False, deadlines: Sequence[float] | None = None,
                 planners: Callable[[int], Planner] | None = None) -> Capacity:
    """Simulate ``streams`` streams at ``fps`` for ``seconds``. ``trace_for(stream, frames)``
    gives a stream's data-driven clock values, a list or a stream (required when the
    schedule has any). Arrivals are made as they come and a frame is priced when it is
    served (a stream's schedule advances only then), so memory holds a few events per
    stream and the latencies; ``progress``: a bar over the arrivals of a long run.
    ``deadlines``: each stream's deadline in ms (:func:`stream_deadlines`); a frame is
    late past it (without: past one frame interval). ``planners(i)``: stream ``i``'s
    planner where streams differ (the schedule under each stream's deadline)."""
    per_stream = check_capacity(streams, fps, seconds)
    interval = 1e3 / fps
    limits = stream_deadlines(deadlines, streams)
    work = _served_work(planner, costs, streams, per_stream, trace_for, planners)
    arrivals = streams * per_stream
    # (time, order, kind, stream); kind 0 done, 1 arrival. Stream i's k-th arrival has order
    # i * per_stream + k, completions order from `arrivals` on: the order of a heap holding
    # every arrival from the start, with one arrival per stream in it at a time.
    events = [(i / streams * interval, i * per_stream, 1, i) for i in range(streams)]
    heapq.heapify(events)
    order = arrivals
    waiting: dict[int, int] = {}         # stream → the order of its waiting frame
    queue: list[tuple[float, int, int]] = []  # (arrival, stream, order): oldest waiting first
    busy_until = 0.0
    busy_time = 0.0
    in_service: tuple[int, float] | None = None
    latencies = array("d")
    dropped = arrived = late = 0
    end_time = 0.0

    def start_next(now: float) -> None:
        nonlocal busy_until, busy_time, in_service, order
        if in_service is not None or not waiting:
            return
        while True:  # the oldest waiting frame (lowest stream on a tie); skip replaced ones
            arrival, stream, key = heapq.heappop(queue)
            if waiting.get(stream) == key:
                break
        del waiting[stream]
        ms = work(stream, now - arrival)
        busy_until = now + ms
        busy_time += ms
        in_service = (stream, arrival)
        heapq.heappush(events, (busy_until, order, 0, stream))
        order += 1

    with progress_bar(progress and arrivals >= PROGRESS_FRAMES, total=arrivals,
                      desc=f"{planner.program.name}: {streams} streams", unit="frame") as bar:
        while events:
            now, key, kind, stream = heapq.heappop(events)
            end_time = now
            if kind == 0:  # completion
                latencies.append(now - in_service[1])
                late += latencies[-1] > (interval if limits is None else limits[stream])
                in_service = None
            else:          # arrival
                if stream in waiting:
                    dropped += 1
                waiting[stream] = key
                heapq.heappush(queue, (now, stream, key))
                if len(queue) > 2 * len(waiting) + 64:  # replaced frames' entries: drop them
                    queue[:] = [e for e in queue if waiting.get(e[1]) == e[2]]
                    heapq.heapify(queue)
                k = key - stream * per_stream + 1
                if k < per_stream:
                    heapq.heappush(events, ((k + stream / streams) * interval, key + 1, 1,
                                            stream))
                arrived += 1
                if arrived % BAR_STEP == 0:
                    bar.update(BAR_STEP)
            start_next(now)
        bar.update(arrived % BAR_STEP)
    lat = np.array(latencies) if latencies else np.array([np.nan])
    horizon = max(end_time, per_stream * interval)
    return Capacity(streams, fps, seconds, arrivals, len(latencies), dropped, late,
                    busy_time / horizon, float(np.percentile(lat, 50)),
                    float(np.percentile(lat, 99)), float(lat.max()), deadlines=limits)


def _served_work(planner, costs, streams, per_stream, trace_for, planners=None
                 ) -> Callable[[int, float], float]:
    """``work(i, waited_ms)``: the service time of stream ``i``'s next processed frame,
    which waited ``waited_ms`` since it arrived (its schedule's frames in order, priced
    when asked: fixed clocks from one period, data-driven ones from the stream's clock
    values, ``fits`` decided with the wait; one memo shared by the streams)."""
    served = [0] * streams
    if planner.period is not None and planner.period <= per_stream:  # the same periodic plans
        first, cycle, early = periodic_prices(planner, costs)
        period = planner.period

        def periodic(i: int, waited_ms: float) -> float:
            t = served[i]
            served[i] += 1
            return (first if t == 0 else early.get(t, cycle[t % period])).work_ms

        return periodic
    memo: dict = {}
    pricers: dict[int, FramePricer] = {}
    values: dict[int, Iterator[AtomValues] | None] = {}

    def priced(i: int, waited_ms: float) -> float:
        if i not in pricers:
            mine = planner if planners is None else planners(i)
            pricers[i] = FramePricer(mine, costs, memo if mine is planner else {})
            trace = trace_for(i, per_stream) if trace_for is not None else None
            values[i] = None if trace is None else iter(trace)
        atoms = None if values[i] is None else next(values[i], None)
        return pricers[i].next(atoms, waited_ms).work_ms

    return priced


def sustainable_streams(planner: Planner, costs: ScheduleCosts, fps: float, seconds: float = 10.0,
                        trace_for=None, limit: int = MAX_STREAMS, progress: bool = False,
                        deadlines: Sequence[float] | None = None,
                        planners: Callable[[int], Planner] | None = None
                        ) -> tuple[int, Capacity | None]:
    """The largest stream count the device sustains (see :attr:`Capacity.sustained`; with
    ``deadlines``, each stream's as :func:`run_capacity` deals them); an ``InputError``
    before any run when the search's largest would not fit (:func:`check_capacity`)."""
    frames_per_stream(fps, seconds)
    sample = trace_for(0, 64) if planner.atom_ids else None
    mean_work = np.mean([p.work_ms for p in frame_prices(planner, costs, 64, sample)][1:])
    guess = max(1, int(min(1e3 / fps / mean_work, limit)))
    lo, hi = 0, min(limit, 2 * guess + 2)
    check_capacity(hi, fps, seconds, auto=True)
    best = None
    while lo < hi:  # sustained is monotone in the stream count
        mid = (lo + hi + 1) // 2
        result = run_capacity(planner, costs, mid, fps, seconds, trace_for, progress, deadlines,
                              planners)
        if result.sustained:
            lo, best = mid, result
        else:
            hi = mid - 1
    return lo, best
