"""The learned clock's held-out split is by still: no held-out clip shares a still with a
clip the model was fitted on (two motion clips of one still used to land on both sides)."""
import json

import numpy as np
import pytest
from PIL import Image

from cwdsl.commands.main import main
from cwdsl.train.clockfit import Samples, held_out_groups
from cwdsl.train.clocktrain import HELD_OUT_BY, by_source
from cwdsl.train.motionclips import clip_source

from test_train_clock import LABELDIFF as SCHEDULE  # s3 on labeldiff(s2)


def _part(group: int, n: int = 5) -> Samples:
    return Samples(np.zeros((n, 5)), np.zeros(n), np.full(n, group), np.ones(n, int))


def _sides(parts, sources, share, seed):
    joined = Samples.join(parts)
    held = held_out_groups(joined.group, share, seed)
    sides = {}
    at = 0
    for part, source in zip(parts, sources):
        sides.setdefault(source, set()).update(held[at:at + len(part)].tolist())
        at += len(part)
    return sides


def test_clips_of_one_still_stay_on_one_side():
    sources = [f"still{i // 2}" for i in range(20)]  # two clips per still, as CamVid's
    parts = [_part(i) for i in range(20)]
    split_by_clip = [s for seed in range(20) for s in [_sides(parts, sources, 0.2, seed)]
                     if any(len(v) == 2 for v in s.values())]
    assert split_by_clip, "by clip, some seed puts a still on both sides (the old split)"
    merged = by_source(parts, sources)
    for seed in range(20):
        for share in (0.1, 0.2, 0.5):
            sides = _sides(merged, sources, share, seed)
            assert all(len(v) == 1 for v in sides.values()), (seed, share, sides)
            assert {True, False} == set().union(*sides.values())


def test_a_video_of_its_own_keeps_its_runs_of_key_frames():
    parts = [Samples(np.zeros((4, 5)), np.zeros(4), np.array([0, 0, 1, 1]), np.ones(4, int))]
    assert by_source(parts, ["video"])[0].group.tolist() == [0, 0, 1, 1]


def test_sources_name_stills_across_specs(tmp_path):
    (tmp_path / "images").mkdir()
    a = clip_source(f"motion:{tmp_path}", "x.png#0")
    assert a == clip_source(f"motion:{tmp_path}", "x.png#1")
    assert a == clip_source(f"shift16:{tmp_path}", "x.png")  # the same still, cropped
    assert a != clip_source(f"motion:{tmp_path}", "y.png#0")


@pytest.mark.slow
def test_train_clock_holds_out_whole_stills_and_records_them(tmp_path, capsys):
    from cwdsl.demo.clip import demo_clip

    stills = tmp_path / "stills"
    stills.mkdir()
    clip = demo_clip(60)
    for i in range(10):
        Image.fromarray(clip.frames[6 * i]).save(stills / f"s{i:02d}.png")
    schedule = tmp_path / "adaptive.cw"
    schedule.write_text(SCHEDULE)
    out = tmp_path / "clock.json"
    assert main(["train-clock", str(schedule), "--reads", "s2", "--data", f"motion:{stills}",
                 "--clips-per-image", "3", "--clip-frames", "4", "--gap", "3",
                 "--hold-out", "0.3", "--epochs", "30", "--threads", "1", "-o", str(out)]) == 0
    fit = json.loads(out.read_text())["trained_on"]["fit"]
    assert fit["held_out_by"] == HELD_OUT_BY
    held, fitted = set(fit["stills"]["held_out"]), set(fit["stills"]["fitted"])
    assert held and fitted and not held & fitted and fit["stills"]["shared"] == []
    assert held | fitted == {f"s{i:02d}.png" for i in range(10)}
    assert len(held) == 3  # 30% of 10 stills, every clip of each
    assert fit["groups"] == {"fitted": 7, "held_out": 3}
