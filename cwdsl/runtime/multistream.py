"""Several video streams through one network, their stages batched.

A :class:`MultiStreamExecutor` keeps one clock state per stream — one
:class:`~cwdsl.runtime.executor.Executor` per stream, all sharing one network and one
:class:`~cwdsl.runtime.stagerun.StageRunner` — and advances every stream's frame walk
(:meth:`Executor.walk`) in lockstep, a wave at a time. The stages that compute in several
streams in the same wave run as one batch: inputs of the same shape concatenated on dim 0,
through the shared runner, the outputs split back per stream (streams of another input
size form their own batch). A wave's batches run on the lead executor's lanes
(:meth:`Executor.run_jobs`): on a CPU concurrently, on its lane threads (one a stage; none
for a one-stage program or ``concurrency="sequential"``); on CUDA a lane is one stream a
stage, so batches of different stages run concurrently and batches of one stage (capped by
``max_batch``, or of different input sizes) one after another on that stage's stream. The
fuse is batched too: a stream's fuse waits until no stream has a wave left in the tick,
then the fuses of the same heads and size run as one. Measurements, flows and warps run
per stream, in the stream's own executor.

A stream's results are those a single-stream executor gives on its frames: the same
clocks, labels and warps; scores equal up to the rounding a batched convolution may do
differently (tests/test_multistream.py measures it). Every result's ``latency_ms`` is the
tick's wall time: each frame waited for the whole tick.
"""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace

import torch
from torch import Tensor

from cwdsl.ir.graph import Program
from cwdsl.ir.plan import Fuse
from cwdsl.nets.staged import Features, StagedNetwork
from cwdsl.runtime.deadline import StageTimes
from cwdsl.runtime.executor import Executor, FrameResult, FuseInput, Job, JobResult


def signature(x: Tensor | Mapping[str, Tensor] | FuseInput) -> tuple:
    """What must match for inputs to be batched: shapes past dim 0 and dtypes (and a
    fuse's input size)."""
    if isinstance(x, FuseInput):
        return (x.input_hw, signature(x.heads))
    if isinstance(x, Tensor):
        return (tuple(x.shape[1:]), x.dtype)
    return tuple((name, tuple(t.shape[1:]), t.dtype) for name, t in x.items())


def concat(inputs: Sequence[Tensor | Features | FuseInput]) -> Tensor | Features | FuseInput:
    """Inputs of one :func:`signature` as one batch (dim 0, in order)."""
    first = inputs[0]
    if isinstance(first, Tensor):
        return torch.cat(list(inputs))
    if isinstance(first, FuseInput):
        return FuseInput({h: torch.cat([x.heads[h] for x in inputs]) for h in first.heads},
                         first.input_hw)
    return Features({name: torch.cat([x[name] for x in inputs]) for name in first})


def split(result: JobResult, sizes: Sequence[int]) -> list[JobResult]:
    """A batch's :data:`JobResult` back per member (``sizes``: each member's batch size);
    the timing is shared: each member waited for the whole batch."""
    out, at = [], 0
    for n in sizes:
        if isinstance(result, Tensor):  # a fuse's scores
            out.append(result[at:at + n])
        else:
            features, scores, timing = result
            out.append((Features({k: v[at:at + n] for k, v in features.items()}),
                        {h: v[at:at + n] for h, v in scores.items()}, timing))
        at += n
    return out


