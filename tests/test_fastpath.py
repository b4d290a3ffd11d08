"""The executor's fast path: memory format, torch.compile, CUDA graphs (cwdsl.runtime.stagerun).

On a CPU: channels_last gives the labels contiguous gives; compiled stages equal eager ones;
the graphed runner's data flow (static buffers overwritten by every replay, clones kept) is
run with a stand-in for the capture. On a GPU (skipped here): real CUDA graphs against the
eager executor over a clip, for the oracle, adaptive and pipeline3 schedules.
"""
from pathlib import Path

import pytest
import torch

import cwdsl.runtime.executor as executor_module
from cwdsl import compile_text, load
from cwdsl.core.errors import InputError
from cwdsl.demo.clip import demo_clip
from cwdsl.nets import build_network
from cwdsl.nets.bundled import bundled_weights
from cwdsl.nets.preprocess import frame_tensor
from cwdsl.nets.weights import load_weights
from cwdsl.runtime.device import memory_format
from cwdsl.runtime.executor import Executor
from cwdsl.runtime.stagerun import (CompiledRunner, GraphedRunner, StageRunner, make_runner,
                                    stage_function)

ROOT = Path(__file__).resolve().parents[1]
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def tiny():
    net = build_network("tiny")
    load_weights(net, bundled_weights("tiny"))
    return net.eval()


def fcn8s():
    torch.manual_seed(0)
    return build_network("fcn8s").eval()


def clip(frames: int):
    return [frame_tensor(f) for f in demo_clip(frames).frames]


def moving(count: int, size=(64, 80), seed=3):
    """Frames that drift, with a new scene every 4th (the demo clip starts still)."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(1, 3, *size, generator=g)
    out = []
    for t in range(count):
        base = torch.rand(1, 3, *size, generator=g) if t % 4 == 3 else \
            (base + 0.1 * torch.randn(base.shape, generator=g)).clamp(0, 1)
        out.append(base.clone())
    return out


DELAYED = """
network tiny
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr
compute s1 when 1
compute s2 when 1 delay 2
compute s3 when every 2 delay 1 else cache
output fuse(s1, s2, s3)
"""
"""Stage 2 reads stage 1's state of two frames back, which stage 1 has recomputed since."""


def program(name: str, network: str = "tiny"):
    if name == "delayed":
        return compile_text(DELAYED, "<delayed>", network)
    return load(ROOT / "schedules" / f"{name}.cw", network=network)


def run(executor: Executor, frames) -> list:
    results = [executor.step(x) for x in frames]
    executor.close()
    return results


def assert_same(got, want, atol=1e-4, rtol=1e-4, labels_off=0.0):
    """Same stages computed, same labels (or at most a ``labels_off`` fraction differing:
    float16 near-ties), scores close."""
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.computed == b.computed
        off = (a.labels.cpu() != b.labels.cpu()).float().mean().item()
        assert off <= labels_off, f"frame {a.frame}: {100 * off:.3f}% of labels differ"
        torch.testing.assert_close(a.scores.float().cpu(), b.scores.float().cpu(),
                                   atol=atol, rtol=rtol)


# -- memory format ---------------------------------------------------------------------------
@pytest.mark.parametrize("make, frames, schedule", [(tiny, 120, "oracle"), (tiny, 120, "adaptive"),
                                                    (fcn8s, 4, "oracle")])
def test_channels_last_gives_the_labels_of_contiguous_on_the_demo_clip(make, frames, schedule):
    xs = clip(frames)
    net = make()
    name = "tiny" if make is tiny else "fcn8s"
    contiguous = run(Executor(program(schedule, name), net, memory_format="contiguous"), xs)
    last = run(Executor(program(schedule, name), net, memory_format="channels_last"), xs)
    conv = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not conv.weight.is_contiguous()
    assert_same(last, contiguous)


def test_memory_format_names():
    cpu = torch.device("cpu")
    assert memory_format("contiguous", cpu, torch.float32) == torch.contiguous_format
    assert memory_format("channels_last", cpu, torch.float32) == torch.channels_last
    assert memory_format("auto", cpu, torch.bfloat16) == torch.channels_last
    with pytest.raises(InputError, match="memory format"):
        memory_format("nhwc", cpu, torch.float32)


