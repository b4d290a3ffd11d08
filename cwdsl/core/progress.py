"""Progress bars on stderr (tqdm), or nothing when disabled: one way to make them."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator


class _Silent:
    """Stands in for a bar when progress is off: every call does nothing."""

    total = None

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        pass

    def set_postfix(self, **values) -> None:
        pass

    def set_description(self, text: str) -> None:
        pass

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass

    def write(self, text: str, file=None) -> None:
        print(text, file=file or sys.stderr)


@contextmanager
def progress_bar(enabled: bool, *, total: int | None, desc: str, unit: str) -> Iterator:
    """A tqdm bar of ``total`` ``unit``s (``None``: unknown) labelled ``desc`` while the
    block runs, closed afterwards; a silent stand-in when ``enabled`` is false."""
    if not enabled:
        yield _Silent()
        return
    from tqdm import tqdm
    bar = tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True)
    try:
        yield bar
    finally:
        bar.close()
