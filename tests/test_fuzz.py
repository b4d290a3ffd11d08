"""Whatever text comes in, the only exception out is ``CwdslError``.

Run the long version with ``HYPOTHESIS_PROFILE=fuzz python -m pytest tests/test_fuzz.py``
(10,000 examples per property).
"""
import pytest
import functools
from importlib import resources

import lark
from hypothesis import given, strategies as st
from hypothesis.extra.lark import from_lark

from cwdsl import CwdslError, compile_text, print_schedule
from cwdsl.ir.plan import Planner
from cwdsl.lang import lalr
from strategies import schedules


def compile_or_user_error(text: str) -> None:
    try:
        program = compile_text(text, "fuzz.cw")
        planner = Planner(program)  # a bare 'fits' without any deadline is refused here
    except CwdslError as e:
        assert str(e).startswith("fuzz.cw")  # every message names the file
        return
    for t in range(3):  # ('fits' atoms are decided by whoever walks the plan: given here)
        planner.plan(t, {a: bool(t % 2) for a in program.atom_ids + planner.deadline_ids})


@functools.cache
def grammar() -> lark.Lark:
    # from_lark needs the contextual-free grammar object; same file the parser uses.
    text = resources.files("cwdsl.lang").joinpath("grammar.lark").read_text()
    return lark.Lark(text, parser="lalr", lexer="basic")


@given(from_lark(grammar(), explicit={"COMMENT": st.just("# c\n")}))
def test_grammar_generated_text_only_raises_user_errors(text):
    compile_or_user_error(text)


@st.composite
def mutated(draw):
    text = print_schedule(draw(schedules(fits=True)))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 8)))
        insert = draw(st.sampled_from(["", " ", "\n", "(", ")", "..", ",", "0", "-1", "x",
                                       "every", "not", "s1", "#", "=", ">=", "1.5", "é",
                                       "warp", "else warp", "predicted(", "model=",
                                       '"x.json"', "flow=", "fits", "fits(",
                                       "40ms", "0.04s", "0ms", "-5ms", "1e9s", "deadline",
                                       "deadline 40ms", "and fits"]))
        text = text[:i] + insert + text[j:]
    return text


@pytest.mark.slow
@given(mutated())
def test_mutated_text_only_raises_user_errors(text):
    compile_or_user_error(text)


@given(st.text(max_size=200))
def test_arbitrary_text_only_raises_user_errors(text):
    compile_or_user_error(text)


class _Nothing:
    """Actions that build nothing: only whether and where the text parses counts."""

    def __getattr__(self, name):
        return lambda children, span: None


def outcome(parse, text: str):
    """What parsing ``text`` gives: "ok", or the error, where, and what was expected."""
    try:
        parse(text)
        return "ok"
    except lark.exceptions.UnexpectedCharacters as e:
        return "character", e.pos_in_stream, e.line, e.column
    except lark.exceptions.UnexpectedToken as e:
        t = e.token
        return "token", t.type, t.value, t.start_pos, t.line, t.column, sorted(e.expected)


def same_as_lark(text: str) -> None:
    """cwdsl's LALR loop accepts what lark's own parser accepts, and fails where it fails."""
    ours = outcome(lambda t: lalr.run(tables(), t, _Nothing()), text)
    assert ours == outcome(grammar().parse, text)


@functools.cache
def tables() -> lalr.Tables:
    return lalr.Tables(grammar())


@given(from_lark(grammar(), explicit={"COMMENT": st.just("# c\n")}))
def test_the_parser_accepts_what_lark_accepts(text):
    same_as_lark(text)


@given(mutated())
def test_the_parser_fails_where_lark_fails(text):
    same_as_lark(text)
