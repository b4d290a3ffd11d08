"""Batched capacity: ``N`` streams on one device, their stages batched across streams.

The multi-stream executor run batched (``cwdsl.runtime.multistream``) takes one frame of
every stream per *tick* and walks the streams' plans in lockstep, a computing wave at a
time: round ``r`` runs the ``r``-th :class:`Wave` of every stream's plan that has one, and
a stage that computes in ``k`` streams in one round runs as one batch of ``k`` (a stream
whose clock skipped a wave is a round ahead of the others from there, as in the
executor); measurements, flows, warps, the fuse and the per-frame overhead stay per
stream. :func:`tick_price` prices one tick that way:

- per (round, stage) computing in ``k`` streams, the stage's batch cost
  :meth:`ScheduleCosts.batch_ms` (``k`` times a frame's without batch timings) and, on a
  device that overlaps its host, its issue time once (one call issues the batch); the
  batches of one round run concurrently, priced as a wave's lanes
  (:meth:`ScheduleCosts.lanes_ms`: never faster than the device's peak allows);
- every stream's other steps as :func:`cwdsl.sim.simulate.price` counts them
  (:func:`~cwdsl.sim.costs.step_cost`, compositions of flows included);
- the tick's service time is its *work*, everything in turn but each round's lanes
  concurrent (on a GPU the busier of host and device), as the unbatched capacity model
  charges a frame its work (:class:`~cwdsl.sim.simulate.FrameCost`).

:func:`run_batched_capacity` then runs the ticks: all streams' frames arrive together
every ``1/fps`` s; the device serves ticks first-come first-served; at most one tick
waits, and a newer one replaces it (every stream's frame of it dropped). Every stream's
frame of a tick completes when the tick does: its latency is each of them.
"""
from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from cwdsl.core.progress import progress_bar
from cwdsl.ir.plan import AtomValues, FramePlan, Planner, Wave
from cwdsl.sim.capacity import MAX_STREAMS, Capacity, check_capacity
from cwdsl.sim.costs import ScheduleCosts, placed, step_cost
from cwdsl.sim.simulate import BAR_STEP, PROGRESS_FRAMES


@dataclass(frozen=True)
class TickCost:
    """One tick: its service time, and the batches it ran as ``(round, stage, k)``."""

    work_ms: float
    batches: tuple[tuple[int, str, int], ...]


def tick_price(plans: Sequence[FramePlan], costs: ScheduleCosts,
               sinces: Sequence[Mapping[str, int] | None] | None = None) -> TickCost:
    """The tick of one frame per stream (``plans[i]``: stream ``i``'s; ``sinces[i]``: the
    frame each of its stages last computed, as :func:`~cwdsl.sim.simulate.frame_prices`
    keeps; see the module's docstring)."""
    overlapped = costs.overlaps_host
    host = device = 0.0
    counts: dict[tuple[int, str], int] = {}
    for i, plan in enumerate(plans):
        since = sinces[i] if sinces is not None else None
        composed: set[tuple[str, int]] = set()
        host += costs.frame_overhead_ms
        rounds = 0
        for step in plan.steps:
            if isinstance(step, Wave):
                for stage in step.stages:
                    counts[(rounds, stage)] = counts.get((rounds, stage), 0) + 1
                rounds += 1
                continue
            on_host, on_device, _, _ = step_cost(step, plan, costs, since, composed)
            on_host, on_device = placed(step, on_host, on_device, overlapped)
            host, device = host + on_host, device + on_device
    rounds: dict[int, list[tuple[str, int]]] = {}
    for (r, stage), k in counts.items():
        rounds.setdefault(r, []).append((stage, k))
        if overlapped:
            host += costs.stage_host_ms.get(stage, 0.0)
    for lanes in rounds.values():  # a round's batches run concurrently, as one wave
        device += costs.lanes_ms(lanes)
    work = max(host, device) if overlapped else host + device
    return TickCost(work, tuple((w, s, k) for (w, s), k in counts.items()))


def tick_table(planner: Planner, costs: ScheduleCosts, streams: int, ticks: int,
               trace_for: Callable[[int, int], Iterable[AtomValues] | None] | None = None
               ) -> list[TickCost]:
    """The prices of ticks ``0 .. ticks-1`` (:func:`tick_prices` as a list)."""
    return list(tick_prices(planner, costs, streams, ticks, trace_for))


