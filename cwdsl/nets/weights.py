"""Loading and saving network weights (PyTorch state dicts) with clear errors.

Every problem with a user's file is an :class:`~cwdsl.core.errors.InputError` that names the
file and the reason; nothing is unpickled beyond tensors (``weights_only=True``).
"""
from __future__ import annotations

import pickle
import re
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from torch import nn

from cwdsl.core.atomic import atomic_path
from cwdsl.core.errors import file_error
from cwdsl.core.inputs import input_file

# Training checkpoints often nest the state dict under one of these keys.
_NESTED_KEYS = ("state_dict", "model_state_dict", "model")
_SHOWN = 4


def _few(keys: Iterable[str]) -> str:
    keys = sorted(keys)
    more = f", … ({len(keys) - _SHOWN} more)" if len(keys) > _SHOWN else ""
    return ", ".join(keys[:_SHOWN]) + more


def _network_name(module: nn.Module) -> str:
    spec = getattr(module, "spec", None)
    return f"network {spec.name}" if spec is not None else type(module).__name__


def _first_sentence(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0].split(". ")[0].rstrip(".") if text else "no detail"


def _refusal(message: str) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in a line."""
    found = re.search(r"Unsupported global: GLOBAL (\S+)", message)
    if found:
        return (f"holds a pickled Python object ({found.group(1)}), not just tensors; "
                f"save model.state_dict(), not the model")
    return "not a PyTorch weights file: a pickle with Python objects beyond tensors"


def _is_state_dict(obj) -> bool:
    return (isinstance(obj, Mapping) and bool(obj)
            and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()))


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict stored in ``path`` (on the CPU), unwrapping a checkpoint that nests
    it under ``state_dict``, ``model_state_dict`` or ``model``."""
    file = input_file(path, "weights file")  # a FIFO or /dev/zero would hang or fill memory
    try:
        with warnings.catch_warnings():  # e.g. about pickle protocols: the error says enough
            warnings.simplefilter("ignore")
            obj = torch.load(file, map_location="cpu", weights_only=True)
    except OSError as e:
        raise file_error(path, f"cannot read: {e.strerror or e}") from None
    except Exception as e:  # torch raises many types for a bad or truncated file
        if isinstance(e, pickle.UnpicklingError) and "Weights only load failed" in str(e):
            raise file_error(path, _refusal(str(e))) from None
        raise file_error(path, f"not a PyTorch weights file, or a corrupt one "
                           f"({type(e).__name__}: {_first_sentence(e)})") from None
    if isinstance(obj, Mapping) and not _is_state_dict(obj):
        nested = [obj[k] for k in _NESTED_KEYS if k in obj and _is_state_dict(obj[k])]
        if nested:
            obj = nested[0]
    if not _is_state_dict(obj):
        raise file_error(path, f"not a state dict (a mapping of parameter names to tensors); "
                           f"it holds {_describe(obj)}")
    return dict(obj)


def _describe(obj) -> str:
    if isinstance(obj, Mapping):
        if not obj:
            return "an empty mapping"
        return f"a mapping with keys {_few(map(str, obj))}"
    return f"a {type(obj).__name__}"


def check_state_dict(module: nn.Module, state: Mapping[str, torch.Tensor],
                     path: str | Path) -> None:
    """Raise an ``InputError`` naming ``path`` unless ``state`` fits ``module`` exactly:
    the same keys and the same shapes."""
    expected = module.state_dict()
    missing = expected.keys() - state.keys()
    unexpected = state.keys() - expected.keys()
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} key(s): {_few(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} key(s): {_few(unexpected)}")
    mismatched = sorted(k for k in expected.keys() & state.keys()
                        if expected[k].shape != state[k].shape)
    for key in mismatched[:_SHOWN]:
        problems.append(f"{key} has shape {tuple(state[key].shape)} in the file but "
                        f"{tuple(expected[key].shape)} in the network")
    if len(mismatched) > _SHOWN:
        problems.append(f"{len(mismatched) - _SHOWN} more shape mismatch(es)")
    if problems:
        hint = (" (the weights of another network?)" if len(missing) + len(unexpected)
                + len(mismatched) > len(expected) // 2 else "")
        raise file_error(path, f"weights do not fit {_network_name(module)}{hint}: "
                           + "; ".join(problems))


def map_keys(state: Mapping[str, torch.Tensor], key_map: Iterable[tuple[str, str]]
             ) -> dict[str, torch.Tensor]:
    """``state`` with each key renamed by the first ``(regex, replacement)`` rule of
    ``key_map`` that matches all of it (``re.fullmatch``; ``\\1`` etc. in the replacement);
    keys no rule matches stay as they are. A foreign checkpoint's layout (a network's
    ``NetworkSpec.key_map``) becomes cwdsl's this way."""
    rules = [(re.compile(pattern), replacement) for pattern, replacement in key_map]
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for pattern, replacement in rules:
            found = pattern.fullmatch(key)
            if found:
                key = found.expand(replacement)
                break
        out[key] = value
    return out


_OPTIONAL = ".num_batches_tracked"  # BatchNorm's training counter; older files lack it


def load_weights(module: nn.Module, path: str | Path) -> nn.Module:
    """Load the state dict in ``path`` into ``module`` (strictly: every key, every shape).
    A network whose spec has a ``key_map`` renames the file's keys first (a foreign
    checkpoint, e.g. the released ESPNet); BatchNorm counters (``num_batches_tracked``)
    a file lacks keep their values. Returns ``module``. Any problem with the file is an
    ``InputError`` naming it."""
    state = read_state_dict(path)
    spec = getattr(module, "spec", None)
    if spec is not None and getattr(spec, "key_map", ()):
        state = map_keys(state, spec.key_map)
    for key, value in module.state_dict().items():
        if key.endswith(_OPTIONAL) and key not in state:
            state[key] = value
    check_state_dict(module, state, path)
    module.load_state_dict(state)
    problem = getattr(module, "weights_problem", None)
    reason = problem() if problem is not None else None
    if reason:
        raise file_error(path, reason)
    return module


def save_weights(module: nn.Module, path: str | Path) -> Path:
    """Write ``module``'s state dict (as CPU tensors) to ``path`` atomically: a reader
    sees the old file or the whole new one. Returns the path."""
    state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
    try:
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
    except OSError as e:
        raise file_error(path, f"cannot write weights: {e.strerror or e}") from None
    return Path(path)
