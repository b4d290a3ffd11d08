"""Whether a stream's output folder already holds the result a run would write, so a corpus
run (``cwdsl run --videos DIR``) resumes after the streams it finished.

A result is decided by the schedule's text (not its path), the network, the weights by
content (not where they lie: ``cwdsl run`` and ``torchrun -m cwdsl run`` may load the
bundled weights from two copies of the package), the dtype, the size, the device, the
frames' file and the options that choose frames (:func:`cwdsl.run.records.run_inputs`),
and the ``--save`` items. :func:`rerun_reason` names the first of these that differs, so the
user learns why a stream runs again.
"""
from __future__ import annotations

import json
from pathlib import Path

from cwdsl.lang.printer import print_schedule
from cwdsl.run.records import run_inputs

_WHAT = (("schedule_text", "another schedule text"), ("network", "another network"),
         ("weights_sha256", "other weights (their content differs)"),
         ("dtype", "another dtype"), ("size", "another frame size"),
         ("device", "another device"), ("source_path", "another video file"),
         ("max_frames", "another --max-frames"), ("keep_partial", "another --keep-partial"))


def expected(options, program, weights: str, device: str, source) -> dict:
    """What a finished run of this stream must have recorded (``options``: ``RunOptions``)."""
    inputs = run_inputs(options, weights, source)
    return {"schedule_text": print_schedule(program.schedule), "network": program.network.name,
            "dtype": options.dtype, "size": list(source.size), "device": device, **inputs,
            "save": sorted(options.save)}


def _recorded(data: dict) -> dict:
    inputs = data.get("inputs") or {}
    return {"schedule_text": (data.get("schedule") or {}).get("text"),
            "network": data.get("network"), "dtype": data.get("dtype"),
            "size": data.get("size"), "device": data.get("device"), **inputs}


def rerun_reason(folder: Path, expect: dict, is_run_folder) -> str | None:
    """``None`` when ``folder`` holds a finished run (a ``run.json``: only a completed run
    writes one) of exactly ``expect``, with every ``--save`` item; else why it must run
    (``""`` when the folder holds no finished run at all)."""
    record = folder / "run.json"
    if not record.is_file() or not is_run_folder(folder):
        return ""
    try:
        data = json.loads(record.read_text())
    except (OSError, ValueError):
        return "its run.json does not read as JSON"
    if "inputs" not in data:
        return "it was written by an older cwdsl that did not record the weights' content"
    got = _recorded(data)
    for key, what in _WHAT:
        if got.get(key) != expect[key]:
            return f"its run used {what}"
    saved = {"masks": (folder / "masks").is_dir(), "overlay": (folder / "overlay.mp4").is_file()}
    missing = [item for item in expect["save"] if not saved[item]]
    if missing:
        return f"it lacks --save {','.join(missing)}"
    return None
