"""``cwdsl eval schedules/*.cw`` on generated data: every bundled schedule that runs on the
demo network is scored; one that only fails because its network is another one (a learned
clock's model) is left out with a note, and so is one warping by the codec's motion vectors
(the data has none); alone, it is still an error."""
from __future__ import annotations

from pathlib import Path

import pytest

from cwdsl.commands.main import main

ROOT = Path(__file__).resolve().parents[1]
SCHEDULES = sorted(str(p) for p in (ROOT / "schedules").glob("*.cw"))


@pytest.mark.slow
def test_a_glob_over_the_bundled_schedules_evaluates_on_the_demo(capsys):
    assert main(["eval", *SCHEDULES, "--data", "shift16", "--scenes", "1", "--quiet",
                 "--threads", "1"]) == 0
    captured = capsys.readouterr()
    assert "learned.cw: left out: it runs on network fcn8s_camvid, not on tiny" in \
        captured.err
    codec = {"dff_codec", "skipframe_codec"}  # warp by motion vectors shift16 lacks
    for stem in codec:
        assert f"{stem}.cw: left out: it warps by flow=codec" in captured.err
    rows = [line.split()[0] for line in captured.out.splitlines()[3:] if line.strip()]
    assert {Path(p).stem for p in SCHEDULES} - {"learned"} - codec <= set(rows)
    assert not codec & set(rows)


def test_a_schedule_given_alone_still_fails_on_another_network(capsys):
    assert main(["eval", str(ROOT / "schedules" / "learned.cw"), "--data", "shift16",
                 "--scenes", "1", "--quiet"]) == 2
    assert "trained for network fcn8s_camvid, not tiny" in capsys.readouterr().err
