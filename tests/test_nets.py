"""The torch networks built from the network descriptions (cwdsl.nets)."""
from __future__ import annotations

import dataclasses
import importlib.util
import itertools
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cwdsl.core.errors import InputError
from cwdsl.core.netspec import FCN8S, TINY, InputNorm, Layer, NetworkSpec
from reference_fcn import reference_fcn8s
from cwdsl.nets import (FCN, ModuleNetwork, StagedNetwork, bilinear_kernel, build_network,
                        count_macs, feature_sizes, fuse_geometry, is_fcn8s_kind,
                        stage_module)

ROOT = Path(__file__).resolve().parents[1]
META = torch.device("meta")
HEADS = ("score_pool3", "score_pool4", "score_fr")
PAPER_STAGES = (("conv1_1", "pool3", ("score_pool3",)),
                ("conv4_1", "pool4", ("score_pool4",)),
                ("conv5_1", "fc7", ("score_fr",)))

FCN8S_KEYS = [f"{layer.name}.{p}" for layer in FCN8S.layers if layer.kind == "conv"
              for p in ("weight", "bias")] + [
    "score_fr.weight", "score_fr.bias", "score_pool3.weight", "score_pool3.bias",
    "score_pool4.weight", "score_pool4.bias",
    "upscore2.weight", "upscore8.weight", "upscore_pool4.weight"]


@pytest.fixture(scope="module")
def tiny() -> FCN:
    torch.manual_seed(0)
    return build_network("tiny")


@pytest.fixture(scope="module")
def fcn8s_meta() -> FCN:
    return build_network("fcn8s", device=META)


