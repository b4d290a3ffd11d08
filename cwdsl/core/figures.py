"""Shared plumbing of the plots: a headless pyplot, suffix checks, atomic saves."""
from __future__ import annotations

from pathlib import Path

from cwdsl.core.atomic import atomic_path
from cwdsl.core.errors import InputError
from cwdsl.core.outputs import check_output

PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend (imported on first use)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def check_plot_path(path: str | Path | None, what: str = "plot") -> None:
    """An ``InputError`` unless ``path`` is None, or ends in a plot format we write and
    can be written (:func:`~cwdsl.core.outputs.check_output`); call it before any work."""
    if path is None:
        return
    check_output(path, what)
    if Path(path).suffix.lower() not in PLOT_SUFFIXES:
        raise InputError(f"{path}: the plot must be .png, .svg or .pdf")


def save_figure(fig, path: str | Path, dpi: int = 120) -> None:
    """Write ``fig`` to ``path`` atomically in the format its suffix names, then close it."""
    plt = pyplot()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=Path(path).suffix.lstrip(".").lower(), dpi=dpi)
    finally:
        plt.close(fig)
