"""The translated-crop protocol and the eval columns against the authors' evaluation
(shelhamer/clockwork-fcn: ``datasets/pascal_voc.py: make_translated_frames``,
``notebooks/pascal-translate-exp``): which way the window slides, which frames are
scored, and frame 0 left out of "% frames fully computed" and of the time column."""
import json
from pathlib import Path

import numpy as np
import pytest

from cwdsl import load
from cwdsl.commands.main import main
from cwdsl.core.errors import InputError
from cwdsl.demo.clip import DEMO
from cwdsl.evaluate.evaluation import evaluate_schedules
from cwdsl.evaluate.protocol import load_eval_data, translated_crops
from cwdsl.nets.bundled import bundled_weights

SCHEDULES = Path(__file__).resolve().parents[1] / "schedules"


def make_translated_frames(im, label, shift=None, num_frames=None):
    # the authors' code (im: H x W x 3 as np.asarray(PIL image); label: 1 x H x W)
    im = np.asarray(im)
    im_crops = []
    label_crops = []
    max_dim, shift_idx = np.max(im.shape), np.argmax(im.shape)
    crop_dim = max_dim - shift * (num_frames - 1)
    crop_shifts = np.arange(0, max_dim - crop_dim + 1, shift)
    for sh in crop_shifts:
        crop_idx = [slice(None)] * 3
        crop_idx[shift_idx] = slice(sh, sh + crop_dim)
        im_crops.append(im[tuple(crop_idx)])
        label_crops.append(label[tuple([0] + crop_idx[:-1])])
    return np.asarray(im_crops), np.asarray(label_crops)[:, np.newaxis, :, :]


@pytest.mark.parametrize("shape", [(200, 200), (150, 230), (230, 150)])
@pytest.mark.parametrize("step", [16, 32])
def test_crops_are_the_authors(shape, step):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    label = rng.integers(0, 5, shape, dtype=np.uint8)
    frames, labels = make_translated_frames(image, label[np.newaxis], step, 6)
    clip = translated_crops(image, label, step, first_scored=0)
    assert len(clip.frames) == len(frames) == 6
    for t in range(6):
        assert (clip.frames[t] == frames[t]).all() and (clip.labels[t] == labels[t, 0]).all()


def test_a_square_still_slides_down():
    image = np.zeros((120, 120, 3), np.uint8)
    image[:, :, 0] = np.arange(120)[:, None]          # the row index, to see the motion
    clip = translated_crops(image, np.zeros((120, 120), np.uint8), 16)
    assert clip.frames[0].shape == (120 - 5 * 16, 120, 3)
    assert clip.frames[1][0, 0, 0] == 16 and clip.frames[5][0, 0, 0] == 80


def test_frames_2_to_5_are_scored_by_default():
    image = np.zeros((60, 200, 3), np.uint8)
    label = np.ones((60, 200), np.uint8)
    filled = translated_crops(image, label, 16)
    assert [lab is not None for lab in filled.labels] == [False, False, True, True, True, True]
    every = translated_crops(image, label, 16, first_scored=0)
    assert all(lab is not None for lab in every.labels)
    assert load_eval_data("shift16", 6, scenes=2).scored == 8
    assert load_eval_data("shift16", 6, scenes=2, score="all").scored == 12
    assert load_eval_data("demo", 6, score="filled").scored == 120  # sequences: every label
    with pytest.raises(InputError, match="--score some: use one of filled, all"):
        load_eval_data("shift16", 6, score="some")


def test_eval_score_option(capsys):
    def scored(*extra):
        assert main(["eval", str(SCHEDULES / "oracle.cw"), "--data", "shift32", "--scenes", "1",
                     "--json", "--quiet", *extra]) == 0
        record = json.loads(capsys.readouterr().out)
        return record["rows"][0]["scored_frames"], record["data"]

    assert scored() == (4, "shift32: 1 generated scenes, 6 frames sliding 32 px, frames 2-5 "
                           "scored (0-1 fill the pipelines)")
    assert scored("--score", "all")[0] == 6
    with pytest.raises(SystemExit) as info:
        main(["eval", str(SCHEDULES / "oracle.cw"), "--score", "most"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --score: use one of filled, all, not 'most'" in err


def test_frame_0_is_left_out_of_all_stages_and_time():
    """skipframe computes every stage on even frames: of frames 1-5 those are 2 and 4
    (40 %, where counting frame 0 gave 50 %); its time is the mean over frames 1-5 of
    the plans' prices (frames 2, 4: everything; 1, 3, 5: only the fuse)."""
    from cwdsl.ir.plan import Planner
    from cwdsl.fitting.load import load_device
    from cwdsl.sim.costs import schedule_costs
    from cwdsl.sim.simulate import price

    data = load_eval_data("shift16", 6, scenes=1)
    program = load(SCHEDULES / "skipframe.cw", "tiny")
    row = evaluate_schedules(data, str(bundled_weights(DEMO.network)), [program],
                             progress=False)[0]
    assert row.all_stages_pct == pytest.approx(40.0)
    assert row.first_clip_all_stages == (True, False, True, False, True, False)
    costs = schedule_costs(program, load_device("titanx"), (128, 128))
    planner = Planner(program)
    oracle = costs.oracle_ms
    expected = np.mean([price(planner.plan(t), costs).latency_ms for t in range(1, 6)]) / oracle
    assert row.time_pct_of_full == pytest.approx(100 * expected)
    with_frame_0 = np.mean([price(planner.plan(t), costs).latency_ms for t in range(6)]) / oracle
    assert row.time_pct_of_full < 100 * with_frame_0 - 1
