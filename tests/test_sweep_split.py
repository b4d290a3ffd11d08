"""``cwdsl sweep --tune``: θ is chosen on the tune set and the report set is what is scored at
it (checked against ``cwdsl eval`` and the executor on each part), bad splits exit 2, and the
``motion:`` data (pan, zoom, rotation) carries its labels."""
import csv
import json
from pathlib import Path

import numpy as np
import pytest

from cwdsl.commands.main import main
from cwdsl.core.errors import InputError
from cwdsl.core.metrics import IGNORE
from cwdsl.evaluate.motionclip import Motion, motion_views
from cwdsl.evaluate.protocol import EvalData, LabeledClip, load_eval_data
from cwdsl.evaluate.tuning import Choice, choose_theta, parse_choice, split_data
from folders import make_folder

ROOT = Path(__file__).resolve().parents[1]
ADAPTIVE = str(ROOT / "schedules" / "adaptive.cw")


def _csv(path: Path) -> list[dict]:
    return list(csv.DictReader(path.open()))


class Row:
    def __init__(self, rate, miu):
        self.all_stages_pct, self.mean_iu = rate, miu


def test_choose_rules():
    rows = [Row(100, 60.0), Row(55, 59.9), Row(45, 59.5), Row(10, 57.0)]
    thetas = [0.0, 0.1, 0.2, 0.3]
    assert choose_theta(thetas, rows, 60.0, parse_choice("rate:50"))[0] == 0.2  # tie: larger
    assert choose_theta(thetas, rows, 60.0, parse_choice("rate:12"))[0] == 0.3
    assert choose_theta(thetas, rows, 60.0, parse_choice("loss:0.5"))[0] == 0.2
    assert choose_theta(thetas, rows, 60.0, parse_choice("loss:0.05"))[0] == 0.0
    tied = [Row(100 * 27 / 49, 60.0), Row(100 * 22 / 49, 60.0)]  # 5.102… from 50% each
    assert choose_theta([0.07, 0.08], tied, 60.0, parse_choice("rate:50"))[0] == 0.08
    theta, why = choose_theta(thetas, rows, 70.0, Choice("loss", 1))
    assert theta == 0.0 and "no θ within" in why
    for bad in ("rate:101", "rate:-1", "loss:-0.1", "loss:nan", "mean:3", "rate"):
        with pytest.raises(InputError, match="--choose"):
            parse_choice(bad)


def _clip(n, labeled):
    frames = tuple(np.zeros((8, 8, 3), np.uint8) for _ in range(n))
    return LabeledClip("c", frames, tuple(np.zeros((8, 8), np.uint8) if labeled(i) else None
                                          for i in range(n)))


def test_split_by_frame_and_by_clip():
    tune, report = split_data(EvalData("seq", (_clip(10, lambda i: True),)), 0.5, "seq")
    assert [len(c.frames) for c in tune.clips + report.clips] == [5, 5]
    assert "frames 0-4" in tune.description and "frames 5-9" in report.description
    clips = tuple(LabeledClip(f"c{i}", _clip(6, lambda i: True).frames,
                              _clip(6, lambda i: True).labels) for i in range(4))
    tune, report = split_data(EvalData("crops", clips), 0.25, "crops")
    assert [c.name for c in tune.clips] == ["c0"]
    assert [c.name for c in report.clips] == ["c1", "c2", "c3"]


@pytest.mark.parametrize("data, fraction, message", [
    (EvalData("seq", (_clip(10, lambda i: i < 5),)), 0.5, "report part .* no labeled frame"),
    (EvalData("seq", (_clip(10, lambda i: i >= 5),)), 0.5, "tune part .* no labeled frame"),
    (EvalData("seq", (_clip(3, lambda i: True),)), 0.5, "fewer than 2 frames"),
    (EvalData("two", (_clip(4, lambda i: True), _clip(4, lambda i: True))), 0.1,
     "no clip to tune on"),
    (EvalData("two", (_clip(4, lambda i: True), _clip(4, lambda i: True))), 0.9,
     "no clip to report on"),
    (EvalData("seq", (_clip(10, lambda i: True),)), 1.0, "strictly between 0 and 1"),
])
def test_bad_splits_are_input_errors(data, fraction, message):
    with pytest.raises(InputError, match=message):
        split_data(data, fraction, "DATA")


