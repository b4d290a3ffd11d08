"""Fixed-width text tables: the one renderer behind every table a command prints.

A table is an optional header line, the column titles, an optional rule, one line per
row and an optional footer, blank lines between the parts::

    header

    schedule      time % full ...
    ---------------------------
    oracle             100.0% ...

    footer
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Column:
    """One column: its title and cells are ``width`` characters wide, aligned by ``align``
    (``"<"`` left, ``">"`` right). A cell is ``format`` applied to the value (a format spec
    such as ``".1f"``, or a function returning text) and then ``suffix`` (e.g. ``"%"``),
    which is counted in the width. ``None`` is an empty cell."""

    title: str
    width: int
    format: str | Callable[[Any], str] = ""
    align: str = ">"
    suffix: str = ""

    def __post_init__(self):
        if self.align not in ("<", ">"):
            raise ValueError(f"align must be '<' or '>', got {self.align!r}")

    def heading(self) -> str:
        return f"{self.title:{self.align}{self.width}}"

    def text(self, value: Any) -> str:
        """The cell's text, unpadded (``""`` for None)."""
        if value is None:
            return ""
        text = self.format(value) if callable(self.format) else format(value, self.format)
        return text + self.suffix

    def cell(self, value: Any) -> str:
        if value is None:
            return " " * self.width
        text = self.text(value)[:-len(self.suffix) or None]
        return f"{text:{self.align}{self.width - len(self.suffix)}}{self.suffix}"


def fit_columns(columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> list[Column]:
    """``columns``, each too narrow for its title or a cell widened to the longest plus one
    space, so that every row's columns start (and right-aligned ones end) at the same offsets.
    The last filled cell of a row, left-aligned (a group's name on a line of its own), may
    run on into the empty ones after it."""
    fitted = []
    for i, column in enumerate(columns):
        texts = [column.text(row[i]) for row in rows
                 if column.align == ">" or any(v is not None for v in row[i + 1:])]
        longest = max((len(t) for t in [column.title, *texts]), default=0)
        fitted.append(replace(column, width=longest + 1) if longest > column.width else column)
    return fitted


def render_table(header: str | None, columns: Sequence[Column], rows: Iterable[Sequence[Any]],
                 footer: str | None = None, rule: bool = True) -> str:
    """The table (see the module's docstring); each row holds one value per column. A
    column too narrow for its title or a value is widened (:func:`fit_columns`)."""
    rows = [tuple(row) for row in rows]
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"a row has {len(row)} values for {len(columns)} columns")
    columns = fit_columns(columns, rows)
    titles = "".join(column.heading() for column in columns)
    lines = [] if header is None else [header, ""]
    lines.append(titles)
    if rule:
        lines.append("-" * len(titles))
    for row in rows:
        lines.append("".join(column.cell(value) for column, value in zip(columns, row)))
    if footer is not None:
        lines += ["", footer]
    return "\n".join(lines)
