"""The torch executor: walks FramePlans over frames, keeping each stage's cache.

Per frame it does nothing but walk :meth:`Planner.walk`: ``Compute`` runs a stage and its
heads, ``Cache`` keeps the stage's state, ``Flow`` computes the frame's optical flow back
to the previous frame, ``Warp`` moves a stage's last computed state to this frame by the
flows since (:mod:`cwdsl.runtime.warp`), ``Measure`` evaluates a data-driven clock atom
on the device, ``Deadline`` decides a ``fits`` atom from the time since the frame's arrival
and :class:`~cwdsl.runtime.deadline.StageTimes`' predictions (:mod:`cwdsl.ir.deadline`),
``Fuse`` fuses the output stages' scores. ``Compute`` steps of one wave
(stages that do not depend on each other within the frame: a pipeline) run concurrently:
in CUDA streams ordered by events on a GPU, in worker threads on a CPU. How a stage and
the fuse run — eagerly, ``torch.compile``-d, replayed as CUDA graphs — is the
:class:`~cwdsl.runtime.stagerun.StageRunner`'s business (:attr:`Executor.runner`).
"""
from __future__ import annotations

import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Generator, Iterable, Iterator, Sequence

import torch
from torch import Tensor

from cwdsl.ir.graph import Program
from cwdsl.ir.nodes import MeasureNode
from cwdsl.ir.deadline import Decision, decide
from cwdsl.ir.plan import Cache, Compute, Deadline, Flow, Fuse, Measure, Planner, Warp, Wave
from cwdsl.nets.preprocess import normalize
from cwdsl.media.motionvectors import CodecMotion
from cwdsl.nets.staged import Features, StagedNetwork
from cwdsl.runtime.device import memory_format as resolve_memory_format
from cwdsl.runtime.deadline import StageTimes
from cwdsl.runtime.results import FrameResult, FuseInput, Job, JobResult
from cwdsl.runtime.device import resolve_device, torch_dtype
from cwdsl.runtime.codecflow import CODEC_METHOD, CodecFlows, FrameFlow, needs_motion
from cwdsl.runtime.flow import OpticalFlow
from cwdsl.runtime.measure import AtomState, AtomTest, PredictedState, Window, label_map
from cwdsl.runtime.stagerun import StageRunner, make_runner
from cwdsl.runtime.warp import StageWarp


class _History:
    """The last few states ``F[k](t)`` of one stage, addressed by frame index."""

    def __init__(self, depth: int):
        self._items: deque = deque(maxlen=depth)
        self.last_frame = -1

    def push(self, frame: int, value) -> None:
        self._items.append(value)
        self.last_frame = frame

    def at(self, frame: int):
        """``F(frame)``; frames before 0 read frame 0 (``max(t - d, 0)``)."""
        back = self.last_frame - max(frame, 0)
        return self._items[-1 - back]

    @property
    def current(self):
        return self._items[-1]


