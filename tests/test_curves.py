"""Fig. 6 with several schedules: ``sweep A.cw B.cw`` (one curve each, one oracle),
``eval --curve`` (one point each), and curves compared at common firing rates."""
import csv
import textwrap
from pathlib import Path

import pytest

from cwdsl.commands.main import main
from cwdsl.core.errors import InputError
from cwdsl.evaluate.evaluation import ScoreRow
from cwdsl.evaluate.sweep import (FIRING_RATES, SweepCurve, compare_curves, curves_from_csv,
                                  interpolate_miu, is_frame_oracle, parse_rates, plan_sweeps,
                                  sweep_csv, with_theta)
from cwdsl.ir.graph import load
from cwdsl.lang.parser import parse
from cwdsl.lang.printer import print_schedule

ROOT = Path(__file__).resolve().parents[1]
S = ROOT / "schedules"
FAST = ["--stride", "8", "--quiet"]  # 15 demo frames: a few seconds per command


def row(all_stages: float, miu: float, name: str = "r") -> ScoreRow:
    return ScoreRow(name, 10, 10, 50.0, all_stages, miu, 80.0, 90.0, 40.0, 60.0, 1.0, (),
                    "tiny", "titanx")


def test_interpolate_a_hand_made_curve():
    points = [(70, 70), (10, 50), (30, 60), (90, 72), (30, 62)]  # unsorted; 30 % twice
    rates = (5, 10, 20, 30, 50, 90, 95)
    got = interpolate_miu(points, rates)
    assert got[0] is None and got[-1] is None
    assert got[1:-1] == pytest.approx((50, 55.5, 61, 65.5, 72))
    assert interpolate_miu([], (20, 50)) == (None, None)
    assert interpolate_miu([(40, 55)], (40, 41)) == (55, None)
    assert len(interpolate_miu(points)) == len(FIRING_RATES) == 5


def test_compare_curves_counts_rates_above():
    learned = [(10, 58), (40, 62), (60, 64), (90, 65)]
    labeldiff = [(15, 57), (40, 61), (60, 64.5), (70, 64)]
    comparison = compare_curves({"learned": learned, "labeldiff": labeldiff})
    assert comparison.rates == FIRING_RATES
    assert comparison.miu["labeldiff"][-1] is None           # 80 % is past labeldiff's 70 %
    assert comparison.miu["labeldiff"][:4] == pytest.approx((57.8, 60.2, 62.75, 64.25))
    assert comparison.miu["learned"][2:] == pytest.approx((63, 64 + 1 / 6, 64 + 2 / 3))
    assert comparison.above("learned", "labeldiff") == 3      # 20, 35 and 50 %
    assert comparison.above("labeldiff", "learned") == 1      # 65 %
    assert comparison.both_defined("learned", "labeldiff") == 4
    table = comparison.table()
    assert "learned above labeldiff at 3 of 5 rates (both defined at 4)" in table
    assert "80.0%" in table and table.splitlines()[-3].rstrip().endswith("-")
    sweeps = [SweepCurve("a", (0.1, 0.2), (row(20, 60), row(80, 66)))]
    assert compare_curves(sweeps, (50,)).miu == {"a": (pytest.approx(63),)}


def test_csv_round_trip_and_rates():
    curves = [SweepCurve("adaptive", (0.1, 0.5), (row(60, 63), row(10, 55))),
              SweepCurve("pixeldiff", (0.02,), (row(40, 61),))]
    text = sweep_csv(curves)
    assert text.splitlines()[0].startswith("schedule,theta,all_stages_pct,mean_iu")
    assert text.splitlines()[1].startswith("adaptive,0.1,60.0000,63.0000")
    assert curves_from_csv(text) == {"adaptive": ((60, 63), (10, 55)), "pixeldiff": ((40, 61),)}
    with pytest.raises(InputError, match="not a cwdsl sweep CSV"):
        curves_from_csv("a,b\n1,2\n")
    assert parse_rates("20,50") == (20, 50) and parse_rates("20:80:30") == (20, 50, 80)
    with pytest.raises(InputError, match=r"--at '150': firing rates \(%\) must lie in \[0, 100\]"):
        parse_rates("150")


