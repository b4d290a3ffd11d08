"""The ``cwdsl`` command line. User errors print as ``file:line:col: message`` and exit 2."""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from cwdsl.errors import CwdslError, InputError

EXIT_USER_ERROR = 2


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def _command(sub, name: str, help: str, example: str):
    return sub.add_parser(name, help=help, description=help,
                          epilog="example:\n  " + example,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cwdsl",
        description="Clockwork convnets as a language: schedule video segmentation networks.",
        epilog="example:\n  cwdsl explain schedules/exponential.cw --frames 8",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument("--plugin", action="append", default=[], metavar="FILE.py",
                        help="import a Python file first (e.g. one that registers networks "
                             "with cwdsl.register_network); repeatable")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _command(sub, "check", "parse and check schedules; report every error and warning",
                 "cwdsl check schedules/*.cw")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--print", action="store_true", help="print each schedule in canonical form")

    p = _command(sub, "explain", "print the frame × stage plan of a schedule",
                 "cwdsl explain schedules/adaptive.cw --frames 12 --fire-rate 0.3")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--frames", type=_positive_int, default=8, help="frames to plan (default 8)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--fire-rate", type=float, metavar="P",
                        help="data-driven clocks fire with probability P (default 0.5)")
    source.add_argument("--trace", metavar="RUN.json",
                        help="replay data-driven clock values from a run record")
    p.add_argument("--seed", type=int, default=0, help="seed for --fire-rate (default 0)")

    p = _command(sub, "graph", "draw the compiled computation graph with its clock gates",
                 "cwdsl graph schedules/pipeline3.cw -o pipeline3.png")
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--out", required=True, metavar="OUT",
                   help="output picture: .png, .svg, .pdf or .dot")
    return parser


def _load_plugins(paths: list[str]) -> None:
    for i, path in enumerate(paths):
        file = Path(path)
        if not file.is_file():
            raise InputError(f"{path}: no such plugin file")
        spec = importlib.util.spec_from_file_location(f"cwdsl_plugin_{i}", file)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except CwdslError:
            raise
        except Exception as e:  # a user's file: report it, don't crash
            raise InputError(f"{path}: the plugin failed to import: "
                             f"{type(e).__name__}: {e}") from e


def _print_warnings(program) -> None:
    for warning in program.warnings:
        print(warning.render(), file=sys.stderr)


def cmd_check(args) -> int:
    from cwdsl.graph import load
    from cwdsl.printer import print_schedule

    failed = 0
    for path in args.files:
        try:
            program = load(path)
        except CwdslError as e:
            print(e, file=sys.stderr)
            failed += 1
            continue
        _print_warnings(program)
        if args.print:
            print(print_schedule(program.schedule), end="")
        else:
            atoms = f", {len(program.atoms)} data-driven clock(s)" if program.atoms else ""
            print(f"ok  {path}: {program.network.name}, stages "
                  f"{', '.join(program.stages)}{atoms}")
    if failed:
        print(f"{failed} of {len(args.files)} schedule(s) have errors", file=sys.stderr)
    return EXIT_USER_ERROR if failed else 0


def cmd_explain(args) -> int:
    from cwdsl.explain import plans, render_grid
    from cwdsl.graph import load
    from cwdsl.plan import Planner
    from cwdsl.trace import fire_rate_atoms, trace_atoms

    program = load(args.file)
    _print_warnings(program)
    planner = Planner(program)
    atoms = None
    note = ""
    if program.atoms:
        if args.trace:
            atoms = trace_atoms(args.trace, program.atoms, args.frames)
            note = f"data-driven clocks replayed from {args.trace}"
        else:
            rate = 0.5 if args.fire_rate is None else args.fire_rate
            atoms = fire_rate_atoms(program.atoms, args.frames, rate, args.seed)
            note = f"data-driven clocks drawn at fire rate {rate} (seed {args.seed})"
    print(render_grid(planner, plans(planner, args.frames, atoms)))
    if note:
        print(note)
    return 0


def cmd_graph(args) -> int:
    from cwdsl.draw import draw
    from cwdsl.graph import load

    program = load(args.file)
    _print_warnings(program)
    out = draw(program, args.out)
    print(f"wrote {out} ({program.graph.number_of_nodes()} nodes, "
          f"{program.graph.number_of_edges()} edges)")
    return 0


COMMANDS = {"check": cmd_check, "explain": cmd_explain, "graph": cmd_graph}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _load_plugins(args.plugin)
        return COMMANDS[args.command](args)
    except CwdslError as e:
        if args.debug:
            raise
        print(e, file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
