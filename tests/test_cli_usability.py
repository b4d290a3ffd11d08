"""What a user sees on the way (issue 11, item 14): train's progress and final loss, profile's
summary and its early checks, --net mistakes reported as command-line errors, --version,
help text for every option."""
import argparse
import json
from pathlib import Path

import numpy as np
import pytest

import cwdsl
from cwdsl.demo.scenes import generate_clip
from cwdsl.commands.main import build_parser, main
from cwdsl.train.train import LOSS_WINDOW, TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
ORACLE = str(ROOT / "schedules/oracle.cw")
ADAPTIVE = str(ROOT / "schedules/adaptive.cw")


@pytest.mark.slow
def test_train_shows_held_out_progress_and_the_bars_final_loss(capsys):
    config = TrainConfig(steps=3, batch=1, size=(16, 16), val_clips=1, val_frames=2)
    _, report = train(config, progress=True)
    err = capsys.readouterr().err
    assert "held-out" in err and "6/6" in err  # 2 frames x 3 truncated outputs, with a bar
    assert report.final_loss == pytest.approx(np.mean(report.losses[-LOSS_WINDOW:]))
    assert f"loss={report.final_loss:.3f}" in err  # the bar's last figure is the same number


def test_train_command_says_what_its_final_loss_is(tmp_path, capsys, monkeypatch):
    import cwdsl.train.train as training
    monkeypatch.setattr(training, "validation_clips",
                        lambda config: [generate_clip(1_000_000, 1, config.size)])
    out = tmp_path / "t.pt"
    assert main(["train", "--steps", "3", "--batch", "1", "--size", "16x16", "-o", str(out),
                 "--quiet"]) == 0
    final = json.loads(out.with_suffix(".json").read_text())["final_loss"]
    assert f"final loss {final:.3f} (mean of the last 3 steps" in capsys.readouterr().out


def test_profile_prints_a_summary(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert main(["profile", "--net", "tiny", "--size", "16x16", "--warmup", "0", "--repeats",
                 "1", "--threads", "1", "-o", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "conv1_1..pool3" in text and "in frame ms" in text
    assert "frame oracle" in text and f"wrote {out}" in text


@pytest.mark.parametrize("args, message", [
    (["--net", "tiny", "--size", "16"], "size '16' is not HEIGHTxWIDTH"),
    (["--net", "resnet", "--size", "16x16"], "--net: unknown network 'resnet'"),
    (["--net", "tiny", "--size", "16x16", "--dtype", "float16"], "needs --device cuda"),
])
def test_profile_checks_options_before_drawing_a_bar(tmp_path, capsys, args, message):
    assert main(["profile", *args, "-o", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err
    assert message in err and "call" not in err  # no progress bar was drawn
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("argv", [
    ["simulate", ORACLE], ["eval", ORACLE], ["sweep", ADAPTIVE, "-o", "{t}/s.png"],
    ["layers"], ["layers", "--data", "shift16"], ["train", "-o", "{t}/t.pt"],
    ["profile", "--size", "16x16", "-o", "{t}/p.json"],
])
def test_unknown_net_is_a_command_line_error(tmp_path, capsys, argv):
    argv = [a.format(t=tmp_path) for a in argv]
    assert main([*argv, "--net", "resnt"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --net: unknown network 'resnt'; known: espnet, fcn8s, "
                          "fcn8s_atonce, fcn8s_camvid")
    assert "^" not in err and ".cw" not in err  # not a caret inside the schedule file
    assert not any(tmp_path.iterdir())


def test_net_close_to_a_known_one_says_did_you_mean(capsys):
    assert main(["simulate", ORACLE, "--net", "fcn8"]) == 2
    assert "did you mean 'fcn8s'?" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"cwdsl {cwdsl.__version__}"


def subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def test_every_option_of_every_command_has_help():
    parser = build_parser()
    missing = [f"{name} {action.option_strings or action.dest}"
               for name, sub in [("cwdsl", parser), *subparsers(parser)]
               for action in sub._actions
               if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
               and not action.help]
    assert missing == []


def test_layers_help_mentions_no_schedule(capsys):
    with pytest.raises(SystemExit):
        main(["layers", "--help"])
    assert "schedule" not in capsys.readouterr().out.lower()
