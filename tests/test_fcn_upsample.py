"""FCN-8s's upsamplers run grouped (one channel per class) while their weights are diagonal:
when that is decided, what it computes compared with the full c×c transposed conv, and what
the traced cost model counts for it."""
from __future__ import annotations

import contextlib
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cwdsl.demo.clip import demo_clip
from cwdsl.nets import build_network
from cwdsl.nets.bundled import bundled_weights
from cwdsl.nets.fcn import FULL, GROUPED, UPSAMPLERS, Upsampler
from cwdsl.nets.preprocess import frame_tensor, normalize
from cwdsl.nets.weights import load_weights, save_weights
from cwdsl.cost.network import network_cost

HEADS = ("score_pool3", "score_pool4", "score_fr")


@pytest.fixture(scope="module")
def camvid():
    return load_weights(build_network("fcn8s_camvid"), bundled_weights("fcn8s_camvid"))


@pytest.fixture(scope="module")
def camvid_heads(camvid):
    """The trunk's scores for a real frame (the demo clip's third, 128x128)."""
    x = normalize(frame_tensor(demo_clip(3).frames[2]), camvid.spec.norm)
    with torch.no_grad():
        _, heads = camvid.run_stage(x, "conv1_1", "fc7", HEADS)
    return x, heads


@contextlib.contextmanager
def full_upsamplers(net):
    """Run ``net``'s upsamplers as full c×c transposed convs, whatever their weights."""
    saved = {n: net._modules[n].diagonal for n in UPSAMPLERS}
    for n in UPSAMPLERS:
        net._modules[n].diagonal = False
    try:
        yield net
    finally:
        for n, d in saved.items():
            net._modules[n].diagonal = d


def modes(net) -> dict[str, str]:
    return {n: net._modules[n].mode for n in UPSAMPLERS}


# --- when it runs grouped -------------------------------------------------------------------
def test_bundled_camvid_and_seeded_init_are_diagonal(camvid):
    assert camvid.fast_paths() == {"upsamplers": GROUPED}
    torch.manual_seed(0)
    for name in ("fcn8s", "tiny"):
        assert build_network(name).fast_paths() == {"upsamplers": GROUPED}
    assert build_network("fcn8s", device="meta").fast_paths() == {"upsamplers": GROUPED}


def test_learned_upsamplers_run_full():
    # The demo network's bundled weights learned its upsamplers: they mix classes.
    tiny = load_weights(build_network("tiny"), bundled_weights("tiny"))
    assert tiny.fast_paths() == {"upsamplers": FULL}


def test_an_off_diagonal_weight_makes_it_full_again_after_reload(tmp_path):
    torch.manual_seed(0)
    net = build_network("tiny")
    state = {k: v.clone() for k, v in net.state_dict().items()}
    perturbed = dict(state)
    perturbed["upscore8.weight"] = state["upscore8.weight"].clone()
    perturbed["upscore8.weight"][0, 1, 3, 3] = 1e-30  # one tiny off-diagonal entry
    torch.save(perturbed, tmp_path / "perturbed.pt")
    load_weights(net, tmp_path / "perturbed.pt")
    assert modes(net) == {"upscore2": GROUPED, "upscore_pool4": GROUPED, "upscore8": FULL}
    assert net.fast_paths() == {"upsamplers": f"upscore2: {GROUPED}; upscore_pool4: "
                                              f"{GROUPED}; upscore8: {FULL}"}
    net.load_state_dict(state)  # plain load_state_dict re-checks too
    assert net.fast_paths() == {"upsamplers": GROUPED}
    minus_zero = dict(state)
    minus_zero["upscore2.weight"] = state["upscore2.weight"].clone()
    minus_zero["upscore2.weight"][1, 0] = -0.0  # -0.0 is zero
    net.load_state_dict(minus_zero)
    assert net.fast_paths() == {"upsamplers": GROUPED}


def test_state_dict_is_that_of_plain_transposed_convs(tmp_path, camvid):
    state = camvid.state_dict()
    for n in UPSAMPLERS:
        up = camvid._modules[n]
        assert isinstance(up, nn.ConvTranspose2d) and up.groups == 1 and up.bias is None
        assert [k for k in state if k.startswith(n + ".")] == [n + ".weight"]
        c = camvid.spec.num_classes
        assert state[n + ".weight"].shape == (c, c, *up.kernel_size)
    save_weights(camvid, tmp_path / "again.pt")
    again = load_weights(build_network("fcn8s_camvid"), tmp_path / "again.pt")
    assert all(torch.equal(a, b) for a, b in zip(state.values(), again.state_dict().values()))


