"""How many camera streams can share one device: a small deterministic event loop.

``N`` streams deliver frames at ``fps`` (stream ``i`` offset by ``i / N`` of a frame
interval). One device serves frames first-come first-served; a frame costs the *work*
of its plan (everything it computes, one after the other: a shared device has no idle
lanes to overlap). Each stream keeps at most one frame waiting: a newer frame replaces
a waiting one, which is dropped. A frame is *late* when it completes more than one frame
interval after it arrived. Each stream runs its own schedule (its own frame counter and
clock state), as one executor per stream would.

With ``--batched`` the streams instead share one executor that batches a stage across the
streams computing it in a wave (:mod:`cwdsl.sim.batching`, whose runs say ``batched``).
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Callable

import numpy as np

from cwdsl.ir.plan import Planner
from cwdsl.sim.devices import ScheduleCosts
from cwdsl.sim.simulate import frame_prices, periodic_prices
from cwdsl.ir.trace import AtomTrace


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

    @property
    def sustained(self) -> bool:
        """No frame dropped and 99% of frames done within one frame interval."""
        return self.dropped == 0 and self.latency_ms_p99 <= 1e3 / self.fps

    def to_json(self) -> dict:
        """The record ``cwdsl simulate --json`` shows (``seconds`` left out, ``sustained`` in)."""
        return {"streams": self.streams, "fps": self.fps, "arrived": self.arrived,
                "processed": self.processed, "dropped": self.dropped, "late": self.late,
                "utilization": self.utilization, "latency_ms_p50": self.latency_ms_p50,
                "latency_ms_p99": self.latency_ms_p99, "latency_ms_max": self.latency_ms_max,
                "sustained": self.sustained, **({"batched": True} if self.batched else {})}


def run_capacity(planner: Planner, costs: ScheduleCosts, streams: int, fps: float, seconds: float = 10.0,
                 trace_for: Callable[[int, int], AtomTrace] | None = None) -> Capacity:
    """Simulate ``streams`` streams at ``fps`` for ``seconds``. ``trace_for(stream, frames)``
    gives a stream's data-driven clock values (required when the schedule has any)."""
    if streams < 1 or fps <= 0 or seconds <= 0:
        raise ValueError("streams, fps and seconds must be positive")
    interval = 1e3 / fps
    per_stream = max(1, int(round(seconds * fps)))
    work = _work_table(planner, costs, streams, per_stream, trace_for)

    events: list[tuple[float, int, int, int]] = []  # (time, order, kind, stream); kind 0 done, 1 arrival
    order = 0
    for i in range(streams):
        for k in range(per_stream):
            heapq.heappush(events, ((k + i / streams) * interval, order, 1, i))
            order += 1
    waiting: dict[int, float] = {}       # stream → arrival time of its waiting frame
    served = [0] * streams               # frames processed per stream (its schedule's t)
    busy_until = 0.0
    busy_time = 0.0
    in_service: tuple[int, float] | None = None
    latencies: list[float] = []
    dropped = 0
    end_time = 0.0

    def start_next(now: float) -> None:
        nonlocal busy_until, busy_time, in_service, order
        if in_service is not None or not waiting:
            return
        stream = min(waiting, key=lambda s: (waiting[s], s))
        arrival = waiting.pop(stream)
        ms = work[stream][served[stream]]
        served[stream] += 1
        busy_until = now + ms
        busy_time += ms
        in_service = (stream, arrival)
        heapq.heappush(events, (busy_until, order, 0, stream))
        order += 1

    while events:
        now, _, kind, stream = heapq.heappop(events)
        end_time = now
        if kind == 0:  # completion
            latencies.append(now - in_service[1])
            in_service = None
        else:          # arrival
            if stream in waiting:
                dropped += 1
            waiting[stream] = now
        start_next(now)
    lat = np.array(latencies) if latencies else np.array([np.nan])
    horizon = max(end_time, per_stream * interval)
    return Capacity(streams, fps, seconds, streams * per_stream, len(latencies), dropped,
                    int((lat > interval).sum()), busy_time / horizon,
                    float(np.percentile(lat, 50)), float(np.percentile(lat, 99)), float(lat.max()))


def _work_table(planner, costs, streams, per_stream, trace_for) -> list[list[float]]:
    """``work[i][k]``: service time of stream ``i``'s ``k``-th processed frame."""
    if planner.period is not None and planner.period <= per_stream:  # the same periodic plans
        first, cycle, early = periodic_prices(planner, costs)
        row = [first.work_ms] + [early.get(t, cycle[t % planner.period]).work_ms
                                 for t in range(1, per_stream)]
        return [row] * streams
    table = []
    for i in range(streams):
        trace = trace_for(i, per_stream)
        table.append([p.work_ms for p in frame_prices(planner, costs, per_stream, trace)])
    return table


def sustainable_streams(planner: Planner, costs: ScheduleCosts, fps: float, seconds: float = 10.0,
                        trace_for=None, limit: int = 4096) -> tuple[int, Capacity | None]:
    """The largest stream count the device sustains (see :attr:`Capacity.sustained`)."""
    sample = trace_for(0, 64) if planner.atom_ids else None
    mean_work = np.mean([p.work_ms for p in frame_prices(planner, costs, 64, sample)][1:])
    guess = max(1, int(1e3 / fps / mean_work))
    lo, hi = 0, min(limit, 2 * guess + 2)
    best = None
    while lo < hi:  # sustained is monotone in the stream count
        mid = (lo + hi + 1) // 2
        result = run_capacity(planner, costs, mid, fps, seconds, trace_for)
        if result.sustained:
            lo, best = mid, result
        else:
            hi = mid - 1
    return lo, best
