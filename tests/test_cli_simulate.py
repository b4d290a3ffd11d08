"""`cwdsl profile` and `cwdsl simulate` as a user meets them: tables, JSON, plots, errors."""
import json
from pathlib import Path

import numpy as np
import pytest

from cwdsl.commands.main import main

ROOT = Path(__file__).resolve().parents[1]
S = {name: str(ROOT / "schedules" / f"{name}.cw")
     for name in ("oracle", "skipframe", "pipeline3", "exponential", "adaptive")}


def simulate_json(capsys, *args) -> dict:
    assert main(["simulate", *args, "--json"]) == 0
    return {r["schedule"]: r for r in json.loads(capsys.readouterr().out)}


def test_table_has_one_row_per_schedule_and_the_oracle_is_full(capsys):
    assert main(["simulate", S["oracle"], S["skipframe"], S["pipeline3"], "--frames", "100"]) == 0
    out = capsys.readouterr().out
    assert "device titanx" in out and "fcn8s 500x500 float32" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines()
            if line.split() and line.split()[0] in ("oracle", "skipframe", "pipeline3")}
    assert rows["oracle"][1] == "100.0%"
    assert float(rows["skipframe"][1].rstrip("%")) < 60
    assert float(rows["pipeline3"][1].rstrip("%")) < 100


def test_json_matches_closed_forms(capsys):
    records = simulate_json(capsys, S["oracle"], S["skipframe"], S["exponential"],
                            "--frames", "1000", "--device", "h100")
    assert records["oracle"]["compute_pct_of_full"] == pytest.approx(100)
    assert records["oracle"]["device"] == "h100"
    # skip-frame: s3 on even frames (s1, s2 every frame); frame 0 computes all
    skip = records["skipframe"]
    assert skip["computed_pct"]["s3"] == pytest.approx(50.0)
    assert skip["all_stages_pct"] == pytest.approx(50.0)
    assert records["exponential"]["computed_pct"] == {"s1": 100.0, "s2": 50.0, "s3": 25.0}


def test_fire_rate_and_seed_drive_the_adaptive_clock(capsys):
    low = simulate_json(capsys, S["adaptive"], "--fire-rate", "0.1", "--frames", "2000")
    high = simulate_json(capsys, S["adaptive"], "--fire-rate", "0.9", "--frames", "2000")
    assert low["adaptive"]["computed_pct"]["s3"] < high["adaptive"]["computed_pct"]["s3"]
    assert abs(low["adaptive"]["computed_pct"]["s3"] - 10) < 3