class Executor:
    """Runs one program with one staged network on one device.

    ``concurrency``: ``"auto"`` runs same-wave stages concurrently (streams on CUDA,
    threads on CPU); ``"sequential"`` runs them one after the other (for comparison).
    ``memory_format``: ``"auto"`` (channels_last where it measured faster, see
    :func:`cwdsl.runtime.device.memory_format`), ``"contiguous"`` or ``"channels_last"``;
    ``net`` is moved to the device, dtype and format in place, and each frame's input
    follows. ``compile``: each stage and the fuse through ``torch.compile``;
    ``cuda_graphs``: each captured once per input shape as a CUDA graph and replayed (an
    ``InputError`` on a CPU device). See :mod:`cwdsl.runtime.stagerun`. ``runner``: run
    stages through this one instead (executors of several streams share one). ``times``:
    the predictions ``fits`` atoms are decided by (required when the program has any),
    updated by every frame's measured times.
    """

    def __init__(self, program: Program, net: StagedNetwork, device: str | torch.device = "cpu",
                 dtype: str = "float32", concurrency: str = "auto", memory_format: str = "auto",
                 compile: bool = False, cuda_graphs: bool = False,
                 runner: StageRunner | None = None, times: StageTimes | None = None):
        self.program = program
        self.planner = Planner(program)
        if program.deadlines and times is None:
            raise ValueError(f"{program.name} decides 'fits' atoms: give the executor "
                             f"predicted stage times (times=StageTimes(...))")
        self.times = times
        self.device = resolve_device(device)
        self.dtype = torch_dtype(dtype, self.device)
        if concurrency not in ("auto", "sequential"):
            raise ValueError(f"concurrency must be 'auto' or 'sequential', got {concurrency!r}")
        self.memory_format = resolve_memory_format(memory_format, self.device, self.dtype)
        self.net = net.to(self.device, self.dtype, memory_format=self.memory_format).eval()
        self.runner: StageRunner = runner if runner is not None else \
            make_runner(self.net, self.device, compile, cuda_graphs)
        self._channels_last = self.memory_format == torch.channels_last
        self.concurrency = concurrency
        self._stage = {s.name: s for s in program.stage_nodes}
        self._previous = {s: program.previous_stage(s) for s in program.stages}
        self._windows: dict = {}  # (head, input size) → cells that see the image (region image)
        self._flows = {f.method: OpticalFlow(f.method) for f in program.flows
                       if f.method != CODEC_METHOD}
        self._codec = needs_motion(program)
        lanes = len(program.stages)
        self._pool = ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="cwdsl-lane") \
            if concurrency == "auto" and self.device.type == "cpu" and lanes > 1 else None
        self._streams = {s: torch.cuda.Stream(self.device) for s in program.stages} \
            if self.device.type == "cuda" and concurrency == "auto" else None
        self.reset()

    def reset(self) -> None:
        """Forget all state: the next frame is frame 0."""
        depth = {s: 1 for s in self.program.stages}
        for stage, prev in self._previous.items():
            if prev is not None:
                depth[prev] = max(depth[prev], self._stage[stage].delay + 1)
        self._features = {s: _History(depth[s]) for s in self.program.stages}
        self._scores: dict[str, dict[str, Tensor]] = {}
        self._atom_states = {m.atom: PredictedState(m.model, m.expr.theta, m.expr.op)
                             if m.model is not None else AtomState(AtomTest.of(m))
                             for m in self.program.measures}
        # Warping stages: last computed state and composed flow (reset by every Compute).
        self._warps = {s.name: StageWarp(self.net) for s in self.program.stage_nodes
                       if s.counter == "warp"}
        self._last_frame: Tensor | None = None  # the previous frame, as it was given
        # flow=codec: the last frames' motion vectors, and their flows once computed
        self._codec_flows = CodecFlows(self.device) if self._codec else None
        self._frame = 0

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    # -- one frame ---------------------------------------------------------------------
    @property
    def needs_motion(self) -> bool:
        """Whether every frame must come with its motion vectors (a stage warps by
        ``flow=codec``)."""
        return self._codec

    def step(self, frame: Tensor, arrival: float | None = None,
             motion: CodecMotion | None = None) -> FrameResult:
        """Run the next frame: ``(1, 3, H, W)`` RGB in [0, 1] (see ``preprocess.frame_tensor``).
        ``arrival``: when the frame arrived (a ``time.perf_counter()`` value; None: now),
        from which ``fits`` counts the frame's time. ``motion``: the frame's motion
        vectors as its decoder exported them, required when :attr:`needs_motion`."""
        with torch.inference_mode():
            walk = self.walk(frame, arrival, motion)
            results = None  # the first send starts the walk
            while True:
                try:
                    jobs = walk.send(results)
                except StopIteration as done:
                    return done.value
                results = self.run_jobs(jobs)

    def walk(self, frame: Tensor, arrival: float | None = None,
             motion: CodecMotion | None = None
             ) -> Generator[list[Job], list[JobResult], FrameResult]:
        """The next frame's walk, driven from outside: it yields each wave's compute jobs
        (:data:`Job`: the ``Compute`` step and its input), then its fuse as a job of its
        own, and expects their results
        (:data:`JobResult`, in the same order; :meth:`run_jobs` computes them here) back by
        ``send``; it returns the frame's :class:`FrameResult`. The driver runs it under
        ``torch.inference_mode`` (a generator cannot hold that mode across its yields: two
        interleaved walks would restore each other's modes out of order). :meth:`step`
        drives it locally; :class:`~cwdsl.runtime.multistream.MultiStreamExecutor` drives
        one per stream and batches their jobs. ``arrival``, ``motion`` as in :meth:`step`."""
        start = time.perf_counter()
        arrival = start if arrival is None else min(arrival, start)
        t = self._frame
        if self.needs_motion:
            if motion is None:
                raise ValueError(f"{self.program.name} warps by flow=codec: give each frame's "
                                 f"motion vectors (step(frame, motion=...))")
            self._codec_flows.put(t, motion)
        self._pixels = frame.to(self.device, non_blocking=True)
        self._input = normalize(self._pixels.float(), self.net.spec.norm).to(self.dtype)
        if self._channels_last:
            self._input = self._input.contiguous(memory_format=torch.channels_last)
        atom_values: dict[str, bool] = {}
        differences: dict[str, float] = {}
        stage_ms: dict[str, float] = {}
        computed: list[str] = []
        flows: dict[str, FrameFlow] = {}
        flow_problems: dict[str, str] = {}
        composed: dict[str, dict[int, Tensor]] = {}  # per method: totals by start frame
        flow_ms: dict[str, float] = {}
        warp_ms: dict[str, float] = {}
        decisions: list[Decision] = []
        for step in self.planner.walk(t, atom_values):
            if isinstance(step, Wave):
                # Inputs are resolved before any stage of the wave runs: a delayed stage
                # reads F[k-1](t - d), never the state its neighbour in the wave produces.
                results = yield [(c, self._input_of(t, c)) for c in step.computes]
                self._store_wave(t, step.computes, results, stage_ms)
                computed += step.stages
            elif isinstance(step, Cache):
                self._features[step.stage].push(t, self._features[step.stage].current)
            elif isinstance(step, Measure):
                atom_values[step.atom], differences[step.atom] = self._measure(step)
            elif isinstance(step, Deadline):
                decision = self._decide(step, arrival, flows)
                atom_values[step.atom] = decision.fires
                decisions.append(decision)
            elif isinstance(step, Flow):
                began = time.perf_counter()
                if step.method == CODEC_METHOD:  # the frame's motion vectors, dense
                    flows[step.method] = self._codec_flows.flow(t, self._input.shape[-2:])
                    if flows[step.method].problem is not None:
                        flow_problems[step.method] = flows[step.method].problem
                else:
                    # DIS runs on the host: a frame given on the host goes straight to it
                    # (no device sync); the flow is uploaded to the device
                    flows[step.method] = FrameFlow(self._flows[step.method](
                        self._last_frame, frame, self.device))
                flow_ms[step.method] = 1e3 * (time.perf_counter() - began)
                composed[step.method] = {}
            elif isinstance(step, Warp):
                warp_ms[step.stage] = self._warp(t, step, flows[step.method],
                                                 composed[step.method])
            elif isinstance(step, Fuse):
                fused = time.perf_counter()
                scores, = yield [(step, self._fuse_input(step))]
        if self.device.type == "cuda":
            torch.cuda.current_stream(self.device).synchronize()
        end = time.perf_counter()
        latency = 1e3 * (end - start)
        for timings in (stage_ms, warp_ms):
            for stage, timing in timings.items():
                if isinstance(timing, tuple):  # CUDA events, complete after the sync
                    timings[stage] = timing[0].elapsed_time(timing[1])
        if self._flows:
            self._last_frame = frame
        self._frame += 1
        fuse_ms = 1e3 * (end - fused)
        if self.times is not None:
            self.times.observe(stage_ms, fuse_ms, warp_ms, flow_ms, warm_up=t == 0)
        return FrameResult(t, tuple(computed), scores, atom_values, differences, stage_ms,
                           latency, tuple(warp_ms), flow_ms, warp_ms,
                           1e3 * (start - arrival), tuple(decisions), fuse_ms, flow_problems)

    def run(self, frames: Iterable[Tensor]) -> Iterator[FrameResult]:
        for frame in frames:
            yield self.step(frame)

    @property
    def frame(self) -> int:
        """The index the next frame gets."""
        return self._frame

    def _input_of(self, t: int, step: Compute) -> Tensor | Features:
        prev = self._previous[step.stage]
        if prev is None:
            return self._input
        return self._features[prev].at(t - step.delay)

    def run_jobs(self, jobs: Sequence[Job]) -> list[JobResult]:
        """Compute a wave's jobs here, concurrently where the executor runs lanes (CUDA
        streams, or threads on a CPU), or a fuse job; their results in order. Any input of
        a stage the program has may be given, a batch of several frames included."""
        jobs = list(jobs)
        if jobs and isinstance(jobs[0][0], Fuse):  # on the current stream, as it comes
            return [self.runner.fuse(x.heads, x.input_hw) for _, x in jobs]
        if self._streams is not None:
            return self._launch_cuda(jobs)
        if self._pool is not None and len(jobs) > 1:
            return list(self._pool.map(lambda job: self._compute(*job), jobs))
        return [self._compute(step, x) for step, x in jobs]

    def _store_wave(self, t: int, wave: tuple[Compute, ...], results: Sequence[JobResult],
                    stage_ms: dict[str, object]) -> None:
        for step, (features, scores, timing) in zip(wave, results, strict=True):
            self._features[step.stage].push(t, features)
            self._scores[step.stage] = scores
            stage_ms[step.stage] = timing
            if step.stage in self._warps:
                self._warps[step.stage].computed(t, features, scores)

    def _warp(self, t: int, step: Warp, flow: FrameFlow, composed: dict[int, Tensor]):
        """Move stage ``step.stage``'s last computed state to frame ``t`` (its history and
        scores now hold the warped state, as a ``Cache`` holds the cached one); its time.
        ``composed``: this frame's composed flows of the method, shared between stages."""
        cuda = self.device.type == "cuda"
        if cuda:
            begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            begin.record()
        began = time.perf_counter()
        features, scores = self._warps[step.stage].warp(
            flow.flow, tuple(self._input.shape[-2:]), composed, frame=t, back=flow.back,
            anchor=flow.anchor,
            flow_of=(lambda k: self._codec_flows.earlier(k, self._input.shape[-2:]))
            if step.method == CODEC_METHOD else None)
        self._features[step.stage].push(t, features)
        self._scores[step.stage] = scores
        if cuda:
            end.record()
            return begin, end
        return 1e3 * (time.perf_counter() - began)

    def _compute(self, step: Compute, x: Tensor):
        """Run one stage here and now (CPU, or CUDA without lanes); time it: wall clock on
        a CPU, CUDA events on the current stream (read after the frame's sync) on a GPU."""
        stage = self._stage[step.stage]
        with torch.inference_mode():
            if self.device.type == "cuda":
                begin = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                begin.record()
                features, scores = self.runner.run_stage(x, stage.first, stage.last,
                                                         stage.heads)
                end.record()
                return features, scores, (begin, end)
            start = time.perf_counter()
            features, scores = self.runner.run_stage(x, stage.first, stage.last, stage.heads)
            return features, scores, 1e3 * (time.perf_counter() - start)

    def _launch_cuda(self, jobs):
        """Launch each stage of a wave on its own stream; the main stream joins them.

        Each lane waits for the main stream (which holds everything earlier waves and
        frames produced); the main stream waits for every lane's end event before
        anything reads the wave's results. Timings are CUDA events, read after the frame.
        """
        main = torch.cuda.current_stream(self.device)
        results = []
        for step, x in jobs:
            stream = self._streams[step.stage]
            stream.wait_stream(main)
            begin = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            with torch.cuda.stream(stream):
                begin.record(stream)
                stage = self._stage[step.stage]
                features, scores = self.runner.run_stage(x, stage.first, stage.last,
                                                         stage.heads)
                end.record(stream)
            x.record_stream(stream)
            results.append((features, scores, (begin, end)))
        for _, _, (_, end) in results:
            main.wait_event(end)
        return results

    def _decide(self, step: Deadline, arrival: float, flowed) -> Decision:
        """Decide a ``fits`` atom now: the time since ``arrival`` (on a GPU after the
        queued work is done, so that it is the real time) and the predictions;
        ``flowed``: the flow methods computed this frame so far."""
        if self.device.type == "cuda":
            torch.cuda.current_stream(self.device).synchronize()
        elapsed = 1e3 * (time.perf_counter() - arrival)
        return decide(step, elapsed, self.times, flowed)

    def _measure(self, step: Measure) -> tuple[bool, float]:
        node = self.program.measure(step.atom)
        if node.model is not None:  # a learned clock: the head's labels and the pixels
            labels = label_map(self._scores[node.stage][node.head])
            return self._atom_states[step.atom].measure(labels, self._pixels)
        if node.head is not None:
            current = label_map(self._scores[node.stage][node.head], self._window(node))
        else:
            current = self._pixels
        return self._atom_states[step.atom].measure(current)

    def _window(self, node: MeasureNode) -> Window | None:
        """The cells a label difference compares: None for the whole score map (region
        ``map``, the authors' code), the cells that see the image for region ``image``."""
        if node.region != "image":
            return None
        hw = tuple(self._input.shape[-2:])
        window = self._windows.get((node.head, hw))
        if window is None:
            window = self._windows[node.head, hw] = self.net.head_window(node.head, hw)
        return window

    def _fuse_input(self, step: Fuse) -> FuseInput:
        scores = {h: s for stage in step.stages for h, s in self._scores[stage].items()}
        return FuseInput(scores, tuple(self._input.shape[-2:]))
