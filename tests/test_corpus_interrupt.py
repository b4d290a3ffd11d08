"""A corpus run (``cwdsl run --videos DIR --out OUT``) interrupted by SIGINT, SIGTERM or
kill -9 keeps every stream it finished: each stream's folder is committed the moment the
stream ends, the streams still running leave nothing half-written, and a rerun keeps the
finished streams and runs only the rest."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cwdsl.demo.scenes import generate_clip
from cwdsl.media.encode import write_video

ROOT = Path(__file__).resolve().parents[1]
ADAPTIVE = str(ROOT / "schedules" / "adaptive.cw")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Two short videos and a long one: the short ones end while the long one runs."""
    folder = tmp_path_factory.mktemp("corpus")
    for name, seed, frames in (("a", 1, 3), ("b", 2, 4), ("c", 3, 400)):
        write_video(folder / f"{name}.mp4", generate_clip(seed, frames, (64, 80)).frames,
                    fps=10)
    return folder


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _command(corpus: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "cwdsl", "run", ADAPTIVE, "--net", "tiny", "--videos",
            str(corpus), "--out", str(out), "--save", "masks", "--quiet", "--threads", "1"]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL],
                         ids=["SIGINT", "SIGTERM", "kill-9"])
def test_interrupted_corpus_keeps_finished_streams_and_resumes(corpus, tmp_path, signum):
    out = tmp_path / "out"
    # as from a terminal: a shell's background job (a CI runner's, say) starts with SIGINT
    # ignored, and a child inherits that, so Ctrl-C's signal would never reach cwdsl
    proc = subprocess.Popen(_command(corpus, out), cwd=ROOT, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_default_sigint)
    deadline = time.monotonic() + 120
    while not ((out / "a" / "run.json").is_file() and (out / "b" / "run.json").is_file()):
        if proc.poll() is not None:
            pytest.fail(f"ended before the signal (exit {proc.returncode}): "
                        f"{proc.stderr.read()}")
        assert time.monotonic() < deadline, "the short streams were not committed in time"
        time.sleep(0.05)
    time.sleep(0.2)  # past the commit's last steps (its lock's removal), well inside stream c
    proc.send_signal(signum)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == (-signal.SIGKILL if signum == signal.SIGKILL else 130), err
    assert "Traceback" not in err, err
    # the finished streams are whole; the one in flight is absent (not half-written)
    for name, frames in (("a", 3), ("b", 4)):
        record = json.loads((out / name / "run.json").read_text())
        assert len(record["frames"]) == frames
        assert len(list((out / name / "masks").iterdir())) == frames
    assert not (out / "c").exists()
    if signum != signal.SIGKILL:  # a clean exit removes its staging folders and locks
        assert [p.name for p in out.iterdir() if p.name.startswith(".")] == [], err
    kept = {name: (out / name / "run.json").read_text() for name in "ab"}

    rerun = subprocess.run(_command(corpus, out), cwd=ROOT, capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stderr.count("kept") == 2 and "runs again" not in rerun.stderr
    assert {name: (out / name / "run.json").read_text() for name in "ab"} == kept
    assert len(json.loads((out / "c" / "run.json").read_text())["frames"]) == 400
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # kill -9's too
    streams = json.loads((out / "streams.json").read_text())["streams"]
    assert [(s["name"], s["skipped"]) for s in streams] == \
        [("a", True), ("b", True), ("c", False)]
