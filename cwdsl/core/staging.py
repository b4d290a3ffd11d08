"""An output folder that holds exactly one result, written completely or not at all.

:func:`staged_dir` checks the target before any work (a file in the way, a folder that holds
something else, a folder that cannot be written), takes a lock so that two writers of one
target refuse instead of racing, removes the staging folders that killed writers of the same
target left behind, stages everything in a fresh folder beside the target and on success swaps
it in whole: the old contents are gone, nothing stale is mixed in.
"""
from __future__ import annotations

import fcntl
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from cwdsl.core.atomic import current_umask
from cwdsl.core.errors import InputError

PARTIAL = ".partial-"   # .NAME.partial-XXXX: a folder being written
OLD = ".old-"           # .NAME.old-XXXX: the previous contents, during the swap


def check_target(out: Path, replaceable: Callable[[Path], bool], force: bool,
                 what: str) -> None:
    """An ``InputError`` unless ``out`` is absent, an empty folder, a folder that
    ``replaceable`` accepts, or any folder with ``force``."""
    if out.is_symlink():
        raise InputError(f"{out}: is a symbolic link; give the folder it points to")
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    if not out.exists() or force:
        return
    if any(out.iterdir()) and not replaceable(out):
        raise InputError(f"{out}: the folder is not empty and does not hold a {what}; choose "
                         f"another folder, or give --force to replace it (its contents are "
                         f"deleted)")


def _make_parents(folder: Path, out: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; the ones this call created, deepest first.
    A folder another process creates meanwhile (the ranks of ``--nproc`` writing their
    streams under one output folder) is taken as it is, and not removed on a failure."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    created: list[Path] = []
    for made in reversed(missing):
        try:
            made.mkdir()
        except FileExistsError:
            if made.is_dir():  # made by another process since we looked: use it
                continue
            _remove_empty(created[::-1])
            raise InputError(f"{out}: cannot create {made} (a file is in the way)") from None
        except OSError as e:
            _remove_empty(created[::-1])
            raise InputError(f"{out}: cannot create {made} ({e.strerror or e})") from None
        created.append(made)
    return created[::-1]


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            pass


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold ``.NAME.lock`` beside ``out``; an ``InputError`` if another process holds it or
    the folder takes no new file. The lock file is removed on release."""
    lock = out.parent / f".{out.name}.lock"
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666 & ~current_umask())
        except OSError as e:
            raise InputError(f"{out}: cannot write here ({e.strerror or e})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise InputError(f"{out}: another cwdsl process is writing this folder now; wait "
                             f"for it to finish or choose another folder") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False  # its holder removed it between our open and our lock: try again
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)


def remove_stale(out: Path) -> None:
    """Delete the staging folders that writers of ``out`` killed by a signal left behind
    (only call this while holding ``out``'s lock: then no live writer owns one)."""
    pattern = re.compile(re.escape(f".{out.name}") + rf"({re.escape(PARTIAL)}|{re.escape(OLD)})"
                         r"[A-Za-z0-9_]+")
    for entry in out.parent.iterdir():
        if pattern.fullmatch(entry.name) and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)


def _swap(tmp: Path, out: Path) -> None:
    """Put the finished folder ``tmp`` at ``out``, replacing what was there."""
    os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700; give the folder normal permissions
    if not out.exists():
        os.rename(tmp, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}{OLD}", dir=out.parent))
    old.rmdir()
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def staged_dir(out: str | Path, *, replaceable: Callable[[Path], bool] = lambda _: False,
               force: bool = False, what: str = "previous result") -> Iterator[Path]:
    """Yield a fresh folder beside ``out`` to write into; on success it becomes ``out``
    (replacing whatever ``out`` held), on any error (an interrupt too) it is deleted and
    ``out`` is untouched. Every check of ``out`` happens before the block runs: ``out``
    must be absent, an empty folder, a folder that ``replaceable(out)`` accepts (a result
    of the same kind), or any folder with ``force``; it must be writable; no other process
    may be writing it (see :func:`check_target`)."""
    out = Path(out)
    if out.name in ("", ".", ".."):
        out = Path(os.path.abspath(out))
    check_target(out, replaceable, force, what)
    created = _make_parents(out.parent, out)
    done = False
    try:
        with _locked(out):
            remove_stale(out)
            check_target(out, replaceable, force, what)  # another writer may have finished
            try:
                tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}{PARTIAL}", dir=out.parent))
            except OSError as e:
                raise InputError(f"{out}: cannot write here ({e.strerror or e})") from None
            try:
                yield tmp
                _swap(tmp, out)
                done = True
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    finally:
        if not done:
            _remove_empty(created)
