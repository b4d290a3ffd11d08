"""Label differences: the region they compare (``region=map|image``), their exact float64
fraction (ties decide as the authors' numpy mean), and heads they may not read."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from cwdsl import compile_schedule, compile_text, load, parse, print_schedule
from cwdsl.commands.main import main
from cwdsl.core.errors import ScheduleError
from cwdsl.core.netspec import Head, Layer, NetworkSpec, register_network
from cwdsl.lang import ast
from cwdsl.nets import build_network
from cwdsl.nets.preprocess import normalize
from cwdsl.runtime.executor import Executor
from cwdsl.runtime.measure import AtomState, AtomTest, changed_fraction
from cwdsl.cost.network import network_cost
from test_checker import expectation

ROOT = Path(__file__).resolve().parents[1]

STAGES = """network tiny
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr
"""


def schedule(clock: str) -> str:
    return STAGES + f"compute s1 when 1\ncompute s2 when 1\ncompute s3 when {clock}\n" \
                    "output fuse(s1, s2, s3)\n"


def atom(text: str) -> ast.LabelDiff:
    return parse(schedule(text)).rules[2].clock


# -- the language --------------------------------------------------------------------

@pytest.mark.parametrize("written, since, region", [
    ("labeldiff(s2) >= 0.25", "fired", "map"),
    ("labeldiff(s2, since=previous) >= 0.25", "previous", "map"),
    ("labeldiff(s2, region=image) >= 0.25", "fired", "image"),
    ("labeldiff(s2, region=map) >= 0.25", "fired", "map"),
    ("labeldiff(s2, since=previous, region=image) >= 0.25", "previous", "image"),
    ("labeldiff(s2, region=image, since=previous) >= 0.25", "previous", "image"),
    ("labeldiff(s2,region = image ,since= fired) >= 0.25", "fired", "image"),
])
def test_keywords_in_any_order_with_defaults(written, since, region):
    node = atom(written)
    assert (node.since, node.region) == (since, region)


def test_canonical_text_names_the_region_only_when_it_is_not_the_default():
    text = print_schedule(parse(schedule(
        "labeldiff(s2, region=image, since=previous) > 0.1 or labeldiff(s2, region=map) > 0.2")))
    assert ("compute s3 when labeldiff(s2, since=previous, region=image) > 0.1 or "
            "labeldiff(s2, since=fired) > 0.2\n") in text
    assert parse(text) == parse(schedule("labeldiff(s2, since=previous, region=image) > 0.1 "
                                         "or labeldiff(s2) > 0.2"))


def test_the_two_regions_are_two_measurements():
    program = compile_text(schedule("labeldiff(s2) > 0.1 or labeldiff(s2, region=image) > 0.1"))
    regions = {m.atom: (m.head, m.region) for m in program.measures}
    assert regions == {"labeldiff(s2, since=fired) > 0.1": ("score_pool4", "map"),
                       "labeldiff(s2, since=fired, region=image) > 0.1": ("score_pool4", "image")}
    pixel = compile_text(schedule("pixeldiff() > 0.1")).measures[0]
    assert (pixel.head, pixel.region) == (None, None)


def test_region_made_in_code_is_checked():
    parsed = parse(schedule("labeldiff(s2) > 0.1"))
    rule = parsed.rules[2]
    bad = replace(parsed, rules=(*parsed.rules[:2],
                                 replace(rule, clock=replace(rule.clock, region="imag"))))
    with pytest.raises(ScheduleError, match="labeldiff region must be map or image, got 'imag'"
                                            "; did you mean 'image'"):
        compile_schedule(bad)


def test_region_keywords_are_reserved():
    with pytest.raises(ScheduleError, match="'region' is a reserved word"):
        parse("network tiny stage region = conv1_1 .. fc7 head score_fr "
              "compute region when 1 output fuse(region)")


# -- explain and graph show a region that is not the default --------------------------

def test_explain_and_graph_show_the_region(tmp_path, capsys):
    path = tmp_path / "image.cw"
    path.write_text(schedule("labeldiff(s2, region=image) >= 0.25 else cache"))
    assert main(["explain", str(path), "--frames", "3"]) == 0
    assert "atom labeldiff(s2, since=fired, region=image) >= 0.25" in capsys.readouterr().out
    assert main(["graph", str(path), "-o", str(tmp_path / "g.dot")]) == 0
    assert "region=image" in (tmp_path / "g.dot").read_text()
    assert main(["explain", str(ROOT / "schedules" / "adaptive.cw"), "--frames", "3"]) == 0
    assert "region" not in capsys.readouterr().out


# -- heads that give features ------------------------------------------------------------

@pytest.fixture(scope="module")
def registered_net():
    """A network whose middle head gives features, not class scores."""
    spec = NetworkSpec("test_labeldiff_net", (Layer("a", "module"), Layer("b", "module"),
                                   Layer("c", "module")),
                       (Head("score_a", "a"), Head("embed_b", "b", kind="features"),
                        Head("score_c", "c")), num_classes=3, default_input=(16, 16))
    return register_network(spec, replace=True)


def test_labeldiff_on_a_features_head_is_refused_where_written(registered_net):
    path = ROOT / "tests" / "bad_registered" / "labeldiff_features_head.cw"
    line, col, fragment = expectation(path)
    with pytest.raises(ScheduleError) as info:
        load(path)
    rendered = [d.render() for d in info.value.diagnostics]
    assert len(rendered) == 1, rendered  # labeldiff(s1) reads a score head: fine
    first, source, caret = rendered[0].splitlines()
    assert first == f"{path}:{line}:{col}: error: {fragment}"
    assert caret.index("^") - 4 == col - 1 and caret.count("^") == 2


def test_a_shallower_features_head_does_not_matter(registered_net):
    program = compile_text("network test_labeldiff_net\nstage s1 = a .. a head score_a\n"
                           "stage s2 = b .. c head embed_b, score_c\n"
                           "compute s1 when 1\ncompute s2 when labeldiff(s1) > 0.1\n"
                           "output fuse(s1, s2)\n")
    assert program.measures[0].head == "score_a"
    compile_text("network test_labeldiff_net\nstage s1 = a .. c head score_a, embed_b, score_c\n"
                 "compute s1 when 1\nclock c = labeldiff(s1) > 0.1\noutput fuse(s1)\n")


# -- the exact fraction --------------------------------------------------------------

def authors_sm_diff(prev: np.ndarray, curr: np.ndarray) -> float:
    """clockwork-fcn's youtube/cityscapes notebooks: ``np.array(prev_m != curr_m).mean()``."""
    return np.array(prev != curr).mean()


