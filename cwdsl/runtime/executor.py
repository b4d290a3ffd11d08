"""The torch executor: walks FramePlans over frames, keeping each stage's cache.

Per frame it does nothing but walk :meth:`Planner.walk`: ``Compute`` runs a stage and its
heads, ``Cache`` keeps the stage's state, ``Measure`` evaluates a data-driven clock atom
on the device, ``Fuse`` fuses the output stages' scores. ``Compute`` steps of one wave
(stages that do not depend on each other within the frame: a pipeline) run concurrently:
in CUDA streams ordered by events on a GPU, in worker threads on a CPU.
"""
from __future__ import annotations

import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Iterator

import torch
from torch import Tensor

from cwdsl.lang import ast
from cwdsl.core.errors import InputError
from cwdsl.ir.graph import Program
from cwdsl.nets.staged import StagedNetwork
from cwdsl.ir.plan import Cache, Compute, Fuse, Measure, Planner
from cwdsl.nets.preprocess import normalize

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class FrameResult:
    """What one frame produced. ``scores`` stay on the executor's device."""

    frame: int
    scores: Tensor
    computed: tuple[str, ...]
    atoms: dict[str, bool]
    differences: dict[str, float]
    stage_ms: dict[str, float]
    latency_ms: float

    @property
    def labels(self) -> Tensor:
        """Per-pixel class ids, (H, W), on the device."""
        return self.scores[0].argmax(0)


class _History:
    """The last few states ``F[k](t)`` of one stage, addressed by frame index."""

    def __init__(self, depth: int):
        self._items: deque = deque(maxlen=depth)
        self.last_frame = -1

    def push(self, frame: int, value) -> None:
        self._items.append(value)
        self.last_frame = frame

    def at(self, frame: int):
        """``F(frame)``; frames before 0 read frame 0 (DESIGN: ``max(t - d, 0)``)."""
        back = self.last_frame - max(frame, 0)
        return self._items[-1 - back]

    @property
    def current(self):
        return self._items[-1]


class _Atom:
    """State of one data-driven clock atom: its reference and threshold test."""

    def __init__(self, node: ast.DataAtom, stage: str | None, head: str | None):
        self.node, self.stage, self.head = node, stage, head
        self.reference: Tensor | None = None

    def measure(self, current: Tensor) -> tuple[bool, float]:
        if self.reference is None:  # frame 0: nothing to compare with, fire
            fires, value = True, 1.0
        else:
            if self.head is not None:
                diff = (current != self.reference).float().mean()
            else:
                diff = (current - self.reference).abs().mean()
            value = float(diff)  # the one host sync a data-driven decision needs
            fires = value >= self.node.theta if self.node.op == ">=" else value > self.node.theta
        if self.node.since == "previous" or fires:
            self.reference = current
        return fires, value


