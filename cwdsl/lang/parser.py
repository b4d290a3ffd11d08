"""Text → AST. The grammar lives in ``grammar.lark``; every failure is a ``ScheduleError``
with the file, line, column and a caret."""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import lark
from lark import Token

from cwdsl.lang import ast, lalr
from cwdsl.core.errors import Diagnostic, InputError, ScheduleError, Source, did_you_mean
from cwdsl.core.inputs import input_file
from cwdsl.core.span import Span
from cwdsl.lang.hints import character_hint, expected_here, token_hint

_TERMINAL_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "SIZE": "a size such as 500x500",
    "DURATION": "a duration such as 40ms or 0.04s",
    "CMP": "'>=' or '>'",
    "STRING": 'a file name in double quotes',
    "$END": "the end of the file",
}


def _grammar_text() -> str:
    return resources.files("cwdsl.lang").joinpath("grammar.lark").read_text()


@functools.cache
def reserved_words() -> frozenset[str]:
    """The schedule language's keywords: they cannot name a network, layer, head or stage."""
    return frozenset(re.findall(r'"([A-Za-z_]+)"', _grammar_text()))


@functools.cache
def _parser() -> lark.Lark:
    """lark's LALR parser of the grammar: its tables drive :mod:`cwdsl.lang.lalr`; error
    hints ask it what fits at a position."""
    return lark.Lark(_grammar_text(), parser="lalr", lexer="basic", strict=True, cache=True,
                     maybe_placeholders=False)


@functools.cache
def _tables() -> lalr.Tables:
    return lalr.Tables(_parser())


@functools.cache
def _terminal_words() -> dict[str, str]:
    words = dict(_TERMINAL_WORDS)
    for term in _parser().terminals:
        if isinstance(term.pattern, lark.lexer.PatternStr):
            words.setdefault(term.name, f"'{term.pattern.value}'")
    return words


def _expected(names) -> str:
    words = _terminal_words()
    shown = sorted({words.get(n, n) for n in names})
    if len(shown) == 1:
        return shown[0]
    return ", ".join(shown[:-1]) + " or " + shown[-1]