def test_with_theta_sets_every_data_threshold_learned_ones_too_and_plans():
    text = textwrap.dedent("""\
        network tiny
        stage s1 = conv1_1 .. pool3 head score_pool3
        stage s2 = conv4_1 .. pool4 head score_pool4
        stage s3 = conv5_1 .. fc7 head score_fr
        clock moved = labeldiff(s2, since=fired) >= 0.03
        compute s1 when 1
        compute s2 when every 2 or pixeldiff(since=previous) >= 0.2
        compute s3 when moved and not every 3 or predicted(s2, model=camvid) >= 0.5 else cache
        output fuse(s1, s2, s3)
        """)
    printed = print_schedule(with_theta(parse(text), 0.4))
    assert printed.count(">= 0.4") == 3 and "predicted(s2, model=camvid) >= 0.4" in printed
    assert "0.03" not in printed and "0.2" not in printed and "0.5" not in printed
    assert "every 2" in printed and "every 3" in printed
    with pytest.raises(InputError, match="given 3 times for 2 schedules"):
        plan_sweeps([S / "adaptive.cw", S / "pixeldiff.cw"], [(0.1,)] * 3, "tiny")
    plans = plan_sweeps([S / "adaptive.cw", S / "pixeldiff.cw"], [(0.1, 0.2)], "tiny")
    assert [(p.name, p.thetas, len(p.programs)) for p in plans] == [
        ("adaptive", (0.1, 0.2), 2), ("pixeldiff", (0.1, 0.2), 2)]
    assert plans[0].oracle.schedule == plans[1].oracle.schedule  # one oracle, scored once


def test_frame_oracles():
    assert is_frame_oracle(load(S / "oracle.cw", "tiny"))
    for name in ("adaptive", "pipeline3", "skipframe", "alternating"):
        assert not is_frame_oracle(load(S / f"{name}.cw", "tiny")), name


