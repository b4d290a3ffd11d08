"""Source positions (1-based lines and columns; the end column is exclusive)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
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