def _token_text(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    return f"'{token.value}'"


def _unexpected_token_message(token: Token, expected) -> str:
    words = _terminal_words()
    message = f"unexpected {_token_text(token)}; expected {_expected(expected)}"
    if "NAME" in expected and token.type != "NAME" and str(token.value).isidentifier():
        return message + f" ('{token.value}' is a reserved word and cannot be a name)"
    if token.type == "NAME":
        keywords = [words[n].strip("'") for n in expected if words.get(n, "").startswith("'")]
        return message + did_you_mean(str(token.value), keywords)
    return message


def parse(text: str, path: str = "<string>") -> ast.Schedule:
    """Parse schedule text into a :class:`~cwdsl.lang.ast.Schedule` (syntax only; see ``check``).
    Linear in the text's length, at any nesting depth. A line ends at ``\\n``, ``\\r\\n`` or
    ``\\r``, as Python's universal newlines count lines."""
    text = text.removeprefix("\ufeff")  # a byte-order mark is not part of the schedule
    if "\r" in text:  # one "\n" per line break: each line keeps its columns
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    source = Source(text, path)
    try:
        statements = lalr.run(_tables(), text, AstBuilder(source))
    except lark.exceptions.UnexpectedCharacters as e:
        span = Span(e.line, e.column, e.line, e.column + 1)
        char = text[e.pos_in_stream] if e.pos_in_stream < len(text) else "?"
        expected = expected_here(_parser(), text, e.pos_in_stream) or e.allowed
        raise ScheduleError(Diagnostic(
            f"unexpected character {char!r}; expected {_expected(expected)}"
            f"{character_hint(text, e.pos_in_stream, expected)}", span,
            source=source)) from None
    except lark.exceptions.UnexpectedToken as e:
        token = e.token
        if token.type == "$END":  # after the last line's last character
            line = len(source.lines) - (len(source.lines) > 1 and not source.lines[-1])
            column = len(source.line(line)) + 1
            span = Span(line, column, line, column + 1)
        else:
            span = Span.of(token)
        message = _unexpected_token_message(token, e.expected)
        message, span = token_hint(text, token, set(e.expected)) or (message, span)
        raise ScheduleError(Diagnostic(message, span, source=source)) from None
    return _assemble(statements, source)


MAX_SCHEDULE_BYTES = 4 * 2**20
"""The largest schedule file read (4 MiB): there is no other limit on a schedule's size or
depth; ``check`` takes under 2 s up to 1 MB (benchmarks/bench_language.py)."""


def parse_file(path: str | Path) -> ast.Schedule:
    """Read and parse a ``.cw`` file (UTF-8, a byte-order mark allowed); a missing,
    unreadable, non-regular or oversized file is an ``InputError`` naming it."""
    path = input_file(path, "schedule file")  # a FIFO or /dev/zero is refused, not read
    try:
        with path.open("rb") as f:
            data = f.read(MAX_SCHEDULE_BYTES + 1)
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    if len(data) > MAX_SCHEDULE_BYTES:
        raise InputError(f"{path}: larger than {MAX_SCHEDULE_BYTES // 2**20} MiB; not a schedule")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    return parse(text, str(path))


MAX_WHOLE = 2**63 - 1
"""The largest period, phase, delay, constant or size side a schedule may write."""

Lexeme = tuple[str, Span]
"""A token as the grammar's actions see it: its text and where it is."""


def _ident(token: Lexeme) -> ast.Ident:
    return ast.Ident(token[0], span=token[1])


class AstBuilder:
    """The grammar's actions: one method per rule (or alias), ``method(children, span)`` →
    its value, called by :func:`cwdsl.lang.lalr.run` as it reduces; each child is a
    ``(value, span)`` pair, a token's value its text. Numbers are validated for *shape*
    here (whole numbers where whole numbers are needed); ranges are the checker's job."""

    def __init__(self, source: Source):
        self.source = source

    def _error(self, message: str, span: Span) -> ScheduleError:
        return ScheduleError(Diagnostic(message, span, source=self.source))

    def _whole(self, token: Lexeme, what: str) -> int:
        """An exact whole number (never through a float, which rounds above 2**53)."""
        text, span = token
        if len(text) < 19 and text.isdigit() and text.isascii():  # the usual case: < 2**63
            return int(text)
        if not _looks_whole(text):
            raise self._error(f"{what} must be a whole number, got {_shown(text)}", span)
        if len(text.lstrip("-")) > len(str(MAX_WHOLE)) or abs(int(text)) > MAX_WHOLE:
            raise self._error(f"{what} is too large ({_shown(text)}); at most 2**63 - 1", span)
        return int(text)

    def _fraction(self, token: Lexeme) -> float:
        value = float(token[0])
        if not math.isfinite(value):
            raise self._error(f"threshold must be a finite number, got {token[0]}", token[1])
        return value

    def start(self, children, span):
        return [statement for statement, _ in children]

    def _duration(self, token: Lexeme) -> ast.Duration:
        """``40ms`` or ``0.04s`` in milliseconds (ranges are the checker's job)."""
        text, span = token
        value = duration_ms(text)
        if not math.isfinite(value):
            raise self._error(f"a duration must be a finite number, got {text}", span)
        return ast.Duration(value, span=span)

    def network_decl(self, children, span):
        size = deadline = None
        for value, where in children[1:]:
            if isinstance(value, ast.Duration):
                deadline = value
            else:
                h, w = (self._whole((x, where), "an input size") for x in value.split("x"))
                size = ast.Size(h, w, span=where)
        return ast.NetworkDecl(_ident(children[0]), size, deadline, span=span)

    def deadline_decl(self, children, span):
        return self._duration(children[0])

    def fits(self, children, span):
        return ast.Fits(self._duration(children[0]) if children else None, span=span)

    def stage_decl(self, children, span):
        name, first, last, *heads = children
        return ast.StageDecl(_ident(name), _ident(first), _ident(last),
                             tuple(_ident(h) for h in heads), span=span)

    def clock_decl(self, children, span):
        return ast.ClockDecl(_ident(children[0]), children[1][0], span=span)

    def compute_rule(self, children, span):
        stage, (clock, _), *rest = children
        delay, otherwise, flow, where = 0, None, None, None
        for (kind, value), _ in rest:
            if kind == "delay":
                delay = value
            else:
                otherwise, flow, where = value
        return ast.ComputeRule(_ident(stage), clock, delay, otherwise, flow, span=span,
                               counter_span=where)

    def delay(self, children, span):
        return ("delay", self._whole(children[0], "delay"))

    def counter_cache(self, children, span):
        return ("counter", ("cache", None, span))

    def counter_warp(self, children, span):
        flow = children[0][0] if children else ast.Ident(ast.DEFAULT_FLOW)
        return ("counter", ("warp", flow, span))

    def warp_option(self, children, span):
        return _ident(children[0])

    def output_decl(self, children, span):
        return ast.OutputDecl(tuple(_ident(c) for c in children), span=span)

    def or_(self, children, span):
        return ast.Or(children[0][0], children[1][0], span=span)

    def and_(self, children, span):
        return ast.And(children[0][0], children[1][0], span=span)

    def not_(self, children, span):
        return ast.Not(children[0][0], span=span)

    def const(self, children, span):
        return ast.Const(self._whole(children[0], "a constant clock"), span=span)

    def every(self, children, span):
        period = self._whole(children[0], "period")
        phase = self._whole(children[1], "phase") if len(children) > 1 else 0
        return ast.Every(period, phase, span=span)

    def labeldiff(self, children, span):
        stage, *options, op, theta = children
        # Defaults: the authors' reference code compares the whole score map with the map
        # of the frame where the clock last fired.
        given = {"since": "fired", "region": ast.DEFAULT_REGION}
        first: dict[str, Span] = {}
        for option, _ in options:
            if option.keyword in first:
                where = first[option.keyword]
                raise self._error(f"labeldiff's '{option.keyword}' is already given (line "
                                  f"{where.line}, column {where.column}); give each keyword at "
                                  f"most once", option.span)
            first[option.keyword] = option.span
            given[option.keyword] = option.value
        return ast.LabelDiff(_ident(stage), given["since"], op[0], self._fraction(theta),
                             given["region"], span=span)

    def pixeldiff(self, children, span):
        since = "previous"  # paper §4.1: ||x_t - x_{t-1}|| > θ
        *options, op, theta = children
        if options:
            since = options[0][0].value
        return ast.PixelDiff(since, op[0], self._fraction(theta), span=span)

    def predicted(self, children, span):
        stage, (model, _), op, theta = children
        return ast.Predicted(_ident(stage), model, op[0], self._fraction(theta), span=span)

    def model_name(self, children, span):
        return ast.ModelRef(children[0][0], False, span=children[0][1])

    def model_path(self, children, span):
        text, where = children[0]
        if not text[1:-1].strip():
            raise self._error("model= names an empty file name", where)
        return ast.ModelRef(text[1:-1], True, span=where)

    def reference(self, children, span):
        return children[0][0]

    region = reference

    def since_option(self, children, span):
        return _Option("since", children[0][0], span)

    def region_option(self, children, span):
        return _Option("region", children[0][0], span)

    def label_option(self, children, span):
        return children[0][0]

    def clock_ref(self, children, span):
        return ast.ClockRef(_ident(children[0]), span=span)


DURATION = re.compile(r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?(ms|s)")
"""A duration as the grammar's ``DURATION`` terminal writes it (``40ms``, ``0.04s``)."""


def duration_ms(text: str) -> float:
    """A duration's milliseconds (``40ms`` → 40.0, ``0.04s`` → 40.0); a ``ValueError`` for
    text that is not one (the command line's ``--deadline`` reads it so too)."""
    if not DURATION.fullmatch(text):
        raise ValueError(f"not a duration such as 40ms or 0.04s: {text!r}")
    number, scale = (text[:-2], 1.0) if text.endswith("ms") else (text[:-1], 1e3)
    return float(number) * scale


@dataclass(frozen=True)
class _Option:
    """A ``keyword=value`` inside ``labeldiff(…)`` or ``pixeldiff(…)``, and where it is."""

    keyword: str
    value: str
    span: Span


def _looks_whole(text: str) -> bool:
    return bool(text.lstrip("-")) and text.lstrip("-").isdigit() and text.count("-") <= 1


def _shown(text: str, limit: int = 24) -> str:
    """A number as written, shortened when it is very long."""
    return text if len(text) <= limit else f"{text[:10]}…{text[-6:]} ({len(text)} digits)"


def _assemble(statements, source: Source) -> ast.Schedule:
    """Group statements by kind; exactly one ``network`` and one ``output`` line."""
    networks = [s for s in statements if isinstance(s, ast.NetworkDecl)]
    outputs = [s for s in statements if isinstance(s, ast.OutputDecl)]
    errors = []
    end_span = Span(1, 1, 1, max(2, len(source.line(1)) + 1))
    if not networks:
        errors.append(Diagnostic("no network line; the schedule must start with e.g. "
                                 "'network fcn8s'", end_span, source=source))
    for extra in networks[1:]:
        errors.append(Diagnostic(f"second network line; the network is already "
                                 f"'{networks[0].name.name}' (line {networks[0].span.line})",
                                 extra.span, source=source))
    if not outputs:
        errors.append(Diagnostic("no output line; add e.g. 'output fuse(s1, s2, s3)'",
                                 end_span, source=source))
    for extra in outputs[1:]:
        errors.append(Diagnostic(f"second output line (the first is on line "
                                 f"{outputs[0].span.line})", extra.span, source=source))
    if errors:
        raise ScheduleError(errors)
    return ast.Schedule(
        network=networks[0],
        stages=tuple(s for s in statements if isinstance(s, ast.StageDecl)),
        clocks=tuple(s for s in statements if isinstance(s, ast.ClockDecl)),
        rules=tuple(s for s in statements if isinstance(s, ast.ComputeRule)),
        output=outputs[0],
        source=source,
    )
