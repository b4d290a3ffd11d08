"""Source positions (1-based lines and columns; the end column is exclusive)."""
from __future__ import annotations

from typing import NamedTuple


class Span(NamedTuple):
    """Where a node or token was written. A tuple (the parser makes one per token, so it is
    made in C: ``tuple.__new__(Span, (line, column, end_line, end_column))``)."""

    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def of(cls, item) -> "Span | None":
        """The span of a lark ``Token`` or ``Tree.meta``; ``None`` when it has none."""
        line = getattr(item, "line", None)
        if line is None:
            return None
        return cls(line, item.column, item.end_line, item.end_column)
