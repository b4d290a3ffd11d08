"""Names and sizes a user writes on the command line: dtypes and ``HxW`` input sizes."""
from __future__ import annotations

import re
from collections.abc import Sequence

from cwdsl.core.errors import InputError, did_you_mean

HW = tuple[int, int]
"""A frame or feature-map size in pixels: (height, width)."""

MAX_INPUT_SIDE = 8192
"""The largest input height or width (a schedule's ``input``, ``run --size``): an 8K frame
is 4320x7680; beyond this a frame's feature maps only exhaust memory."""

DTYPE_NAMES = ("float32", "float16", "bfloat16")
"""The dtypes a network can run in (``--dtype``), in this order everywhere."""


def check_dtype(name: str) -> str:
    """``name`` when it is one of :data:`DTYPE_NAMES`; an ``InputError`` otherwise."""
    if name not in DTYPE_NAMES:
        raise InputError(f"unknown dtype '{name}'{did_you_mean(name, DTYPE_NAMES)}; use one of "
                         f"{', '.join(DTYPE_NAMES)}")
    return name


def parse_size(text: str | Sequence[int]) -> tuple[int, int]:
    """``"HxW"`` (or a pair) → (height, width); ``InputError`` otherwise."""
    if not isinstance(text, str):
        h, w = (int(n) for n in text)
    else:
        found = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
        if not found:
            raise InputError(f"size '{text}' is not HEIGHTxWIDTH, e.g. 500x500")
        h, w = int(found.group(1)), int(found.group(2))
    if h < 1 or w < 1:
        raise InputError(f"size must be positive, got {h}x{w}")
    return h, w
