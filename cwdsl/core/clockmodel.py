"""Learned clock models: the file format, loading with clear errors, and prediction.

A clock model is a small multilayer perceptron over cheap signals a ``predicted(…)`` clock
atom measures before the deep stage runs (:data:`SIGNALS`). It predicts the *fraction of
the frame's output labels that would change if the gated stage fired now* instead of
keeping its state (a number in [0, 1]; the atom fires when it reaches θ). ``cwdsl
train-clock`` writes these files; the package bundles some (:func:`resolve_model`).

File (JSON, no pickles): ``{"format": "cwdsl-clock-model", "version": 1, "network",
"head", "signals": [...], "mean": [...], "scale": [...], "layers": [{"weight": [[...]],
"bias": [...]}, ...], "target": "...", "trained_on": {...}}``. Hidden layers use ReLU; the
last layer has one output, squashed by a logistic sigmoid.
"""
from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence

from cwdsl.core.errors import InputError, did_you_mean, file_error
from cwdsl.core.jsonfile import read_json_object

CLOCK_MODEL_FORMAT = "cwdsl-clock-model"
CLOCK_MODEL_VERSION = 1

SIGNALS = {
    "labeldiff_fired": "fraction of the gating head's labels changed since the atom fired",
    "labeldiff_previous": "fraction of the gating head's labels changed since the previous frame",
    "pixeldiff_fired": "mean absolute pixel difference ([0, 1] pixels) since the atom fired",
    "pixeldiff_previous": "mean absolute pixel difference since the previous frame",
    "frames_since_fired": "frames since the atom fired (1 on the frame after)",
}
"""The signals a clock model may read, all measured before the gated stage would run."""

TARGET = "fraction of output labels changed by firing the gated stage"
MAX_WIDTH = 1024
"""The widest layer a clock model may have: a clock must cost next to nothing."""


@dataclass(frozen=True)
class Layer:
    """``y = W x + b``: ``weight`` rows (outputs) of input weights, and ``bias``."""

    weight: tuple[tuple[float, ...], ...]
    bias: tuple[float, ...]


@dataclass(frozen=True)
class ClockModel:
    """A loaded clock model (see the module docstring). ``path`` is where it was read."""

    network: str
    head: str
    signals: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    layers: tuple[Layer, ...]
    target: str
    trained_on: str  # a JSON text: what the model was fitted on, as train-clock recorded it
    path: str

    def predict(self, signals: Mapping[str, float]) -> float:
        """The predicted output change, in [0, 1], for one frame's ``signals``."""
        x = [(signals[name] - m) / s for name, m, s in zip(self.signals, self.mean, self.scale)]
        for i, layer in enumerate(self.layers):
            x = [sum(w * v for w, v in zip(row, x)) + b for row, b in zip(layer.weight, layer.bias)]
            if i < len(self.layers) - 1:
                x = [v if v > 0 else 0.0 for v in x]
        z = x[0]
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))

    def to_json(self) -> dict:
        return {"format": CLOCK_MODEL_FORMAT, "version": CLOCK_MODEL_VERSION,
                "network": self.network, "head": self.head, "signals": list(self.signals),
                "mean": list(self.mean), "scale": list(self.scale),
                "layers": [{"weight": [list(r) for r in layer.weight], "bias": list(layer.bias)}
                           for layer in self.layers],
                "target": self.target, "trained_on": json.loads(self.trained_on)}


BUNDLED_CLOCKS = {"camvid": "clock_camvid.json"}
"""Bundled clock model name (``predicted(s2, model=camvid)``) → file in ``cwdsl/data``."""


def resolve_model(model: str, is_path: bool, schedule_path: str | None) -> Path:
    """The file of a ``model=`` argument: a bundled name, or a path (relative paths are
    relative to the schedule file's folder; to the working folder for a schedule given as
    text). Raises ``InputError`` for an unknown bundled name."""
    if not is_path:
        name = BUNDLED_CLOCKS.get(model)
        if name is None:
            raise InputError(f"no bundled clock model '{model}' (bundled: "
                             f"{', '.join(BUNDLED_CLOCKS)}){did_you_mean(model, BUNDLED_CLOCKS)}; "
                             f'give a file as model="PATH"')
        return Path(str(resources.files("cwdsl").joinpath("data", name)))
    path = Path(model).expanduser()
    if not path.is_absolute() and schedule_path and schedule_path != "<string>":
        path = Path(schedule_path).parent / path
    return path


