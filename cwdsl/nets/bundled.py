"""Weights shipped inside the package, by network name."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from cwdsl.core.errors import InputError
from cwdsl.core.netspec import find_network

BUNDLED_WEIGHTS = {"tiny": "tiny-demo.pt", "fcn8s_camvid": "fcn8s_camvid.pt",
                   "espnet": "espnet_camvid.pt"}
"""Network name → weights file in ``cwdsl/data`` (the demo network's first). Each file's
report (how it was trained, on which frames) is beside it as ``.json``."""

TRAINED_AT = {"espnet": (184, 240)}
"""Network name → (height, width) its bundled weights were trained and chosen at, where
that differs from the network's own input size (``espnet_camvid``: CamVid at half size;
the authors' checkpoint, which ``--weights`` loads, at 360x480)."""


def trained_at(network: str, weights: str | None):
    """The size the weights a run uses were trained at, when cwdsl knows it better than
    the network's description: its bundled weights' (``weights`` None); else None."""
    return TRAINED_AT.get(network) if weights is None else None


def bundled_weights(network: str) -> Path | None:
    """The weights shipped with the package for ``network`` (None if there are none)."""
    name = BUNDLED_WEIGHTS.get(network)
    if name is None:
        return None
    path = Path(str(resources.files("cwdsl").joinpath("data", name)))
    return path if path.is_file() else None


def resolve_weights(network: str, weights: str | None) -> str:
    """``weights`` as given, else ``network``'s bundled weights; a clear error if none."""
    if weights is not None:
        return weights
    bundled = bundled_weights(network)
    if bundled is None:
        have = ", ".join(n for n in BUNDLED_WEIGHTS if bundled_weights(n))
        layout = (" in the layout of the PyTorch conversion of the Caffe model"
                  if network == "fcn8s" else "")
        spec = find_network(network)
        if spec is not None and spec.weights_hint:
            layout = f", e.g. {spec.weights_hint}"
        raise InputError(f"network {network} has no bundled weights: it needs --weights PATH "
                         f"(a state dict of {network}{layout}) or --weights random for timing "
                         f"runs; networks with bundled weights: {have} (e.g. --net "
                         f"{next(iter(BUNDLED_WEIGHTS))})")
    return str(bundled)
