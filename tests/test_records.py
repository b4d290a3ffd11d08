"""Typed result records: each to_json() is exactly the dict the --json outputs and run.json
have always held (same keys, same order)."""
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from cwdsl import load
from cwdsl.commands.main import main
from cwdsl.demo.clip import DEMO, demo_clip
from cwdsl.sim.capacity import Capacity
from cwdsl.fitting.load import load_device
from cwdsl.sim.report import SimulateOptions, capacity_line, format_report, simulate_schedules

ROOT = Path(__file__).resolve().parents[1]
S = ROOT / "schedules"
SIM_KEYS = ["schedule", "frames", "latency_ms_mean", "latency_ms_p50", "latency_ms_p99",
            "work_ms_mean", "time_pct_of_full", "compute_pct_of_full", "gflops_per_frame",
            "throughput_fps", "all_stages_pct", "computed_pct", "device", "source", "network",
            "input", "dtype", "oracle_ms"]
CAPACITY_KEYS = ["streams", "fps", "arrived", "processed", "dropped", "late", "utilization",
                 "latency_ms_p50", "latency_ms_p99", "latency_ms_max", "sustained"]


def test_simulation_rows_and_capacity_in_json_order():
    programs = [load(S / "oracle.cw"), load(S / "adaptive.cw")]
    report = simulate_schedules(programs, SimulateOptions(load_device("h100"), frames=50,
                                                          streams=3, seconds=1))
    oracle, adaptive = report.rows
    assert list(oracle.to_json()) == SIM_KEYS + ["capacity"]
    assert list(oracle.to_json()["capacity"]) == CAPACITY_KEYS
    assert oracle.to_json()["input"] == [500, 500] and oracle.capacity.streams == 3
    assert oracle.time_pct_of_full == pytest.approx(100) and report.data_driven
    text = format_report(report)
    assert "data-driven clocks fire at rate 0.5 (seed 0)" in text
    assert "oracle: 3 streams at 30 fps: utilization" in text
    plain = simulate_schedules(programs[:1], SimulateOptions(load_device("h100"), frames=50))
    assert list(plain.rows[0].to_json()) == SIM_KEYS and not plain.data_driven
    assert "data-driven" not in format_report(plain)
    auto = replace(plain.rows[0], sustainable_streams=0)
    assert list(auto.to_json()) == SIM_KEYS + ["sustainable_streams"]
    assert capacity_line(auto, 30.0) == "oracle: sustains no stream at 30 fps"
    assert capacity_line(plain.rows[0], 30.0) is None


def test_capacity_to_json_leaves_out_seconds_and_adds_sustained():
    cap = Capacity(2, 30.0, 1.0, 60, 60, 0, 0, 0.5, 1.0, 2.0, 3.0)
    assert cap.to_json() == {"streams": 2, "fps": 30.0, "arrived": 60, "processed": 60,
                             "dropped": 0, "late": 0, "utilization": 0.5, "latency_ms_p50": 1.0,
                             "latency_ms_p99": 2.0, "latency_ms_max": 3.0, "sustained": True}


def test_eval_and_sweep_rows(capsys, tmp_path):
    from cwdsl.evaluate.evaluation import evaluate_schedules
    from cwdsl.evaluate.protocol import load_eval_data
    from cwdsl.evaluate.sweep import score_sweep, sweep_programs
    from cwdsl.nets.bundled import bundled_weights

    data = load_eval_data("shift16", 6, scenes=1)
    weights = str(bundled_weights(DEMO.network))
    row = evaluate_schedules(data, weights, [load(S / "oracle.cw", "tiny")], progress=False)[0]
    assert list(row.to_json()) == [
        "schedule", "frames", "scored_frames", "time_pct_of_full", "all_stages_pct", "mean_iu",
        "fw_iu", "pixel_acc", "mean_iu_bdry", "fw_iu_bdry", "label_change_pct",
        "first_clip_all_stages", "network", "device"]
    assert row.to_json()["first_clip_all_stages"] == [True] * 6 and row.network == "tiny"
    programs, oracle = sweep_programs(S / "adaptive.cw", (0.1, 0.5), "tiny")
    result = score_sweep(data, weights, programs, oracle, (0.1, 0.5), progress=False)
    assert result.oracle.schedule == "frame oracle"
    assert [r.schedule for r in result.rows] == ["θ = 0.1", "θ = 0.5"]
    assert result.oracle.mean_iu == pytest.approx(row.mean_iu)


def test_run_record_json_shape(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(S / "adaptive.cw"), "--max-frames", "3", "--out", str(out),
                 "--quiet"]) == 0
    record = json.loads((out / "run.json").read_text())
    assert list(record) == ["cwdsl_run", "started", "schedule", "network", "weights", "device",
                            "device_name", "dtype", "concurrency", "executor", "torch", "source",
                            "size", "atoms", "frames", "summary", "notes", "inputs"]
    assert record["inputs"]["weights_sha256"].startswith("sha256:")
    assert record["inputs"]["source_path"] is None  # the demo
    assert list(record["summary"]) == [
        "frames", "latency_ms_mean", "latency_ms_p50", "latency_ms_p99", "fps",
        "computed_fraction", "all_stages_fraction", "stage_ms_mean", "note", "mean_iu",
        "pixel_accuracy", "oracle_mean_iu", "oracle_agreement", "mean_iu_vs_oracle"]
    assert list(record["schedule"]) == ["path", "name", "text"]
    assert record["executor"] == {"memory_format": "channels_last", "compile": False,
                                  "cuda_graphs": False}
    assert "stage     computed       mean ms" in capsys.readouterr().out


def test_demo_clip_record():
    clip = demo_clip(4)
    assert len(clip.frames) == 4 and clip.frames.shape[1:3] == DEMO.size
    assert len(demo_clip(10_000).frames) == DEMO.frames


def test_python_dash_m_cwdsl():
    proc = subprocess.run([sys.executable, "-m", "cwdsl", "check", str(S / "oracle.cw")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "ok  " in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "cwdsl", "--help"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "usage: cwdsl" in proc.stdout
