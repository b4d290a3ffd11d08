"""What ``cwdsl run`` tells a user about sizes and scores: one rule for a network's valid
input sides with one suggestion, and scores against ground truth only where the labels are
the network's own label set."""
from __future__ import annotations

from pathlib import Path

from cwdsl.commands.main import main
from cwdsl.core.netspec import get_network

ROOT = Path(__file__).resolve().parents[1]
SCHEDULES = ROOT / "schedules"
FAST = ["--max-frames", "2", "--quiet", "--no-oracle"]


def cli(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_nearest_valid_size_rounds_halves_up_and_keeps_one_multiple():
    espnet = get_network("espnet")
    assert espnet.nearest_valid((180, 240)) == (184, 240)   # 22.5 multiples: up
    assert espnet.nearest_valid((179, 243)) == (176, 240)
    assert espnet.nearest_valid((3, 5)) == (8, 8)
    assert get_network("tiny").nearest_valid((181, 239)) == (181, 239)


def test_a_size_off_the_side_rule_is_refused_with_one_suggestion(capsys):
    code, _, err = cli(capsys, "run", str(SCHEDULES / "espnet" / "oracle.cw"), "--weights",
                       "random", "--size", "180x240", *FAST)
    assert code == 2 and "Traceback" not in err
    assert "--size 184x240" in err and "trained at 360x480" in err
    assert "note:" not in err  # refused before any note could suggest another size
    code, _, err = cli(capsys, "run", str(SCHEDULES / "espnet" / "oracle.cw"), "--weights",
                       "random", "--size", "184x240", *FAST)
    assert code == 0, err
    assert "--size 360x480 resizes the frames" in err  # the training size, as said above


def test_demo_ground_truth_is_scored_only_for_its_own_label_set(capsys):
    code, out, err = cli(capsys, "run", str(SCHEDULES / "learned.cw"), *FAST)  # fcn8s_camvid
    assert code == 0, err
    assert "scoring against ground truth skipped" in err and "vs ground truth" not in out
    code, out, err = cli(capsys, "run", str(SCHEDULES / "adaptive.cw"), *FAST)  # tiny
    assert code == 0, err
    assert "mean IU vs ground truth" in out and "skipped" not in err
