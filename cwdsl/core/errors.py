"""One error family for everything a user can get wrong.

A :class:`CwdslError` carries one or more :class:`Diagnostic` s. Each renders as
``file:line:col: error: message`` followed by the source line and carets under the
culprit, so the CLI can print it as is and exit 2.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable, Sequence

from cwdsl.core.span import Span


@dataclass(frozen=True)
class Source:
    """The text of a schedule and the path it came from (``<string>`` when none).

    A line ends at ``\\n``, ``\\r\\n`` or ``\\r``, as Python's universal newlines (and the
    parser) count lines: other Unicode line breaks (U+2028, U+0085, form feed) are
    characters of the line."""

    text: str
    path: str = "<string>"

    @cached_property
    def lines(self) -> tuple[str, ...]:
        """The text's lines (split once, however many diagnostics ask)."""
        return tuple(self.text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))

    def line(self, number: int) -> str:
        return self.lines[number - 1] if 0 < number <= len(self.lines) else ""


@dataclass(frozen=True)
class Diagnostic:
    """One finding: ``severity`` is ``"error"`` or ``"warning"``."""

    message: str
    span: Span | None = None
    severity: str = "error"
    source: Source | None = field(default=None, compare=False, repr=False)

    def render(self) -> str:
        if self.source is None and self.span is None:
            return f"{self.severity}: {self.message}"  # the message names its file itself
        path = self.source.path if self.source else "<string>"
        if self.span is None:
            return f"{path}: {self.severity}: {self.message}"
        head = f"{path}:{self.span.line}:{self.span.column}: {self.severity}: {self.message}"
        if self.source is None:
            return head
        text = _printable(self.source.line(self.span.line))
        if not text:
            return head
        start = self.span.column - 1
        if self.span.end_line == self.span.line:
            width = max(1, self.span.end_column - self.span.column)
        else:
            width = max(1, len(text) - start)
        text, start, width = _window(text, start, width)
        return f"{head}\n    {text}\n    {' ' * start}{'^' * width}"


SHOWN_WIDTH = 100
"""Source lines longer than this are shown as a window around the culprit."""


def _printable(line: str) -> str:
    """``line`` for display, one character per column: tabs and other control or
    separator characters (which would move the caret) become spaces."""
    return "".join(" " if (not c.isprintable()) else c for c in line)


def _window(text: str, start: int, width: int) -> tuple[str, int, int]:
    """At most :data:`SHOWN_WIDTH` characters of ``text`` around columns
    ``start .. start + width``, with ``…`` where it is cut; the caret's new start and width."""
    if len(text) <= SHOWN_WIDTH:
        return text, start, width
    width = min(width, SHOWN_WIDTH // 2)
    left = max(0, min(start - 20, len(text) - SHOWN_WIDTH))
    shown = text[left:left + SHOWN_WIDTH]
    prefix = "…" if left > 0 else ""
    suffix = "…" if left + SHOWN_WIDTH < len(text) else ""
    return prefix + shown + suffix, start - left + len(prefix), width


MAX_SHOWN = 50
"""The most diagnostics one error prints; the rest are counted."""


class CwdslError(Exception):
    """Anything the user can fix: bad schedule text, bad files, bad options."""

    def __init__(self, diagnostics: Diagnostic | str | Sequence[Diagnostic]):
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic(diagnostics)]
        elif isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        super().__init__(str(self))

    def __str__(self) -> str:
        shown = [d.render() for d in self.diagnostics[:MAX_SHOWN]]
        hidden = len(self.diagnostics) - len(shown)
        if hidden:
            shown.append(f"… and {hidden} more error(s) and warning(s) not shown")
        return "\n".join(shown)


class ScheduleError(CwdslError):
    """A syntax or semantic error in a ``.cw`` schedule."""


class InputError(CwdslError):
    """A file, option or data the user pointed at is missing or malformed."""


class InternalError(Exception):
    """A broken invariant inside cwdsl (a bug), never the user's fault."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest candidate, or ``""`` when none is close."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def file_error(path, reason: str) -> InputError:
    """An ``InputError`` about a user's file, rendered as ``PATH: error: REASON``."""
    return InputError(Diagnostic(reason, source=Source("", str(path))))
