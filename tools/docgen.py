"""The command reference's ``--help`` texts, generated from the real parsers by cogapp.

docs/commands.md holds, for each command, a cog block that calls :func:`help_block`;
``cog -r docs/commands.md`` (from the repository root) rewrites the text under each block, and
tests/test_docs.py runs ``cog --check docs/commands.md`` so an option whose help changed fails
the tests until the document is regenerated.

argparse wraps help to the terminal (``COLUMNS``): the text is rendered at :data:`WIDTH`
columns whatever the terminal, so it is the same on every machine. Its layout also differs
between Python versions (3.13 writes ``-o, --out OUT`` where 3.11 writes ``-o OUT, --out OUT``):
the committed text is :data:`PYTHON`'s, and another version refuses to regenerate it (the check
in tests/test_docs.py skips there).
"""
from __future__ import annotations

import argparse
import os
import sys

WIDTH = 100
"""Columns of the rendered help (argparse's width is the terminal's minus 2)."""

PYTHON = (3, 11)
"""The Python whose argparse formats the committed help text."""


def help_text(command: str | None = None) -> str:
    """``cwdsl [COMMAND] --help`` as the parser writes it, :data:`WIDTH` columns wide."""
    if sys.version_info[:2] != PYTHON:
        raise RuntimeError(f"docs/commands.md holds Python {PYTHON[0]}.{PYTHON[1]}'s argparse "
                           f"layout: regenerate it with that version, not {sys.version.split()[0]}")
    from cwdsl.commands import main  # looked up per call, so a test may patch build_parser

    parser = main.build_parser()
    if command is not None:
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        parser = actions[0].choices[command]
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(WIDTH + 2)
    try:
        return parser.format_help()
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


def help_block(command: str | None = None) -> str:
    """:func:`help_text` as a fenced ``text`` block of Markdown.

    The fence is ``~~~``, not backticks: tests/test_documented_commands.py runs every line of a
    backtick-fenced block that starts with ``cwdsl`` or ``torchrun`` as a command, and help
    text is prose (a wrapped line may start "cwdsl profile (default titanx…)"; the examples
    name the reader's own files, such as ``camvid/val``). It is checked against the parser by
    ``cog --check`` instead."""
    return f"~~~text\n{help_text(command).rstrip()}\n~~~\n"
