"""The simulator: latency and compute of a schedule from its FramePlans and a cost table.

It walks the same :class:`~cwdsl.ir.plan.Planner` plans as the executor and prices them
(:func:`price`): each measurement, each :class:`Wave` of computing stages (its slowest
stage plus what concurrency does not hide of the others, never faster than the device's
peak allows for the wave's work: :meth:`ScheduleCosts.lanes_ms`), each optical
:class:`Flow` (once per method and frame) and each stage's :class:`Warp`, the fuse and a
fixed per-frame overhead; on a CPU in turn, on a GPU host and device overlapping between
syncs. A frame's *latency* is its time from start to result; its *work* the time it keeps
its busier processor busy (on a CPU everything in turn: its latency; on a GPU the busier
of host and device, its syncs left out), a wave counting at its concurrent price in both:
so work never exceeds latency, and the throughput of frames processed back to back,
``1000 / mean work``, is never below ``1000 / mean latency``. A warp also composes
its flow where the executor does: not when its stage computed on the frame before, and once
for the stages of one flow method that last computed on the same frame; so frames are
priced in order (:func:`frame_prices`), knowing when each stage last computed.

Fixed clocks are periodic: the plans of frames ``t >= 1`` repeat with the planner's
``period`` (the least common multiple of the periods), so one period is priced and
counted (millions of frames per second); with warps, the first frames, whose history is
shorter, are priced apart where they differ. Data-driven clocks replay a trace or a seeded
firing rate, frame by frame, streamed (the distinct prices are kept with their counts, never
a frame's), each distinct plan and warp history priced once (:func:`frame_prices`'s memo):
:data:`MAX_PRICED_FRAMES` at most (:func:`priced_frames`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from cwdsl.core.progress import progress_bar
from cwdsl.ir.deadline import decide
from cwdsl.ir.plan import AtomValues, Deadline, FramePlan, Flow, Planner, Warp
from cwdsl.ir.trace import AtomTrace
from cwdsl.sim.costs import ScheduleCosts
from cwdsl.sim.price import FrameCost, price

MAX_PRICED_FRAMES = 10_000_000
"""The most frames one simulation prices one by one (tens of thousands a second)."""
PROGRESS_FRAMES = 200_000
"""From this many frames priced one by one, a progress bar is drawn (when asked for)."""
BAR_STEP = 4096  # frames between updates of the bar


@dataclass(frozen=True)
class CostPredictions:
    """A cost table as the predictions of ``fits`` decisions
    (:class:`cwdsl.ir.deadline.Predictions`): device times, a warp with its composition."""

    costs: ScheduleCosts

    def stage_ms(self, stage: str) -> float:
        return self.costs.stage_ms[stage]

    def warp_ms(self, stage: str) -> float:
        return self.costs.warp_ms[stage] + self.costs.compose_ms

    def flow_ms(self, method: str) -> float:
        return self.costs.flow_ms[method]

    @property
    def fuse_ms(self) -> float:
        return self.costs.fuse_ms


class FramePricer:
    """Prices one stream's frames in order (:meth:`next`), knowing when every stage last
    computed; ``memo`` (shared only by pricers on the same ``costs``) keeps the price of
    each distinct plan and warp history (:func:`warp_history`), which is all a price
    depends on. ``fits`` atoms are decided as the executor decides them
    (:func:`cwdsl.ir.deadline.decide`), from the price of the frame's steps so far and the
    device model's stage and fuse times."""

    def __init__(self, planner: Planner, costs: ScheduleCosts, memo: dict | None = None):
        self.planner, self.costs = planner, costs
        self.memo = {} if memo is None else memo
        self.since: dict[str, int] = {}
        self.frame = 0
        self._warps = bool(planner.program.warps)

    def next(self, atoms: AtomValues | None = None, waited_ms: float = 0.0) -> FrameCost:
        """The next frame's price; ``atoms``: its data-driven clock values; ``waited_ms``:
        how long it waited for the device after it arrived (``fits`` counts it)."""
        t, planner = self.frame, self.planner
        if atoms is None and planner.atom_ids:
            raise ValueError("data-driven clocks need atom values for every frame")
        plan = self._decided(t, atoms, waited_ms) if planner.deadline_ids and t \
            else planner.plan(t, atoms)
        key = (plan.steps, warp_history(plan, self.since)) if self._warps else plan.steps
        cost = self.memo.get(key)
        if cost is None:
            cost = self.memo[key] = price(plan, self.costs, self.since)
        self.since.update(dict.fromkeys(cost.computed, t))  # the plan's, kept by its price
        self.frame += 1
        return cost

    def _decided(self, t: int, atoms: AtomValues | None, waited_ms: float) -> FramePlan:
        """Frame ``t``'s plan with its ``fits`` atoms decided along its walk."""
        costs = self.costs
        values = dict(atoms or {})
        steps: list = []
        for step in self.planner.walk(t, values):
            if step.__class__ is Deadline and step.atom not in values:  # (else replayed)
                so_far = price(FramePlan(t, tuple(steps), {}, values), costs, self.since)
                flowed = {s.method for s in steps if s.__class__ is Flow}
                values[step.atom] = decide(step, waited_ms + so_far.latency_ms,
                                           CostPredictions(costs), flowed).fires
            steps.append(step)
        return self.planner.plan(t, values)