def load_clock_model(path: str | Path) -> ClockModel:
    """Read and validate a clock model file; an ``InputError`` naming the path and the
    reason otherwise. Cached per (path, modification time, size)."""
    path = Path(path)
    try:
        st = os.stat(path)
        stamp = (st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = None  # read_json_object says what is wrong
    return _load(str(path), stamp)


@functools.lru_cache(maxsize=64)
def _load(path: str, stamp) -> ClockModel:
    data = read_json_object(path, "clock model")
    if data.get("format") != CLOCK_MODEL_FORMAT:
        raise file_error(path, f"not a clock model (its \"format\" is not "
                               f"\"{CLOCK_MODEL_FORMAT}\"); make one with cwdsl train-clock")
    if data.get("version") != CLOCK_MODEL_VERSION:
        raise file_error(path, f"clock model version {data.get('version')!r}; this cwdsl reads "
                               f"version {CLOCK_MODEL_VERSION}")
    signals = _strings(path, data, "signals")
    unknown = [s for s in signals if s not in SIGNALS]
    if not signals or unknown:
        raise file_error(path, f"\"signals\" must name some of {', '.join(SIGNALS)}"
                               + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
    n = len(signals)
    mean, scale = _numbers(path, data, "mean", n), _numbers(path, data, "scale", n)
    if any(s <= 0 for s in scale):
        raise file_error(path, "every \"scale\" must be positive")
    layers = data.get("layers")
    if not isinstance(layers, list) or not layers:
        raise file_error(path, "\"layers\" must be a non-empty list of {weight, bias}")
    parsed, width = [], n
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise file_error(path, f"layer {i} is not an object with weight and bias")
        bias = _numbers(path, layer, "bias", None, f"layer {i}")
        rows = layer.get("weight")
        if not isinstance(rows, list) or len(rows) != len(bias) or not 0 < len(bias) <= MAX_WIDTH:
            raise file_error(path, f"layer {i}: \"weight\" must have one row per bias "
                                   f"(1 to {MAX_WIDTH})")
        weight = tuple(_row(path, r, width, i) for r in rows)
        parsed.append(Layer(weight, bias))
        width = len(bias)
    if width != 1:
        raise file_error(path, f"the last layer must have one output, it has {width}")
    for key in ("network", "head"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise file_error(path, f"\"{key}\" must name the {key} the model was trained for")
    return ClockModel(data["network"], data["head"], signals, mean, scale, tuple(parsed),
                      str(data.get("target", TARGET)),
                      json.dumps(data.get("trained_on", {}), sort_keys=True), path)


def _strings(path, data: dict, key: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise file_error(path, f"\"{key}\" must be a list of names")
    return tuple(value)


def _numbers(path, data: dict, key: str, n: int | None, where: str = "") -> tuple[float, ...]:
    value = data.get(key)
    ok = isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                         and math.isfinite(v) for v in value)
    if not ok or (n is not None and len(value) != n):
        size = f"{n} " if n is not None else ""
        raise file_error(path, f"{where + ': ' if where else ''}\"{key}\" must be a list of "
                               f"{size}finite numbers")
    return tuple(float(v) for v in value)


def _row(path, row, width: int, i: int) -> tuple[float, ...]:
    return _numbers(path, {"row": row}, "row", width, f"layer {i} weight")


def make_model(network: str, head: str, signals: Sequence[str], mean: Sequence[float],
               scale: Sequence[float], layers: Sequence[tuple[Sequence[Sequence[float]],
                                                              Sequence[float]]],
               trained_on: Mapping, path: str = "<memory>") -> ClockModel:
    """A :class:`ClockModel` from plain numbers (what ``train-clock`` fitted)."""
    return ClockModel(network, head, tuple(signals), tuple(map(float, mean)),
                      tuple(map(float, scale)),
                      tuple(Layer(tuple(tuple(map(float, r)) for r in w), tuple(map(float, b)))
                            for w, b in layers), TARGET, json.dumps(dict(trained_on),
                                                                    sort_keys=True), path)
