"""Text → AST in one linear pass, at any size and depth: a regular-expression scanner and an
LALR(1) loop over the parse table lark builds from ``grammar.lark``, reducing straight into
the values the grammar's actions return (no parse tree, no second pass, no recursion).

It accepts exactly the language lark's own LALR parser does, and fails where it fails: the
scanner tries lark's terminals in lark's order and tells keywords from names as lark's lexer
does; the loop runs lark's table; a syntax error raises the exception lark raises there
(``UnexpectedCharacters`` or ``UnexpectedToken``, with the same token and expected set).
Values are shaped as lark shapes its tree: tokens a rule drops (``"clock"``, ``"="``) are
not passed on, ``?rule`` with one child is that child, ``_rule`` children are spliced in.

Why not lark's own loop with ``transformer=``: on a 1 MB schedule (276k tokens, a 2-core
VM) it takes 1.7 s with actions that do nothing, this loop 0.5 s, 0.8 s building the AST;
lark's tree alone took 4.2 s, and the tree and then a transform pass 5.1 s.
"""
from __future__ import annotations

import contextlib
import gc
import operator
import re
from typing import Any

import lark
from lark.exceptions import UnexpectedCharacters, UnexpectedToken
from lark.lexer import PatternStr
from lark.parsers.lalr_analysis import Shift

from cwdsl.core.errors import CwdslError
from cwdsl.core.span import Span

_ERROR = "_UNLEXABLE_"
"""The kind of a character no terminal matches (the scanner's last alternative)."""

# How a rule reduces: a ``?rule``'s one child stands for it (PASS); a ``_rule`` gathers its
# children for its parent to splice in (SPLICE); any other rule calls its action (BUILD).
PASS, SPLICE, BUILD = range(3)


class Tables:
    """What the loop needs from a ``lark.Lark(parser="lalr", lexer="basic")``, built once."""

    def __init__(self, parser: lark.Lark, start: str = "start"):
        lexer, table = parser.parser.lexer, parser.parser.parser.parser.parse_table
        terminals, flags = lexer.scanner.terminals, lexer.g_regex_flags  # in lark's order
        # One alternation without groups, so that ``findall`` hands over the tokens as
        # strings lying end to end (the last alternative takes a character no terminal
        # matches). A token's kind is the first terminal in that order that matches all of
        # it: the first that matched where it starts, as none looks around it.
        self.scan = re.compile("|".join(_plain(t.pattern.to_regexp()) for t in terminals)
                               + "|(?s:.)", flags)
        self.terminals = [(t.name, re.compile(t.pattern.to_regexp(), flags).fullmatch)
                          for t in terminals]
        self.allowed = (lexer.scanner.allowed_types - lexer.ignore_types) or {"<END-OF-FILE>"}
        self.ignore, self.newlines = frozenset(lexer.ignore_types), frozenset(lexer.newline_types)
        self.retype: dict[str, dict[str, str]] = {}  # a keyword is lexed as NAME, then renamed
        for kind, callback in lexer.callback.items():
            words = getattr(callback, "scanner", None)
            if words is None or not all(isinstance(t.pattern, PatternStr) and not t.pattern.flags
                                        for t in words.terminals):
                raise NotImplementedError(f"lexer callback on {kind}")  # not in this grammar
            self.retype[kind] = {t.pattern.value: t.name for t in words.terminals}
        self.states = table.states
        self.start, self.end = table.start_states[start], table.end_states[start]
        rules: dict[Any, int] = {}
        self.actions: dict[int, dict[str, int]] = {  # state → symbol → shift to s (>= 0) or
            state: {symbol: arg if action is Shift else ~rules.setdefault(arg, len(rules))
                    for symbol, (action, arg) in row.items()}  # reduce by rule ~r (< 0)
            for state, row in table.states.items()}
        self.rules = [_shape(rule) for rule in rules]

    def kind(self, token: str) -> str:
        """Its terminal (a keyword's own, not NAME); ``""``: ignored; ``_ERROR``: none."""
        for name, matches in self.terminals:
            if matches(token):
                words = self.retype.get(name)
                return "" if name in self.ignore else words.get(token, name) if words else name
        return _ERROR

    def expected(self, state: int) -> set[str]:
        """The terminals state ``state`` accepts (what lark's ``UnexpectedToken`` lists)."""
        return {s for s in self.states[state] if s.isupper()}