def test_plot_and_capacity(tmp_path, capsys):
    plot = tmp_path / "timeline.png"
    assert main(["simulate", S["oracle"], S["adaptive"], "--device", "h100", "--streams", "auto",
                 "--seconds", "2", "--frames", "200", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "oracle: sustains" in out and "adaptive: sustains" in out
    n = simulate_json(capsys, S["oracle"], "--device", "h100", "--streams", "4",
                      "--seconds", "2", "--frames", "10")["oracle"]["capacity"]
    assert n["streams"] == 4 and n["sustained"] and n["dropped"] == 0


def test_profile_then_simulate_with_it(tmp_path, capsys):
    profile = tmp_path / "tiny.json"
    assert main(["profile", "--net", "tiny", "--size", "32x32", "--warmup", "0",
                 "--repeats", "1", "--threads", "1", "-o", str(profile), "--quiet"]) == 0
    assert f"wrote {profile}" in capsys.readouterr().out
    data = json.loads(profile.read_text())
    assert data["network"] == "tiny" and data["input_hw"] == [32, 32]
    records = simulate_json(capsys, S["oracle"], S["skipframe"], "--net", "tiny",
                            "--size", "32x32", "--device", str(profile), "--frames", "100")
    assert records["oracle"]["source"] == f"profile:{profile}"
    assert records["oracle"]["time_pct_of_full"] == pytest.approx(100)
    assert records["skipframe"]["latency_ms_mean"] < records["oracle"]["latency_ms_mean"]
    # a profile for another size is refused with the command that makes the right one
    assert main(["simulate", S["oracle"], "--net", "tiny", "--size", "64x64",
                 "--device", str(profile)]) == 2
    err = capsys.readouterr().err
    assert str(profile) in err and "cwdsl profile --net tiny --size 64x64" in err


@pytest.mark.parametrize("args, message", [
    (["--device", "tpu9000"], "tpu9000"),
    (["--plot", "timeline.txt"], "timeline.txt: the plot must be .png, .svg or .pdf"),
    # what would not be done in bounded memory and minutes, and the largest that would
    (["--frames", "30000000000"], "--frames 30,000,000,000: oracle's"),
    (["--streams", "6", "--fps", "1e6", "--seconds", "100"],
     "1e+08 frames a stream; a capacity run simulates at most 10,000,000 frames: at most "
     "--seconds 10 at this --fps"),
    (["--streams", "4000", "--seconds", "1000"],
     "(30,000 a stream at --fps 30 for --seconds 1000): at most --streams 333, or --seconds 83"),
    (["--streams", "auto", "--seconds", "1e9"], "at most --seconds 333333 at this --fps"),
])
def test_bad_options_exit_2(args, message, capsys):
    schedule = S["adaptive"] if "--frames" in args else S["oracle"]
    assert main(["simulate", schedule, *args]) == 2
    err = capsys.readouterr().err
    assert message.replace("oracle's", "adaptive's") in err and "Traceback" not in err


@pytest.mark.parametrize("args, message", [
    (["--streams", "0"], "--streams: takes a whole number in 1..4096 or 'auto', got '0'"),
    (["--streams", "many"], "--streams: takes a whole number in 1..4096 or 'auto', got 'many'"),
    (["--streams", "100000"], "in 1..4096 or 'auto', got '100000'"),
    (["--fps", "0", "--streams", "1"], "--fps: expected a number of at least 0.001, got 0"),
    (["--fps", "nan"], "--fps: expected a finite number, got nan"),
    (["--seconds", "inf"], "--seconds: expected a finite number, got inf"),
    (["--size", "500"], "size '500' is not HEIGHTxWIDTH"),
    (["--frames", str(10**30)], "--frames: expected at most 1,000,000,000,000,000"),
])
def test_bad_option_values_are_command_line_errors(args, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["simulate", S["oracle"], *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_fixed_clocks_price_any_number_of_frames_at_once(capsys):
    records = simulate_json(capsys, S["exponential"], "--frames", str(10**15))
    assert records["exponential"]["frames"] == 10**15
    assert records["exponential"]["computed_pct"] == pytest.approx({"s1": 100.0, "s2": 50.0,
                                                                    "s3": 25.0})


def test_bad_device_file_and_profile_output(tmp_path, capsys):
    bad = tmp_path / "spec.json"
    bad.write_text("{not json")
    assert main(["simulate", S["oracle"], "--device", str(bad)]) == 2
    assert str(bad) in capsys.readouterr().err
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["profile", "--net", "tiny", "--size", "16x16", "--warmup", "0",
                 "--repeats", "1", "-o", str(blocker / "p.json"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(blocker / "p.json") in err and "cannot write profile" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "spec.json"]
    assert main(["profile", "--net", "nosuchnet", "--size", "16x16", "-o",
                 str(tmp_path / "p.json"), "--quiet"]) == 2
    assert "nosuchnet" in capsys.readouterr().err and not (tmp_path / "p.json").exists()


def test_plot_says_how_many_frames_it_draws(tmp_path, capsys):
    plot = tmp_path / "t.png"
    assert main(["simulate", S["adaptive"], "--frames", "200", "--plot", str(plot),
                 "--plot-frames", "10"]) == 0
    assert f"wrote {plot} (the first 10 of 200 frames" in capsys.readouterr().out
    assert main(["simulate", S["oracle"], "--frames", "5", "--plot", str(plot)]) == 0
    assert "(the first 5 of 5 frames" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["simulate", S["oracle"], "--plot", str(plot), "--plot-frames", "0"])
    assert info.value.code == 2


def test_schedules_on_different_networks_get_a_header_each(capsys):
    from cwdsl.commands.main import main

    root = Path(__file__).resolve().parents[1] / "schedules"
    assert main(["simulate", str(root / "dff.cw"), str(root / "learned.cw"),
                 str(root / "accel.cw")]) == 0
    out = capsys.readouterr().out
    headers = [line for line in out.splitlines() if line.startswith("device ")]
    assert len(headers) == 2 and "fcn8s 500x500" in headers[0] and \
        "fcn8s_camvid 180x240" in headers[1]
    first, second = out.split(headers[1])
    assert "dff" in first and "accel" in first and "learned" not in first  # grouped, in order
    assert "learned" in second and out.count("time % full: mean latency") == 1


@pytest.mark.parametrize("device", ["titanx", "h200"])
def test_plot_bars_sum_to_each_frames_latency_with_flow_and_warp_drawn(tmp_path, capsys,
                                                                      monkeypatch, device):
    """The bars of a frame sum to its latency, none negative (a "rest" bar of -4.87 ms once
    hid the flow and warp of accel on a Titan X), and the flow and warp's time is drawn
    (in the bar, or hatched beside it where the device's work hid it)."""
    import cwdsl.core.figures as figures
    from cwdsl.fitting.load import load_device
    from cwdsl.ir.graph import load
    from cwdsl.sim.report import SimulateOptions, plot_timeline, simulate_schedules

    motion_label = "flow and warp"  # as the legend says
    names = ("accel", "pipeline_warp")
    report = simulate_schedules([load(ROOT / "schedules" / f"{n}.cw") for n in names],
                                SimulateOptions(device=load_device(device), frames=20,
                                                timeline=20))
    figs = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, path: figs.append(fig))
    plot_timeline(report.sims, tmp_path / "t.png", frames=12)
    (fig,) = figs
    for ax, sim in zip(fig.axes, report.sims):
        timeline = sim.timeline[:12]
        bars = {c.get_label(): [r.get_height() for r in c] for c in ax.containers}
        assert min(min(h) for h in bars.values()) >= 0
        shown = [label for label in bars if not label.startswith("_")]
        total = np.sum([bars[label] for label in shown], axis=0)
        assert total == pytest.approx([p.latency_ms for p in timeline])
        motion = np.add(bars[motion_label], bars.get(f"_hidden {motion_label}", 0.0))
        assert motion == pytest.approx([p.motion_ms for p in timeline])
        assert (motion > 0).sum() >= 5  # the frames that warp (accel 4 of 5, pipeline_warp 1 of 2)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert motion_label in legend and "s1" in legend


@pytest.mark.parametrize("extra, reason", [
    (["--fps", "10"], "--fps sets a capacity run's streams"),
    (["--seconds", "2"], "--seconds sets a capacity run's streams"),
    (["--plot-frames", "10"], "--plot-frames says how many frames --plot draws"),
    (["--fire-rate", "0.3"], "has no data-driven clock"),
    (["--seed", "3"], "has no data-driven clock"),
])
def test_options_that_would_do_nothing_exit_2(extra, reason, capsys):
    """Each was accepted and ignored (the output byte-identical with and without it)."""
    from cwdsl.commands.main import main

    assert main(["simulate", "schedules/oracle.cw", "--frames", "10", *extra]) == 2
    err = capsys.readouterr().err
    assert reason in err and "Traceback" not in err
