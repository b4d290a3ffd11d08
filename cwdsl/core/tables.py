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
from dataclasses import dataclass
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

    def cell(self, value: Any) -> str:
        if value is None:
            return " " * self.width
        text = self.format(value) if callable(self.format) else format(value, self.format)
        return f"{text:{self.align}{self.width - len(self.suffix)}}{self.suffix}"


def render_table(header: str | None, columns: Sequence[Column], rows: Iterable[Sequence[Any]],
                 footer: str | None = None, rule: bool = True) -> str:
    """The table (see the module's docstring); each row holds one value per column."""
    titles = "".join(column.heading() for column in columns)
    lines = [] if header is None else [header, ""]
    lines.append(titles)
    if rule:
        lines.append("-" * len(titles))
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"a row has {len(row)} values for {len(columns)} columns")
        lines.append("".join(column.cell(value) for column, value in zip(columns, row)))
    if footer is not None:
        lines += ["", footer]
    return "\n".join(lines)
