"""Hints for syntax errors that fit the place they happen: what the parser expected there
(not every symbol the language has) and, for the usual slips, how to write it — a
comparison a clock cannot make (``<``, ``<=``, ``=``), a size written ``500X500``,
``500 x 500`` or ``500*500``, ``&&``/``||``/``!`` for ``and``/``or``/``not``, a threshold
written in per cent."""
from __future__ import annotations

import re

import lark

from cwdsl.core.span import Span

_ATOM = re.compile(r"\b(labeldiff|pixeldiff|predicted)\s*\(")
_NUMBER = r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_CHANGE = {"labeldiff": "the label change", "pixeldiff": "the pixel change",
           "predicted": "the predicted change"}
_SIZE = re.compile(r"\(?\s*([0-9]+)\s*(?:[xX×*,/]|by)\s*([0-9]+)\s*\)?")
_OPERATORS = {"&": "and", "|": "or", "!": "not"}


def expected_here(parser: lark.Lark, text: str, pos: int) -> set[str] | None:
    """The terminals the parser accepts at character ``pos`` of ``text`` (the basic lexer's
    own list names every terminal it could lex anywhere); None when that cannot be told."""
    try:
        interactive = parser.parse_interactive(text[:pos])
        interactive.exhaust_lexer()
        return set(interactive.accepts())
    except (lark.exceptions.LarkError, ValueError):
        return None


def _comparison(text: str, pos: int, written: str) -> str:
    """How to write the comparison that ``written`` (at ``pos``) tried."""
    atom = None
    for atom in _ATOM.finditer(text, 0, pos):
        pass
    if atom is None:
        return "; a clock fires when a change reaches θ: compare with '>=' or '>'"
    call = re.sub(r"\s+", " ", text[atom.start():pos].strip())
    theta = re.match(rf"\s*(?:[<>=]=?|=>|=<|≤|≥)?\s*({_NUMBER})", text[pos:])
    theta = theta.group(1) if theta else "θ"
    fires = f"a clock fires when {_CHANGE[atom.group(1)]} reaches θ ({call} >= {theta})"
    if written in ("<", "<="):
        negated = f"not {call} {'>=' if written == '<' else '>'} {theta}"
        below = "below θ" if written == "<" else "at or below θ"
        return f"; {fires}; to fire while it stays {below}, negate it: {negated}"
    if written in ("=>", "≥"):
        return f"; write '>=': {call} >= {theta}"
    return f"; {fires}"


def character_hint(text: str, pos: int, expected: set[str]) -> str:
    """What to add to "unexpected character" at ``pos`` (``""``: nothing fits)."""
    char = text[pos]
    if "CMP" in expected and char in "<≤≥=":
        written = text[pos:pos + 2] if text[pos:pos + 2] in ("<=", "=<", "=>") else char
        return _comparison(text, pos, {"=<": "<="}.get(written, written))
    if char in _OPERATORS and _OPERATORS[char].upper() in expected:
        return f"; write '{_OPERATORS[char]}'"
    number = re.search(rf"({_NUMBER})\s*$", text[:pos])
    if char == "%" and number:
        return (f"; a threshold is a fraction in [0, 1]: write {float(number.group(1)) / 100:g} "
                f"for {number.group(1)}%")
    return ""


def token_hint(text: str, token: lark.Token, expected: set[str]) -> tuple[str, Span] | None:
    """A message and span replacing "unexpected TOKEN; expected …" where a usual slip fits
    (None: keep the plain message)."""
    if expected == {"SIZE"}:
        line_end = text.find("\n", token.start_pos)
        size = _SIZE.match(text, token.start_pos, len(text) if line_end < 0 else line_end)
        if size:
            h, w = size.groups()
            written = size.group(0).rstrip()
            span = Span(token.line, token.column, token.line, token.column + len(written))
            return (f"unexpected '{written}'; an input size is written HxW, height x width with "
                    f"a lower-case x and no spaces: {h}x{w}", span)
        return (f"unexpected '{token.value}'; expected a size HxW, height x width "
                f"(e.g. 500x500)", Span.of(token))
    if expected == {"CMP"} and token.type != "$END":
        pos = token.start_pos
        written = text[pos:pos + 2] if text[pos:pos + 2] in ("==", "=>", "=<") else token.value
        hint = _comparison(text, pos, {"=<": "<="}.get(written, written))
        return f"unexpected '{token.value}'; expected '>=' or '>'{hint}", Span.of(token)
    return None