def test_the_full_kernel_runs_while_the_weight_may_learn():
    # With autograd on and a trainable weight the off-diagonal entries get gradients, as in
    # the full conv; the full kernel runs on until the next check (train()/eval(), a load).
    up = Upsampler(3, 4, 2)
    x = torch.randn(1, 3, 5, 5)
    up(x).square().sum().backward()
    off = ~torch.eye(3, dtype=torch.bool)
    assert up.weight.grad[off].abs().sum() > 0
    assert up.mode == FULL
    up.eval()
    assert up.mode == GROUPED  # no step taken: still diagonal
    up(x).sum().backward()
    with torch.no_grad():
        up.weight.add_(up.weight.grad)  # a training step
    assert up.mode == FULL
    up.eval()
    assert up.mode == FULL  # it learned off-diagonal weights
    with torch.no_grad():
        up.weight.copy_(Upsampler(3, 4, 2).weight)  # in-place edits by hand need a recheck
    assert up.recheck() and up.mode == GROUPED
    up.requires_grad_(False)
    up(x)  # a frozen upsampler (training the rest) runs grouped with autograd on
    assert up.mode == GROUPED


# --- what it computes -----------------------------------------------------------------------
def test_grouped_fuse_matches_the_full_one_float32(camvid, camvid_heads):
    x, heads = camvid_heads
    with torch.no_grad():
        grouped = camvid.fuse(heads, x.shape[-2:])
        with full_upsamplers(camvid):
            full = camvid.fuse(heads, x.shape[-2:])
    # Not bit-identical on CPU float32: oneDNN's grouped and full deconvolutions add the
    # same nonzero products (the full one also adds exact zeros) in different orders, so
    # results differ by rounding, measured at most 2.3e-7 × the largest score (under two
    # float32 epsilons) at 128x128 to 360x480 with 1 and 2 threads; element-wise relative
    # error is unbounded where scores cancel to near zero, so the bound is absolute: 4 eps.
    atol = 4 * torch.finfo(torch.float32).eps * float(full.abs().max())
    torch.testing.assert_close(grouped, full, rtol=0, atol=atol)
    assert torch.equal(grouped.argmax(1), full.argmax(1))  # the labels are the same


def test_grouped_fuse_is_exact_in_bfloat16(camvid, camvid_heads):
    # bfloat16 times the bilinear weights (a few bits each) is exact in the float32
    # accumulator, and so are the few sums per output: the order does not matter.
    x, heads = camvid_heads
    net = copy.deepcopy(camvid).to(torch.bfloat16)
    assert net.fast_paths() == {"upsamplers": GROUPED}
    half = {h: s.to(torch.bfloat16) for h, s in heads.items()}
    with torch.no_grad():
        grouped = net.fuse(half, x.shape[-2:])
        with full_upsamplers(net):
            full = net.fuse(half, x.shape[-2:])
    assert torch.equal(grouped, full)


def test_labels_on_a_real_frame_are_the_same(camvid, camvid_heads):
    x, _ = camvid_heads
    with torch.no_grad():
        grouped = camvid(x)
        with full_upsamplers(camvid):
            full = camvid(x)
    assert torch.equal(grouped.argmax(1), full.argmax(1))


def test_grouped_upsampler_is_the_reference_conv_on_a_diagonal_weight():
    up = Upsampler(5, 16, 8)
    x = torch.randn(2, 5, 7, 9, dtype=torch.float64)
    with torch.no_grad():
        up.double()
        reference = F.conv_transpose2d(x, up.weight, stride=8)
        torch.testing.assert_close(up(x), reference, rtol=1e-13, atol=1e-13)


# --- what it costs --------------------------------------------------------------------------
@pytest.mark.parametrize("hw", [(256, 256), (500, 500)])
def test_cost_model_counts_the_grouped_upsamplers(hw):
    net = build_network("fcn8s", device="meta")
    c = net.spec.num_classes
    grouped_macs, full_macs = {}, {}

    def hook(module, inputs, output):  # the textbook count on the shapes actually seen
        k = module.kernel_size[0] * module.kernel_size[1]
        name = next(n for n in UPSAMPLERS if net._modules[n] is module)
        grouped_macs[name] = inputs[0].numel() * k  # each input cell feeds k² outputs
        full_macs[name] = inputs[0].numel() * module.out_channels * k

    for n in UPSAMPLERS:
        net._modules[n].register_forward_hook(hook)
    with torch.no_grad():
        net(torch.empty(1, 3, *hw, device="meta"))
    fuse = network_cost("fcn8s", hw).fuse(HEADS)
    assert fuse.macs == sum(grouped_macs.values())
    assert fuse.macs * c == sum(full_macs.values())