class MultiStreamExecutor:
    """``streams`` streams of one program on one network; :meth:`tick` runs each stream's
    next frame. ``batched=False`` runs the streams one frame after the other (the
    baseline). The other options are :class:`Executor`'s; ``concurrency`` applies to the
    stages of one wave (batches when batched). ``max_batch``: at most this many streams
    per batch (a larger group is split in stream order; on CUDA its batches then run one
    after another, see the module docstring); ``None``: no limit. On a CPU a
    batch whose activations outgrow the caches can cost more per frame than single frames
    (benchmarks/bench_streams.py measures it). ``programs``: per stream, the program its
    executor walks (one schedule under each stream's own deadline; default ``program``
    for all); ``times``: per stream, what its ``fits`` atoms predict from (the batch times
    its stages take are what each stream's predictions learn)."""

    def __init__(self, program: Program, net: StagedNetwork, streams: int,
                 device: str | torch.device = "cpu", dtype: str = "float32",
                 batched: bool = True, concurrency: str = "auto", memory_format: str = "auto",
                 compile: bool = False, cuda_graphs: bool = False,
                 max_batch: int | None = None, programs: Sequence[Program] | None = None,
                 times: Sequence[StageTimes | None] | None = None):
        if streams < 1:
            raise ValueError(f"streams must be >= 1, got {streams}")
        if max_batch is not None and max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.program = program
        self.batched = batched
        self.max_batch = max_batch
        programs = list(programs) if programs is not None else [program] * streams
        times = list(times) if times is not None else [None] * streams
        if len(programs) != streams or len(times) != streams:
            raise ValueError(f"one program and one StageTimes a stream ({streams})")
        # stream 0's executor runs every wave (its lanes); the others only keep state
        lead = Executor(programs[0], net, device, dtype, concurrency, memory_format, compile,
                        cuda_graphs, times=times[0])
        self.executors = [lead] + [
            Executor(programs[i], lead.net, device, dtype, "sequential", memory_format,
                     runner=lead.runner, times=times[i]) for i in range(1, streams)]
        self.net, self.device, self.dtype = lead.net, lead.device, lead.dtype
        self.runner = lead.runner

    @property
    def streams(self) -> int:
        return len(self.executors)

    def reset(self) -> None:
        """Every stream's next frame is its frame 0."""
        for executor in self.executors:
            executor.reset()

    def close(self) -> None:
        for executor in self.executors:
            executor.close()

    def tick(self, frames: Sequence[Tensor | None],
             motions: Sequence | None = None) -> list[FrameResult | None]:
        """Run ``frames[i]`` (``(1, 3, H, W)`` RGB in [0, 1]) as stream ``i``'s next frame;
        ``None``: stream ``i`` has no frame this tick (its clock does not advance);
        ``motions[i]``: the frame's motion vectors (``flow=codec``). The results in stream
        order (``None`` where no frame was given)."""
        if len(frames) != self.streams:
            raise ValueError(f"tick takes one frame (or None) per stream: {self.streams}, "
                             f"got {len(frames)}")
        motions = motions if motions is not None else [None] * self.streams
        start = time.perf_counter()
        walks = {i: self.executors[i].walk(frame, motion=motions[i])
                 for i, frame in enumerate(frames) if frame is not None}
        results: dict[int, FrameResult] = {}
        with torch.inference_mode():
            if self.batched:
                # A walk's fuse is its last job: held until no stream has a wave left,
                # then every stream's fuse runs batched (walks of fewer waves wait for it)
                sends: dict[int, list[JobResult] | None] = dict.fromkeys(walks)
                held: dict[int, list[Job]] = {}
                while sends or held:
                    jobs = {}
                    for i, send in sends.items():
                        try:
                            wave = walks[i].send(send)
                        except StopIteration as done:
                            results[i] = done.value
                        else:
                            (held if isinstance(wave[0][0], Fuse) else jobs)[i] = wave
                    if not jobs:
                        jobs, held = held, {}
                    sends = self._run_batched(jobs)
            else:
                for i, walk in walks.items():
                    results[i] = self._drive(walk)
        latency = 1e3 * (time.perf_counter() - start)
        return [replace(results[i], latency_ms=latency) if i in results else None
                for i in range(self.streams)]

    def _drive(self, walk) -> FrameResult:
        """One stream's walk to its end, its waves on the lead executor's lanes."""
        send = None
        while True:
            try:
                jobs = walk.send(send)
            except StopIteration as done:
                return done.value
            send = self.executors[0].run_jobs(jobs)

    def _run_batched(self, jobs: dict[int, list[Job]]) -> dict[int, list[JobResult]]:
        """One wave of every stream: a batch per (stage, input signature), the batches
        run as one wave; each stream's results in its jobs' order."""
        groups: dict[tuple, list[tuple[int, int, Job]]] = {}
        for i, wave in jobs.items():
            for position, (step, x) in enumerate(wave):
                what = step.stages if isinstance(step, Fuse) else step.stage
                groups.setdefault((what, signature(x)), []).append((i, position, (step, x)))
        cap = self.max_batch or len(jobs)
        members = [group[at:at + cap] for group in groups.values()
                   for at in range(0, len(group), cap)]
        batches = [(group[0][2][0], concat([job[1] for _, _, job in group])
                    if len(group) > 1 else group[0][2][1]) for group in members]
        lead = self.executors[0]
        if batches and isinstance(batches[0][0], Fuse):  # fuses: one call each
            outputs = [out for job in batches for out in lead.run_jobs([job])]
        else:
            outputs = lead.run_jobs(batches) if batches else []
        out: dict[int, list] = {i: [None] * len(wave) for i, wave in jobs.items()}
        for group, output in zip(members, outputs, strict=True):
            parts = split(output, [_batch_size(job[1]) for _, _, job in group]) \
                if len(group) > 1 else [output]
            for (i, position, _), part in zip(group, parts, strict=True):
                out[i][position] = part
        return out


def _batch_size(x: Tensor | Mapping[str, Tensor] | FuseInput) -> int:
    if isinstance(x, FuseInput):
        x = x.heads
    return int(x.shape[0]) if isinstance(x, Tensor) else int(next(iter(x.values())).shape[0])
