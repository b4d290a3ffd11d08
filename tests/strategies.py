"""Hypothesis strategies for valid schedules (ASTs) over the registered networks.

Every schedule drawn here passes the checker: stages tile a prefix of the network and
each owns at least one head; named clocks only refer to clocks declared before them;
a clock gating stage k reads only earlier stages, so no clock reads its own stage.
With ``fits=True`` a compute rule's clock may hold ``fits(D)`` or a bare ``fits`` (never a
named clock: the checker refuses it there) and the network line may carry ``deadline D``;
a bare ``fits`` may come without any deadline (valid text, refused only when planned).
"""
from __future__ import annotations

import json
import string
import tempfile
from pathlib import Path

from hypothesis import strategies as st

from cwdsl.core.clockmodel import SIGNALS, make_model
from cwdsl.lang import ast
from cwdsl.core.netspec import FCN8S, TINY

KEYWORDS = {"network", "input", "stage", "head", "clock", "compute", "when", "delay", "else",
            "cache", "output", "fuse", "every", "phase", "labeldiff", "pixeldiff", "since",
            "fired", "previous", "region", "map", "image", "and", "or", "not", "warp", "flow",
            "predicted", "model", "fits", "deadline"}

names = st.text(string.ascii_lowercase, min_size=1, max_size=3).map(lambda s: "c" + s) \
    .filter(lambda n: n not in KEYWORDS)
thetas = st.floats(0.0, 1.0, allow_nan=False)
# deadlines, drawn in milliseconds or in seconds: above 0, finite, at most an hour
durations = st.one_of(
    st.floats(0.0, ast.MAX_DEADLINE_MS, exclude_min=True),
    st.floats(0.0, ast.MAX_DEADLINE_MS / 1e3, exclude_min=True).map(lambda s: s * 1e3)
    .filter(lambda ms: 0 < ms <= ast.MAX_DEADLINE_MS),
    st.sampled_from([40.0, 33.3, 66.0, 0.5, 1000.0, ast.MAX_DEADLINE_MS])).map(ast.Duration)


def I(name: str) -> ast.Ident:  # noqa: E743 - short on purpose
    return ast.Ident(name)


_MODELS = Path(tempfile.mkdtemp(prefix="cwdsl-clock-models-"))


def clock_model_file(network: str, head: str) -> str:
    """A valid clock model for ``network``'s ``head`` (written once per session)."""
    path = _MODELS / f"{network}-{head}.json"
    if not path.exists():
        n = len(SIGNALS)
        model = make_model(network, head, list(SIGNALS), [0.0] * n, [1.0] * n,
                           [([[0.5] * n, [-0.5] * n], [0.0, 0.1]), ([[1.0, -1.0]], [-1.0])],
                           {"made by": "tests/strategies.py"})
        path.write_text(json.dumps(model.to_json()))
    return str(path)


@st.composite
def stage_splits(draw, spec):
    """Stages (first, last, heads) tiling a prefix of ``spec``'s layers."""
    layers = spec.layer_names
    head_at = {layers.index(h.reads): h.name for h in spec.heads}
    positions = sorted(head_at)
    chosen = sorted(draw(st.lists(st.sampled_from(positions), min_size=1, unique=True)))
    stages, start = [], 0
    for i, pos in enumerate(chosen):
        upper = chosen[i + 1] - 1 if i + 1 < len(chosen) else len(layers) - 1
        end = draw(st.integers(pos, upper))
        inside = [head_at[p] for p in positions if start <= p <= end and p != pos]
        extra = draw(st.lists(st.sampled_from(inside), unique=True)) if inside else []
        heads = sorted([head_at[pos], *extra], key=lambda h: layers.index(spec.head(h).reads))
        stages.append((layers[start], layers[end], tuple(heads)))
        start = end + 1
    return stages