def frame(h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


def staged(net: StagedNetwork, x: torch.Tensor, stages) -> torch.Tensor:
    scores = {}
    for first, last, heads in stages:
        x, got = net.run_stage(x, first, last, heads)
        scores.update(got)
    return scores


# --- structure -------------------------------------------------------------------------

def test_fcn8s_state_dict_keys_are_those_of_the_caffe_conversion(fcn8s_meta):
    assert list(fcn8s_meta.state_dict()) == FCN8S_KEYS


def test_fcn8s_layers_match_the_paper_model(fcn8s_meta):
    assert fcn8s_meta.conv1_1.padding == (100, 100)
    assert fcn8s_meta.fc6.kernel_size == (7, 7) and fcn8s_meta.fc6.padding == (0, 0)
    assert fcn8s_meta.fc6.out_channels == fcn8s_meta.fc7.out_channels == 4096
    assert fcn8s_meta.pool1.ceil_mode
    assert fcn8s_meta.score_pool3.in_channels == 256 and fcn8s_meta.score_fr.out_channels == 21
    assert fcn8s_meta.upscore8.kernel_size == (16, 16) and fcn8s_meta.upscore8.stride == (8, 8)
    assert all(getattr(fcn8s_meta, n).bias is None
               for n in ("upscore2", "upscore_pool4", "upscore8"))
    n_params = sum(p.numel() for p in fcn8s_meta.parameters())
    # VGG16 convs 14,714,688 + fc6 102,764,544 + fc7 16,781,312 + heads 102,207
    # + upsamplers 127,008
    assert n_params == 134_489_759


def test_specs_of_the_vgg_kind():
    assert is_fcn8s_kind(FCN8S) and is_fcn8s_kind(TINY)
    other = dataclasses.replace(FCN8S, name="x", layers=FCN8S.layers[:-1],
                                heads=FCN8S.heads[:2])
    assert not is_fcn8s_kind(other)
    with pytest.raises(ValueError):
        FCN(other)


def test_upsamplers_are_bilinear(tiny):
    assert bilinear_kernel(1, 4)[0, 0, 0].tolist() == [0.0625, 0.1875, 0.1875, 0.0625]
    w = tiny.upscore8.weight
    assert torch.equal(w[0, 1], torch.zeros(16, 16))  # one filter per class, no mixing
    ones = torch.ones(1, 6, 5, 5)
    up = tiny.upscore2(ones)[0, :, 2:-2, 2:-2]       # interior of an upsampled constant
    assert torch.allclose(up, torch.ones_like(up))


def test_feature_sizes_match_the_tensors(tiny):
    x = frame(45, 62)
    sizes = feature_sizes(TINY, (45, 62))
    with torch.no_grad():
        for layer in TINY.layer_names:
            x = tiny.run_layer(layer, x)
            assert tuple(x.shape[-2:]) == sizes[layer], layer


# --- sizes -----------------------------------------------------------------------------

def test_fuse_geometry_keeps_every_crop_inside_for_any_size():
    for n in range(1, 1025):
        assert fuse_geometry(FCN8S, (n, n)).input == (n, n)


def test_fcn8s_output_has_the_input_size_from_32_to_512(fcn8s_meta):
    for n in range(32, 513):
        out = fcn8s_meta(torch.empty(1, 3, n, n, device=META))
        assert out.shape == (1, 21, n, n), n
    for h, w in [(32, 512), (511, 33), (333, 500), (500, 375)]:
        assert fcn8s_meta(torch.empty(2, 3, h, w, device=META)).shape == (2, 21, h, w)


@pytest.mark.parametrize("hw", [(32, 32), (33, 47), (64, 63), (97, 128), (255, 256),
                                (512, 512)])
def test_tiny_output_has_the_input_size(tiny, hw):
    with torch.no_grad():
        assert tiny(frame(*hw)).shape == (1, TINY.num_classes, *hw)


# --- the staged path -------------------------------------------------------------------

def test_forward_is_the_reference_fcn8s_bit_for_bit(tiny):
    x = frame(41, 56)
    with torch.no_grad():
        assert torch.equal(tiny(x), reference_fcn8s(tiny, x))


@pytest.mark.parametrize("stages", [
    PAPER_STAGES,
    (("conv1_1", "pool4", ("score_pool3", "score_pool4")), ("conv5_1", "fc7", ("score_fr",))),
    (("conv1_1", "fc7", HEADS),),
])
def test_staged_path_equals_forward_bit_for_bit(tiny, stages):
    x = frame(50, 37, seed=1)
    with torch.no_grad():
        out = tiny.fuse(staged(tiny, x, stages), x.shape[-2:])
        assert torch.equal(out, tiny(x))


def test_layer_by_layer_equals_forward_bit_for_bit(tiny):
    x = frame(40, 40, seed=2)
    with torch.no_grad():
        h, scores = x, {}
        for layer in TINY.layers:
            h = tiny.run_layers(h, layer.name, layer.name)
            for head in TINY.heads:
                if head.reads == layer.name:
                    scores[head.name] = tiny.head(head.name, h)
        assert torch.equal(tiny.fuse(scores, (40, 40)), tiny(x))


@pytest.fixture(scope="module")
def tiny_run(tiny):
    x = frame(33, 35, seed=3)
    with torch.no_grad():
        return x, tiny(x)


@settings(max_examples=12, deadline=None)
@given(cuts=st.sets(st.integers(1, len(TINY.layers) - 1), max_size=4),
       order=st.permutations(HEADS))
def test_any_split_into_stages_equals_forward(tiny, tiny_run, cuts, order):
    names = TINY.layer_names
    bounds = [0, *sorted(cuts), len(names)]
    stages = []
    for lo, hi in itertools.pairwise(bounds):
        inside = [h for h in order if lo <= names.index(TINY.head(h).reads) < hi]
        stages.append((names[lo], names[hi - 1], inside))
    x, expected = tiny_run
    with torch.no_grad():
        scores = staged(tiny, x, stages)
        reordered = {h: scores[h] for h in order}
        assert torch.equal(tiny.fuse(reordered, (33, 35)), expected)


# --- truncated outputs -----------------------------------------------------------------

@pytest.mark.parametrize("given_heads", [
    heads for r in (1, 2, 3) for heads in itertools.combinations(HEADS, r)])
def test_truncated_fuse_is_the_network_with_missing_scores_zero(tiny, given_heads):
    x = frame(47, 52, seed=4)
    with torch.no_grad():
        scores = staged(tiny, x, PAPER_STAGES)
        out = tiny.fuse({h: scores[h] for h in given_heads}, (47, 52))
        zero = tuple(h for h in HEADS if h not in given_heads)
        assert out.shape == (1, TINY.num_classes, 47, 52)
        assert torch.equal(out, reference_fcn8s(tiny, x, zero=zero))


def test_score_pool3_alone_is_upscore8_of_its_crop(tiny):
    x = frame(60, 44, seed=5)
    with torch.no_grad():
        feats = tiny.run_layers(x, "conv1_1", "pool3")
        s3 = tiny.head("score_pool3", feats)
        # upscore_pool4's size, by the layer arithmetic of a 60x44 input: fc7 is 3x2.
        u2 = ((3 - 1) * 2 + 4, (2 - 1) * 2 + 4)
        u4 = ((u2[0] - 1) * 2 + 4, (u2[1] - 1) * 2 + 4)
        expect = tiny.upscore8(s3[:, :, 9:9 + u4[0], 9:9 + u4[1]])[:, :, 31:91, 31:75]
        assert feature_sizes(TINY, (60, 44))["fc7"] == (3, 2)
        assert torch.equal(tiny.fuse({"score_pool3": s3}, (60, 44)), expect)


def test_truncated_fcn8s_on_meta_has_the_input_size(fcn8s_meta):
    x = torch.empty(1, 3, 500, 500, device=META)
    _, scores = fcn8s_meta.run_stage(x, "conv1_1", "pool3", ["score_pool3"])
    assert fcn8s_meta.fuse(scores, (500, 500)).shape == (1, 21, 500, 500)


def test_misuse_of_the_staged_interface_is_a_clear_error(tiny):
    x = frame(32, 32)
    with torch.no_grad():
        with pytest.raises(ValueError, match="no layer 'conv9_9'"):
            tiny.run_layers(x, "conv1_1", "conv9_9")
        with pytest.raises(ValueError, match="comes after"):
            tiny.run_layers(x, "pool3", "conv1_1")
        with pytest.raises(ValueError, match="comes after"):
            tiny.run_stage(x, "pool3", "conv1_1")
        with pytest.raises(ValueError, match="outside"):
            tiny.run_stage(x, "conv1_1", "pool2", ["score_pool3"])
        with pytest.raises(ValueError, match="no head"):
            tiny.run_stage(x, "conv1_1", "pool3", ["score_pool5"])
        _, scores = tiny.run_stage(x, "conv1_1", "pool3", ["score_pool3"])
        with pytest.raises(ValueError, match="got none"):
            tiny.fuse({}, (32, 32))
        with pytest.raises(ValueError, match="an input of"):
            tiny.fuse(scores, (64, 64))


# --- cost ------------------------------------------------------------------------------

def test_fcn8s_macs_at_500x500():
    macs = count_macs("fcn8s", (500, 500))
    assert 180e9 < macs.total < 183e9  # the paper's FCN-8s: about 181 GMAC a frame
    # FlopCounterMode's count, torch 2.13; the upsamplers run grouped (bilinear weights are
    # diagonal): the fuse is 26_816_832 MACs, 1/21 of the full c×c convs' 563_153_472.
    assert macs.total == 180_992_697_408 and macs.fuse == 26_816_832
    assert macs.layers["pool1"] == 0 and macs.layers["fc6"] > macs.layers["fc7"]
    names = FCN8S.layer_names
    split = [macs.stage(names[names.index(a):names.index(b) + 1], heads)
             for a, b, heads in PAPER_STAGES]
    assert sum(split) + macs.fuse == macs.total


def test_macs_of_a_truncated_fuse_are_smaller():
    full = count_macs("tiny", (128, 128))
    truncated = count_macs("tiny", (128, 128), fuse_heads=["score_pool3"])
    assert 0 < truncated.fuse < full.fuse


# --- building --------------------------------------------------------------------------

def test_build_network_errors():
    with pytest.raises(InputError, match="unknown network"):
        build_network("fcn9s")
    bare = NetworkSpec("bare", (Layer("a", "module"),), (), 2, (8, 8))
    with pytest.raises(InputError, match="no torch builder"):
        build_network(bare)
    not_staged = dataclasses.replace(bare, builder=lambda spec: nn.Identity())
    with pytest.raises(InputError, match="not a cwdsl.nets.StagedNetwork"):
        build_network(not_staged)
    broken = dataclasses.replace(bare, builder=lambda spec: 1 / 0)
    with pytest.raises(InputError, match="builder failed: ZeroDivisionError"):
        build_network(broken)


def test_built_networks_are_in_eval_mode(tiny):
    assert not tiny.training


# --- any backbone ----------------------------------------------------------------------

def _toy(name: str, **kwargs):
    layers = [("a", nn.Conv2d(3, 4, 3, padding=1)), ("b", nn.Conv2d(4, 4, 3, stride=2)),
              ("c", nn.Sequential(nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2)))]
    heads = {"ha": ("a", nn.Conv2d(4, 3, 1)), "hc": ("c", nn.Conv2d(4, 3, 1))}
    return stage_module(name, layers, heads, num_classes=3, default_input=(20, 24),
                        norm=InputNorm(), replace=True, **kwargs)


