"""Where a network runs: a checked torch device and dtype, one place for both checks."""
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