def _sweep(tmp_path, *args):
    out = tmp_path / "s.png"
    return main(["sweep", ADAPTIVE, "--threads", "1", "--quiet", "-o", str(out), *args]), out


@pytest.mark.slow
def test_report_set_is_data_scored_at_the_chosen_theta(tmp_path, capsys):
    """Tuned on other data (generated translated crops), the report rows are exactly
    ``cwdsl eval`` on --data: at the chosen θ and at the file's θ (0.03)."""
    code, out = _sweep(tmp_path, "--theta", "0.01,0.03,0.06", "--tune", "shift16",
                       "--scenes", "2", "--data", "demo", "--stride", "10",
                       "--choose", "rate:50")
    assert code == 0
    printed = capsys.readouterr().out
    assert printed.index("TUNE SET") < printed.index("θ chosen") < printed.index("RESULT")
    rows = _csv(out.with_suffix(".csv"))
    curve = [r for r in rows if r["split"] == "tune" and r["role"] == "curve"]
    assert [r["theta"] for r in curve] == ["0.01", "0.03", "0.06"]
    rates = {float(r["theta"]): float(r["all_stages_pct"]) for r in curve}
    chosen = min(rates, key=lambda t: (abs(rates[t] - 50), -t))
    tuned = next(r for r in rows if r["role"] == "tuned")
    assert tuned["split"] == "report" and float(tuned["theta"]) == chosen
    capsys.readouterr()
    for theta in {chosen, 0.03}:
        schedule = tmp_path / f"a{theta}.cw"
        schedule.write_text(Path(ADAPTIVE).read_text().replace(">= 0.03", f">= {theta}"))
        assert main(["eval", str(schedule), "--data", "demo", "--stride", "10", "--json",
                     "--threads", "1", "--quiet"]) == 0
        row = json.loads(capsys.readouterr().out)["rows"][0]
        mine = next(r for r in rows if r["split"] == "report" and r["role"] in
                    ("tuned", "as written") and float(r["theta"]) == theta)
        assert float(mine["mean_iu"]) == pytest.approx(row["mean_iu"], abs=1e-4)
        assert float(mine["all_stages_pct"]) == pytest.approx(row["all_stages_pct"], abs=1e-4)


@pytest.mark.slow
def test_split_tunes_on_the_first_part_and_reports_on_the_rest(tmp_path, capsys):
    """split:0.5 of the demo clip (every 4th frame: 30): the tune oracle row is the
    executor's on frames 0-14, the report oracle row its on frames 15-29."""
    from cwdsl.evaluate.evaluation import evaluate_schedules
    from cwdsl.evaluate.sweep import sweep_programs
    from cwdsl.nets.bundled import resolve_weights

    code, out = _sweep(tmp_path, "--theta", "0.02,0.05", "--tune", "split:0.5",
                       "--data", "demo", "--stride", "4", "--choose", "loss:1")
    assert code == 0
    printed = capsys.readouterr().out
    assert "frames 0-14 of demo clip" in printed and "frames 15-29 of demo clip" in printed
    rows = _csv(out.with_suffix(".csv"))
    oracles = {r["split"]: float(r["mean_iu"]) for r in rows if r["role"] == "oracle"}
    data = load_eval_data("demo", 4, stride=4)
    tune, report = split_data(data, 0.5, "demo")
    _, oracle = sweep_programs(ADAPTIVE, [0.02], "tiny")
    weights = resolve_weights("tiny", None)
    for part, split in ((tune, "tune"), (report, "report")):
        row = evaluate_schedules(part, weights, [oracle], progress=False)[0]
        assert oracles[split] == pytest.approx(row.mean_iu, abs=1e-4)
    assert oracles["tune"] != pytest.approx(oracles["report"], abs=0.5)  # different frames