def test_channels_last_on_espnet_agrees_with_contiguous():
    torch.manual_seed(0)
    net = build_network("espnet").eval()
    oracle = compile_text(
        "network espnet\nstage s1 = level1 .. b1 head feat_l1\n"
        "stage s2 = level2_0 .. b2 head level3_C\nstage s3 = level3_0 .. b3 head score_l3\n"
        "compute s1 when 1\ncompute s2 when 1 delay 1\ncompute s3 when every 2\n"
        "output fuse(s1, s2, s3)\n", "<espnet>")
    xs = moving(4, (48, 64))
    contiguous = run(Executor(oracle, net, memory_format="contiguous"), xs)
    assert_same(run(Executor(oracle, net, memory_format="channels_last"), xs), contiguous)


# -- latency from the call --------------------------------------------------------------------
def test_latency_counts_the_upload_and_normalisation(monkeypatch):
    import time

    normalize = executor_module.normalize

    def slow_normalize(x, norm):
        time.sleep(0.05)
        return normalize(x, norm)

    executor = Executor(program("skipframe"), tiny())
    monkeypatch.setattr(executor_module, "normalize", slow_normalize)
    result = executor.step(clip(1)[0])
    assert result.latency_ms >= 50
    assert result.latency_ms >= sum(result.stage_ms.values()) + 50


# -- runners on a CPU -------------------------------------------------------------------------
def test_stage_function_is_run_stage():
    net = tiny()
    x = torch.rand(1, 3, 64, 64)
    plan = net.plan("conv1_1", "pool3", ("score_pool3",))
    with torch.inference_mode():
        features, heads = net.run_stage(x, "conv1_1", "pool3", ("score_pool3",))
        keeps, outputs = stage_function(net, plan)(net.stage_input(plan, x))
    assert set(keeps) == set(features) and set(outputs) == set(heads)
    for k in keeps:
        assert torch.equal(keeps[k], features[k])
    for h in outputs:
        assert torch.equal(outputs[h], heads[h])


def test_cuda_graphs_on_a_cpu_is_an_input_error():
    with pytest.raises(InputError, match="cuda"):
        Executor(program("oracle"), tiny(), "cpu", cuda_graphs=True)
    with pytest.raises(InputError, match="cuda"):
        make_runner(tiny(), torch.device("cpu"), cuda_graphs=True)
    assert isinstance(make_runner(tiny(), torch.device("cpu")), StageRunner)
    assert isinstance(make_runner(tiny(), torch.device("cpu"), compile=True), CompiledRunner)


class ReplayedOnCpu:
    """Stands in for a CUDA graph on a CPU: static inputs and static outputs that every
    replay overwrites in place, as a real graph's do."""

    def __init__(self, fn, inputs, device):
        self.fn = fn
        self.inputs = {name: t.clone() for name, t in inputs.items()}
        self.outputs = fn(self.inputs)
        self.outputs = torch.utils._pytree.tree_map(lambda t: t.clone(), self.outputs)
        self.replays = 0

    def replay(self, inputs):
        for name, static in self.inputs.items():
            static.copy_(inputs[name])
        fresh = self.fn(self.inputs)
        torch.utils._pytree.tree_map(lambda static, new: static.copy_(new), self.outputs, fresh)
        self.replays += 1
        return self.outputs


@pytest.mark.parametrize("schedule", ["oracle", "adaptive", "pipeline3", "exponential",
                                      "delayed"])
@pytest.mark.parametrize("concurrency", ["auto", "sequential"])
def test_graphed_runner_data_flow_keeps_its_outputs(schedule, concurrency, monkeypatch):
    """The executor over a graphed runner whose 'graphs' overwrite their outputs on every
    replay gives the eager executor's results: what is kept across frames is a copy."""
    monkeypatch.setattr(GraphedRunner, "capture", ReplayedOnCpu)
    xs = moving(12)
    net = tiny()
    eager = run(Executor(program(schedule), net, concurrency=concurrency), xs)
    graphed = Executor(program(schedule), net, concurrency=concurrency)
    graphed.runner = GraphedRunner(net, torch.device("cuda"))
    got = run(graphed, xs)
    assert_same(got, eager, atol=0, rtol=0)
    stages = len(program(schedule).stages)
    assert graphed.runner.graphs == stages + 1  # one per stage and the fuse, one shape


