"""The architecture contract: layered packages, small modules, no reaching into private names.

* ``lint-imports`` (import-linter, configured in pyproject.toml) checks the layers:
  commands > train > evaluate > (sim | profile | run) > devices > cost > runtime >
  (nets | demo | media) > ir > lang > core; a module imports only from its own layer or
  lower ones.
* No module imports another that imports it back, directly or around a longer loop (grimp's
  graph of every import, lazy and ``TYPE_CHECKING`` ones too).
* No module under cwdsl/ is over :data:`MAX_LINES` lines; no package over
  :data:`MAX_PACKAGE_LINES` without the reason in its ``__init__`` docstring.
* No module imports a leading-underscore name from another cwdsl module (nor reaches one as an
  attribute of an imported cwdsl module): what another module needs is public.
* Only cwdsl/commands parses command lines (imports argparse).
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cwdsl"
MAX_LINES = 400
MAX_PACKAGE_LINES = 1_600   # "about 1,500"; a bigger package says why it is one
PACKAGE_REASON = "Over 1,500 lines because"


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_cwdsl_module(name: str) -> bool:
    """Whether ``name`` is a module (not a name in one) of the cwdsl package."""
    if name != "cwdsl" and not name.startswith("cwdsl."):
        return False
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _resolve(node: ast.ImportFrom, path: Path) -> str:
    """The absolute module name a ``from ... import`` in ``path`` imports from."""
    if not node.level:
        return node.module or ""
    package = _module_name(path).split(".")
    if not _is_package(path):
        package.pop()
    if node.level > 1:
        package = package[:len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else []))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of attribute accesses on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def private_imports(path: Path) -> list[str]:
    """``FILE:LINE: ...`` for each private name ``path`` takes from another cwdsl module."""
    own = _module_name(path)
    tree = _tree(path)
    found = []
    bound: dict[str, str] = {}   # local name -> the cwdsl module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _resolve(node, path)
            if source != "cwdsl" and not source.startswith("cwdsl."):
                continue
            for alias in node.names:
                if source != own and _is_private(alias.name):
                    found.append(f"{_rel(path)}:{node.lineno}: imports {alias.name} from {source}")
                if _is_cwdsl_module(f"{source}.{alias.name}"):
                    bound[alias.asname or alias.name] = f"{source}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name != "cwdsl" and not alias.name.startswith("cwdsl."):
                    continue
                private = [part for part in alias.name.split(".") if _is_private(part)]
                if private:
                    found.append(f"{_rel(path)}:{node.lineno}: imports module {alias.name}")
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    bound["cwdsl"] = "cwdsl"
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and _is_private(node.attr)):
            continue
        chain = _dotted(node.value)
        if chain is None:
            continue
        head, _, rest = chain.partition(".")
        if head not in bound:
            continue
        module = bound[head] + (f".{rest}" if rest else "")
        if module != own and _is_cwdsl_module(module):
            found.append(f"{_rel(path)}:{node.lineno}: uses {module}.{node.attr}")
    return found


def argparse_imports(path: Path) -> list[str]:
    """``FILE:LINE`` for each import of argparse in ``path``."""
    found = []
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        else:
            continue
        if any(name == "argparse" or name.startswith("argparse.") for name in names):
            found.append(f"{_rel(path)}:{node.lineno}: imports argparse")
    return found


def test_layers_are_kept():
    """import-linter's layers contract from pyproject.toml holds."""
    exe = Path(sys.executable).parent / ("lint-imports.exe" if sys.platform == "win32"
                                         else "lint-imports")
    if not exe.exists():
        pytest.fail(f"{exe} not found: install the test extra (pip install -e '.[test]')")
    result = subprocess.run([str(exe), "--no-cache", "--no-logo"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        pytest.fail("lint-imports: the architecture contract is broken\n"
                    + result.stdout + result.stderr, pytrace=False)


def test_no_import_cycle():
    """No cycle in the graph of cwdsl's module imports (grimp, which import-linter uses)."""
    import grimp
    import networkx as nx

    graph = grimp.build_graph("cwdsl")
    g = nx.DiGraph()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.startswith("cwdsl"):
                g.add_edge(module, imported)
    cycles = sorted(sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1)
    assert not cycles, "modules that import each other (around a loop):\n" + "\n".join(
        " <-> ".join(c) for c in cycles)


def test_packages_are_small_or_say_why():
    big = []
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        lines = sum(len(p.read_text(encoding="utf-8").splitlines())
                    for p in init.parent.glob("*.py"))
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        if lines > MAX_PACKAGE_LINES and PACKAGE_REASON not in doc.replace("\n", " "):
            big.append(f"{_rel(init.parent)}: {lines} lines")
    assert not big, (f"packages over {MAX_PACKAGE_LINES} lines whose __init__ docstring does "
                     f"not say '{PACKAGE_REASON} …':\n" + "\n".join(big))


def test_modules_are_small():
    too_long = []
    for path in _modules():
        with path.open(encoding="utf-8") as f:
            lines = sum(1 for _ in f)
        if lines > MAX_LINES:
            too_long.append(f"{_rel(path)}: {lines} lines")
    assert not too_long, f"modules over {MAX_LINES} lines:\n" + "\n".join(too_long)


def test_no_module_imports_another_modules_private_names():
    found = [line for path in _modules() for line in private_imports(path)]
    assert not found, ("private names used outside their module (make them public):\n"
                       + "\n".join(found))


def test_only_commands_parse_command_lines():
    commands = PACKAGE / "commands"
    found = [line for path in _modules() if commands not in path.parents
             for line in argparse_imports(path)]
    assert not found, "argparse outside cwdsl/commands:\n" + "\n".join(found)


# --------------------------------------------------------------------------- the checkers


def test_private_import_checker(tmp_path, monkeypatch):
    """The checker catches absolute, relative and attribute access, and allows the rest."""
    root = tmp_path
    pkg = root / "cwdsl"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "lib.py").write_text("_x = 1\n")
    (pkg / "other.py").write_text("")
    user = pkg / "sub" / "user.py"
    user.write_text(
        "from cwdsl.sub.lib import _x\n"
        "from .lib import _x as y\n"
        "from ..sub import lib\n"
        "import cwdsl.sub.lib as L\n"
        "import cwdsl.sub.lib\n"
        "from cwdsl import __version__\n"
        "from cwdsl.sub.lib import public\n"
        "from os import _exit\n"
        "_own = 1\n"
        "a = lib._x + L._x + cwdsl.sub.lib._x + lib.__doc__ + len._self\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", root)
    found = private_imports(user)
    assert [line.split(":")[1] for line in found] == ["1", "2", "10", "10", "10"]


def test_argparse_checker(tmp_path, monkeypatch):
    mod = tmp_path / "m.py"
    mod.write_text("import os, argparse\n"
                   "def f():\n    from argparse import ArgumentParser\n"
                   "import argparser\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert [line.split(":")[1] for line in argparse_imports(mod)] == ["1", "3"]


def test_architecture_map_matches_the_tree():
    """docs/ARCHITECTURE.md's "How it fits together" names every package and every module in
    it."""
    import re

    root = Path(__file__).resolve().parents[1]
    doc = (root / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    start = doc.index("\n## How it fits together\n")
    end = doc.find("\n## ", start + 1)
    section = doc[start:end if end != -1 else len(doc)]
    listed = {}
    for package, modules in re.findall(r"^\| `cwdsl/(\w+)/` \| ([^|]+) \|", section, re.M):
        listed[package] = set(re.findall(r"`([\w.]+)`", modules))
    on_disk = {}
    for folder in sorted((root / "cwdsl").iterdir()):
        if folder.is_dir() and (folder / "__init__.py").exists():
            on_disk[folder.name] = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"} \
                | {p.name for p in folder.glob("*.lark")}
    assert listed.keys() == on_disk.keys(), "packages in docs/ARCHITECTURE.md differ from cwdsl/"
    for package, modules in on_disk.items():
        if package == "commands":  # "one module per command" is not spelled out
            assert {"main", "options"} <= listed[package]
            continue
        assert listed[package] == modules, f"docs/ARCHITECTURE.md's row for cwdsl/{package}/"
