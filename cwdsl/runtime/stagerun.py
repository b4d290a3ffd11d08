"""How the executor runs a stage and the fuse: eagerly, compiled, or replayed as CUDA graphs.

A :class:`StageRunner` does two things for one network on one device: run a stage's layer
range and heads (:meth:`StagedNetwork.run_stage`) and fuse head outputs
(:meth:`StagedNetwork.fuse`), each returning tensors the caller owns. The family:

* :class:`EagerRunner` calls the network (the reference, and the cheapest on a host);
* :class:`CompiledRunner` calls one ``torch.compile``-d function per stage and one for the
  fuse (on CPU and CUDA; recompiled per input shape by torch's guards);
* :class:`GraphedRunner` (CUDA only) captures each stage and the fuse once per input shape
  and dtype as a CUDA graph over static input buffers, warmed up on a side stream first,
  and replays it on the current stream (a pipeline lane's stream when the executor
  launches lanes). Every replay copies its inputs into the static buffers and clones the
  static outputs before returning them: the executor keeps stage states across frames
  (delays, caches, warps), and the next replay of the same graph overwrites its outputs.
  It runs the functions of an inner runner, eager or compiled.

:func:`make_runner` builds the one an executor's options ask for; ``cwdsl profile`` can
time the same path by calling a runner's :meth:`~StageRunner.run_stage` and
:meth:`~StageRunner.fuse` instead of the network's.
"""
from __future__ import annotations

import threading
import types
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor

from cwdsl.core.errors import InputError
from cwdsl.nets.staged import Features, StagedNetwork, StagePlan

StageFn = Callable[[dict], tuple[dict, dict]]
"""A stage as a pure function: the tensors it needs (name → tensor) in, the tensors it
hands on (``StagePlan.keeps``) and its heads' outputs out."""
FuseFn = Callable[[dict], Tensor]
"""A fuse at one input size as a function: head name → output in, scores out."""

WARMUP_RUNS = 3
"""Eager runs on a side stream before a capture (cuDNN picks its algorithms, the
allocator settles), as PyTorch's CUDA graph notes advise."""


def stage_function(net: StagedNetwork, plan: StagePlan) -> StageFn:
    """``plan`` as a :data:`StageFn` over ``net`` (what compiling and capturing wrap)."""
    def run(inputs: dict) -> tuple[dict, dict]:
        env = dict(inputs)
        outputs = net.execute(plan, env)
        return {k: env[k] for k in plan.keeps}, outputs
    return run


def fuse_function(net: StagedNetwork, input_hw: tuple[int, int]) -> FuseFn:
    """``net``'s fuse at ``input_hw`` as a :data:`FuseFn`."""
    return lambda heads: net.fuse(heads, input_hw)


class StageRunner:
    """Runs stages and fuses of ``net``. The eager path; subclasses change how."""

    kind = "eager"

    def __init__(self, net: StagedNetwork):
        self.net = net

    def run_stage(self, x: Tensor | Mapping[str, Tensor], first: str, last: str,
                  heads: Sequence[str] = ()) -> tuple[Features, dict[str, Tensor]]:
        """As :meth:`StagedNetwork.run_stage`: the :class:`Features` handed on and head
        name → output, both owned by the caller."""
        return self.net.run_stage(x, first, last, heads)

    def fuse(self, heads: Mapping[str, Tensor], input_hw: Sequence[int]) -> Tensor:
        """As :meth:`StagedNetwork.fuse` (the scores are owned by the caller)."""
        return self.net.fuse(heads, input_hw)

    # What compiling and capturing wrap: a stage's and a fuse's function.
    def stage_fn(self, plan: StagePlan) -> StageFn:
        return stage_function(self.net, plan)

    def fuse_fn(self, input_hw: tuple[int, int]) -> FuseFn:
        return fuse_function(self.net, input_hw)


EagerRunner = StageRunner


class CompiledRunner(StageRunner):
    """Each stage and the fuse through ``torch.compile`` (``dynamic=False``: one
    specialised program per input shape). Inputs are checked eagerly as the network
    checks them; a shape seen first compiles under a lock (lanes are threads on a CPU)."""

    kind = "compiled"

    def __init__(self, net: StagedNetwork, mode: str | None = None):
        super().__init__(net)
        self.mode = mode
        self._stages: dict[StagePlan, StageFn] = {}
        self._fuses: dict[tuple[int, int], FuseFn] = {}
        self._seen: set[tuple] = set()
        self._lock = threading.Lock()

    def _compile(self, fn, name: str):
        # Dynamo keeps its compiled code on the function's code object, with guards on the
        # closure: every stage of every runner would share stage_function's one code
        # object and soon pass torch's recompile limit (then run eagerly, unsaid). A copy
        # of the code per function gives each its own cache.
        code = fn.__code__.replace(co_name=name)
        own = types.FunctionType(code, fn.__globals__, name, fn.__defaults__, fn.__closure__)
        return torch.compile(own, dynamic=False, mode=self.mode)

    def stage_fn(self, plan: StagePlan) -> StageFn:
        fn = self._stages.get(plan)
        if fn is None:
            fn = self._stages[plan] = self._compile(stage_function(self.net, plan),
                                                    f"stage_{plan.first}_{plan.last}")
        return fn

    def fuse_fn(self, input_hw: tuple[int, int]) -> FuseFn:
        fn = self._fuses.get(input_hw)
        if fn is None:
            fn = self._fuses[input_hw] = self._compile(fuse_function(self.net, input_hw),
                                                       f"fuse_{input_hw[0]}x{input_hw[1]}")
        return fn

    def _call(self, key: tuple, fn, arg):
        if key in self._seen:
            return fn(arg)
        with self._lock:  # the first call of a shape compiles: one at a time
            out = fn(arg)
            self._seen.add(key)
        return out

    def run_stage(self, x, first, last, heads=()):
        plan = self.net.plan(first, last, heads)
        inputs = self.net.stage_input(plan, x)
        keeps, outputs = self._call((plan, _signature(inputs)), self.stage_fn(plan), inputs)
        return Features(keeps), outputs

    def fuse(self, heads, input_hw):
        hw = (int(input_hw[0]), int(input_hw[1]))
        heads = dict(heads)
        out = self._call((hw, _signature(heads)), self.fuse_fn(hw), heads)
        _check_classes(self.net, out)
        return out


