"""What clocks depend on: the stages a clock reads through named clocks, and a cycle among
named clocks. Linear time and no recursion: chains of named clocks may be thousands long."""
from __future__ import annotations

from cwdsl.lang import ast


def stage_reads(expr: ast.ClockExpr, found: dict[int, tuple[list[str], list]],
                clocks: dict[str, ast.ClockDecl]) -> set[str]:
    """Stages whose scores a clock expression reads, through named clocks too, from what the
    checker found in each expression (``found[id(expr)]``: the declared clocks it names,
    its labeldiff/predicted atoms): each named clock once, no expression walked again."""
    names, atoms = found[id(expr)]
    reads = {atom.stage.name for atom in atoms}
    seen: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            names, atoms = found[id(clocks[name].expr)]
            reads.update(atom.stage.name for atom in atoms)
            pending += names
    return reads


def first_cycle(graph: dict[str, list[str]]) -> list[str]:
    """A cycle of ``graph`` (node → its successors; the cycle's nodes in edge order), or []
    when there is none: one iterative depth-first search from the nodes in insertion order,
    so linear time (never every cycle, which can be exponentially many)."""
    done: set[str] = set()
    for root in graph:
        if root in done:
            continue
        path, on_path = [root], {root}
        branches = [iter(graph[root])]
        while branches:
            nxt = next(branches[-1], None)
            if nxt is None:
                finished = path.pop()
                done.add(finished)
                on_path.discard(finished)
                branches.pop()
                continue
            if nxt in on_path:
                return path[path.index(nxt):]
            if nxt not in done:
                path.append(nxt)
                on_path.add(nxt)
                branches.append(iter(graph[nxt]))
    return []