def _shape(rule) -> tuple:
    """(size, origin, how, kept, action name) of a rule, shaping its value as lark's tree
    builder shapes its node. ``kept``: for a rule without ``_rule`` children, a function
    picking the kept children out of all of them; else ``(index, splice?)`` pairs."""
    options, origin, size = rule.options, rule.origin.name, len(rule.expansion)
    kept = [(i, not sym.is_term and sym.name.startswith("_"))
            for i, sym in enumerate(rule.expansion)
            if options.keep_all_tokens or not (sym.is_term and sym.filter_out)]
    if options.expand1 and not rule.alias and (len(kept) != 1 or kept[0][1]):
        raise NotImplementedError(f"?rule {rule} with several children")  # not in this grammar
    if origin.startswith("_") or any(splice for _, splice in kept) or not size:
        return size, origin, SPLICE if origin.startswith("_") else BUILD, kept, rule.alias or origin
    index = [i for i, _ in kept]
    if index and index != list(range(index[0], index[-1] + 1)):
        pick = operator.itemgetter(*index)
    else:  # the kept children lie side by side (or there are none)
        pick = operator.itemgetter(slice(index[0], index[-1] + 1) if index else slice(0))
    return size, origin, PASS if options.expand1 and not rule.alias else BUILD, pick, \
        rule.alias or origin


def run(tables: Tables, text: str, actions: object) -> Any:
    """Parse ``text``; return the start rule's value. ``actions`` has a method per rule (or
    alias) name, called as ``method(children, span)``: the kept children, each a ``(value,
    span)`` pair (a token's value is its text). The first ``CwdslError`` an action raises is
    raised once the whole text has parsed: a syntax error anywhere comes first (as when the
    tree was built before it was transformed)."""
    with collector_paused():
        return _run(tables, text, actions)


@contextlib.contextmanager
def collector_paused():
    """Pause Python's cyclic garbage collector (reference counting goes on) while a large
    schedule's AST or graph is built, as each of its passes walks every object made so far;
    then, when that was many objects, file them with the long-lived ones (the oldest
    generation), which the next passes over the young ones would otherwise walk again: a
    third of ``check``'s time for 10,000 clocks. (Nothing is collected here; objects frozen
    by others stay frozen.)"""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_count()[0] > 100_000 and not gc.get_freeze_count():
            gc.freeze()  # every tracked object to the permanent generation …
            gc.unfreeze()  # … and back, into the oldest one
        if enabled:
            gc.enable()


