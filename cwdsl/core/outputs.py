"""Output paths checked before any work starts: a command that will write a file checks it
first, so a bad path costs nothing (no table printed, no training thrown away)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cwdsl.core.errors import file_error


def check_output(path: str | Path | None, what: str = "output") -> Path | None:
    """``path`` as a ``Path`` if a file can be written there, else an ``InputError``
    (``PATH: error: cannot write WHAT: REASON``). The target must not be a folder; its
    folder must exist or be creatable, and must accept a new file (probed with a
    temporary file, removed at once: permissions alone do not tell, e.g. in ``/proc`` or
    on a read-only mount). Nothing is left behind; ``None`` passes through."""
    if path is None:
        return None
    target = Path(path)
    reason = _problem(target)
    if reason:
        raise file_error(path, f"cannot write {what}: {reason}")
    return target


def check_outputs(*paths_and_whats: tuple[str | Path | None, str]) -> None:
    """:func:`check_output` for each ``(path, what)``."""
    for path, what in paths_and_whats:
        check_output(path, what)


def _problem(target: Path) -> str | None:
    if str(target) == "" or target.name in ("", ".", ".."):
        return "not a file name"
    if target.is_dir():
        return "it is a folder"
    if target.exists() and not target.is_file():
        return "it is not a regular file"
    folder = target.parent
    while not folder.exists():  # the nearest folder that exists; the rest would be made
        if folder.is_symlink():
            return f"{folder} is a broken link"
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is not a folder"
    try:
        fd, probe = tempfile.mkstemp(prefix=".cwdsl-probe-", dir=folder)
    except OSError as e:
        return f"{folder} does not accept new files ({e.strerror or e})"
    os.close(fd)
    os.unlink(probe)
    return None
