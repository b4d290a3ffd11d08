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
from lark import Token, v_args
from lark.visitors import Transformer_NonRecursive

from cwdsl.lang import ast
from cwdsl.core.errors import Diagnostic, InputError, ScheduleError, Source, did_you_mean
from cwdsl.core.inputs import input_file
from cwdsl.core.span import Span
from cwdsl.lang.hints import character_hint, expected_here, token_hint

_TERMINAL_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "SIZE": "a size such as 500x500",
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
    return lark.Lark(_grammar_text(), parser="lalr", lexer="basic", strict=True,
                     propagate_positions=True, cache=True,
                     maybe_placeholders=False)


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
    """Parse schedule text into a :class:`~cwdsl.lang.ast.Schedule` (syntax only; see ``check``)."""
    text = text.removeprefix("\ufeff")  # a byte-order mark is not part of the schedule
    source = Source(text, path)
    _check_length(source)
    try:
        tree = _parser().parse(text)
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
        if token.type == "$END":
            lines = text.splitlines() or [""]
            line, col = len(lines), len(lines[-1]) + 1
            span = Span(line, col, line, col + 1)
        else:
            span = Span.of(token)
        message = _unexpected_token_message(token, e.expected)
        message, span = token_hint(text, token, set(e.expected)) or (message, span)
        raise ScheduleError(Diagnostic(message, span, source=source)) from None
    except lark.exceptions.UnexpectedEOF as e:  # pragma: no cover - LALR reports UnexpectedToken
        raise ScheduleError(Diagnostic(f"unexpected end of file; expected {_expected(e.expected)}",
                                       source=source)) from None
    try:
        statements = _ToAst(source).transform(tree).children  # no recursion: any depth
    except lark.exceptions.VisitError as e:
        if isinstance(e.orig_exc, ScheduleError):
            raise e.orig_exc from None
        raise
    return _assemble(statements, source)


MAX_TOKENS = 50_000
"""The most words, numbers and symbols a schedule may hold: parsing and checking that many
takes about a second; a schedule this large is a generated one gone wrong."""

_TOKEN = re.compile(r"#[^\n]*|\s+|(\.\.|>=|[A-Za-z0-9_.]+|.)", re.S)


def _check_length(source: Source) -> None:
    """A ``ScheduleError`` at the first token past :data:`MAX_TOKENS` (a fast count, before
    the parser spends seconds per hundred thousand tokens)."""
    count = 0
    for match in _TOKEN.finditer(source.text):
        if match.group(1) is None:
            continue  # whitespace or a comment
        count += 1
        if count > MAX_TOKENS:
            line = source.text.count("\n", 0, match.start()) + 1
            column = match.start() - (source.text.rfind("\n", 0, match.start()) + 1) + 1
            raise ScheduleError(Diagnostic(
                f"the schedule is too long: more than {MAX_TOKENS:,} words, numbers and "
                f"symbols (split long clock expressions into named clocks, or generate less)",
                Span(line, column, line, column + len(match.group(1))), source=source))


MAX_SCHEDULE_BYTES = 4 * 2**20
"""The largest schedule file read (4 MiB); ``check`` takes well under 2 s up to 1 MB."""


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


def _ident(token: Token) -> ast.Ident:
    return ast.Ident(str(token), span=Span.of(token))


MAX_WHOLE = 2**63 - 1
"""The largest period, phase, delay, constant or size side a schedule may write."""


