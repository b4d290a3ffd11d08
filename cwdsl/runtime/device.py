"""Where a network runs: a checked torch device, dtype and memory format, one place for
the checks."""
from __future__ import annotations

import torch

from cwdsl.core.errors import InputError
from cwdsl.core.units import DTYPE_NAMES, check_dtype

TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
assert tuple(TORCH_DTYPES) == DTYPE_NAMES


def resolve_device(name: str | torch.device) -> torch.device:
    """``cpu`` or ``cuda[:N]`` as a ``torch.device``; an ``InputError`` for anything else
    or for CUDA on a machine without it."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"unknown device '{name}'; use cpu or cuda[:N]") from None
    if device.type not in ("cpu", "cuda"):
        raise InputError(f"unsupported device '{name}'; use cpu or cuda[:N]")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: CUDA is not available on this machine")
    return device


def torch_dtype(name: str, device: torch.device | None = None) -> torch.dtype:
    """The torch dtype called ``name``; given ``device``, also check it can run there
    (float16 runs on CUDA only)."""
    check_dtype(name)
    if name == "float16" and device is not None and device.type != "cuda":
        raise InputError("--dtype float16 needs --device cuda (use float32 or bfloat16 on a CPU)")
    return TORCH_DTYPES[name]


MEMORY_FORMATS = ("auto", "contiguous", "channels_last")


def memory_format(name: str, device: torch.device, dtype: torch.dtype) -> torch.memory_format:
    """The memory format called ``name`` for a network's weights and frames on ``device``
    (``dtype`` is part of the rule; channels_last is faster for every dtype measured).

    ``auto``: channels_last on CUDA (cuDNN's NHWC kernels: plain fcn8s forwards 9-31%
    faster on an H200, by size and dtype) and on a CPU too, where oneDNN's convolutions
    ran every case measured faster that way (one torch thread, median of 9 frames,
    2026-11-26: tiny at 128x128 float32 11.5 → 8.6 ms, bfloat16 9.5 → 6.7 ms; fcn8s at
    256x256 float32 1931 → 1735 ms, bfloat16 953 → 885 ms).
    """
    if name not in MEMORY_FORMATS:
        raise InputError(f"unknown memory format '{name}'; use {', '.join(MEMORY_FORMATS)}")
    if name == "contiguous":
        return torch.contiguous_format
    return torch.channels_last