def test_stage_module_registers_a_staged_network():
    spec = _toy("test_nets_toy")
    assert spec.layer_names == ("a", "b", "c") and {l.kind for l in spec.layers} == {"module"}
    net = build_network("test_nets_toy")
    assert isinstance(net, ModuleNetwork)
    assert set(net.state_dict()) >= {"layers.a.weight", "heads.hc.bias"}
    x = frame(20, 24)
    with torch.no_grad():
        out = net(x)
        feats, s1 = net.run_stage(x, "a", "b", ["ha"])
        _, s2 = net.run_stage(feats, "c", "c", ["hc"])
        assert out.shape == (1, 3, 20, 24)
        assert torch.equal(net.fuse({**s2, **s1}, (20, 24)), out)
        assert net.fuse(s1, (20, 24)).shape == (1, 3, 20, 24)


def test_stage_module_builds_independent_copies():
    _toy("test_nets_copies")
    one, two = build_network("test_nets_copies"), build_network("test_nets_copies")
    with torch.no_grad():
        one.layers["a"].weight.zero_()
    assert two.layers["a"].weight.abs().sum() > 0


def test_stage_module_with_a_module_fuse():
    class Fuse(nn.Module):
        def __init__(self):
            super().__init__()
            self.gain = nn.Parameter(torch.ones(1))

        def forward(self, scores, input_hw):
            total = sum(F.interpolate(s, size=input_hw, mode="nearest")
                        for s in scores.values())
            return total * self.gain

    _toy("test_nets_fuse", fuse=Fuse())
    net = build_network("test_nets_fuse")
    assert "fuse_module.gain" in net.state_dict()
    with torch.no_grad():
        assert net(frame(20, 24)).shape == (1, 3, 20, 24)