class _ToAst(Transformer_NonRecursive):
    """Parse tree → AST nodes. Numbers are validated for *shape* here (whole numbers
    where whole numbers are needed); ranges are the checker's job."""

    def __init__(self, source: Source):
        super().__init__()
        self.source = source

    def _error(self, message: str, token: Token) -> ScheduleError:
        return ScheduleError(Diagnostic(message, Span.of(token), source=self.source))

    def _whole(self, token: Token, what: str) -> int:
        """An exact whole number (never through a float, which rounds above 2**53)."""
        text = str(token)
        if not _looks_whole(text):
            raise self._error(f"{what} must be a whole number, got {_shown(text)}", token)
        if len(text.lstrip("-")) > len(str(MAX_WHOLE)) or abs(int(text)) > MAX_WHOLE:
            raise self._error(f"{what} is too large ({_shown(text)}); at most 2**63 - 1",
                              token)
        return int(text)

    def _fraction(self, token: Token) -> float:
        value = float(token)
        if not math.isfinite(value):
            raise self._error(f"threshold must be a finite number, got {token}", token)
        return value

    @v_args(meta=True)
    def network_decl(self, meta, children):
        size = None
        if len(children) == 2:
            h, w = (self._whole(Token("SIZE", x, *_position(children[1])), "an input size")
                    for x in str(children[1]).split("x"))
            size = ast.Size(h, w, span=Span.of(children[1]))
        return ast.NetworkDecl(_ident(children[0]), size, span=Span.of(meta))

    @v_args(meta=True)
    def stage_decl(self, meta, children):
        name, first, last, *heads = children
        return ast.StageDecl(_ident(name), _ident(first), _ident(last),
                             tuple(_ident(h) for h in heads), span=Span.of(meta))

    @v_args(meta=True)
    def clock_decl(self, meta, children):
        return ast.ClockDecl(_ident(children[0]), children[1], span=Span.of(meta))

    @v_args(meta=True)
    def compute_rule(self, meta, children):
        stage, clock, *rest = children
        delay, otherwise, flow, where = 0, None, None, None
        for kind, value in rest:
            if kind == "delay":
                delay = value
            else:
                otherwise, flow, where = value
        return ast.ComputeRule(_ident(stage), clock, delay, otherwise, flow, span=Span.of(meta),
                               counter_span=where)

    def delay(self, children):
        return ("delay", self._whole(children[0], "delay"))

    @v_args(meta=True)
    def counter_cache(self, meta, children):
        return ("counter", ("cache", None, Span.of(meta)))

    @v_args(meta=True)
    def counter_warp(self, meta, children):
        flow = children[0] if children else ast.Ident(ast.DEFAULT_FLOW)
        return ("counter", ("warp", flow, Span.of(meta)))

    def warp_option(self, children):
        return _ident(children[0])

    @v_args(meta=True)
    def output_decl(self, meta, children):
        return ast.OutputDecl(tuple(_ident(c) for c in children), span=Span.of(meta))

    @v_args(meta=True)
    def or_(self, meta, children):
        return ast.Or(children[0], children[1], span=Span.of(meta))

    @v_args(meta=True)
    def and_(self, meta, children):
        return ast.And(children[0], children[1], span=Span.of(meta))

    @v_args(meta=True)
    def not_(self, meta, children):
        return ast.Not(children[0], span=Span.of(meta))

    @v_args(meta=True)
    def const(self, meta, children):
        return ast.Const(self._whole(children[0], "a constant clock"), span=Span.of(meta))

    @v_args(meta=True)
    def every(self, meta, children):
        period = self._whole(children[0], "period")
        phase = self._whole(children[1], "phase") if len(children) > 1 else 0
        return ast.Every(period, phase, span=Span.of(meta))

    @v_args(meta=True)
    def labeldiff(self, meta, children):
        stage, *options, op, theta = children
        # Defaults: the authors' reference code compares the whole score map with the map
        # of the frame where the clock last fired.
        given = {"since": "fired", "region": ast.DEFAULT_REGION}
        first: dict[str, Span] = {}
        for option in options:
            if option.keyword in first:
                where = first[option.keyword]
                raise ScheduleError(Diagnostic(
                    f"labeldiff's '{option.keyword}' is already given (line {where.line}, "
                    f"column {where.column}); give each keyword at most once",
                    option.span, source=self.source))
            first[option.keyword] = option.span
            given[option.keyword] = option.value
        return ast.LabelDiff(_ident(stage), given["since"], str(op), self._fraction(theta),
                             given["region"], span=Span.of(meta))

    @v_args(meta=True)
    def pixeldiff(self, meta, children):
        since = "previous"  # paper §4.1: ||x_t - x_{t-1}|| > θ
        *options, op, theta = children
        if options:
            since = options[0].value
        return ast.PixelDiff(since, str(op), self._fraction(theta), span=Span.of(meta))

    @v_args(meta=True)
    def predicted(self, meta, children):
        stage, model, op, theta = children
        return ast.Predicted(_ident(stage), model, str(op), self._fraction(theta),
                             span=Span.of(meta))

    def model_name(self, children):
        return ast.ModelRef(str(children[0]), False, span=Span.of(children[0]))

    def model_path(self, children):
        token = children[0]
        path = str(token)[1:-1]
        if not path.strip():
            raise self._error("model= names an empty file name", token)
        return ast.ModelRef(path, True, span=Span.of(token))

    def reference(self, children):
        return str(children[0])

    region = reference

    @v_args(meta=True)
    def since_option(self, meta, children):
        return _Option("since", children[0], Span.of(meta))

    @v_args(meta=True)
    def region_option(self, meta, children):
        return _Option("region", children[0], Span.of(meta))

    def label_option(self, children):
        return children[0]

    @v_args(meta=True)
    def clock_ref(self, meta, children):
        return ast.ClockRef(_ident(children[0]), span=Span.of(meta))


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


def _position(token: Token) -> tuple:
    """A token's position, to give a part of it (one side of ``HxW``) the same span."""
    return (token.start_pos, token.line, token.column, token.end_line, token.end_column,
            token.end_pos)


def _assemble(statements, source: Source) -> ast.Schedule:
    """Group statements by kind; exactly one ``network`` and one ``output`` line."""
    networks = [s for s in statements if isinstance(s, ast.NetworkDecl)]
    outputs = [s for s in statements if isinstance(s, ast.OutputDecl)]
    errors = []
    end = source.text.splitlines() or [""]
    end_span = Span(1, 1, 1, max(2, len(end[0]) + 1))
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
