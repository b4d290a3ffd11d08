"""AST → canonical text. ``parse(print_schedule(s)) == s`` for every valid AST."""
from __future__ import annotations

from cwdsl.lang import ast

_OR, _AND, _NOT, _ATOM = 1, 2, 3, 4  # precedences: atoms and clock names bind tightest
_PRECEDENCE = {ast.Or: _OR, ast.And: _AND, ast.Not: _NOT}


def format_number(value: float) -> str:
    """Shortest text that reads back as the same float (``0.25``, ``1e-05``)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def format_duration(duration: ast.Duration) -> str:
    """A duration's canonical text: its milliseconds (``40ms``, ``0.5ms``)."""
    return f"{format_number(duration.ms)}ms"


def print_clock(expr: ast.ClockExpr) -> str:
    """Canonical text of a clock expression, with only the parentheses it needs. Written
    token by token from an explicit stack: expressions may be thousands of terms deep, and
    the time is linear in their size."""
    precedence = _PRECEDENCE.get
    if precedence(expr.__class__, _ATOM) == _ATOM:
        return _atom_text(expr)  # an atom (an atom's id, a one-term clock)
    out: list[str] = []
    write = out.append
    # Work items: a text to write (an atom's, as soon as it is met: atoms never need
    # parentheses), or (node, the precedence of its parent, whether it is a right operand).
    # Pushed in reverse order of writing.
    stack: list = [(expr, 0, False)]
    push, pop = stack.append, stack.pop
    while stack:
        item = pop()
        if item.__class__ is str:
            write(item)
            continue
        node, parent, right = item
        mine = precedence(node.__class__)
        # and/or are left-associative: a right operand of equal precedence needs parentheses
        parens = mine < parent or (right and mine == parent and mine < _NOT)
        if parens:
            push(")")
        if mine == _NOT:
            operand = node.operand
            push((operand, mine, False) if operand.__class__ in _PRECEDENCE
                 else _atom_text(operand))
            push("not ")
        else:
            left, right = node.left, node.right
            push((right, mine, True) if right.__class__ in _PRECEDENCE else _atom_text(right))
            push(" and " if mine == _AND else " or ")
            push((left, mine, False) if left.__class__ in _PRECEDENCE else _atom_text(left))
        if parens:
            push("(")
    return "".join(out)


def _atom_text(node: ast.ClockExpr) -> str:
    kind = type(node)  # the usual atoms first, without pattern matching (thousands of them)
    if kind is ast.ClockRef:
        return node.name.name
    if kind is ast.Every:
        return f"every {node.period} phase {node.phase}" if node.phase else f"every {node.period}"
    match node:
        case ast.Const(value):
            return str(value)
        case ast.Every(period, phase):
            return f"every {period}" + (f" phase {phase}" if phase else "")
        case ast.LabelDiff(stage, since, op, theta, region):
            # The default region is left out: the canonical text of an atom is its id
            # (run records, explain, graph), which names the region only when it matters.
            where = "" if region == ast.DEFAULT_REGION else f", region={region}"
            return f"labeldiff({stage.name}, since={since}{where}) {op} {format_number(theta)}"
        case ast.PixelDiff(since, op, theta):
            return f"pixeldiff(since={since}) {op} {format_number(theta)}"
        case ast.Predicted(stage, model, op, theta):
            ref = f'"{model.name}"' if model.is_path else model.name
            return f"predicted({stage.name}, model={ref}) {op} {format_number(theta)}"
        case ast.Fits(deadline):
            return "fits" if deadline is None else f"fits({format_duration(deadline)})"
        case ast.ClockRef(name):
            return name.name
    raise TypeError(f"not a clock expression: {node!r}")


def print_schedule(schedule: ast.Schedule) -> str:
    """The schedule in canonical layout: network, stages, clocks, rules, output."""
    net = schedule.network
    lines = [f"network {net.name.name}"
             + (f" input {net.input.height}x{net.input.width}" if net.input else "")
             + (f" deadline {format_duration(net.deadline)}" if net.deadline else ""), ""]
    for stage in schedule.stages:
        heads = ", ".join(h.name for h in stage.heads)
        lines.append(f"stage {stage.name.name} = {stage.first.name} .. {stage.last.name}"
                     f" head {heads}")
    if schedule.clocks:
        lines.append("")
        lines += [f"clock {c.name.name} = {print_clock(c.expr)}" for c in schedule.clocks]
    if schedule.rules:
        lines.append("")
    for rule in schedule.rules:
        delay = f" delay {rule.delay}" if rule.delay else ""
        otherwise = f" else {rule.otherwise}" if rule.otherwise else ""
        if rule.flow is not None and rule.flow.name != ast.DEFAULT_FLOW:
            otherwise += f"(flow={rule.flow.name})"
        lines.append(f"compute {rule.stage.name} when {print_clock(rule.clock)}{delay}{otherwise}")
    lines += ["", "output fuse(" + ", ".join(s.name for s in schedule.output.stages) + ")"]
    return "\n".join(lines) + "\n"
