"""The documents stay true to the code, to the results files and to each other (issues 20, 21).

* Every generated block of the documents (:data:`docgen.DOCUMENTS`: ``--help`` texts, ``explain``
  grids, ``simulate`` tables, tables rendered from ``benchmarks/results/``) is what its command
  or results file gives now: ``cog --check`` passes (``python tools/docgen.py`` regenerates
  them), and fails when an option's help or a generated figure changes.
* Every relative link ``[text](path)`` / ``[text](path#anchor)`` of README.md, REPRODUCTION.md,
  BENCHMARKS.md and docs/*.md names a file that exists, and an anchor names a heading of it
  (GitHub's slugs).
* README.md is a front page: at most :data:`README_MAX_LINES` lines.

That every command shown in the documents runs is tests/test_documented_commands.py's job.
"""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COMMANDS_DOC = REPO / "docs" / "commands.md"
README_MAX_LINES = 200


def _documents() -> list[Path]:
    return [REPO / "README.md", REPO / "REPRODUCTION.md", REPO / "BENCHMARKS.md",
            *sorted((REPO / "docs").glob("*.md"))]


def _docgen():
    spec = importlib.util.spec_from_file_location("docgen", REPO / "tools" / "docgen.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DOCGEN = _docgen()
same_python = pytest.mark.skipif(
    sys.version_info[:2] != DOCGEN.PYTHON,
    reason=f"docs/commands.md holds Python {DOCGEN.PYTHON[0]}.{DOCGEN.PYTHON[1]}'s argparse "
           "layout, which other versions write differently")


# ------------------------------------------------------------------ generated figures

def _cog_check(capsys, doc: Path = COMMANDS_DOC) -> tuple[int, str]:
    from cogapp import Cog

    status = Cog().main(["cog", "--check", str(doc)])
    out = capsys.readouterr()
    return status, out.out + out.err


@same_python
@pytest.mark.parametrize("name", DOCGEN.DOCUMENTS)
def test_generated_figures_are_current(name, capsys):
    """Each document's generated blocks match what the commands and results files give."""
    status, output = _cog_check(capsys, REPO / name)
    assert status == 0, f"{name} is stale: run `python tools/docgen.py`\n{output}"


def test_every_document_with_cog_blocks_is_checked():
    listed = {REPO / d for d in DOCGEN.DOCUMENTS}
    for doc in _documents():
        if "[[[cog" in doc.read_text(encoding="utf-8"):
            assert doc in listed, f"{doc.relative_to(REPO)} has cog blocks but is not in " \
                                  "docgen.DOCUMENTS (neither regenerated nor checked)"


def _scratch_copy(tmp_path: Path, name: str) -> Path:
    """``name`` copied into a scratch tree whose tools/ is the repository's (the document's
    cog header finds docgen beside it)."""
    (tmp_path / "tools").symlink_to(REPO / "tools", target_is_directory=True)
    (tmp_path / "docs").mkdir()
    copy = tmp_path / name
    copy.write_text((REPO / name).read_text(encoding="utf-8"), encoding="utf-8")
    return copy


@same_python
def test_cog_check_fails_on_a_changed_figure(tmp_path, capsys):
    """A generated number altered by hand (as a stale figure would be) fails the check."""
    copy = _scratch_copy(tmp_path, "README.md")
    assert _cog_check(capsys, copy)[0] == 0  # the copy as committed passes
    text = copy.read_text(encoding="utf-8")
    start = text.index('docgen.command_block("cwdsl explain')
    line = re.compile(r"^(s3: computes on )(\d+)(/)", re.M).search(text, start)
    assert line and line.start() < text.index("[[[end]]]", start), "no figure to alter"
    changed = str(int(line.group(2)) + 1)
    copy.write_text(text[:line.start(2)] + changed + text[line.end(2):], encoding="utf-8")
    status, output = _cog_check(capsys, copy)
    assert status != 0 and "README.md" in output, output


@same_python
def test_cog_check_fails_on_a_changed_results_file(tmp_path, monkeypatch, capsys):
    """A rendered table follows its results file: the same document, checked against a
    results file whose figure moved, fails."""
    import json
    import shutil

    copy = _scratch_copy(tmp_path, "BENCHMARKS.md")
    assert _cog_check(capsys, copy)[0] == 0  # the copy as committed passes
    results = tmp_path / "results"
    shutil.copytree(REPO / "benchmarks" / "results", results)
    record = json.loads((results / "h200-replay.json").read_text(encoding="utf-8"))
    record["results"][0]["measured_ms"] += 1.0
    (results / "h200-replay.json").write_text(json.dumps(record), encoding="utf-8")
    monkeypatch.syspath_prepend(str(REPO / "tools"))
    import docgen  # the module the document's cog header imports (cached in sys.modules)

    monkeypatch.setattr(docgen, "RESULTS", results)
    status, output = _cog_check(capsys, copy)
    assert status != 0 and "BENCHMARKS.md" in output, output


@same_python
def test_commands_doc_has_a_help_block_for_every_command():
    from cwdsl.commands.main import COMMANDS, build_parser

    text = COMMANDS_DOC.read_text(encoding="utf-8")
    names = [action for action in build_parser()._actions if action.dest == "command"][0].choices
    assert len(names) == len(COMMANDS)
    for name in names:
        assert f'docgen.help_block("{name}")' in text, f"no --help block for {name}"
        assert f"\n## `cwdsl {name}`\n" in text, f"no section for {name}"
    assert "docgen.help_block()" in text  # cwdsl --help itself


@same_python
def test_cog_check_fails_when_an_options_help_changes(monkeypatch, capsys):
    from cwdsl.commands import main

    original = main.build_parser

    def changed():
        parser = original()
        run = [a for a in parser._actions if a.dest == "command"][0].choices["run"]
        option = next(a for a in run._actions if "--max-frames" in a.option_strings)
        option.help = "stop after the first N frames (a changed help)"
        return parser

    monkeypatch.setattr(main, "build_parser", changed)
    status, output = _cog_check(capsys)
    assert status != 0 and "docs/commands.md" in output, output


@same_python
def test_help_text_does_not_depend_on_the_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    wide = DOCGEN.help_text("eval")
    monkeypatch.setenv("COLUMNS", "40")
    assert DOCGEN.help_text("eval") == wide
    assert max(len(line) for line in wide.splitlines()) <= DOCGEN.WIDTH
    import os
    assert os.environ["COLUMNS"] == "40"  # restored


# ------------------------------------------------------------------ links

FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.M | re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def _prose(text: str) -> str:
    """``text`` without fenced blocks, HTML comments and code spans (no links live there)."""
    text = FENCE.sub("", text)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    return re.sub(r"(`+)(?:(?!\1).)+?\1", "", text, flags=re.S)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text lower-cased, punctuation other than ``-`` and
    ``_`` dropped, spaces as hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for heading in HEADING.findall(FENCE.sub("", text)):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def broken_links(doc: Path) -> list[str]:
    """``LINE: target (why)`` for each relative link of ``doc`` that does not resolve."""
    text = doc.read_text(encoding="utf-8")
    prose = _prose(text)
    broken = []
    for match in LINK.finditer(prose):
        target = match.group(1)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto:, …
            continue
        path, _, anchor = target.partition("#")
        where = doc if not path else (doc.parent / path)
        line = text.count("\n", 0, text.find(match.group(0))) + 1
        if not where.exists():
            broken.append(f"{line}: {target} (no such file)")
        elif anchor and where.suffix == ".md" and anchor not in anchors(
                where.read_text(encoding="utf-8")):
            broken.append(f"{line}: {target} (no heading #{anchor} in {where.name})")
    return broken


@pytest.mark.parametrize("doc", _documents(), ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(doc):
    assert doc.exists()
    assert not broken_links(doc), f"{doc.relative_to(REPO)}:\n" + "\n".join(broken_links(doc))


def test_link_checker_finds_what_is_broken(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\n## `cwdsl run`: one stream\n\ntext\n")
    page = tmp_path / "README.md"
    page.write_text(
        "# Top\n\n## Second part\n\n"
        "[ok](docs/a.md) [ok](docs/a.md#cwdsl-run-one-stream) [ok](#second-part) "
        "[ok](https://example.org/x#y) ![ok](docs/a.md)\n"
        "[gone](docs/b.md) [no anchor](docs/a.md#cwdsl-run) [here](#third)\n\n"
        "`F[k](t)` is code, and so is\n\n```\n[x](nowhere.md)\n```\n")
    assert broken_links(page) == [
        "6: docs/b.md (no such file)",
        "6: docs/a.md#cwdsl-run (no heading #cwdsl-run in a.md)",
        "6: #third (no heading #third in README.md)",
    ]


def test_github_slugs():
    assert slug("`cwdsl train-clock`") == "cwdsl-train-clock"
    assert slug("Learned clocks: `cwdsl train-clock`") == "learned-clocks-cwdsl-train-clock"
    assert slug("Several processes: `--nproc` and torchrun") == \
        "several-processes---nproc-and-torchrun"
    assert slug("`fcn8s`, `fcn8s_atonce` and `tiny`") == "fcn8s-fcn8s_atonce-and-tiny"
    assert anchors("# A\n## A\n## A\n```\n# not a heading\n```\n") == {"a", "a-1", "a-2"}


# ------------------------------------------------------------------ the front page

def test_readme_is_a_front_page():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"


def test_readme_links_every_document():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    targets = {m.group(1).partition("#")[0] for m in LINK.finditer(_prose(readme))}
    wanted = {"REPRODUCTION.md", "BENCHMARKS.md",
              *(f"docs/{p.name}" for p in (REPO / "docs").glob("*.md"))}
    assert wanted <= targets, f"README does not link {sorted(wanted - targets)}"