def tick_prices(planner: Planner, costs: ScheduleCosts, streams: int, ticks: int,
                trace_for: Callable[[int, int], Iterable[AtomValues] | None] | None = None
                ) -> Iterator[TickCost]:
    """The prices of ticks ``0 .. ticks-1`` in order, made as they are asked for
    (``trace_for(stream, frames)``: a stream's data-driven clock values, a list or a
    stream). Fixed clocks give every stream the same plans, periodic from frame 1: one
    period is priced once its history has settled (two periods)."""
    period = planner.period
    if period is not None:
        known = min(ticks, 3 * period)
        since: dict[str, int] = {}
        table = []
        for t in range(known):
            plan = planner.plan(t)
            table.append(tick_price([plan] * streams, costs, [since] * streams))
            since = {**since, **dict.fromkeys(plan.computed, t)}
            yield table[-1]
        start = 2 * period
        for t in range(known, ticks):
            yield table[start + t % period]
        return
    traces = [None if trace_for is None or (trace := trace_for(i, ticks)) is None
              else iter(trace) for i in range(streams)]
    sinces: list[dict[str, int]] = [{} for _ in range(streams)]
    for t in range(ticks):
        plans = [planner.plan(t, None if trace is None else next(trace)) for trace in traces]
        yield tick_price(plans, costs, sinces)
        sinces = [{**s, **dict.fromkeys(p.computed, t)} for s, p in zip(sinces, plans)]


def run_batched_capacity(planner: Planner, costs: ScheduleCosts, streams: int, fps: float,
                         seconds: float = 10.0,
                         trace_for: Callable[[int, int], Iterable[AtomValues] | None]
                         | None = None, progress: bool = False) -> Capacity:
    """Simulate ``streams`` streams at ``fps`` for ``seconds`` with batched ticks (see the
    module's docstring); the :class:`Capacity` says ``batched``. A tick is priced when it
    is served; ``progress``: a bar over the ticks of a long run."""
    ticks = check_capacity(streams, fps, seconds)
    interval = 1e3 / fps
    work = tick_prices(planner, costs, streams, ticks, trace_for)
    served, free_at, busy, dropped = 0, 0.0, 0.0, 0
    waiting: float | None = None  # the arrival time of the tick waiting, if any
    latencies = array("d")

    def serve(until: float) -> None:
        nonlocal served, free_at, busy, waiting
        if waiting is not None and free_at <= until:
            ms = next(work).work_ms
            free_at = max(free_at, waiting) + ms
            served, busy = served + 1, busy + ms
            latencies.append(free_at - waiting)
            waiting = None

    with progress_bar(progress and streams * ticks >= PROGRESS_FRAMES, total=ticks,
                      desc=f"{planner.program.name}: {streams} streams batched",
                      unit="tick") as bar:
        step = max(1, BAR_STEP // streams)  # ticks between updates of the bar
        for k in range(ticks):
            now = k * interval
            serve(now)
            if waiting is not None:
                dropped += streams
            waiting = now
            serve(now)
            if k % step == step - 1:
                bar.update(step)
        serve(math.inf)
        bar.update(ticks % step)
    lat = np.repeat(np.array(latencies), streams) if latencies else np.array([np.nan])
    horizon = max(free_at, ticks * interval)
    return Capacity(streams, fps, seconds, streams * ticks, streams * served, dropped,
                    int((lat > interval).sum()), busy / horizon,
                    float(np.percentile(lat, 50)), float(np.percentile(lat, 99)),
                    float(lat.max()), batched=True)


def sustainable_batched_streams(planner: Planner, costs: ScheduleCosts, fps: float,
                                seconds: float = 10.0, trace_for=None,
                                limit: int = MAX_STREAMS, progress: bool = False
                                ) -> tuple[int, Capacity | None]:
    """The largest stream count batched ticks sustain (:attr:`Capacity.sustained`),
    found by doubling then bisection (sustained is monotone in the stream count while a
    batch never costs less than a smaller one); an ``InputError`` when a stream count it
    needs to try would not fit (:func:`~cwdsl.sim.capacity.check_capacity`)."""
    best: dict[int, Capacity] = {}

    def sustained(n: int) -> bool:
        check_capacity(n, fps, seconds, auto=True)
        result = run_batched_capacity(planner, costs, n, fps, seconds, trace_for, progress)
        if result.sustained:
            best[n] = result
        return result.sustained

    if not sustained(1):
        return 0, None
    lo, hi = 1, 2
    while hi <= limit and sustained(hi):
        lo, hi = hi, 2 * hi
    hi = min(hi - 1, limit)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sustained(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo, best[lo]
