"""The traced cost model: FLOPs against an independent count, bytes, shapes, additivity."""
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from cwdsl.cost.kernels import Cost
from cwdsl.cost.network import network_cost
from cwdsl.core.errors import InputError
from cwdsl.core.netspec import get_network
from cwdsl.nets import build_network, count_macs, feature_sizes
from cwdsl.nets.fcn import GROUPED

PAPER_STAGES = (("conv1_1", "pool3", ("score_pool3",)), ("conv4_1", "pool4", ("score_pool4",)),
                ("conv5_1", "fc7", ("score_fr",)))
ALL_HEADS = ("score_pool3", "score_pool4", "score_fr")


def hooked_macs(name: str, hw) -> dict[str, int]:
    """MACs per module from the textbook per-conv formula, on the real module's shapes
    seen by forward hooks (independent of FlopCounterMode)."""
    net = build_network(name, device="meta")
    counts: dict[str, int] = {}

    def hook(module, inputs, output):
        k = module.kernel_size[0] * module.kernel_size[1]
        if isinstance(module, nn.ConvTranspose2d):
            # FCN's upsamplers run grouped (one channel per group) on diagonal weights
            groups = module.out_channels if getattr(module, "mode", None) == GROUPED else 1
            macs = inputs[0].numel() * module.out_channels // (module.groups * groups) * k
        else:
            macs = output.numel() * module.in_channels // module.groups * k
        counts[module_names[module]] = counts.get(module_names[module], 0) + macs

    module_names = {}
    for mname, module in net.named_modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            module_names[module] = mname
            module.register_forward_hook(hook)
    with torch.no_grad():
        net(torch.empty(1, 3, *hw, device="meta"))
    return counts


def test_fcn8s_500_macs_match_an_independent_count():
    cost = network_cost("fcn8s", (500, 500))
    hooked = hooked_macs("fcn8s", (500, 500))
    full = cost.full()
    assert full.macs == sum(hooked.values())
    assert full.flops == 2 * full.macs
    assert full.macs == pytest.approx(181e9, rel=0.005)  # ≈ 181.5 GMAC
    for name, op in [*cost.layers.items(), *cost.heads.items()]:
        assert op.cost.macs == hooked.get(name, 0), name
    fuse_modules = ("upscore2", "upscore_pool4", "upscore8")
    assert cost.fuse(ALL_HEADS).macs == sum(hooked[m] for m in fuse_modules)


def test_agrees_with_count_macs_at_other_sizes():
    for name, hw in (("tiny", (64, 96)), ("fcn8s", (224, 320))):
        cost, macs = network_cost(name, hw), count_macs(name, hw)
        assert {n: op.cost.macs for n, op in cost.layers.items()} == dict(macs.layers)
        assert cost.full().macs == macs.total


def test_shapes_follow_the_description():
    spec = get_network("fcn8s")
    cost = network_cost(spec, (500, 500))
    sizes = feature_sizes(spec, (500, 500))
    widths = {}
    channels = spec.in_channels
    for layer in spec.layers:
        channels = layer.out_channels or channels
        widths[layer.name] = channels
    for name, op in cost.layers.items():
        assert op.out_shape == (1, widths[name], *sizes[name])
    assert cost.layers["conv1_1"].in_shape == (1, 3, 500, 500)
    for head in spec.heads:
        assert cost.heads[head.name].out_shape == (1, spec.num_classes, *sizes[head.reads])
    assert cost.fuse_op(ALL_HEADS).out_shape == (1, spec.num_classes, 500, 500)
    assert cost.fuse_op(["score_pool3"]).out_shape == (1, spec.num_classes, 500, 500)


def test_bytes_are_activations_plus_weights():
    spec = get_network("fcn8s")
    net = build_network(spec, device="meta")
    for dtype, size in (("float32", 4), ("float16", 2), ("bfloat16", 2)):
        cost = network_cost(spec, (500, 500), dtype)
        for layer in spec.layers:
            op = cost.layers[layer.name]
            out = op.cost
            if layer.kind != "conv":
                assert out.weight_bytes == 0 and out.kernels == 1
                continue
            module = getattr(net, layer.name)
            weights = sum(p.numel() for p in module.parameters()) * size
            n_in, n_out = torch.Size(op.in_shape).numel(), torch.Size(op.out_shape).numel()
            conv, relu = op.kernels
            assert (conv.op, relu.op) == ("aten::convolution", "aten::relu_")
            assert conv.weight_bytes == weights == out.weight_bytes
            assert conv.bytes == (n_in + n_out) * size + weights
            assert relu.bytes == 2 * n_out * size  # in place: read and write
    f32, f16 = network_cost(spec, (500, 500)), network_cost(spec, (500, 500), "float16")
    assert f16.full().flops == f32.full().flops
    assert f16.stage("conv1_1", "conv1_2").bytes * 2 == f32.stage("conv1_1", "conv1_2").bytes


def test_stages_tiling_the_network_add_up_to_the_oracle():
    cost = network_cost("fcn8s", (500, 500))
    parts = Cost.total(cost.stage(*s) for s in PAPER_STAGES) + cost.fuse(ALL_HEADS)
    assert parts == cost.full()
    assert cost.full().kernels == 2 * 15 + 5 + 3 + 6  # conv+relu, pools, heads, fuse


@given(st.sets(st.integers(1, 19), max_size=6))
def test_any_tiling_adds_up(cuts):
    """Stages cut anywhere, heads in the stage holding their layer: the trunk's cost."""
    cost = network_cost("tiny", (64, 64))
    names = cost.layer_names
    bounds = [0, *sorted(cuts), len(names)]
    total = Cost()
    for lo, hi in zip(bounds, bounds[1:]):
        inside = names[lo:hi]
        heads = [h for h, r in cost.head_reads.items() if r in inside]
        total = total + cost.stage(inside[0], inside[-1], heads)
    assert total + cost.fuse(cost.heads) == cost.full()


def test_measurements_and_input():
    cost = network_cost("fcn8s", (500, 500))
    for head, op in cost.label_diffs.items():
        assert op.cost.syncs == 1
        assert op.kernels[0].op == "aten::argmax"
        assert op.kernels[0].bytes > torch.Size(cost.heads[head].out_shape).numel() * 4
    assert cost.pixel_diff.cost.syncs == 1
    assert cost.pixel_diff.cost.bytes >= 2 * 3 * 500 * 500 * 4
    assert cost.input.cost.kernels >= 3 and cost.input.cost.flops == 0
    assert cost.upload_bytes == 3 * 500 * 500 * 4


def test_cached_per_network_size_dtype():
    a = network_cost("tiny", (64, 64))
    assert network_cost(get_network("tiny"), [64, 64]) is a
    assert network_cost("tiny", (64, 64), "bfloat16") is not a
    assert network_cost("tiny", (64, 80)) is not a


def test_errors_name_the_problem():
    cost = network_cost("tiny", (64, 64))
    with pytest.raises(InputError, match="unknown dtype 'float64'"):
        network_cost("tiny", (64, 64), "float64")
    with pytest.raises(InputError, match="no layer 'conv9_9'"):
        cost.stage("conv1_1", "conv9_9")
    with pytest.raises(InputError, match="comes after"):
        cost.stage("pool3", "conv1_1")
    with pytest.raises(InputError, match="reads pool4, outside"):
        cost.stage("conv1_1", "pool3", ["score_pool4"])
    with pytest.raises(InputError, match="non-empty subset"):
        cost.fuse([])
    with pytest.raises(InputError, match="positive"):
        network_cost("tiny", (0, 64))