def clock_exprs(readable: list[str], clock_names: list[str], models: dict | None = None,
                fits: bool = False):
    """Random clock expressions reading only ``readable`` stages and ``clock_names``;
    ``models`` maps a readable stage to a clock model file for its deepest head; ``fits``:
    ``fits(D)`` and bare ``fits`` atoms too (only for a compute rule's clock)."""
    leaves = [st.builds(ast.Const, st.sampled_from([0, 1])),
              st.integers(1, 8).flatmap(lambda n: st.builds(ast.Every, st.just(n),
                                                             st.integers(0, n - 1))),
              st.builds(ast.PixelDiff, st.sampled_from(["previous", "fired"]),
                        st.sampled_from([">=", ">"]), thetas)]
    if readable:
        leaves.append(st.builds(ast.LabelDiff, st.sampled_from(readable).map(I),
                                st.sampled_from(["previous", "fired"]),
                                st.sampled_from([">=", ">"]), thetas,
                                st.sampled_from(ast.REGIONS)))
        modelled = [n for n in readable if models and n in models]
        if modelled:
            leaves.append(st.sampled_from(modelled).flatmap(lambda n: st.builds(
                ast.Predicted, st.just(I(n)), st.just(ast.ModelRef(models[n], True)),
                st.sampled_from([">=", ">"]), thetas)))
    if clock_names:
        leaves.append(st.sampled_from(clock_names).map(lambda n: ast.ClockRef(I(n))))
    if fits:
        leaves.append(st.builds(ast.Fits, st.none() | durations))
    return st.recursive(
        st.one_of(leaves),
        lambda inner: st.one_of(st.builds(ast.Not, inner), st.builds(ast.And, inner, inner),
                                st.builds(ast.Or, inner, inner)),
        max_leaves=5)


@st.composite
def schedules(draw, networks=(FCN8S, TINY), fits=False):
    """A valid :class:`cwdsl.lang.ast.Schedule`; ``fits``: with ``fits`` atoms in compute
    rules' clocks and sometimes a frame deadline on the network line."""
    spec = draw(st.sampled_from(networks))
    size = draw(st.none() | st.builds(ast.Size, st.integers(1, 600), st.integers(1, 600)))
    deadline = draw(st.none() | durations) if fits else None
    split = draw(stage_splits(spec))
    stage_names = draw(st.lists(names, min_size=len(split), max_size=len(split), unique=True))
    stages = tuple(ast.StageDecl(I(n), I(f), I(l), tuple(map(I, h)))
                   for n, (f, l, h) in zip(stage_names, split))
    models = {n: clock_model_file(spec.name, spec.deepest_head(h))
              for n, (_, _, h) in zip(stage_names, split)
              if spec.head(spec.deepest_head(h)).kind == "scores"}
    # Named clocks, each reading only earlier clocks; remember which stages each reads.
    clocks, reads = [], {}
    for name in draw(st.lists(names.filter(lambda n: n not in stage_names), max_size=3,
                              unique=True)):
        expr = draw(clock_exprs(stage_names, [c.name.name for c in clocks], models))
        reads[name] = _reads(expr, reads)
        clocks.append(ast.ClockDecl(I(name), expr))
    rules = []
    for k, name in enumerate(stage_names):
        earlier = stage_names[:k]
        usable = [c for c, r in reads.items() if r <= set(earlier)]
        expr = draw(clock_exprs(earlier, usable, models, fits=fits))
        delay = 0 if k == 0 else draw(st.integers(0, 2))
        otherwise = draw(st.sampled_from([None, "cache", "warp"]))
        flow = I(draw(st.sampled_from(ast.FLOW_METHODS))) if otherwise == "warp" else None
        rules.append(ast.ComputeRule(I(name), expr, delay, otherwise, flow))
    order = draw(st.permutations(rules))
    outputs = draw(st.lists(st.sampled_from(stage_names), min_size=1, unique=True))
    return ast.Schedule(ast.NetworkDecl(I(spec.name), size, deadline), stages, tuple(clocks),
                        tuple(order), ast.OutputDecl(tuple(map(I, outputs))))


def _reads(expr, reads):
    out = set()
    for node in ast.walk_clock(expr):
        if isinstance(node, ast.STAGE_ATOMS):
            out.add(node.stage.name)
        elif isinstance(node, ast.ClockRef):
            out |= reads[node.name.name]
    return out