def frame_prices(planner: Planner, costs: ScheduleCosts, frames: int,
                 trace: Iterable[AtomValues] | None = None,
                 memo: dict | None = None) -> Iterator[FrameCost]:
    """The prices of frames ``0 .. frames-1`` in order (``trace``: each frame's data-driven
    clock values in order, a list or a stream), each knowing when every stage last
    computed, frames back to back (no wait: :class:`FramePricer`)."""
    values = None if trace is None else iter(trace)
    pricer = FramePricer(planner, costs, memo)
    for _ in range(frames):
        yield pricer.next(None if values is None else next(values, None))


def warp_history(plan: FramePlan, since: Mapping[str, int]) -> tuple[int, ...]:
    """What :func:`price` reads of ``since``: per :class:`Warp`, -1 when its stage never
    computed, 0 when it computed on the frame before (nothing to compose), else which
    (method, frame) it composes from, numbered by first appearance."""
    seen: dict[tuple[str, int], int] = {}
    out = []
    for step in plan.steps:
        if step.__class__ is Warp:
            start = since.get(step.stage)
            if start is None or start >= plan.frame - 1:
                out.append(-1 if start is None else 0)
            else:
                out.append(seen.setdefault((step.method, start), len(seen) + 1))
    return tuple(out)


def priced_frames(planner: Planner, frames: int) -> int:
    """How many frames :func:`simulate` prices one by one for ``frames`` frames: three
    periods of fixed clocks with a shorter period, else every frame."""
    period = planner.period
    return 3 * period if period is not None and period < frames else frames


def counted(prices: Iterable[FrameCost], total: int, progress: bool, desc: str
            ) -> Iterator[FrameCost]:
    """``prices`` passed through, with a progress bar of ``total`` frames when ``progress``
    and ``total`` reaches :data:`PROGRESS_FRAMES`."""
    with progress_bar(progress and total >= PROGRESS_FRAMES, total=total, desc=desc,
                      unit="frame") as bar:
        done = 0
        for done, p in enumerate(prices, 1):
            yield p
            if done % BAR_STEP == 0:
                bar.update(BAR_STEP)
        bar.update(done % BAR_STEP)


def periodic_prices(planner: Planner, costs: ScheduleCosts, progress: bool = False
                    ) -> tuple[FrameCost, list[FrameCost], dict[int, FrameCost]]:
    """For a schedule of fixed clocks (``planner.period`` set): frame 0's price, the prices
    of one period, ``cycle[t % period]`` being frame ``t``'s for ``t >= 1``, and the early
    frames ``t`` whose price differs from ``cycle[t % period]`` (a warp's composition
    depends on when its stage last computed, which settles after two periods; none
    without warps)."""
    period = planner.period
    if period is None:
        raise ValueError("the schedule has data-driven clocks: its plans are not periodic")
    start = 2 * period  # a multiple of the period from which the history repeats too
    prices = list(counted(frame_prices(planner, costs, start + period), start + period,
                          progress, f"{planner.program.name} (3 periods)"))
    cycle = prices[start:]
    early = {t: prices[t] for t in range(1, start) if prices[t] != cycle[t % period]}
    return prices[0], cycle, early