@pytest.mark.parametrize("bad, message", [
    ("head", "reserved word"), ("a-b", "schedule name"), ("2a", "schedule name"),
    ("keys", "clashes"),
])
def test_stage_module_rejects_names_schedules_cannot_use(bad, message):
    with pytest.raises(ValueError, match=message):
        stage_module("test_nets_bad", [(bad, nn.Identity())], {"h": (bad, nn.Identity())},
                     num_classes=1, default_input=(8, 8), norm=InputNorm())


def test_custom_backbone_example_registers_and_runs(capsys):
    path = ROOT / "examples" / "custom_backbone.py"
    spec = importlib.util.spec_from_file_location("custom_backbone_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert build_network("toynet").spec.layer_names == ("stem", "down1", "down2", "down3")
    module.main()
    out = capsys.readouterr().out
    assert "staged == whole: True" in out and "(1, 5, 96, 128)" in out


def test_custom_backbone_example_as_a_cli_plugin(capsys):
    from cwdsl.commands.main import main
    example = ROOT / "examples"
    code = main(["--plugin", str(example / "custom_backbone.py"), "check",
                 str(example / "custom_backbone.cw")])
    assert code == 0, capsys.readouterr().err
    assert "toynet" in capsys.readouterr().out


@pytest.mark.parametrize("size", [(32, 32), (128, 128), (500, 500), (97, 203)])
def test_head_window_covers_the_image_cells(size):
    """Each head's window is the image seen at that head's stride (pad-100 cells excluded)."""
    net = build_network("tiny")
    for head, stride in (("score_pool3", 8), ("score_pool4", 16), ("score_fr", 32)):
        ys, xs = net.head_window(head, size)
        for sl, n in ((ys, size[0]), (xs, size[1])):
            assert abs((sl.stop - sl.start) - n / stride) <= 1.5


# --- the backbone API: DAG trunks, one fuse, required norm, channel checks ---------------

def test_a_module_fuse_is_registered_once_and_its_documented_keys_load(tmp_path):
    class Gain(nn.Module):
        def __init__(self):
            super().__init__()
            self.gain = nn.Parameter(torch.ones(1))

        def forward(self, scores, input_hw):
            return sum(F.interpolate(s, size=input_hw) for s in scores.values()) * self.gain

    _toy("test_nets_once", fuse=Gain())
    net = build_network("test_nets_once")
    keys = list(net.state_dict())
    assert keys.count("fuse_module.gain") == 1 and not any(k.startswith("_fuse") for k in keys)
    from cwdsl.nets.weights import load_weights
    state = {k: v.clone() for k, v in net.state_dict().items()}
    state["fuse_module.gain"] = torch.full((1,), 3.0)
    torch.save(state, tmp_path / "w.pth")
    other = load_weights(build_network("test_nets_once"), tmp_path / "w.pth")
    assert other.fuse_module.gain.item() == 3.0


def test_stage_module_needs_a_norm_and_build_refuses_a_spec_without_one():
    with pytest.raises(ValueError, match="stage_module needs norm=InputNorm"):
        stage_module("test_nets_nonorm", [("a", nn.Conv2d(3, 2, 1))],
                     {"h": ("a", nn.Conv2d(2, 2, 1))}, num_classes=2, default_input=(8, 8))
    spec = _toy("test_nets_norm")
    with pytest.raises(InputError, match="states no input normalisation; give NetworkSpec"):
        build_network(dataclasses.replace(spec, norm=None))


def test_a_dag_trunk_hands_on_what_later_layers_read():
    class Cat(nn.Module):
        def forward(self, a, image):
            return torch.cat([a, image], 1)

    layers = [("a", nn.Conv2d(3, 4, 3, padding=1)), ("b", nn.Conv2d(4, 4, 1)),
              ("c", Cat(), ("a", "image")), ("d", nn.Conv2d(7, 3, 1), ("c",))]
    spec = stage_module("test_nets_dag", layers, {"hb": ("b", nn.Conv2d(4, 3, 1)),
                                                  "hd": ("d", nn.Identity())},
                        num_classes=3, default_input=(8, 8), norm=InputNorm(), replace=True)
    assert spec.layer_inputs("c") == ("a", "image") and spec.layer_inputs("b") == ("a",)
    net = build_network(spec)
    x = frame(8, 8)
    with torch.no_grad():
        feats, s1 = net.run_stage(x, "a", "b", ["hb"])
        assert set(feats) == {"a", "image"}  # b is read by nobody later
        _, s2 = net.run_stage(feats, "c", "d", ["hd"])
        assert torch.equal(net.fuse({**s1, **s2}, (8, 8)), net(x))
    with pytest.raises(ValueError, match="reads 'z', which is not 'image' or an earlier"):
        NetworkSpec("bad", (Layer("a", "module", inputs=("z",)),), (), 1, (8, 8))


def test_a_scores_head_with_the_wrong_channels_is_a_clear_error():
    stage_module("test_nets_channels", [("a", nn.Conv2d(3, 4, 1))],
                 {"h": ("a", nn.Conv2d(4, 5, 1))}, num_classes=3, default_input=(8, 8),
                 norm=InputNorm(), replace=True)
    net = build_network("test_nets_channels")
    with pytest.raises(InputError, match="head h gives 5 channels, but a scores head must "
                                         "give 3"):
        net(frame(8, 8))


def test_a_side_rule_is_checked_where_frames_enter():
    _toy("test_nets_sides", side_multiple=4)
    net = build_network("test_nets_sides")
    with pytest.raises(InputError, match="frame 18x24: network test_nets_sides needs sides "
                                         "divisible by 4"):
        net(frame(18, 24))
