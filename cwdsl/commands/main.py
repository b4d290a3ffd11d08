"""The ``cwdsl`` command line: the top-level parser, plugins and dispatch to the commands
(one module each in this package). User errors print as ``file:line:col: message`` and
exit 2."""
from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import sys

from cwdsl import __version__
from cwdsl.commands import (calibrate, check, evaluate, explain, graph, layers, profile, run,
                            simulate, sweep, train, train_clock)
from cwdsl.commands.options import EXIT_USER_ERROR
from cwdsl.core.errors import CwdslError, InputError
from cwdsl.core.inputs import input_file

COMMANDS = (check, explain, graph, run, train, train_clock, profile, calibrate, simulate, evaluate,
            sweep, layers)
"""The command modules, in the order ``cwdsl --help`` lists them; each has
``register(subparsers)``, which adds its sub-parser bound to its ``handle(args)``."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cwdsl",
        description="Clockwork convnets as a language: schedule video segmentation networks.",
        epilog="example:\n  cwdsl explain schedules/exponential.cw --frames 8",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"cwdsl {__version__}",
                        help="print the version and exit")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument("--plugin", action="append", default=[], metavar="FILE.py",
                        help="import a Python file first (e.g. one that registers networks "
                             "with cwdsl.register_network); repeatable")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def load_plugins(paths: list[str]) -> None:
    """Import each Python file in ``paths`` (a failing one is an ``InputError``)."""
    for i, path in enumerate(paths):
        file = input_file(path, "plugin file")  # a FIFO or a device is refused, not read
        spec = importlib.util.spec_from_file_location(f"cwdsl_plugin_{i}", file)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except CwdslError:
            raise
        except Exception as e:  # a user's file: report it, don't crash
            raise InputError(f"{path}: the plugin failed to import: "
                             f"{type(e).__name__}: {e}") from e


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # for --nproc: each process runs this command line
    previous = signal.signal(signal.SIGTERM, _interrupt)  # `kill` ends a command as Ctrl-C does
    try:
        load_plugins(args.plugin)
        return args.handle(args)
    except CwdslError as e:
        try:
            e = _settle(args, e)
        except KeyboardInterrupt:  # stopped while telling the other processes
            return 130
        if args.debug:
            raise
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a process that ends first: no cut
        if getattr(e, "shown", True):  # under torchrun: one process prints it
            print(e, file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        if _rank_zero():  # Ctrl-C reaches every process of a group: one says so
            print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `cwdsl explain … | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def _settle(args, error: CwdslError) -> CwdslError:
    """``error`` as this process reports it: under torchrun, for a command whose processes
    share the work (``scales_out(args)``), told to the others first (they stop too) and
    printed by one (:func:`cwdsl.runtime.distributed.settle`)."""
    scales_out = getattr(args, "scales_out", None)
    if os.environ.get("WORLD_SIZE", "1") == "1" or scales_out is None or not scales_out(args):
        return error
    from cwdsl.runtime.distributed import settle

    return settle(error, getattr(args, "device", "cpu"))


def _rank_zero() -> bool:
    """Not started by torchrun, or its rank 0 (read from the environment)."""
    return os.environ.get("RANK", "0") == "0"


def _interrupt(signum, frame):
    """SIGTERM as Ctrl-C: staged outputs are removed on the way out and the exit is 130."""
    raise KeyboardInterrupt


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
