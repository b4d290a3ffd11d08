"""The executor against the plain network and against a naive reference interpreter."""
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings, strategies as st

from cwdsl import compile_schedule, load
from cwdsl.lang import ast
from cwdsl.runtime.executor import Executor
from cwdsl.ir.graph import atom_id
from cwdsl.core.netspec import TINY
from cwdsl.nets import build_network
from cwdsl.nets.preprocess import normalize
from cwdsl.runtime.codecflow import CodecFlow
from cwdsl.runtime.flow import OpticalFlow
from cwdsl.runtime.warp import compose, state_grids, warp_state
from strategies import schedules

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return build_network("tiny").eval()


def frames_like(seed: int, count: int, size=(40, 48)):
    """Frames that sometimes repeat, sometimes drift, sometimes jump (so clocks vary)."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(1, 3, *size, generator=g)
    out = []
    for _ in range(count):
        kind = int(torch.randint(0, 3, (1,), generator=g))
        if kind == 1:
            base = (base + 0.05 * torch.randn(base.shape, generator=g)).clamp(0, 1)
        elif kind == 2:
            base = torch.rand(1, 3, *size, generator=g)
        out.append(base.clone())
    return out


@pytest.mark.parametrize("size", [(32, 32), (45, 61), (128, 128)])
def test_all_ones_schedule_equals_plain_forward_exactly(net, size):
    program = load(ROOT / "schedules" / "oracle.cw", network="tiny")
    executor = Executor(program, net)
    for x in frames_like(1, 3, size):
        result = executor.step(x)
        with torch.inference_mode():
            assert torch.equal(result.scores, net(normalize(x, net.spec.norm)))


def coded(frames):
    """``frames`` encoded with ``--codec``'s default H.264 and decoded: the decoded frames and
    each one's motion vectors (what ``warp(flow=codec)`` reads)."""
    from cwdsl.media.transcode import CodecSettings, transcode

    rgb = [(x[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy() for x in frames]
    out = transcode(rgb, CodecSettings())
    return [torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255 for f in out.frames], \
        list(out.motions)


def reference_run(program, net, frames, motions=None):
    """docs/language.md's semantics straight: full histories, every clock evaluated from its
    definition. ``motions``: each frame's motion vectors (for ``flow=codec``; P frames only,
    each pointing to the frame before)."""
    schedule = program.schedule
    stages = {s.name.name: s for s in schedule.stages}
    rules = {r.stage.name: r for r in schedule.rules}
    clocks = {c.name.name: c.expr for c in schedule.clocks}
    order = list(program.stages)
    F = {k: [] for k in order}
    S = {k: [] for k in order}
    reference = {}
    outputs = []

    def deepest(stage):
        return max((h.name for h in stages[stage].heads),
                   key=lambda h: TINY.layer_index(TINY.head(h).reads))

    fired_at = {}  # learned clocks: the frame, labels and pixels where each last fired

    def predicted_value(atom, t, x):
        key = atom_id(atom)
        model = program.measure(key).model
        labels = S[atom.stage.name][t][deepest(atom.stage.name)].argmax(1)
        if key not in fired_at:
            fires = True
        else:
            k, fired_labels, fired_x, prev_labels, prev_x = fired_at[key]
            signals = {"labeldiff_fired": (labels != fired_labels).numpy().mean(),
                       "labeldiff_previous": (labels != prev_labels).numpy().mean(),
                       "pixeldiff_fired": float((x - fired_x).abs().mean()),
                       "pixeldiff_previous": float((x - prev_x).abs().mean()),
                       "frames_since_fired": float(t - k)}
            value = model.predict({n: float(signals[n]) for n in model.signals})
            fires = value >= atom.theta if atom.op == ">=" else value > atom.theta
        if fires:
            fired_at[key] = (t, labels, x, labels, x)
        else:
            fired_at[key] = fired_at[key][:3] + (labels, x)
        return fires

    def atom_value(atom, t, x):
        key = atom_id(atom)
        if isinstance(atom, ast.Predicted):
            return predicted_value(atom, t, x)
        if isinstance(atom, ast.LabelDiff):
            head = deepest(atom.stage.name)
            scores = S[atom.stage.name][t][head]
            if atom.region == "image":  # only the cells that see the image
                ys, xs = net.head_window(head, x.shape[-2:])
                scores = scores[:, :, ys, xs]
            current = scores.argmax(1)  # region map: the whole score map (authors' code)
        else:
            current = x
        if key not in reference:
            fires = True
        else:  # label changes as the authors' numpy: a float64 mean of a boolean map
            diff = (current != reference[key]).numpy().mean() \
                if isinstance(atom, ast.LabelDiff) else (current - reference[key]).abs().mean()
            fires = float(diff) >= atom.theta if atom.op == ">=" else float(diff) > atom.theta
        if atom.since == "previous" or fires:
            reference[key] = current
        return fires

    def clock(expr, t, values):
        match expr:
            case ast.Const(v): return v == 1
            case ast.Every(n, p): return t % n == p
            case ast.LabelDiff() | ast.PixelDiff() | ast.Predicted():
                return values[atom_id(expr)]
            case ast.ClockRef(name): return clock(clocks[name.name], t, values)
            case ast.Not(e): return not clock(e, t, values)
            case ast.And(a, b): return clock(a, t, values) and clock(b, t, values)
            case ast.Or(a, b): return clock(a, t, values) or clock(b, t, values)

    atoms_by_stage = {}  # atoms are measured once per frame, as soon as their input exists
    for atom in dict.fromkeys(n for r in program.schedule.rules
                              for n in ast.walk_clock(r.clock)
                              if isinstance(n, ast.DATA_ATOMS)) | \
            dict.fromkeys(n for c in program.schedule.clocks for n in ast.walk_clock(c.expr)
                          if isinstance(n, ast.DATA_ATOMS) and atom_id(n) in program.atom_ids):
        after = atom.stage.name if isinstance(atom, ast.STAGE_ATOMS) else None
        if atom not in atoms_by_stage.get(after, []):
            atoms_by_stage.setdefault(after, []).append(atom)
    # Warps: each stage's last computed state and the frame it was computed on; each frame's
    # flow (t back to t-1) by method, composed per stage from its frame onwards.
    computed_at, totals, flows = {}, {}, {}

    def flow(method, t):
        if (method, t) not in flows:
            if method == "codec":
                assert motions[t].back == 1, "the reference composes frame by frame"
                flows[method, t] = CodecFlow()(motions[t], frames[t].shape[-2:]).flow
            else:
                flows[method, t] = OpticalFlow(method)(frames[t - 1], frames[t])
        return flows[method, t]

    with torch.inference_mode():
        for t, x in enumerate(frames):
            inp = normalize(x, net.spec.norm)
            values = {}
            for atom in atoms_by_stage.get(None, []):
                values[atom_id(atom)] = atom_value(atom, t, x)
            for i, k in enumerate(order):
                if t == 0 or clock(rules[k].clock, t, values):
                    source = inp if i == 0 else F[order[i - 1]][max(t - (rules[k].delay if t else 0), 0)]
                    st_ = stages[k]
                    feats, scores = net.run_stage(source, st_.first.name, st_.last.name,
                                                  tuple(h.name for h in st_.heads))
                    computed_at[k], totals[k] = (feats, scores), None
                elif rules[k].counter == "warp":  # the last computed state, moved
                    method = rules[k].flow.name
                    totals[k] = compose(flow(method, t), totals[k])
                    feats, scores = computed_at[k]
                    grids = state_grids(net, feats, scores, x.shape[-2:])
                    feats, scores = warp_state(feats, scores, totals[k], grids, x.shape[-2:])
                else:
                    feats, scores = F[k][t - 1], S[k][t - 1]
                F[k].append(feats)
                S[k].append(scores)
                for atom in atoms_by_stage.get(k, []):
                    values[atom_id(atom)] = atom_value(atom, t, x)
            fused = {h: s for k in program.output_stages for h, s in S[k][t].items()}
            outputs.append(net.fuse(fused, x.shape[-2:]))
    return outputs


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(schedules(networks=(TINY,)), st.integers(0, 2**16))
def test_executor_equals_reference_interpreter(net, schedule, seed):
    program = compile_schedule(schedule)
    frames, motions = frames_like(seed, 6), [None] * 6
    if any(f.method == "codec" for f in program.flows):
        frames, motions = coded(frames)
    # the executors first: they move the shared net to their memory format (channels_last),
    # which the reference then runs in too (a conv's bits depend on its layout)
    executors = [Executor(program, net, concurrency=c) for c in ("auto", "sequential")]
    expected = reference_run(program, net, frames, motions)
    for concurrency, executor in zip(("auto", "sequential"), executors):
        for x, motion, want in zip(frames, motions, expected):
            got = executor.step(x, motion=motion).scores
            assert torch.equal(got, want), f"frame {executor._frame - 1}, {concurrency}"
        executor.close()


def test_pipeline_runs_stages_in_one_wave_and_reads_the_previous_frame(net):
    program = load(ROOT / "schedules" / "pipeline3.cw", network="tiny")
    executor = Executor(program, net)
    frames = frames_like(3, 4)
    results = [executor.step(x) for x in frames]
    assert all(r.computed == ("s1", "s2", "s3") for r in results)
    # frame 1's output uses s3 computed from s2(0), from s1(0) … differs from the oracle
    oracle = Executor(load(ROOT / "schedules" / "oracle.cw", network="tiny"), net)
    oracle_scores = [oracle.step(x).scores for x in frames]
    assert torch.equal(results[0].scores, oracle_scores[0])
    assert not torch.equal(results[2].scores, oracle_scores[2])


def test_adaptive_clock_fires_on_change_and_not_on_still_frames():
    """s3 fires when s2's labels moved by θ = 0.03 since it last fired: on a cut to another
    scene and back, not on repeated frames. (The untrained ``net`` fixture labels every
    cell of every input alike, so its labels never move: the demo's trained weights and two
    rendered scenes instead.)"""
    from cwdsl.demo.scenes import generate_clip
    from cwdsl.nets.bundled import bundled_weights
    from cwdsl.nets.weights import load_weights

    trained = load_weights(build_network("tiny"), bundled_weights("tiny")).eval()
    program = load(ROOT / "schedules" / "adaptive.cw", network="tiny")
    (atom,) = program.atom_ids
    executor = Executor(program, trained)
    still, other = (torch.from_numpy(generate_clip(seed, 1, (64, 64)).frames[0])
                    .permute(2, 0, 1)[None].float() / 255 for seed in (1, 2))
    results = [executor.step(x) for x in [still, still, still, other, other, still]]
    assert [("s3" in r.computed) for r in results] == [True, False, False, True, False, True]
    moved = [r.differences[atom] for r in results]
    assert moved[1] == moved[2] == moved[4] == 0.0  # the same frame as when s3 fired
    assert moved[3] >= 0.03 and moved[5] >= 0.03   # a cut: the labels moved past θ


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["pipeline3", "adaptive", "exponential"])
def test_cuda_streams_match_cpu(net, name):
    program = load(ROOT / "schedules" / f"{name}.cw", network="tiny")
    cpu = Executor(program, net)
    cuda_net = build_network("tiny")
    cuda_net.load_state_dict(net.state_dict())
    gpu = Executor(program, cuda_net, device="cuda")
    for x in frames_like(7, 5):
        a, b = cpu.step(x), gpu.step(x)
        assert a.computed == b.computed
        torch.testing.assert_close(b.scores.cpu(), a.scores, rtol=1e-3, atol=1e-3)
