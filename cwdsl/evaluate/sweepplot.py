"""The plot of a sweep (paper Fig. 6): one curve per schedule over its θ values, each frame
oracle as a line, θ labels placed clear of each other, a title wrapped to the figure."""
from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

DPI = 120  # the plot's resolution; labels are placed as they will be drawn

if TYPE_CHECKING:
    from cwdsl.evaluate.evaluation import ScoreRow


def plot_curves(path: str | Path, curves: Sequence[SweepCurve], oracles: Sequence[ScoreRow],
                title: str, report: tuple[Sequence[SweepCurve], Sequence[ScoreRow], str]
                | None = None) -> None:
    """Fig. 6: frames with every stage computed (x, %) against mean IU (y), one curve per
    schedule (markers at its θ values, labelled, θ values that land on one point labelled
    once; a lone point for an unswept schedule) and each frame oracle as a horizontal line.
    The title is wrapped to the figure's width; θ labels are placed clear of each other.
    ``report`` (``sweep --tune``): ``(curves, oracles, title)`` of the report set, drawn in
    a second panel beside the tune set's."""
    from cwdsl.core.figures import pyplot, save_figure

    plt = pyplot()
    panels = [(curves, oracles, title)] + ([report] if report else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(6.4 * len(panels), 4.4), dpi=DPI,
                             squeeze=False)  # measured as it is saved
    drawn = [_draw(ax, *panel, joined=k == 0) for k, (ax, panel) in
             enumerate(zip(axes[0], panels))]
    for ax, (text, full_title, labels) in zip(axes[0], drawn):
        fit_title(fig, text, full_title)
    for ax, (_, _, labels) in zip(axes[0], drawn):
        _place_labels(fig, ax, labels)
        ax.legend(fontsize=8, loc="best")
    save_figure(fig, path, dpi=DPI)


def _draw(ax, curves, oracles, title, joined: bool = True):
    """One panel of :func:`plot_curves`: its curves (a swept one ``joined`` by a line) and
    oracle lines; returns (the title's text, the title, θ labels to place)."""
    markers = "osD^v<>ph*"
    labels = []
    for i, curve in enumerate(curves):
        x, y = zip(*curve.points) if curve.rows else ((), ())
        style = markers[i % len(markers)] + ("-" if curve.thetas and joined else "")
        ax.plot(x, y, style, color=f"C{i}", label=curve.schedule)
        labels += [(text, xi, yi, f"C{i}") for text, xi, yi in theta_labels(curve)]
    for j, oracle in enumerate(oracles):
        ax.axhline(oracle.mean_iu, color="k", ls=("--", ":", "-.")[j % 3], lw=1,
                   label=oracle.schedule)
    ax.set_xlabel("frames with every stage computed (%, frame 0 of each clip excluded)")
    ax.set_ylabel("mean IU (%)")
    ax.set_xlim(-2, 108)
    ax.grid(alpha=0.3)
    return ax.set_title(title, fontsize=9), title, labels


def theta_labels(curve: SweepCurve) -> list[tuple[str, float, float]]:
    """(text, x, y) for each distinct point of ``curve``: the θ values that gave it, a run of
    neighbouring θs as ``first–last``."""
    at: dict[tuple[float, float], list[int]] = {}
    for i, point in enumerate(curve.points[:len(curve.thetas)]):
        at.setdefault(point, []).append(i)
    out = []
    for (x, y), idx in at.items():
        values = [f"{curve.thetas[i]:g}" for i in idx]
        run = len(idx) > 2 and idx == list(range(idx[0], idx[-1] + 1))
        out.append((f"{values[0]}–{values[-1]}" if run else ", ".join(values), x, y))
    return out


def fit_title(fig, text, title: str) -> None:
    """Rewrap ``text`` (the axes' title, ``title`` as given) until, the figure laid out
    tight, it lies inside the figure."""
    renderer = fig.canvas.get_renderer()
    for width in range(100, 19, -5):
        text.set_text("\n".join(textwrap.fill(line, width) for line in title.split("\n")))
        fig.tight_layout()
        box = text.get_window_extent(renderer)
        if box.x0 >= 2 and box.x1 <= fig.bbox.width - 2 and box.y1 <= fig.bbox.height:
            return


_OFFSETS = ((4, -11, "left"), (4, 3, "left"), (-4, 3, "right"), (-4, -11, "right"),
            (4, -21, "left"), (4, 13, "left"), (-4, 13, "right"), (-4, -21, "right"))
"""Where a θ label may go from its point: (x, y) offset in points and alignment."""


def _place_labels(fig, ax, labels: Sequence[tuple[str, float, float, str]]) -> None:
    """Annotate each (text, x, y, colour) at the first offset of :data:`_OFFSETS` where it
    stays in the axes and overlaps no label placed before, no marker and no line; failing
    that, the first where it overlaps no label or marker; failing that, the first."""
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    pad = 4 * fig.dpi / 72
    taken = [(mx - pad, my - pad, mx + pad, my + pad)
             for mx, my in (ax.transData.transform((x, y)) for _, x, y, _ in labels)]
    lines = [seg for line in ax.get_lines()
             for xy in [ax.transData.transform(line.get_xydata())] if len(xy) > 1
             for seg in zip(xy[:-1], xy[1:])]
    for text, x, y, colour in labels:
        notes = [ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy),
                             fontsize=7, color=colour, ha=ha) for dx, dy, ha in _OFFSETS]
        boxes = [n.get_window_extent(renderer) for n in notes]
        fits = [frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1
                and not any(_overlaps(b, t) for t in taken) for b in boxes]
        clear = [f and not any(_crosses(b, p, q) for p, q in lines) for f, b in zip(fits, boxes)]
        keep = clear.index(True) if any(clear) else fits.index(True) if any(fits) else 0
        for i, note in enumerate(notes):
            if i != keep:
                note.remove()
        taken.append(tuple(boxes[keep].extents))


def _overlaps(box, other) -> bool:
    return box.x0 < other[2] and other[0] < box.x1 and box.y0 < other[3] and other[1] < box.y1


def _crosses(box, p, q) -> bool:
    """Whether segment p–q passes through ``box`` (display coordinates)."""
    t0, t1 = 0.0, 1.0
    dx, dy = q[0] - p[0], q[1] - p[1]
    for den, num in ((-dx, p[0] - box.x0), (dx, box.x1 - p[0]), (-dy, p[1] - box.y0),
                     (dy, box.y1 - p[1])):
        if den == 0:
            if num < 0:
                return False
        elif den < 0:
            t0 = max(t0, num / den)
        else:
            t1 = min(t1, num / den)
    return t0 < t1
