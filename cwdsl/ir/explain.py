"""A frame × stage grid of plans: what computes, what is cached, the clock values."""
from __future__ import annotations

from cwdsl.ir.nodes import DeadlineNode
from cwdsl.ir.plan import FramePlan, Flow, Planner
from cwdsl.ir.trace import AtomTrace
from cwdsl.lang.printer import format_number


def plans(planner: Planner, frames: int, trace: AtomTrace | None = None) -> list[FramePlan]:
    """Plans of frames ``0..frames-1``; ``trace[t]`` gives the data-driven (and ``fits``)
    values of frame t."""
    return [planner.plan(t, trace[t] if trace else None) for t in range(frames)]


def render_grid(planner: Planner, plan_list: list[FramePlan]) -> str:
    """The grid as text: ``C`` compute (``C¹`` reads the previous stage d frames back),
    ``.`` cache, ``W`` warp; rows for each flow, clock, data-driven atom and ``fits``
    decision (``1``/``0``), and what each ``fits`` decides."""
    program = planner.program
    frames = len(plan_list)
    cell = max(3, len(str(frames - 1)) + 2)
    label_width = max([len("frame")] + [len(s) for s in planner.stages]
                      + [len("clock " + g) for g in dict.fromkeys(planner.gates.values())]
                      + [len(a) + 5 for a in planner.atom_ids + planner.deadline_ids]
                      + [len("flow " + f.method) for f in program.flows]) + 2

    def row(label: str, cells: list[str]) -> str:
        return label.ljust(label_width) + "".join(c.rjust(cell) for c in cells)

    lines = [f"{program.name}: network {program.network.name}, input "
             f"{program.input_size[0]}x{program.input_size[1]}, output fuse"
             f"({', '.join(program.output_stages)})", ""]
    lines.append(row("frame", [str(p.frame) for p in plan_list]))
    sup = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
    for stage in planner.stages:
        cells = []
        for p in plan_list:
            d = p.delay(stage)
            if d is None:
                cells.append("W" if stage in p.warped else ".")
            else:
                cells.append("C" + (str(d).translate(sup) if d else ""))
        lines.append(row(stage, cells))
    lines.append("")
    for flow in program.flows:
        lines.append(row("flow " + flow.method,
                         [str(int(Flow(flow.method) in p.steps)) for p in plan_list]))
    for gate in dict.fromkeys(planner.gates.values()):
        lines.append(row("clock " + gate, [str(int(p.clocks[gate])) for p in plan_list]))
    for atom in planner.atom_ids + planner.deadline_ids:
        lines.append(row("atom " + atom, ["-" if p.frame == 0 else str(int(p.atom_values[atom]))
                                for p in plan_list]))
    lines.append("")
    for node in program.deadlines:  # what each fits decision adds up, and against what
        lines.append(_deadline_line(node))
    if program.deadlines:
        lines.append("frame 0 computes every stage and decides no fits")
    for stage in planner.stages:
        n = sum(1 for p in plan_list if stage in p.computed)
        gate = planner.gates[stage]
        lines.append(f"{stage}: computes on {n}/{frames} frames ({100 * n / frames:.0f}%), "
                     f"clock '{gate}'")
    full = sum(1 for p in plan_list if len(p.computed) == len(planner.stages))
    lines.append(f"all stages computed on {full}/{frames} frames ({100 * full / frames:.0f}%)")
    concurrent = [p for p in plan_list[1:] if any(len(w) > 1 for w in p.waves)]
    if concurrent:
        waves = " | ".join("{" + ", ".join(w) + "}" for w in concurrent[0].waves)
        lines.append(f"concurrent stages (frame {concurrent[0].frame}): {waves}")
    if any(p.delay(s) for p in plan_list for s in p.computed):
        lines.append("C¹: the stage reads the previous stage's features from 1 frame back "
                     "(frame 0 always runs in full, without delays)")
    if program.warps:
        lines.append("W: the stage's last computed state, moved to the frame by the optical "
                     "flows since (flow rows: 1 where that frame's flow is computed)")
    lines.append("legend: C compute, . read the cache" + (", W warp" if program.warps else ""))
    return "\n".join(lines)


def _deadline_line(node: DeadlineNode) -> str:
    """What ``fits`` decision ``node`` adds up (cwdsl.ir.deadline's rule), and its deadline."""
    warps = [(s, m) for s, m in node.counters if m is not None]
    caches = [s for s, m in node.counters if m is None]
    adds = [node.stage, *node.rest, *(f"warp {s}" for s, _ in warps),
            *(f"flow {m}" for m in dict.fromkeys(m for _, m in warps)), "fuse"]
    limit = "no deadline" if node.deadline_ms is None else f"{format_number(node.deadline_ms)} ms"
    notes = [f"{s} always computes" for s in node.rest] \
        + [f"{s} at its warp" for s, _ in warps] + [f"{s} at its cache, free" for s in caches]
    return (f"{node.atom}: decided before {node.stage}'s wave on frames 1 on; fires when "
            f"elapsed since the frame's arrival + predicted {' + '.join(adds)} <= {limit}"
            + (f" (reading {node.stage} within the frame: {', '.join(notes)})" if notes
               else ""))
