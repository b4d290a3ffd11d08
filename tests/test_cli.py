"""The command line as a user meets it: exit codes, messages, files."""
import subprocess
import sys
from pathlib import Path

import pytest

from cwdsl.commands.main import main

ROOT = Path(__file__).resolve().parents[1]
SCHEDULES = sorted(str(p) for p in (ROOT / "schedules").glob("*.cw"))


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "cwdsl.commands.main", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_check_all_shipped_schedules_is_clean(capsys):
    assert main(["check", *SCHEDULES]) == 0
    out, err = capsys.readouterr()
    assert out.count("ok ") == len(SCHEDULES) and err == ""


def test_check_bad_file_exits_2_with_caret_and_no_traceback():
    proc = run("check", "tests/bad/unknown_layer.cw", "schedules/oracle.cw")
    assert proc.returncode == 2
    assert "tests/bad/unknown_layer.cw:3:23: error: unknown layer 'pool33'" in proc.stderr
    assert "^^^^^^" in proc.stderr and "Traceback" not in proc.stderr
    assert "ok  schedules/oracle.cw" in proc.stdout  # later files are still checked


def test_check_print_gives_canonical_text(capsys):
    assert main(["check", "--print", "schedules/adaptive.cw"]) == 0
    assert "clock moved = labeldiff(s2, since=fired) >= 0.03" in capsys.readouterr().out


def test_explain_exponential_grid(capsys):
    assert main(["explain", str(ROOT / "schedules/exponential.cw"), "--frames", "8"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()
            if line.startswith(("s1 ", "s2 ", "s3 "))}
    assert rows["s1"] == ["C"] * 8
    assert rows["s2"] == ["C", ".", "C", ".", "C", ".", "C", "."]
    assert rows["s3"] == ["C", ".", ".", ".", "C", ".", ".", "."]


def test_explain_adaptive_with_fire_rate_and_trace(tmp_path, capsys):
    path = str(ROOT / "schedules/adaptive.cw")
    assert main(["explain", path, "--frames", "6", "--fire-rate", "0"]) == 0
    out = capsys.readouterr().out
    assert "s3: computes on 1/6 frames" in out
    trace = tmp_path / "run.json"
    atom = "labeldiff(s2, since=fired) >= 0.03"
    trace.write_text('{"frames": [' + ",".join(
        f'{{"frame": {t}, "atoms": {{"{atom}": {str(t % 2 == 1).lower()}}}}}' for t in range(6))
        + "]}")
    assert main(["explain", path, "--frames", "6", "--trace", str(trace)]) == 0
    out = capsys.readouterr().out
    assert "s3: computes on 4/6 frames" in out and f"replayed from {trace}" in out


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"frames": []}', "not a cwdsl run record"),
    ('{"frames": [{"atoms": {}}, {"atoms": {"other": true}}]}', "no value for clock atom"),
])
def test_explain_bad_trace_is_a_clear_error(tmp_path, capsys, content, message):
    trace = tmp_path / "t.json"
    trace.write_text(content)
    assert main(["explain", str(ROOT / "schedules/adaptive.cw"), "--trace", str(trace)]) == 2
    err = capsys.readouterr().err
    assert str(trace) in err and message in err


@pytest.mark.parametrize("suffix", [".png", ".svg", ".dot"])
def test_graph_writes_picture(tmp_path, suffix, capsys):
    out = tmp_path / f"g{suffix}"
    assert main(["graph", str(ROOT / "schedules/pipeline3.cw"), "-o", str(out)]) == 0
    data = out.read_bytes()
    assert data.startswith({".png": b"\x89PNG", ".svg": b"<?xml", ".dot": b"digraph"}[suffix])
    assert list(tmp_path.iterdir()) == [out]  # no temp files left behind


def test_graph_bad_format_and_bad_schedule_leave_nothing(tmp_path, capsys):
    assert main(["graph", str(ROOT / "schedules/oracle.cw"), "-o", str(tmp_path / "g.gif")]) == 2
    assert main(["graph", str(ROOT / "tests/bad/stages_gap.cw"), "-o", str(tmp_path / "g.png")]) == 2
    assert list(tmp_path.iterdir()) == []
    assert "unknown picture format" in capsys.readouterr().err


def test_usage_errors_exit_2_without_traceback():
    proc = run("explain", "schedules/oracle.cw", "--frames", "0")
    assert proc.returncode == 2 and "expected at least 1" in proc.stderr
    proc = run("explain", "no/such.cw")
    assert proc.returncode == 2 and "no/such.cw: error: no such schedule file" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", ["check", "explain", "graph", "run", "train", "profile",
                                     "simulate", "eval", "sweep"])
def test_every_command_has_help_with_an_example(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert f"example:\n  cwdsl {command}" in capsys.readouterr().out


def test_plugin_registers_a_network(tmp_path, capsys):
    plugin = tmp_path / "net.py"
    plugin.write_text(
        "from cwdsl import Layer, Head, NetworkSpec, register_network\n"
        "register_network(NetworkSpec('mini', (Layer('a', 'module'), Layer('b', 'module')),\n"
        "    (Head('ha', 'a'), Head('hb', 'b')), num_classes=3, default_input=(32, 32)),\n"
        "    replace=True)\n")
    sched = tmp_path / "mini.cw"
    sched.write_text("network mini\nstage s1 = a .. a head ha\nstage s2 = b .. b head hb\n"
                     "compute s1 when 1\ncompute s2 when every 3\noutput fuse(s1, s2)\n")
    assert main(["--plugin", str(plugin), "check", str(sched)]) == 0
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    assert main(["--plugin", str(broken), "check", str(sched)]) == 2
    assert "the plugin failed to import: RuntimeError: boom" in capsys.readouterr().err


@pytest.mark.parametrize("doc", ["README.md", "docs/commands.md"])
def test_explain_grid_is_aligned_as_the_docs_show(doc, capsys, monkeypatch):
    """The grid an ``$ cwdsl explain …`` block of the document shows is what the command prints."""
    root = Path(__file__).parent.parent
    text = (root / doc).read_text(encoding="utf-8")
    block = text[text.index("$ cwdsl explain "):].splitlines()
    command = block[0].split()[2:]
    shown = [line for line in block[1:block.index("```")] if line.strip() and line != "..."]
    assert [line.split()[0] for line in shown if line.startswith(("frame ", "s"))][:4] == \
        ["frame", "s1", "s2", "s3"]
    monkeypatch.chdir(root)
    assert main(command) == 0
    out = capsys.readouterr().out.splitlines()
    for line in shown:  # the frame, s1, s2, s3 rows and whatever else is shown, as documented
        assert line in out
    frame_row = next(line for line in out if line.startswith("frame"))
    clock_rows = [line for line in out if line.startswith("clock ")]
    assert clock_rows and all(len(line) == len(frame_row) for line in clock_rows)  # aligned


def test_plugin_that_is_not_a_regular_file_is_refused(tmp_path, capsys):
    import os

    fifo = tmp_path / "plugin.py"
    os.mkfifo(fifo)
    for path, reason in ((fifo, "is a named pipe"), ("/dev/zero", "is a character device"),
                         (tmp_path / "none.py", "no such plugin file")):
        assert main(["--plugin", str(path), "check", "schedules/oracle.cw"]) == 2
        assert reason in capsys.readouterr().err