@dataclass(frozen=True)
class SimulationRow:
    """One schedule's simulated latency and compute, as ``cwdsl simulate`` reports it: means
    and percentiles over frames, percentages of the frame oracle, what the cost table was
    made for (device, network, input, dtype) and, when asked, how many streams it serves."""

    schedule: str
    frames: int
    latency_ms_mean: float
    latency_ms_p50: float
    latency_ms_p99: float
    work_ms_mean: float        # never above latency_ms_mean (FrameCost)
    time_pct_of_full: float
    compute_pct_of_full: float
    gflops_per_frame: float
    throughput_fps: float      # 1000 / work_ms_mean: frames back to back, >= 1000 / latency
    all_stages_pct: float
    computed_pct: dict[str, float]
    device: str
    source: str
    network: str
    input: tuple[int, int]
    dtype: str
    oracle_ms: float
    sustainable_streams: int | None = None   # --streams auto: the most streams sustained
    capacity: Capacity | None = None          # --streams: the capacity run (auto: at the most)
    deadline_ms: float | None = None          # the frame deadline, if any
    on_time_pct: float | None = None          # frames after frame 0 within it, back to back

    def to_json(self) -> dict:
        out = {"schedule": self.schedule, "frames": self.frames,
               "latency_ms_mean": self.latency_ms_mean, "latency_ms_p50": self.latency_ms_p50,
               "latency_ms_p99": self.latency_ms_p99, "work_ms_mean": self.work_ms_mean,
               "time_pct_of_full": self.time_pct_of_full,
               "compute_pct_of_full": self.compute_pct_of_full,
               "gflops_per_frame": self.gflops_per_frame, "throughput_fps": self.throughput_fps,
               "all_stages_pct": self.all_stages_pct, "computed_pct": dict(self.computed_pct),
               "device": self.device, "source": self.source, "network": self.network,
               "input": list(self.input), "dtype": self.dtype, "oracle_ms": self.oracle_ms}
        if self.deadline_ms is not None:
            out["deadline_ms"] = self.deadline_ms
            out["on_time_pct"] = self.on_time_pct
        if self.sustainable_streams is not None:
            out["sustainable_streams"] = self.sustainable_streams
        if self.capacity is not None:
            out["capacity"] = self.capacity.to_json()
        return out


@dataclass(frozen=True)
class Simulation:
    """Per-frame prices of ``frames`` frames, kept as distinct prices with counts."""

    schedule: str
    frames: int
    prices: tuple[FrameCost, ...]     # distinct plans' prices (frame 0 first)
    counts: np.ndarray                 # how many frames had each price
    costs: ScheduleCosts
    stage_names: tuple[str, ...]
    timeline: tuple[FrameCost, ...] = field(default=(), repr=False)  # first frames, in order
    deadline_ms: float | None = None
    on_time: int | None = None  # frames after frame 0 whose latency is within deadline_ms

    def _values(self, attr: str) -> np.ndarray:
        return np.array([getattr(p, attr) for p in self.prices])

    def mean(self, attr: str) -> float:
        return float((self._values(attr) * self.counts).sum() / self.counts.sum())

    def percentile(self, attr: str, q: float) -> float:
        """Weighted percentile (lower interpolation) over frames."""
        values = self._values(attr)
        order = np.argsort(values)
        cum = np.cumsum(self.counts[order])
        index = np.searchsorted(cum, q / 100 * cum[-1], side="left")
        return float(values[order][min(index, len(order) - 1)])

    def computed_fraction(self, stage: str) -> float:
        hit = np.array([stage in p.computed for p in self.prices])
        return float(self.counts[hit].sum() / self.counts.sum())

    @property
    def all_stages_fraction(self) -> float:
        full = np.array([len(p.computed) == len(self.stage_names) for p in self.prices])
        return float(self.counts[full].sum() / self.counts.sum())

    @property
    def oracle_ms(self) -> float:
        """The frame oracle's latency under the same costs (its frame overhead included)."""
        return self.costs.oracle_ms

    def summary(self) -> SimulationRow:
        c = self.costs
        latency = self.mean("latency_ms")
        return SimulationRow(
            schedule=self.schedule, frames=self.frames,
            latency_ms_mean=latency,
            latency_ms_p50=self.percentile("latency_ms", 50),
            latency_ms_p99=self.percentile("latency_ms", 99),
            work_ms_mean=self.mean("work_ms"),
            time_pct_of_full=100 * latency / self.oracle_ms,
            compute_pct_of_full=100 * self.mean("flops") / c.full_flops,
            gflops_per_frame=self.mean("flops") / 1e9,
            throughput_fps=1e3 / self.mean("work_ms"),
            all_stages_pct=100 * self.all_stages_fraction,
            computed_pct={s: 100 * self.computed_fraction(s) for s in self.stage_names},
            device=c.device, source=c.source, network=c.network, input=tuple(c.input_hw),
            dtype=c.dtype, oracle_ms=self.oracle_ms, deadline_ms=self.deadline_ms,
            on_time_pct=None if self.on_time is None
            else 100 * self.on_time / max(1, self.frames - 1))