def test_sweep_two_schedules_one_csv_one_plot(tmp_path, capsys):
    out = tmp_path / "fig6.png"
    assert main(["sweep", str(S / "adaptive.cw"), str(S / "pixeldiff.cw"),
                 "--theta", "0.05,0.2", "--theta", "0.1", "--at", "20,50,80",
                 "-o", str(out), *FAST]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    table = list(csv.DictReader(out.with_suffix(".csv").open()))
    assert [(r["schedule"], r["theta"]) for r in table] == [
        ("adaptive", "0.05"), ("adaptive", "0.2"), ("pixeldiff", "0.1")]
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    assert "every 8th frame" in lines[0]
    assert sum(line.startswith("frame oracle") for line in lines) == 1
    at = lines.index("adaptive")
    assert lines[at + 1].startswith("  θ = 0.05") and lines[at + 2].startswith("  θ = 0.2")
    assert lines[at + 3] == "pixeldiff" and lines[at + 4].startswith("  θ = 0.1")
    assert "adaptive above pixeldiff at" in printed and "of 3 rates" in printed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig6.csv", "fig6.png"]


def test_one_schedule_sweep_keeps_its_table(tmp_path, capsys):
    out = tmp_path / "s.png"
    assert main(["sweep", str(S / "adaptive.cw"), "--theta", "0.05", "-o", str(out), *FAST]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[4].startswith("frame oracle") and lines[5].startswith("θ = 0.05")
    assert [r["schedule"] for r in csv.DictReader(out.with_suffix(".csv").open())] == [
        "adaptive"]


@pytest.mark.parametrize("args, message", [
    (["--theta", "0.1", "--theta", "0.2", "--theta", "0.3"], "given 3 times for 2 schedules"),
    (["--at", "20,120"], "must lie in [0, 100]"),
])
def test_sweep_bad_curves_exit_2_before_any_work(args, message, tmp_path, capsys):
    out = tmp_path / "x.png"
    assert main(["sweep", str(S / "adaptive.cw"), str(S / "pixeldiff.cw"), *args,
                 "-o", str(out), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert captured.out == "" and not any(tmp_path.iterdir())


def test_sweep_writes_both_outputs_or_neither(tmp_path, monkeypatch):
    import cwdsl.evaluate.sweepplot as sweep

    def broken(path, *args):
        Path(path).write_bytes(b"half a plot")
        raise RuntimeError("plot failed")

    monkeypatch.setattr(sweep, "plot_curves", broken)
    with pytest.raises(RuntimeError, match="plot failed"):
        main(["sweep", str(S / "adaptive.cw"), "--theta", "0.1", "-o",
              str(tmp_path / "s.png"), *FAST])
    assert list(tmp_path.iterdir()) == []


def test_eval_curve_draws_points_and_the_oracle_line(tmp_path, capsys, monkeypatch):
    import cwdsl.evaluate.sweepplot as sweep

    drawn = {}
    real = sweep.plot_curves

    def spy(path, curves, oracles, title):
        drawn.update(curves=curves, oracles=oracles)
        real(path, curves, oracles, title)

    monkeypatch.setattr(sweep, "plot_curves", spy)
    out = tmp_path / "points.png"
    assert main(["eval", str(S / "oracle.cw"), str(S / "adaptive.cw"), str(S / "pipeline3.cw"),
                 "--curve", str(out), *FAST]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG" and f"wrote {out}" in capsys.readouterr().err  # stdout: the table alone
    assert [c.schedule for c in drawn["curves"]] == ["adaptive", "pipeline3"]
    assert [len(c.points) for c in drawn["curves"]] == [1, 1]
    assert drawn["curves"][1].points[0][0] == 100  # a pipeline computes all, but is no oracle
    assert [r.schedule for r in drawn["oracles"]] == ["oracle"]
    assert main(["eval", str(S / "oracle.cw"), "--curve", str(tmp_path / "c.txt")]) == 2
    assert main(["eval", str(S / "oracle.cw"), "--curve", str(out), "--timeline",
                 str(out)]) == 2
    assert "both name" in capsys.readouterr().err


def test_eval_curve_path_is_checked_before_any_work(capsys):
    assert main(["eval", str(S / "oracle.cw"), "--curve", "/proc/no-such-cwdsl-dir/c.png",
                 "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "cannot write plot" in err and "Traceback" not in err


def _curve(name, thetas, points):
    return SweepCurve(name, tuple(thetas), tuple(row(x, y, f"θ = {t:g}")
                                                 for t, (x, y) in zip(thetas, points)))


CROWDED = [  # issue 19: θ values on one point, labels of two curves at the same place
    _curve("adaptive", [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3],
           [(100, 0.754), (100, 0.754), (80, 0.743), (15, 0.954), (0, 0.709), (0, 0.709),
            (0, 0.709)]),
    _curve("learned", [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3],
           [(100, 0.754), (100, 0.754), (95, 0.743), (90, 0.741), (75, 0.705), (60, 0.644),
            (60, 0.699)])]
LONG_TITLE = ("adaptive, learned on shift16: 4 generated scenes, 6 frames sliding 16 px, "
              "frames 2-5 scored (0-1 fill the pipelines)\nnetwork fcn8s_camvid")


def test_theta_labels_name_each_point_once():
    from cwdsl.evaluate.sweepplot import theta_labels

    assert theta_labels(CROWDED[0]) == [("0, 0.05", 100, 0.754), ("0.1", 80, 0.743),
                                        ("0.15", 15, 0.954), ("0.2–0.3", 0, 0.709)]
    assert [t for t, _, _ in theta_labels(CROWDED[1])][:2] == ["0, 0.05", "0.1"]


def test_sweep_plot_title_fits_and_theta_labels_do_not_overlap(tmp_path, monkeypatch):
    import cwdsl.evaluate.sweepplot as sweepplot

    figures = []
    monkeypatch.setattr("cwdsl.core.figures.save_figure",
                        lambda fig, path, dpi=120: figures.append(fig))
    oracles = [row(100, 0.754, "frame oracle (adaptive)"), row(100, 0.754, "frame oracle (learned)")]
    sweepplot.plot_curves(tmp_path / "f.png", CROWDED, oracles, LONG_TITLE)
    fig = figures[0]
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    title = ax.title.get_window_extent(renderer)
    assert fig.bbox.x0 <= title.x0 and title.x1 <= fig.bbox.x1 and title.y1 <= fig.bbox.y1
    assert "frames 2-5" in ax.title.get_text().replace("\n", " ")
    notes = [t for t in ax.texts]
    assert sorted(t.get_text() for t in notes) == sorted(
        text for c in CROWDED for text, _, _ in sweepplot.theta_labels(c))
    boxes = [t.get_window_extent(renderer) for t in notes]
    frame = ax.get_window_extent(renderer)
    for i, a in enumerate(boxes):
        assert frame.x0 <= a.x0 and a.x1 <= frame.x1 and frame.y0 <= a.y0 and a.y1 <= frame.y1
        for b in boxes[i + 1:]:
            assert not (a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1), (
                notes[i].get_text())


def test_sweep_table_columns_line_up_with_a_long_oracle_name():
    from cwdsl.evaluate.sweep import SweepsResult, format_sweep_table

    result = SweepsResult((row(100, 0.8, "frame oracle (adaptive)"),
                           row(100, 0.8, "frame oracle (learned)")), tuple(CROWDED))
    lines = format_sweep_table(result, "header").split("\n")
    titles = lines[2]
    full = [line for line in lines[4:] if line.strip() and line.strip()[-1] == "%"]
    assert len(full) == 2 + 14
    assert all(len(line) == len(titles) for line in full)
    for column in ("time % full", "mean IU", "all stages %"):  # right ends in line
        end = titles.index(column) + len(column)
        assert all(line[end - 1] != " " and (end == len(line) or line[end] == " ")
                   for line in full)
