"""Input files checked before they are opened: a FIFO would block forever and a device such
as ``/dev/zero`` would be read until memory runs out, so only regular files are read."""
from __future__ import annotations

import os
import stat
from pathlib import Path

from cwdsl.core.errors import file_error

_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def input_file(path: str | Path, what: str = "file") -> Path:
    """``path`` as a ``Path`` if it is a regular file (links followed), else an ``InputError``
    ``PATH: error: REASON`` that says what it is instead ("no such WHAT", a folder, a FIFO, a
    device). Nothing is opened."""
    file = Path(path)
    try:
        mode = os.stat(file).st_mode
    except FileNotFoundError:
        raise file_error(path, f"no such {what}") from None
    except OSError as e:
        raise file_error(path, f"cannot read the {what}: {e.strerror or e}") from None
    if stat.S_ISDIR(mode):
        raise file_error(path, f"is a folder, not a {what}")
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "something other than a regular file")
        raise file_error(path, f"is {kind}, not a {what}; give a regular file")
    return file


def content_digest(path: str | Path) -> str:
    """``sha256:HEX`` of a regular file's bytes (what a result depends on, wherever the file
    lies: a package's data folder or a checkout's); read in 1 MiB blocks."""
    import hashlib

    digest = hashlib.sha256()
    with open(input_file(path), "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"
