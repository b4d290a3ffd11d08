"""Every command that writes a file checks the path before any work (issue 11, item 8): an
unwritable path is exit 2 with the path and the reason, and nothing is printed on stdout
or written anywhere."""
from pathlib import Path

import pytest

from cwdsl.commands.main import main
from cwdsl.core.outputs import check_output
from cwdsl.core.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
ADAPTIVE = str(ROOT / "schedules/adaptive.cw")
ORACLE = str(ROOT / "schedules/oracle.cw")

WRITERS = {  # command → argv with OUT where the output path goes
    "graph": ["graph", ORACLE, "-o", "OUT.png"],
    "simulate": ["simulate", ORACLE, "--plot", "OUT.png"],
    "train": ["train", "--steps", "1", "-o", "OUT.pt", "--quiet"],
    "profile": ["profile", "--net", "tiny", "--size", "16x16", "-o", "OUT.json", "--quiet"],
    "eval": ["eval", ORACLE, "--timeline", "OUT.png", "--quiet"],
    "sweep": ["sweep", ADAPTIVE, "--theta", "0.1", "-o", "OUT.png", "--quiet"],
    "layers": ["layers", "--plot", "OUT.png", "--quiet"],
}


def argv(command: str, base: Path) -> list[str]:
    return [a.replace("OUT", str(base)) if a.startswith("OUT") else a for a in WRITERS[command]]


@pytest.mark.parametrize("command", sorted(WRITERS))
@pytest.mark.parametrize("where", ["under-a-file", "proc", "a-folder"])
def test_unwritable_output_is_refused_before_any_work(tmp_path, capsys, command, where):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    base = {"under-a-file": blocker / "deeper" / "x",
            "proc": Path("/proc/no-such-cwdsl-dir/x"),
            "a-folder": tmp_path / "folder"}[where]
    args = argv(command, base)
    target = Path(next(a for a in args if a.startswith(str(base))))
    if where == "a-folder":  # the output path itself is a folder
        target.mkdir()
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""  # nothing printed before the error (simulate used to print its table)
    assert "cannot write" in err and str(base) in err and "Traceback" not in err
    reason = {"under-a-file": "is not a folder", "proc": "does not accept new files",
              "a-folder": "it is a folder"}[where]
    assert reason in err
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == (["a-file", target.name] if where == "a-folder" else ["a-file"])
    if where == "a-folder":
        assert not any(target.iterdir())


def test_sweep_checks_its_csv_too(tmp_path, capsys):
    (tmp_path / "s.csv").mkdir()
    assert main(["sweep", ADAPTIVE, "--theta", "0.1", "-o", str(tmp_path / "s.png")]) == 2
    assert "s.csv: error: cannot write table: it is a folder" in capsys.readouterr().err


def test_train_checks_its_report_too(tmp_path, capsys):
    (tmp_path / "t.json").mkdir()
    assert main(["train", "--steps", "1", "-o", str(tmp_path / "t.pt"), "--quiet"]) == 2
    assert "t.json: error: cannot write report: it is a folder" in capsys.readouterr().err


def test_check_output_accepts_new_folders_and_leaves_nothing(tmp_path):
    assert check_output(tmp_path / "new" / "deeper" / "x.png") == tmp_path / "new/deeper/x.png"
    existing = tmp_path / "old.png"
    existing.write_bytes(b"x")
    assert check_output(existing) == existing and existing.read_bytes() == b"x"
    assert check_output(None) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.png"]  # no probe, no folder
    with pytest.raises(InputError, match="not a file name"):
        check_output(tmp_path / "..")
