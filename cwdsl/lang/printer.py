"""AST → canonical text. ``parse(print_schedule(s)) == s`` for every valid AST."""
from __future__ import annotations

from cwdsl.lang import ast
_PRECEDENCE = {ast.Or: 1, ast.And: 2, ast.Not: 3}


def format_number(value: float) -> str:
    """Shortest text that reads back as the same float (``0.25``, ``1e-05``)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def print_clock(expr: ast.ClockExpr) -> str:
    """Canonical text of a clock expression, with only the parentheses it needs."""
    match expr:
        case ast.Const(value):
            return str(value)
        case ast.Every(period, phase):
            return f"every {period}" + (f" phase {phase}" if phase else "")
        case ast.LabelDiff(stage, since, op, theta):
            return f"labeldiff({stage.name}, since={since}) {op} {format_number(theta)}"
        case ast.PixelDiff(since, op, theta):
            return f"pixeldiff(since={since}) {op} {format_number(theta)}"
        case ast.ClockRef(name):
            return name.name
        case ast.Not(operand):
            return "not " + _operand(operand, 3, right=False)
        case ast.And(left, right):
            return f"{_operand(left, 2, False)} and {_operand(right, 2, True)}"
        case ast.Or(left, right):
            return f"{_operand(left, 1, False)} or {_operand(right, 1, True)}"
    raise TypeError(f"not a clock expression: {expr!r}")


def _operand(expr: ast.ClockExpr, parent: int, right: bool) -> str:
    mine = _PRECEDENCE.get(type(expr), 4)
    text = print_clock(expr)
    # and/or are left-associative: a right child of equal precedence needs parentheses.
    if mine < parent or (right and mine == parent and mine < 3):
        return f"({text})"
    return text


def print_schedule(schedule: ast.Schedule) -> str:
    """The schedule in canonical layout: network, stages, clocks, rules, output."""
    net = schedule.network
    lines = [f"network {net.name.name}"
             + (f" input {net.input.height}x{net.input.width}" if net.input else ""), ""]
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
        lines.append(f"compute {rule.stage.name} when {print_clock(rule.clock)}{delay}{otherwise}")
    lines += ["", "output fuse(" + ", ".join(s.name for s in schedule.output.stages) + ")"]
    return "\n".join(lines) + "\n"
