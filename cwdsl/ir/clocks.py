"""Clock values per frame: every clock of a program compiled once to postfix code.

A clock expression may be thousands of terms deep and a named clock may stand at the end of
a chain of thousands of others, so neither compiling nor evaluating recurses: each clock
is a flat list of operations run on a value stack, and a gate first evaluates the named
clocks it reaches, dependencies before dependents, each once per frame.
"""
from __future__ import annotations

from collections.abc import Mapping, MutableMapping

import networkx as nx

from cwdsl.core.errors import InputError
from cwdsl.ir.graph import Program, atom_id, deadline_id
from cwdsl.lang import ast

# Operations: (CONST, value) | (EVERY, period, phase) | (ATOM, atom id) | (CLOCK, name)
# | (NOT,) | (AND,) | (OR,)
CONST, EVERY, ATOM, CLOCK, NOT, AND, OR = range(7)
Code = tuple[tuple, ...]


def compile_clock(expr: ast.ClockExpr, stage: str | None = None) -> Code:
    """``expr`` as postfix operations (operands before their operator). ``stage``: the
    stage a rule's clock gates, whose ``fits`` atoms are read like data-driven ones (the
    executor and the simulator decide them: :class:`~cwdsl.ir.plan.Deadline`)."""
    out: list[tuple] = []
    stack: list[tuple[ast.ClockExpr, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        operands = ast.children(node)
        if operands and not expanded:
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(operands))
            continue
        match node:
            case ast.Const(value):
                out.append((CONST, bool(value)))
            case ast.Every(period, phase):
                out.append((EVERY, period, phase))
            case ast.LabelDiff() | ast.PixelDiff() | ast.Predicted():
                out.append((ATOM, atom_id(node)))
            case ast.Fits() if stage is not None:
                out.append((ATOM, deadline_id(node, stage)))
            case ast.ClockRef(name):
                out.append((CLOCK, name.name))
            case ast.Not():
                out.append((NOT,))
            case ast.And():
                out.append((AND,))
            case ast.Or():
                out.append((OR,))
            case _:
                raise TypeError(f"not a clock expression: {node!r}")
    return tuple(out)


def run(code: Code, t: int, values: Mapping[str, bool], named: Mapping[str, bool]) -> bool:
    """The value of compiled ``code`` on frame ``t``: data-driven atoms from ``values``,
    named clocks from ``named`` (evaluated before)."""
    stack: list[bool] = []
    for op in code:
        kind = op[0]
        if kind == EVERY:
            stack.append(t % op[1] == op[2])
        elif kind == ATOM:
            stack.append(atom_value(values, op[1], t))
        elif kind == CLOCK:
            stack.append(named[op[1]])
        elif kind == CONST:
            stack.append(op[1])
        elif kind == NOT:
            stack[-1] = not stack[-1]
        else:
            right = stack.pop()
            stack[-1] = (stack[-1] and right) if kind == AND else (stack[-1] or right)
    return stack[0]


def atom_value(values: Mapping[str, bool], atom: str, t: int) -> bool:
    try:
        return bool(values[atom])
    except KeyError:
        raise InputError(f"frame {t}: no value for data-driven clock '{atom}' "
                         f"(give a trace or a firing rate)") from None


class ClockTable:
    """Every clock of ``program`` (by name, as :class:`~cwdsl.ir.nodes.ClockNode` names
    them), compiled; :meth:`value` evaluates one on a frame."""

    def __init__(self, program: Program):
        self.code = {c.name: compile_clock(c.expr, c.stage) for c in program.clocks}
        refs = nx.DiGraph()
        refs.add_nodes_from(self.code)
        for name, code in self.code.items():
            refs.add_edges_from((op[1], name) for op in code if op[0] == CLOCK)
        self._refs = refs
        self._rank = {name: i for i, name in enumerate(nx.topological_sort(refs))}
        self._needs: dict[str, tuple[str, ...]] = {}
        # Most clocks are one term (``1``, ``every 2``, an atom, or a name for one of
        # those): evaluate them directly, as the executor does every frame.
        self._direct = {}
        for name in self._rank:  # referenced clocks first
            self._direct[name] = _direct(self.code[name], self._direct)

    def needs(self, name: str) -> tuple[str, ...]:
        """The named clocks that clock ``name`` reaches, each after the clocks it reads
        (found once per clock asked for: only gates are, so this stays linear)."""
        found = self._needs.get(name)
        if found is None:
            found = tuple(sorted(nx.ancestors(self._refs, name), key=self._rank.__getitem__))
            self._needs[name] = found
        return found

    def direct(self, name: str):
        """A function ``(t, values) -> bool`` for a one-term clock (None for others), which
        needs no per-frame cache."""
        return self._direct[name]

    def value(self, name: str, t: int, values: Mapping[str, bool],
              named: MutableMapping[str, bool]) -> bool:
        """Clock ``name`` on frame ``t``; ``named`` caches the frame's clock values."""
        direct = self._direct[name]
        if direct is not None:
            return direct(t, values)
        for need in self.needs(name):
            if need not in named:
                named[need] = run(self.code[need], t, values, named)
        if name not in named:
            named[name] = run(self.code[name], t, values, named)
        return named[name]


def _direct(code: Code, direct: Mapping[str, object]):
    """A function ``(t, values) -> bool`` for one-term ``code``; None for longer code."""
    if len(code) != 1:
        return None
    op = code[0]
    kind = op[0]
    if kind == CONST:
        value = op[1]
        return lambda t, values: value
    if kind == EVERY:
        period, phase = op[1], op[2]
        return lambda t, values: t % period == phase
    if kind == ATOM:
        atom = op[1]
        return lambda t, values: atom_value(values, atom, t)
    return direct.get(op[1])  # a name for another clock: its function, if it has one