class Executor:
    """Runs one program with one staged network on one device.

    ``concurrency``: ``"auto"`` runs same-wave stages concurrently (streams on CUDA,
    threads on CPU); ``"sequential"`` runs them one after the other (for comparison).
    """

    def __init__(self, program: Program, net: StagedNetwork, device: str | torch.device = "cpu",
                 dtype: str = "float32", concurrency: str = "auto"):
        self.program = program
        self.planner = Planner(program)
        self.device = torch.device(device)
        if dtype not in DTYPES:
            raise InputError(f"unknown dtype '{dtype}'; use one of {', '.join(DTYPES)}")
        if dtype == "float16" and self.device.type != "cuda":
            raise InputError("--dtype float16 needs --device cuda (use float32 or bfloat16 on a CPU)")
        if concurrency not in ("auto", "sequential"):
            raise ValueError(f"concurrency must be 'auto' or 'sequential', got {concurrency!r}")
        self.dtype = DTYPES[dtype]
        self.net = net.to(self.device, self.dtype).eval()
        self.concurrency = concurrency
        g = program.graph
        self._stage = {s: g.nodes[f"stage:{s}"] for s in program.stages}
        self._previous = dict(zip(program.stages[1:], program.stages[:-1]))
        self._atom_specs = {a: g.nodes[f"measure:{a}"] for a in program.atoms}
        self._windows: dict = {}  # (head, input size) → cells of the map that see the image
        lanes = len(program.stages)
        self._pool = ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="cwdsl-lane") \
            if concurrency == "auto" and self.device.type == "cpu" and lanes > 1 else None
        self._streams = {s: torch.cuda.Stream(self.device) for s in program.stages} \
            if self.device.type == "cuda" and concurrency == "auto" else None
        self.reset()

    def reset(self) -> None:
        """Forget all state: the next frame is frame 0."""
        delays = {s: d["delay"] for s, d in self._stage.items()}
        depth = {s: 1 for s in self.program.stages}
        for stage, prev in self._previous.items():
            depth[prev] = max(depth[prev], delays[stage] + 1)
        self._features = {s: _History(depth[s]) for s in self.program.stages}
        self._scores: dict[str, dict[str, Tensor]] = {}
        self._atoms = {a: _Atom(d["atom"], getattr(d["atom"], "stage", None) and
                                d["atom"].stage.name, d["head"])
                       for a, d in self._atom_specs.items()}
        self._frame = 0

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    # -- one frame ---------------------------------------------------------------------
    def step(self, frame: Tensor) -> FrameResult:
        """Run the next frame: ``(1, 3, H, W)`` RGB in [0, 1] (see ``preprocess.frame_tensor``)."""
        t = self._frame
        self._pixels = frame.to(self.device, non_blocking=True)
        self._input = normalize(self._pixels.float(), self.net.spec.norm).to(self.dtype)
        atoms: dict[str, bool] = {}
        differences: dict[str, float] = {}
        stage_ms: dict[str, float] = {}
        computed: list[str] = []
        wave: list[Compute] = []
        start = time.perf_counter()
        with torch.inference_mode():
            for step in self.planner.walk(t, atoms):
                if isinstance(step, Compute):
                    if wave and wave[0].wave != step.wave:
                        self._run_wave(t, wave, stage_ms)
                        wave = []
                    wave.append(step)
                    computed.append(step.stage)
                    continue
                if wave:
                    self._run_wave(t, wave, stage_ms)
                    wave = []
                if isinstance(step, Cache):
                    self._features[step.stage].push(t, self._features[step.stage].current)
                elif isinstance(step, Measure):
                    atoms[step.atom], differences[step.atom] = self._measure(step)
                elif isinstance(step, Fuse):
                    scores = self._fuse(step)
            if self.device.type == "cuda":
                torch.cuda.current_stream(self.device).synchronize()
        latency = 1e3 * (time.perf_counter() - start)
        for stage, timing in stage_ms.items():
            if isinstance(timing, tuple):  # CUDA events, complete after the sync
                stage_ms[stage] = timing[0].elapsed_time(timing[1])
        self._frame += 1
        return FrameResult(t, scores, tuple(computed), atoms, differences, stage_ms, latency)

    def run(self, frames: Iterable[Tensor]) -> Iterator[FrameResult]:
        for frame in frames:
            yield self.step(frame)

    def _input_of(self, t: int, step: Compute) -> Tensor:
        prev = self._previous.get(step.stage)
        if prev is None:
            return self._input
        return self._features[prev].at(t - step.delay)

    def _run_wave(self, t: int, wave: list[Compute], stage_ms: dict[str, object]) -> None:
        # Inputs are resolved before any stage of the wave runs: a delayed stage reads
        # F[k-1](t - d), never the state its neighbour in the wave is producing.
        jobs = [(step, self._input_of(t, step)) for step in wave]
        if self._streams is not None:
            results = self._launch_cuda(jobs)
        elif self._pool is not None and len(jobs) > 1:
            results = list(self._pool.map(lambda job: self._compute(*job), jobs))
        else:
            results = [self._compute(step, x) for step, x in jobs]
        for step, (features, scores, timing) in zip(wave, results):
            self._features[step.stage].push(t, features)
            self._scores[step.stage] = scores
            stage_ms[step.stage] = timing

    def _compute(self, step: Compute, x: Tensor):
        """Run one stage here and now (CPU, or CUDA without lanes); time it."""
        with torch.inference_mode():
            start = time.perf_counter()
            data = self._stage[step.stage]
            features, scores = self.net.run_stage(x, data["first"], data["last"], data["heads"])
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
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
                data = self._stage[step.stage]
                features, scores = self.net.run_stage(x, data["first"], data["last"],
                                                      data["heads"])
                end.record(stream)
            x.record_stream(stream)
            results.append((features, scores, (begin, end)))
        for _, _, (_, end) in results:
            main.wait_event(end)
        return results

    def _measure(self, step: Measure) -> tuple[bool, float]:
        atom = self._atoms[step.atom]
        if atom.head is not None:
            hw = tuple(self._input.shape[-2:])
            window = self._windows.get((atom.head, hw))
            if window is None:
                window = self._windows[atom.head, hw] = self.net.head_window(atom.head, hw)
            current = self._scores[atom.stage][atom.head][:, :, window[0], window[1]].argmax(1)
        else:
            current = self._pixels
        return atom.measure(current)

    def _fuse(self, step: Fuse) -> Tensor:
        scores = {h: s for stage in step.stages for h, s in self._scores[stage].items()}
        return self.net.fuse(scores, tuple(self._input.shape[-2:]))