def label_maps(cells: int, changed: int, side: int = 10):
    reference = torch.zeros(1, cells // side, side, dtype=torch.int64)
    current = reference.clone()
    current.view(-1)[:changed] = 1
    return reference, current


@pytest.mark.parametrize("cells, changed, theta", [(400, 140, 0.35), (100, 47, 0.47),
                                                   (1200, 564, 0.47), (2000, 700, 0.35)])
def test_a_tie_decides_as_numpy_float64(cells, changed, theta):
    reference, current = label_maps(cells, changed)
    numpy_value = authors_sm_diff(reference.numpy(), current.numpy())
    assert float(torch.ne(reference, current).float().mean()) < theta  # float32 misses the tie
    for op, fires in ((">=", numpy_value >= theta), (">", numpy_value > theta)):
        state = AtomState(AtomTest(theta, op, "fired", labels=True))
        state.measure(reference)
        got, value = state.measure(current)
        assert value == numpy_value and got == fires
    assert numpy_value == theta  # the case is a tie indeed: >= fires, > does not


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_fraction_equals_numpy_float64_mean(h, w, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(0, 3, (1, h, w), generator=g)
    b = torch.randint(0, 3, (1, h, w), generator=g)
    assert changed_fraction(a, b) == authors_sm_diff(a.numpy(), b.numpy())


# -- the executor measures the region the schedule names -------------------------------

def test_executor_compares_the_whole_score_map_by_default():
    torch.manual_seed(0)
    net = build_network("tiny").eval()
    program = compile_text(schedule("labeldiff(s2, since=previous) > 0.5 or "
                                    "labeldiff(s2, since=previous, region=image) > 0.5"))
    whole, image = (m.atom for m in program.measures)
    executor = Executor(program, net)
    g = torch.Generator().manual_seed(3)
    size = (40, 48)
    rows, cols = net.head_window("score_pool4", size)
    previous = None
    with torch.inference_mode():
        for _ in range(4):
            x = torch.rand(1, 3, *size, generator=g)
            result = executor.step(x)
            _, scores = net.run_stage(normalize(x, net.spec.norm), "conv1_1", "pool4",
                                      ("score_pool3", "score_pool4"))
            current = scores["score_pool4"][0].numpy()  # (classes, H, W), as Caffe's blob
            assert current[:, rows, cols].shape[1:] != current.shape[1:]  # a real margin
            if previous is not None:
                assert result.differences[whole] == authors_sm_diff(
                    previous.argmax(0), current.argmax(0))
                assert result.differences[image] == authors_sm_diff(
                    previous[:, rows, cols].argmax(0), current[:, rows, cols].argmax(0))
            previous = current


def test_cost_model_traces_the_region_measured():
    cost = network_cost("fcn8s", (500, 500))
    rows, cols = build_network("fcn8s", device="meta").head_window("score_pool4", (500, 500))
    whole, image = cost.measure_op("score_pool4"), cost.measure_op("score_pool4", "image")
    assert whole is cost.label_diffs["score_pool4"] and cost.measure_op(None) is cost.pixel_diff
    shape = cost.heads["score_pool4"].out_shape
    cells = (len(range(shape[2])[rows]) * len(range(shape[3])[cols]))
    assert cells < shape[2] * shape[3]
    for op, n in ((whole, shape[2] * shape[3]), (image, cells)):
        assert op.kernels[0].op == "aten::argmax" and op.cost.syncs == 1
        assert op.kernels[0].bytes == n * shape[1] * 4 + n * 8  # scores read, labels written