def simulate(planner: Planner, costs: ScheduleCosts, frames: int,
             trace: Iterable[AtomValues] | None = None, timeline: int = 0,
             name: str | None = None, progress: bool = False) -> Simulation:
    """Price ``frames`` frames of ``planner``'s schedule. ``trace`` supplies data-driven
    clock values in frame order, a list or a stream (required when the schedule has any);
    ``timeline`` keeps that many frames' prices in order (for plots); ``progress``: a bar
    when many frames are priced one by one (:data:`PROGRESS_FRAMES`). With a frame
    deadline (the program's), the frames after frame 0 processed back to back within it
    are counted (``Simulation.on_time``)."""
    if frames < 1:
        raise ValueError("frames must be >= 1")
    name = name or planner.program.name
    deadline = planner.program.deadline_ms
    period = planner.period
    if period is not None and period < frames:
        first, cycle, early = periodic_prices(planner, costs, progress)
        # frames 1 .. frames-1 visit residues t mod period (1 .. n % period once more than
        # the others), but early frames priced apart
        n = frames - 1
        counts = np.full(period, n // period, dtype=np.intp)
        counts[1:n % period + 1] += 1
        extra = {t: p for t, p in early.items() if t < frames}
        for t in extra:
            counts[t % period] -= 1
        counts = np.concatenate([[1], counts, np.ones(len(extra), dtype=counts.dtype)])
        kept = tuple([first] + [early.get(t, cycle[t % period])
                                for t in range(1, min(timeline, frames))]) if timeline else ()
        prices = (first, *cycle, *extra.values())
        on_time = None if deadline is None else int(sum(
            n for p, n in zip(prices[1:], counts[1:]) if p.latency_ms <= deadline))
        return Simulation(name, frames, prices, counts, costs, planner.stages, kept,
                          deadline, on_time)
    if planner.atom_ids and trace is None:  # (frame_prices says so of a short one)
        raise ValueError("data-driven clocks need atom values for every frame")
    prices: dict[FrameCost, int] = {}
    ordered = []
    on_time = 0
    for t, p in enumerate(counted(frame_prices(planner, costs, frames, trace), frames,
                                  progress, name)):
        prices[p] = prices.get(p, 0) + 1
        if t < timeline:
            ordered.append(p)
        on_time += t > 0 and deadline is not None and p.latency_ms <= deadline
    return Simulation(name, frames, tuple(prices), np.array(list(prices.values())), costs,
                      planner.stages, tuple(ordered), deadline,
                      None if deadline is None else on_time)


def firings(planner: Planner, frames: int, trace: AtomTrace | None = None) -> list[tuple[str, ...]]:
    """The stages each frame computes, as the simulator sees them."""
    return [planner.plan(t, trace[t] if trace else None).computed for t in range(frames)]