@pytest.mark.slow
def test_compiled_stages_equal_eager_on_tiny():
    xs = moving(6)
    net = tiny()
    for schedule in ("oracle", "pipeline3"):
        eager = run(Executor(program(schedule), net, concurrency="sequential"), xs)
        compiled = Executor(program(schedule), net, concurrency="sequential", compile=True)
        assert isinstance(compiled.runner, CompiledRunner)
        assert_same(run(compiled, xs), eager)


# -- on a GPU ---------------------------------------------------------------------------------
@CUDA
@pytest.mark.parametrize("schedule", ["oracle", "adaptive", "pipeline3", "delayed"])
@pytest.mark.parametrize("concurrency", ["auto", "sequential"])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_cuda_graphs_equal_eager_over_a_clip(schedule, concurrency, dtype):
    xs = clip(120)[40:56] + moving(16)
    net = tiny()
    eager = run(Executor(program(schedule), net, "cuda", dtype, concurrency), xs)
    graphed = Executor(program(schedule), net, "cuda", dtype, concurrency, cuda_graphs=True)
    got = run(graphed, xs)
    tol = 1e-4 if dtype == "float32" else 1e-2
    assert_same(got, eager, atol=tol, rtol=tol, labels_off=0.0 if dtype == "float32" else 1e-3)
    assert graphed.runner.graphs == len(program(schedule).stages) + 1
    assert all(isinstance(ms, float) for r in got for ms in r.stage_ms.values())


@CUDA
def test_cuda_graphs_on_fcn8s_pipeline_and_a_new_size():
    """fcn8s's stages as graphs; a new input size (after a reset: a pipeline cannot mix
    sizes) captures new graphs beside the old ones."""
    net = fcn8s()
    for schedule in ("pipeline3", "skipframe"):
        eager = Executor(program(schedule, "fcn8s"), net, "cuda")
        graphed = Executor(program(schedule, "fcn8s"), net, "cuda", cuda_graphs=True)
        for size in ((96, 96), (64, 80), (96, 96)):
            xs = moving(5, size)
            eager.reset()
            graphed.reset()
            assert_same([graphed.step(x) for x in xs], [eager.step(x) for x in xs],
                        atol=1e-3, rtol=1e-3)
        assert graphed.runner.graphs == 2 * (len(program(schedule, "fcn8s").stages) + 1)
        eager.close()
        graphed.close()


@CUDA
def test_sequential_cuda_stage_times_are_events():
    executor = Executor(program("oracle"), tiny(), "cuda", concurrency="sequential")
    results = run(executor, clip(3))
    for r in results:
        assert set(r.stage_ms) == {"s1", "s2", "s3"}
        assert all(ms > 0 for ms in r.stage_ms.values())
        assert r.latency_ms >= max(r.stage_ms.values())


# -- the command line -------------------------------------------------------------------------
def test_cuda_graphs_on_a_cpu_is_a_clear_command_line_error(capsys):
    from cwdsl.commands.main import main

    assert main(["run", "schedules/oracle.cw", "--device", "cpu", "--cuda-graphs",
                 "--max-frames", "2", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--cuda-graphs needs --device cuda" in err and "Traceback" not in err


def test_run_options_reach_the_executor(monkeypatch):
    from cwdsl.commands.main import main
    import cwdsl.run.run as run_module

    made = []

    class Recording(Executor):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(run_module, "Executor", Recording)
    assert main(["run", "schedules/skipframe.cw", "--no-channels-last", "--max-frames", "2",
                 "--quiet", "--no-oracle"]) == 0
    assert made[0].memory_format == torch.contiguous_format
    assert made[0].runner.kind == "eager"


@CUDA
@pytest.mark.slow
def test_compiled_cuda_graphs_equal_eager():
    xs = moving(8)
    net = tiny()
    for schedule in ("oracle", "pipeline3"):
        eager = run(Executor(program(schedule), net, "cuda"), xs)
        both = Executor(program(schedule), net, "cuda", compile=True, cuda_graphs=True)
        assert both.runner.kind == "graphed compiled"
        assert_same(run(both, xs), eager, atol=1e-3, rtol=1e-3)