class CapturedGraph:
    """One CUDA graph over static inputs: what it reads, what it writes."""

    def __init__(self, fn, inputs: dict[str, Tensor], device: torch.device):
        self.inputs = {name: t.clone() for name, t in inputs.items()}
        current = torch.cuda.current_stream(device)
        side = torch.cuda.Stream(device)
        side.wait_stream(current)  # the static inputs are filled on the current stream
        with torch.cuda.stream(side):
            for _ in range(WARMUP_RUNS):
                fn(self.inputs)
        current.wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        # A private memory pool per graph: the frame plan replays any subset of them, in
        # any order and on several streams, which a shared pool would not allow.
        with torch.cuda.graph(self.graph):
            self.outputs = fn(self.inputs)

    def replay(self, inputs: Mapping[str, Tensor]):
        """Copy ``inputs`` in, replay on the current stream; the static outputs (to be
        cloned by the caller before anything else replays this graph)."""
        for name, static in self.inputs.items():
            static.copy_(inputs[name], non_blocking=True)
        self.graph.replay()
        return self.outputs


def _signature(tensors: Mapping[str, Tensor]) -> tuple:
    return tuple((name, tuple(t.shape), t.dtype) for name, t in tensors.items())


def _check_classes(net: StagedNetwork, out: Tensor) -> None:
    if out.shape[1] != net.spec.num_classes:
        raise InputError(f"network {net.spec.name}: its fuse gives {out.shape[1]} "
                         f"channels, but the network has {net.spec.num_classes} classes")


class GraphedRunner(StageRunner):
    """Each stage and the fuse captured as a CUDA graph per (input shapes, dtypes), over
    the functions of ``inner`` (eager or compiled), replayed on the current stream; the
    outputs are clones, owned by the caller."""

    kind = "graphed"

    def __init__(self, net: StagedNetwork, device: torch.device, inner: StageRunner | None = None):
        if device.type != "cuda":
            raise InputError(f"CUDA graphs need a CUDA device, not {device}")
        super().__init__(net)
        self.device = device
        self.inner = inner or StageRunner(net)
        self.kind = "graphed" if self.inner.kind == "eager" else f"graphed {self.inner.kind}"
        self._graphs: dict[tuple, CapturedGraph] = {}

    capture = CapturedGraph
    """What captures a graph: ``capture(fn, inputs, device)`` with ``inputs`` (static
    clones), ``replay(inputs)`` (tests replace it to run the data flow on a CPU)."""

    def _graph(self, key: tuple, make_fn, inputs: dict[str, Tensor]) -> CapturedGraph:
        graph = self._graphs.get(key)
        if graph is None:
            graph = self._graphs[key] = self.capture(make_fn(), inputs, self.device)
        return graph

    @property
    def graphs(self) -> int:
        """How many graphs were captured (one per stage, fuse and input shape)."""
        return len(self._graphs)

    def run_stage(self, x, first, last, heads=()):
        plan = self.net.plan(first, last, heads)
        inputs = self.net.stage_input(plan, x)
        graph = self._graph(("stage", plan, _signature(inputs)),
                            lambda: self.inner.stage_fn(plan), inputs)
        keeps, outputs = graph.replay(inputs)
        return (Features({k: t.clone() for k, t in keeps.items()}),
                {h: t.clone() for h, t in outputs.items()})

    def fuse(self, heads, input_hw):
        hw = (int(input_hw[0]), int(input_hw[1]))
        heads = dict(heads)
        graph = self._graph(("fuse", hw, _signature(heads)), lambda: self.inner.fuse_fn(hw),
                            heads)
        out = graph.replay(heads).clone()
        _check_classes(self.net, out)
        return out


def make_runner(net: StagedNetwork, device: torch.device, compile: bool = False,
                cuda_graphs: bool = False) -> StageRunner:
    """The runner for an executor's options: eager; ``compile``: through ``torch.compile``;
    ``cuda_graphs``: replayed as CUDA graphs (of the compiled functions with both). An
    ``InputError`` for CUDA graphs on a device that is not CUDA."""
    if cuda_graphs and device.type != "cuda":
        raise InputError(f"--cuda-graphs needs --device cuda (the device is {device.type})")
    runner = CompiledRunner(net) if compile else StageRunner(net)
    return GraphedRunner(net, device, runner) if cuda_graphs else runner
