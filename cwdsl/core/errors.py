"""One error family for everything a user can get wrong.

A :class:`CwdslError` carries one or more :class:`Diagnostic` s. Each renders as
``file:line:col: error: message`` followed by the source line and carets under the
culprit, so the CLI can print it as is and exit 2.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from cwdsl.core.span import Span


@dataclass(frozen=True)
class Source:
    """The text of a schedule and the path it came from (``<string>`` when none)."""

    text: str
    path: str = "<string>"

    def line(self, number: int) -> str:
        lines = self.text.splitlines()
        return lines[number - 1] if 0 < number <= len(lines) else ""


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
        text = self.source.line(self.span.line).expandtabs(1)
        if not text:
            return head
        start = self.span.column - 1
        if self.span.end_line == self.span.line:
            width = max(1, self.span.end_column - self.span.column)
        else:
            width = max(1, len(text) - start)
        return f"{head}\n    {text}\n    {' ' * start}{'^' * width}"


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
        return "\n".join(d.render() for d in self.diagnostics)


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
