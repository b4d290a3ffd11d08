"""FCN8sAtOnce state dicts: the same keys as FCN8s, different outputs. They load as
``fcn8s_atonce`` (bit-identical to wkentaro/pytorch-fcn ``FCN8sAtOnce``) and ``fcn8s``
refuses them with a clear error instead of silently giving wrong scores."""
from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
import torch

from reference_fcn import reference_fcn8s

from cwdsl.core.errors import InputError
from cwdsl.core.netspec import FCN8S, FCN8S_ATONCE, TINY, Head, get_network
from cwdsl.nets import FCN, build_network, is_fcn8s_kind
from cwdsl.nets.bundled import bundled_weights
from cwdsl.nets.weights import load_weights, read_state_dict

# tiny with FCN8sAtOnce's pool scaling: the same code path as fcn8s_atonce, at tiny's width
TINY_ATONCE = dataclasses.replace(
    TINY, name="tiny_atonce",
    heads=(Head("score_pool3", "pool3", input_scale=0.0001),
           Head("score_pool4", "pool4", input_scale=0.01), Head("score_fr", "fc7")))


def atonce_file(tmp_path, state: dict) -> str:
    """``state`` rewritten as FCN8sAtOnce would have learnt it: the same function once
    pool4 is scaled by 0.01 and pool3 by 0.0001."""
    state = dict(state)
    state["score_pool4.weight"] = state["score_pool4.weight"] * 100
    state["score_pool3.weight"] = state["score_pool3.weight"] * 10000
    path = tmp_path / "atonce.pt"
    torch.save(state, path)
    return str(path)


def test_fcn8s_atonce_is_registered_with_fcn8s_keys():
    assert get_network("fcn8s_atonce") is FCN8S_ATONCE and is_fcn8s_kind(FCN8S_ATONCE)
    meta = torch.device("meta")
    assert list(build_network("fcn8s_atonce", device=meta).state_dict()) == \
        list(build_network("fcn8s", device=meta).state_dict())
    assert [h.input_scale for h in FCN8S.heads] == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("hw", [(64, 64), (45, 62)])
def test_scaled_heads_are_bit_identical_to_fcn8s_atonce(hw):
    torch.manual_seed(0)
    net = FCN(TINY_ATONCE).eval()
    x = torch.randn(1, 3, *hw, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(net(x), reference_fcn8s(net, x, atonce=True))


def test_atonce_weights_refused_by_fcn8s_and_loaded_by_atonce(tmp_path):
    state = read_state_dict(bundled_weights("tiny"))
    path = atonce_file(tmp_path, state)
    with pytest.raises(InputError) as e:
        load_weights(build_network("tiny"), path)
    assert str(e.value).startswith(path) and "FCN8sAtOnce" in str(e.value)
    assert "--net fcn8s_atonce" in str(e.value)
    scaled = load_weights(FCN(TINY_ATONCE).eval(), path)   # the same function as tiny's
    plain = load_weights(build_network("tiny"), bundled_weights("tiny"))
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.allclose(scaled(x), plain(x), rtol=1e-4, atol=1e-4)


def test_fcn8s_weights_refused_by_atonce(tmp_path):
    with pytest.raises(InputError) as e:
        load_weights(FCN(TINY_ATONCE).eval(), bundled_weights("tiny"))
    assert "--net fcn8s" in str(e.value) and "not FCN8sAtOnce" in str(e.value)


def test_cli_names_the_file_and_the_fix(tmp_path):
    path = atonce_file(tmp_path, read_state_dict(bundled_weights("tiny")))
    run = subprocess.run([sys.executable, "-m", "cwdsl", "eval", "schedules/oracle.cw",
                          "--data", "demo", "--weights", path, "--quiet"],
                         capture_output=True, text=True, cwd=str(
                             __import__("pathlib").Path(__file__).parents[1]))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert path in run.stderr and "fcn8s_atonce" in run.stderr
