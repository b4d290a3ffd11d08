"""``--stride N`` of the data options: every N-th frame of a sequence from frame 0 (larger
motion per frame); refused for the translated-crop protocols."""
import json
from pathlib import Path

import numpy as np
import pytest

from cwdsl.commands.main import main
from cwdsl.core.errors import InputError
from cwdsl.demo.clip import DEMO, demo_clip
from cwdsl.evaluate.protocol import load_eval_data, ordinal, stride_phrase
from folders import make_folder

ROOT = Path(__file__).resolve().parents[1]
ORACLE = str(ROOT / "schedules/oracle.cw")


def test_ordinals_and_phrase():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "101st",
        "111th"]
    assert stride_phrase(3, 15) == "every 3rd frame from frame 0 (15 → 5 fps)"
    assert stride_phrase(3) == "every 3rd frame from frame 0 (1/3 of its frame rate)"


def test_stride_keeps_every_nth_demo_frame_from_frame_0():
    plain = load_eval_data("demo", 6)
    assert plain.description == f"demo clip (seed {DEMO.seed}, {DEMO.frames} frames)"
    data = load_eval_data("demo", 6, stride=2)
    clip, full = data.clips[0], demo_clip()
    assert len(clip.frames) == DEMO.frames // 2 == data.frames == data.scored
    for i, (frame, label) in enumerate(zip(clip.frames, clip.labels)):
        assert (frame == full.frames[2 * i]).all() and (label == full.labels[2 * i]).all()
    assert "every 2nd frame from frame 0 (15 → 7.5 fps): 60 frames" in data.description
    assert len(load_eval_data("demo", 6, stride=7).clips[0].frames) == 18  # 0, 7, …, 119


def test_stride_on_a_labeled_sequence(tmp_path):
    folder = make_folder(tmp_path / "seq", 10, skip=(1, 2, 4, 5, 7, 8))  # labeled: 0, 3, 6, 9
    data = load_eval_data(str(folder), 3, stride=3)
    clip = data.clips[0]
    assert len(clip.frames) == 4 and all(lab is not None for lab in clip.labels)
    assert data.description == (f"sequence {folder} (10 frames), every 3rd frame from frame 0 "
                                f"(1/3 of its frame rate): 4 frames, 4 labeled")
    whole = load_eval_data(str(folder), 3)
    assert whole.description == f"sequence {folder}: 10 frames, 4 labeled"
    assert np.array_equal(clip.frames[1], whole.clips[0].frames[3])
    halves = load_eval_data(str(folder), 3, stride=2).clips[0]  # frames 0, 2, 4, 6, 8
    assert [lab is not None for lab in halves.labels] == [True, False, False, True, False]


def test_stride_that_keeps_no_label_or_one_frame(tmp_path):
    folder = make_folder(tmp_path / "seq", 6, skip=(0, 2, 4))  # labeled: 1, 3, 5
    with pytest.raises(InputError, match="--stride 2: no labeled frame"):
        load_eval_data(str(folder), 3, stride=2)
    with pytest.raises(InputError, match="has 6 frame.*every 6th leaves 1"):
        load_eval_data(str(folder), 3, stride=6)
    with pytest.raises(InputError, match="every 200th leaves 1"):
        load_eval_data("demo", 6, stride=200)


@pytest.mark.parametrize("spec", ["shift16", "shift32", "shift16:somewhere"])
def test_stride_is_refused_for_translated_crops(spec):
    with pytest.raises(InputError, match="translated-crop protocol"):
        load_eval_data(spec, 6, stride=2)
    assert load_eval_data("shift16", 6, scenes=1, stride=1).frames == 6


def test_eval_with_stride_says_so_in_the_table(capsys):
    assert main(["eval", ORACLE, "--stride", "8", "--quiet"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    assert "every 8th frame from frame 0 (15 → 1.875 fps): 15 frames; 15 scored frames" in header
    assert main(["eval", ORACLE, "--stride", "8", "--quiet", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["rows"][0]["frames"] == 15 and record["rows"][0]["scored_frames"] == 15
    assert "every 8th frame" in record["data"]


@pytest.mark.parametrize("value, message", [("0", "expected at least 1, got 0"),
                                            ("-3", "expected at least 1, got -3"),
                                            ("1.5", "expected a whole number, got '1.5'"),
                                            ("x", "expected a whole number")])
def test_bad_stride_is_a_command_line_error(value, message, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["eval", ORACLE, "--stride", value])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert "argument --stride" in err and message in err and "Traceback" not in err


@pytest.mark.parametrize("command", [
    ["eval", ORACLE], ["sweep", str(ROOT / "schedules/adaptive.cw"), "-o", "{t}/s.png"]])
def test_stride_with_shift_protocol_exits_2(command, capsys, tmp_path):
    args = [a.replace("{t}", str(tmp_path)) for a in command]
    assert main(args + ["--data", "shift16", "--stride", "3", "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert "--stride 3: --data shift16 is the translated-crop protocol" in err
    assert "Traceback" not in err and out == ""
    assert not any(tmp_path.iterdir())


def test_layers_motion_refuses_a_stride(capsys):
    from cwdsl.commands.main import main

    assert main(["layers", "--stride", "2", "--quiet"]) == 2
    assert "--data motion is two generated clips" in capsys.readouterr().err
