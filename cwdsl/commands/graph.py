"""``cwdsl graph``: draw the compiled computation graph with its clock gates."""
from __future__ import annotations

from cwdsl.commands.options import add_command, print_warnings


def register(sub) -> None:
    p = add_command(
        sub, "graph", handle, "draw the compiled computation graph with its clock gates",
        "cwdsl graph schedules/pipeline3.cw -o pipeline3.png")
    p.add_argument("file", metavar="FILE", help="a schedule file (.cw)")
    p.add_argument("-o", "--out", required=True, metavar="OUT",
                   help="output picture: .png, .svg, .pdf or .dot")


def handle(args) -> int:
    from cwdsl.draw.graph import check_picture_path, draw
    from cwdsl.draw.layout import always_on, visible
    from cwdsl.ir.graph import load

    check_picture_path(args.out)
    program = load(args.file)
    print_warnings(program)
    out = draw(program, args.out)
    shown = visible(program.graph)
    idle = sorted(always_on(program.graph))
    verb = "computes" if len(idle) == 1 else "compute"
    note = f"; {', '.join(idle)} {verb} every frame: no cache drawn" if idle else ""
    print(f"wrote {out} ({shown.number_of_nodes()} nodes, {shown.number_of_edges()} edges"
          f"{note})")
    return 0
