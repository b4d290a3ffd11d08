"""Loading and saving weights: round trips, and a clear InputError for every bad file."""
from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

from cwdsl.core.errors import InputError
from cwdsl.core.netspec import TINY, InputNorm
from cwdsl.nets import FCN, build_network, stage_module
from cwdsl.nets.weights import load_weights, read_state_dict, save_weights


def tiny(seed: int) -> FCN:
    torch.manual_seed(seed)
    return build_network("tiny")


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "tiny.pth"
    save_weights(tiny(1), path)
    return path


def load_error(module: nn.Module, path: Path) -> str:
    with pytest.raises(InputError) as info:
        load_weights(module, path)
    message = str(info.value)
    assert message.startswith(f"{path}: error: "), message
    assert "Traceback" not in message and "\n" not in message
    return message


def test_round_trip(saved):
    net = load_weights(tiny(2), saved)
    original = tiny(1)
    for key, value in original.state_dict().items():
        assert torch.equal(net.state_dict()[key], value), key
    x = torch.randn(1, 3, 36, 40)
    with torch.no_grad():
        assert torch.equal(net(x), original(x))


def test_save_is_atomic_and_replaces(tmp_path):
    path = tmp_path / "sub" / "w.pth"
    save_weights(tiny(1), path)
    save_weights(tiny(2), path)
    assert [p.name for p in path.parent.iterdir()] == ["w.pth"]
    assert torch.equal(read_state_dict(path)["fc7.weight"], tiny(2).fc7.weight)


def test_save_to_an_impossible_place(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot write weights") as info:
        save_weights(tiny(1), blocker / "w.pth")
    assert str(blocker / "w.pth") in str(info.value)


def test_nested_checkpoint_loads(tmp_path, saved):
    path = tmp_path / "checkpoint.pth.tar"
    torch.save({"epoch": 3, "model_state_dict": read_state_dict(saved)}, path)
    net = load_weights(tiny(2), path)
    assert torch.equal(net.fc6.weight, tiny(1).fc6.weight)


def test_missing_file(tmp_path):
    assert "no such weights file" in load_error(tiny(0), tmp_path / "nope.pth")


def test_directory(tmp_path):
    assert "is a folder" in load_error(tiny(0), tmp_path)


@pytest.mark.parametrize("content", [b"", b"hello, not weights", b"PK\x03\x04garbage"])
def test_not_a_torch_file(tmp_path, content):
    path = tmp_path / "bad.pth"
    path.write_bytes(content)
    assert "not a PyTorch weights file, or a corrupt one" in load_error(tiny(0), path)


def test_truncated_file(tmp_path, saved):
    path = tmp_path / "cut.pth"
    data = saved.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    assert "corrupt" in load_error(tiny(0), path)


def test_a_pickled_module_is_refused(tmp_path):
    path = tmp_path / "model.pth"
    torch.save(nn.Linear(2, 2), path)
    message = load_error(tiny(0), path)
    assert "torch.nn.modules.linear.Linear" in message and "state_dict()" in message


def test_a_plain_pickle_is_refused(tmp_path):
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps({"a": 1}, protocol=4))
    assert "not a PyTorch weights file" in load_error(tiny(0), path)


@pytest.mark.parametrize("obj, says", [
    ([torch.zeros(2)], "a list"), ({"lr": 0.1}, "keys lr"), ({}, "an empty mapping"),
    (torch.zeros(3), "a Tensor"),
])
def test_not_a_state_dict(tmp_path, obj, says):
    path = tmp_path / "other.pth"
    torch.save(obj, path)
    message = load_error(tiny(0), path)
    assert "not a state dict" in message and says in message


def test_missing_keys(tmp_path, saved):
    state = read_state_dict(saved)
    for key in ("fc7.weight", "fc7.bias", "upscore8.weight"):
        del state[key]
    path = tmp_path / "partial.pth"
    torch.save(state, path)
    message = load_error(tiny(0), path)
    assert "missing 3 key(s): fc7.bias, fc7.weight, upscore8.weight" in message
    assert "unexpected" not in message


def test_unexpected_keys(tmp_path, saved):
    state = read_state_dict(saved)
    state["fc8.weight"] = torch.zeros(1)
    path = tmp_path / "extra.pth"
    torch.save(state, path)
    assert "unexpected 1 key(s): fc8.weight" in load_error(tiny(0), path)


def test_shape_mismatch(tmp_path, saved):
    unnamed = {"class_names": ()} if hasattr(TINY, "class_names") else {}  # 7 classes, no names
    seven = FCN(dataclasses.replace(TINY, name="tiny7", num_classes=7, **unnamed))
    message = load_error(seven, saved)
    fc = TINY.layers[-1].out_channels
    assert f"score_fr.weight has shape (6, {fc}, 1, 1) in the file but (7, {fc}, 1, 1) " \
           "in the network" in message
    assert "more shape mismatch" in message  # 7 classes change 9 tensors; 4 are named


def test_weights_of_another_network(tmp_path):
    stage_module("test_weights_toy", [("a", nn.Conv2d(3, 2, 1))], {"h": ("a", nn.Conv2d(2, 2, 1))},
                 num_classes=2, default_input=(8, 8), norm=InputNorm(), replace=True)
    path = tmp_path / "toy.pth"
    save_weights(build_network("test_weights_toy"), path)
    message = load_error(tiny(0), path)
    assert "do not fit network tiny (the weights of another network?)" in message
    assert "missing 39 key(s)" in message and "unexpected 4 key(s)" in message
