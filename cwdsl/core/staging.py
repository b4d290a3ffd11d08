"""An output folder that is written completely or not at all."""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staged_dir(out: str | Path):
    """Yield a fresh temporary folder beside ``out``; on success move its entries into
    ``out`` (replacing same-named entries), on any error delete it. ``out`` is never left
    with half-written files."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        from cwdsl.core.errors import InputError
        raise InputError(f"{out}: exists and is not a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield tmp
        out.mkdir(exist_ok=True)
        for entry in sorted(tmp.iterdir()):
            target = out / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(entry, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
