"""Frames in, network input out: one place for the conversion."""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from cwdsl.core.errors import InputError
from cwdsl.core.netspec import InputNorm


def frame_tensor(rgb: np.ndarray) -> Tensor:
    """(H, W, 3) uint8 RGB → (1, 3, H, W) float32 in [0, 1]."""
    # torch.tensor copies: decoded frames may be read-only buffers
    return torch.tensor(rgb, dtype=torch.uint8).permute(2, 0, 1)[None].float().div_(255.0)


def normalize(x01: Tensor, norm: InputNorm) -> Tensor:
    """(N, 3, H, W) RGB in [0, 1] → the network's input (``norm``'s order, scale, mean, std,
    then ``then_divide``)."""
    if norm is None:
        raise InputError("the network's description states no input normalisation "
                         "(NetworkSpec norm=InputNorm(...))")
    if norm.channel_order == "BGR":
        x01 = x01.flip(1)
    mean = torch.tensor(norm.mean, dtype=x01.dtype, device=x01.device).view(1, 3, 1, 1)
    std = torch.tensor(norm.std, dtype=x01.dtype, device=x01.device).view(1, 3, 1, 1)
    out = (x01 * norm.scale - mean) / std
    return out if norm.then_divide == 1 else out / norm.then_divide