def _run(tables: Tables, text: str, actions: object) -> Any:
    acts, newlines, new = tables.actions, tables.newlines, tuple.__new__
    rules = [(size, origin, how, kept, getattr(actions, name) if how == BUILD else None,
              how == SPLICE or not callable(kept)) for size, origin, how, kept, name in tables.rules]
    state = tables.start
    states, values = [state], []  # values: (value, span) of each stack entry
    failed: CwdslError | None = None
    line, line_start, start, end = 1, 0, 0, 0
    kinds: dict[str, str] = {}  # token text → its kind, found once per distinct text
    span = None
    for token in tables.scan.findall(text):
        kind = kinds.get(token)
        if kind is None:
            kind = kinds[token] = tables.kind(token)
        if not kind:  # whitespace or a comment
            if "\n" in token:
                line += token.count("\n")
                line_start = end + token.rindex("\n") + 1
            end += len(token)
            continue
        start = end
        end += len(token)
        if kind == _ERROR:
            raise UnexpectedCharacters(text, start, line, start - line_start + 1,
                                       allowed=tables.allowed)
        column = start - line_start + 1
        if kind in newlines and "\n" in token:
            end_line = line + token.count("\n")
            line_start = start + token.rindex("\n") + 1
            span = new(Span, (line, column, end_line, end - line_start + 1))
            line = end_line
        else:
            span = new(Span, (line, column, line, column + end - start))
        while True:
            try:
                act = acts[state][kind]
            except KeyError:
                raise UnexpectedToken(_token(kind, token, start, span),
                                      tables.expected(state)) from None
            if act >= 0:
                states.append(act)
                values.append((token, span))
                state = act
                break
            size, origin, how, kept, call, general = rule = rules[~act]
            if size == 1 and how == PASS:  # ``?a: b``: b's value and place stand for a
                state = states[-1] = acts[states[-2]][origin]
                continue
            if general:
                failed = _reduce(states, values, acts, rule, failed)
                state = states[-1]
                continue
            children = values[-size:]
            first, last = children[0][1], children[-1][1]
            where = new(Span, (first[0], first[1], last[2], last[3]))
            del values[-size:], states[-size:]
            if how == PASS:
                value = kept(children)[0][0]
            elif failed is None:
                try:
                    value = call(kept(children), where)
                except CwdslError as e:  # a value's shape is wrong: parse on for syntax errors
                    failed, value = e, None
            else:
                value = None
            state = acts[states[-1]][origin]
            states.append(state)
            values.append((value, where))
    while states[-1] != tables.end:  # the end of the text: complete the start rule
        act = acts[states[-1]].get("$END")
        if act is None:  # at the last token's place, as lark's
            raise UnexpectedToken(_token("$END", "", start, span or Span(1, 1, 1, 1)),
                                  tables.expected(states[-1]))
        failed = _reduce(states, values, acts, rules[~act], failed)
    if failed is not None:
        raise failed
    return values[-1][0]


def _reduce(states, values, acts, rule, failed):
    """Reduce the stacks' top by ``rule`` (any rule: the loop does the usual ones itself);
    return the first error an action has raised (after which only the syntax matters)."""
    size, origin, how, kept, call, _ = rule
    children = values[-size:] if size else []
    where = Span(children[0][1].line, children[0][1].column, children[-1][1].end_line,
                 children[-1][1].end_column) if size else None  # (only ``start`` can be empty)
    del values[len(values) - size:], states[len(states) - size:]
    if callable(kept):
        value = list(kept(children))
    else:
        value = []
        for i, splice in kept:
            if not splice:
                value.append(children[i])
            elif value:
                value.extend(children[i][0])
            else:  # a left-recursive ``_list: _list x`` grows its list in place
                value = children[i][0]
    if how == PASS:
        value = value[0][0]
    elif how == BUILD and failed is None:
        try:
            value = call(value, where)
        except CwdslError as e:
            failed, value = e, None
    states.append(acts[states[-1]][origin])
    values.append((value, where))
    return failed


def _plain(regex: str) -> str:
    """``regex`` with its groups made non-capturing; ``NotImplementedError`` for what could
    make a terminal's match depend on the text around it (anchors, look-arounds, back
    references), which the scanner could not tell apart by the token alone."""
    out, i, in_class = [], 0, False
    while i < len(regex):
        c = regex[i]
        if c == "\\":
            escaped = regex[i + 1:i + 2]
            if not in_class and (escaped in ("b", "B", "A", "Z") or escaped.isdigit()):
                raise NotImplementedError(f"terminal /{regex}/ looks around it")
            out.append(regex[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]" or regex[i - 1] == "[" or regex[i - 2:i] == "[^"
        elif c == "[":
            in_class = True
        elif c in "^$" or regex.startswith(("(?=", "(?!", "(?<", "(?P=", "(?("), i):
            raise NotImplementedError(f"terminal /{regex}/ looks around it")
        elif regex.startswith("(?P<", i):
            c, i = "(?:", regex.index(">", i)
        elif c == "(" and not regex.startswith("(?", i):
            c = "(?:"
        out.append(c)
        i += 1
    return "".join(out)


def _token(kind: str, text: str, start: int, span: Span) -> lark.Token:
    return lark.Token(kind, text, start, *span, start + len(text))
