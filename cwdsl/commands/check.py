"""``cwdsl check``: parse and check schedules; report every error and warning."""
from __future__ import annotations

import sys

from cwdsl.commands.options import EXIT_USER_ERROR, add_command, print_warnings
from cwdsl.core.errors import CwdslError


def register(sub) -> None:
    p = add_command(sub, "check", handle, "parse and check schedules; report all errors",
                    "cwdsl check schedules/*.cw")
    p.add_argument("files", nargs="+", metavar="FILE", help="schedule files (.cw)")
    p.add_argument("--print", action="store_true", help="print each schedule in canonical form")


def handle(args) -> int:
    from cwdsl.ir.graph import load
    from cwdsl.lang.printer import print_schedule

    failed = 0
    for path in args.files:
        try:
            program = load(path)
        except CwdslError as e:
            print(e, file=sys.stderr)
            failed += 1
            continue
        print_warnings(program)
        if args.print:
            print(print_schedule(program.schedule), end="")
        else:
            atoms = f", {len(program.atom_ids)} data-driven clock(s)" if program.atom_ids else ""
            fits = "".join(f", {d.stage} fits " + ("a deadline given later (--deadline)"
                                                   if d.deadline_ms is None
                                                   else f"{d.deadline_ms:g} ms")
                           for d in program.deadlines)
            print(f"ok  {path}: {program.network.name}, stages "
                  f"{', '.join(program.stages)}{atoms}{fits}")
    if failed:
        print(f"{failed} of {len(args.files)} schedule(s) have errors", file=sys.stderr)
    return EXIT_USER_ERROR if failed else 0