@pytest.mark.parametrize("args, message", [
    (["--tune", "demo", "--data", "demo"], "overlap: 1 shared"),
    (["--tune", "shift32", "--data", "shift16", "--scenes", "2"], "overlap: 2 shared"),
    (["--tune", "split:0", "--data", "demo"], "strictly between 0 and 1"),
    (["--tune", "split:half", "--data", "demo"], "expected split:F"),
    (["--tune", "split:0.01", "--data", "demo", "--stride", "4"], "fewer than 2 frames"),
    (["--choose", "rate:50", "--data", "demo"], "--choose picks θ on the --tune set"),
    (["--tune", "split:0.5", "--choose", "best", "--data", "demo"], "--choose 'best'"),
    (["--tune", "nowhere", "--data", "demo"], "--tune nowhere: not demo"),
])
def test_bad_tune_options_exit_2(tmp_path, capsys, args, message):
    code, out = _sweep(tmp_path, "--theta", "0.03", *args)
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert not out.exists() and not out.with_suffix(".csv").exists()


def test_a_folder_and_its_crops_overlap(tmp_path, capsys):
    folder = make_folder(tmp_path / "seq", 3, classes=3)
    code, _ = _sweep(tmp_path, "--theta", "0.03", "--net", "tiny", "--tune",
                     f"shift16:{folder}", "--data", str(folder))
    err = capsys.readouterr().err
    assert code == 2 and "overlap: 3 shared" in err and "f0.png" in err


def test_motion_clips_carry_labels_through_zoom_and_rotation():
    """A still whose label is its red channel's band: in every frame of a zooming, turning
    clip the label seen matches the band of the pixel seen (bar resampling at band edges),
    and corners that leave the still are void."""
    y, x = np.mgrid[0:120, 0:160]
    red = ((x // 20 + y // 30) % 4 * 60 + 20).astype(np.uint8)
    image = np.stack([red, np.full_like(red, 90), np.full_like(red, 90)], -1)
    label = (red // 60).astype(np.uint8)
    motion = Motion(frames=6, speed=(4, 4), zoom_rate=(0.05, 0.05), start_zoom=(1.0, 1.0),
                    still=0.0, noise=0.0, rotate=(6, 6))
    frames, labels = motion_views(image, label, (60, 80), np.random.default_rng(1), motion)
    assert len(frames) == len(labels) == 6
    for f, lab in zip(frames, labels):
        seen = lab != IGNORE
        assert (f[..., 0][seen] // 60 == lab[seen]).mean() > 0.9
    assert (labels[0] == IGNORE).mean() < 0.01 < (labels[-1] == IGNORE).mean()  # turned 30°
    still, _ = motion_views(image, label, (60, 80), np.random.default_rng(1),
                            Motion(frames=2, still=1.0, noise=0.0, rotate=(6, 6)))
    assert (still[0] == still[1]).all()


def test_motion_data_specs(tmp_path):
    folder = make_folder(tmp_path / "stills", 5, size=(48, 64), classes=3)
    data = load_eval_data(f"motion,stills=2,frames=4,seed=3:{folder}", 3)
    assert [c.name for c in data.clips] == ["f0.png", "f4.png"]  # evenly spaced
    assert all(len(c.frames) == 4 and all(lab is not None for lab in c.labels)
               for c in data.clips)
    assert "turning -2..2°" in data.description
    again = load_eval_data(f"motion,stills=2,frames=4,seed=3:{folder}", 3)
    assert all((a == b).all() for a, b in zip(data.clips[1].frames, again.clips[1].frames))
    for spec, message in ((f"motion,fast=1:{folder}", "unknown motion key 'fast'"),
                          (f"motion,frames=1:{folder}", "frames=1"),
                          (f"motion,stills=0.5:{folder}", "stills=0.5"),
                          ("motion", "not demo")):
        with pytest.raises(InputError, match=message):
            load_eval_data(spec, 3)
    with pytest.raises(InputError, match="synthetic motion"):
        load_eval_data(f"motion:{folder}", 3, stride=2)
