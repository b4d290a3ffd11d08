"""The pieces of a graph drawing's geometry, in points (one unit is one point of the
picture on both axes): text sizes, node outlines, edge routes and labels."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

FONT, EDGE_FONT = 7.0, 6.0  # points: node labels, edge labels
PAD = 6.0                   # between a label and its shape's outline
MIN_BOX = (60.0, 40.0)
MIN_CIRCLE = 52.0
GAP = 26.0                  # the least clear space between neighbouring shapes
ROW_GAP = 30.0              # between rows of shapes
LANE = 8.0                  # between parallel lanes
SHAPES = {"clock": "circle", "measure": "hexagon", "flow": "slant",
          "deadline": "octagon"}  # every other kind: "box"
CUT = 0.35  # an octagon's corners are cut this share of its half-height deep
Point = tuple[float, float]


@functools.lru_cache(maxsize=4096)
def measure_text(text: str, size: float) -> tuple[float, float]:
    """Width and height in points of ``text`` (lines centred) at font ``size``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(dpi=72)
    canvas = FigureCanvasAgg(fig)
    box = fig.text(0, 0, text, fontsize=size, ha="center", multialignment="center") \
        .get_window_extent(canvas.get_renderer())
    return box.width, box.height


@dataclass(frozen=True)
class Shape:
    """A node's outline: ``kind`` (box, circle, hexagon, slant, octagon) centred at (x, y),
    ``w`` by ``h`` points."""

    kind: str
    x: float
    y: float
    w: float
    h: float

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return self.x - self.w / 2, self.y - self.h / 2, self.x + self.w / 2, self.y + self.h / 2

    def polygon(self) -> list[Point]:
        """The outline's corners (a circle: 48 of them), anticlockwise."""
        x, y, a, b = self.x, self.y, self.w / 2, self.h / 2
        if self.kind == "circle":
            return [(x + a * math.cos(t), y + a * math.sin(t))
                    for t in (2 * math.pi * i / 48 for i in range(48))]
        if self.kind == "hexagon":
            i = 0.6 * b
            return [(x + a, y), (x + a - i, y + b), (x - a + i, y + b), (x - a, y),
                    (x - a + i, y - b), (x + a - i, y - b)]
        if self.kind == "octagon":
            c = CUT * b
            return [(x + a, y - b + c), (x + a, y + b - c), (x + a - c, y + b),
                    (x - a + c, y + b), (x - a, y + b - c), (x - a, y - b + c),
                    (x - a + c, y - b), (x + a - c, y - b)]
        if self.kind == "slant":
            s = 0.4 * b
            return [(x - a, y - b), (x + a - 2 * s, y - b), (x + a, y + b), (x - a + 2 * s, y + b)]
        return [(x - a, y - b), (x + a, y - b), (x + a, y + b), (x - a, y + b)]

    def side(self, dx: float, top: bool) -> Point:
        """The point of the outline ``dx`` right of the centre, on its top or bottom."""
        half = math.sqrt(max((self.w / 2) ** 2 - dx * dx, 0)) if self.kind == "circle" else self.h / 2
        return self.x + dx, self.y + (half if top else -half)

    def border(self, tx: float, ty: float) -> tuple[float, float]:
        """Where the ray from the centre toward (tx, ty) leaves the outline."""
        dx, dy = tx - self.x, ty - self.y
        if self.kind == "circle":
            n = math.hypot(dx, dy) or 1.0
            return self.x + dx * self.w / 2 / n, self.y + dy * self.w / 2 / n
        best = math.inf
        pts = self.polygon()
        for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]):
            ex, ey = x1 - x0, y1 - y0
            den = dx * ey - dy * ex
            if abs(den) < 1e-12:
                continue
            t = ((x0 - self.x) * ey - (y0 - self.y) * ex) / den
            s = ((x0 - self.x) * dy - (y0 - self.y) * dx) / den
            if t > 0 and -1e-9 <= s <= 1 + 1e-9:
                best = min(best, t)
        return (self.x + dx * best, self.y + dy * best) if best < math.inf else (self.x, self.y)


@dataclass(frozen=True)
class EdgeText:
    """An edge's label at (x, y), aligned by ``ha`` and ``va``."""

    text: str
    x: float
    y: float
    ha: str = "center"
    va: str = "center"


@dataclass
class Layout:
    """Shapes by node, each drawn edge's route (points, first on its source's outline, last
    on its target's) and label."""

    shapes: dict[str, Shape] = field(default_factory=dict)
    routes: dict[tuple[str, str], list[Point]] = field(default_factory=dict)
    texts: dict[tuple[str, str], EdgeText] = field(default_factory=dict)


def shape_size(kind: str, label: str) -> tuple[float, float]:
    w, h = measure_text(label, FONT)
    if kind == "clock":
        d = max(MIN_CIRCLE, math.hypot(w, h) + PAD)
        return d, d
    height = max(MIN_BOX[1] if kind != "measure" else 34.0, h + 2 * PAD)
    if kind == "measure":  # the text's corners clear the slanted sides
        return max(MIN_BOX[0], w + 2 * PAD + 1.2 * h), height
    if kind == "flow":
        return max(MIN_BOX[0], w + 2 * PAD + 0.8 * height), height
    if kind == "deadline":  # the text's corners clear the cut corners
        return max(MIN_BOX[0], w + 2 * PAD + CUT * height), height
    return max(MIN_BOX[0], w + 2 * PAD), height


def straight(a: Shape, b: Shape, fa=None, fb=None) -> list[Point]:
    """From ``a``'s outline to ``b``'s along the line between ``fa`` and ``fb`` (points
    inside the shapes; their centres by default)."""
    fa, fb = fa or (a.x, a.y), fb or (b.x, b.y)
    start = Shape(a.kind, fa[0], fa[1], a.w - 2 * abs(fa[0] - a.x), a.h - 2 * abs(fa[1] - a.y))
    end = Shape(b.kind, fb[0], fb[1], b.w - 2 * abs(fb[0] - b.x), b.h - 2 * abs(fb[1] - b.y))
    return [start.border(*fb), end.border(*fa)]
