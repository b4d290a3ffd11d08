"""Device specs: a device's roofline numbers (:class:`DeviceSpec`), read from and written
to spec files (JSON) with every field checked; the named specs are in
:mod:`cwdsl.devices.named`, the model that prices with one in :mod:`cwdsl.devices.roofline`.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from cwdsl.core.errors import InputError, did_you_mean, file_error
from cwdsl.core.jsonfile import read_json_object
from cwdsl.core.units import DTYPE_NAMES
from cwdsl.devices.kernel_kinds import KINDS

DEVICE_FORMAT = "cwdsl-device"


@dataclass(frozen=True)
class DeviceSpec:
    """A device's roofline numbers.

    ``peak_tflops``: dense peak per dtype for the arithmetic PyTorch actually uses for
    convolutions in that dtype (a dtype left out cannot be modelled); ``bandwidth_gbs``:
    memory bandwidth, GB/s (1e9 bytes); ``launch_us``: host cost of one eager op
    (dispatcher + kernel launch); ``sync_us``: one device-to-host read of a scalar (a
    data-driven clock's decision); ``frame_us``: the executor's per-frame host work
    (plan walk, cache bookkeeping); ``host_link_gbs``: host-to-device bandwidth for the
    frame's upload, ``None`` when frames already live in the device's memory (a CPU).
    Calibration (all optional, defaults: the bare roofline): ``efficiency``: per kernel
    kind (:data:`KINDS`), the fraction (0, 1] of its roofline speed it reaches (a kind left
    out: 1); ``kernel_us``: device time every kernel costs besides (its fixed latency);
    ``lane_overlap``: the share of a pipelined wave's non-slowest lanes that concurrency
    hides; ``calibrated_from``: the profiles fitted (``path``, ``device``, ``date`` each).
    """

    name: str
    peak_tflops: Mapping[str, float]
    bandwidth_gbs: float
    launch_us: float
    sync_us: float
    frame_us: float
    host_link_gbs: float | None = None
    description: str = ""
    notes: str = field(default="", compare=False)
    efficiency: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    kernel_us: float = 0.0
    lane_overlap: float = 1.0
    calibrated_from: tuple[Mapping[str, str], ...] = ()

    def peak_flops(self, dtype: str) -> float:
        """Peak FLOP/s for ``dtype``; ``InputError`` if the spec has none."""
        try:
            return self.peak_tflops[dtype] * 1e12
        except KeyError:
            raise InputError(f"device {self.name} has no peak for {dtype} (it has: "
                             f"{', '.join(self.peak_tflops)})") from None


_SPEC_FIELDS = {"name", "peak_tflops", "bandwidth_gbs", "launch_us", "sync_us", "frame_us",
                "host_link_gbs", "description", "notes", "format", "efficiency", "kernel_us",
                "lane_overlap", "calibrated_from"}
_SPEC_REQUIRED = ("name", "peak_tflops", "bandwidth_gbs", "launch_us", "sync_us", "frame_us")


def _number(path, key: str, value, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise file_error(path, f"'{key}' must be a number, got {json.dumps(value)}")
    if positive and value <= 0:
        raise file_error(path, f"'{key}' must be positive, got {value}")
    if value < 0:
        raise file_error(path, f"'{key}' must not be negative, got {value}")
    return float(value)


def spec_from_dict(data: Mapping, path: str | Path = "<spec>") -> DeviceSpec:
    """Validate a device spec given as a mapping (the spec file's object)."""
    unknown = sorted(set(data) - _SPEC_FIELDS)
    if unknown:
        raise file_error(path, f"unknown field '{unknown[0]}'"
                               f"{did_you_mean(unknown[0], _SPEC_FIELDS)}; a device spec has "
                               f"{', '.join(_SPEC_REQUIRED)} and optionally host_link_gbs, "
                               f"description, notes, format, efficiency, kernel_us, "
                               f"lane_overlap, calibrated_from")
    if data.get("format", DEVICE_FORMAT) != DEVICE_FORMAT:
        raise file_error(path, f"'format' is {data['format']!r}; a device spec file has "
                               f"'format': {DEVICE_FORMAT!r} (or none)")
    missing = [k for k in _SPEC_REQUIRED if k not in data]
    if missing:
        raise file_error(path, f"missing field '{missing[0]}' (a device spec needs "
                               f"{', '.join(_SPEC_REQUIRED)})")
    if not isinstance(data["name"], str) or not data["name"]:
        raise file_error(path, "'name' must be a non-empty string")
    peaks = data["peak_tflops"]
    if not isinstance(peaks, Mapping) or not peaks:
        raise file_error(path, "'peak_tflops' must map dtypes (float32, float16, bfloat16) "
                               "to TFLOP/s")
    for dtype in peaks:
        if dtype not in DTYPE_NAMES:
            raise file_error(path, f"'peak_tflops' has unknown dtype '{dtype}'"
                                   f"{did_you_mean(dtype, DTYPE_NAMES)}; use "
                                   f"{', '.join(DTYPE_NAMES)}")
    link = data.get("host_link_gbs")
    for key in ("description", "notes"):
        if not isinstance(data.get(key, ""), str):
            raise file_error(path, f"'{key}' must be a string")
    return DeviceSpec(
        name=data["name"],
        peak_tflops=MappingProxyType({d: _number(path, f"peak_tflops.{d}", v, positive=True)
                                      for d, v in peaks.items()}),
        bandwidth_gbs=_number(path, "bandwidth_gbs", data["bandwidth_gbs"], positive=True),
        launch_us=_number(path, "launch_us", data["launch_us"], positive=False),
        sync_us=_number(path, "sync_us", data["sync_us"], positive=False),
        frame_us=_number(path, "frame_us", data["frame_us"], positive=False),
        host_link_gbs=None if link is None else _number(path, "host_link_gbs", link,
                                                        positive=True),
        description=data.get("description", ""), notes=data.get("notes", ""),
        **_calibration(data, path))


def _calibration(data: Mapping, path) -> dict:
    """The optional calibration fields of a spec file, validated."""
    eff = data.get("efficiency", {})
    if not isinstance(eff, Mapping):
        raise file_error(path, f"'efficiency' must map kernel kinds ({', '.join(KINDS)}) to "
                               f"fractions of roofline speed")
    for key, value in eff.items():
        kind, _, dtype = key.partition("@")
        if kind not in KINDS or dtype and dtype not in DTYPE_NAMES:
            raise file_error(path, f"'efficiency' has unknown kind '{key}'"
                                   f"{did_you_mean(kind, KINDS)}; use {', '.join(KINDS)}, "
                                   f"optionally @DTYPE")
        if _number(path, f"efficiency.{key}", value, positive=True) > 1:
            raise file_error(path, f"'efficiency.{key}' must be at most 1, got {value}")
    overlap = _number(path, "lane_overlap", data.get("lane_overlap", 1.0), positive=False)
    if overlap > 1:
        raise file_error(path, f"'lane_overlap' must be between 0 and 1, got {overlap}")
    sources = data.get("calibrated_from", [])
    if not isinstance(sources, list) or not all(
            isinstance(e, Mapping) and all(isinstance(v, str) for v in e.values())
            for e in sources):
        raise file_error(path, "'calibrated_from' must be a list of objects of strings "
                               "(path, device, date)")
    return {"efficiency": MappingProxyType({k: float(v) for k, v in eff.items()}),
            "kernel_us": _number(path, "kernel_us", data.get("kernel_us", 0.0),
                                 positive=False),
            "lane_overlap": overlap,
            "calibrated_from": tuple(MappingProxyType(dict(e)) for e in sources)}


def spec_to_dict(spec: DeviceSpec) -> dict:
    """The JSON object of a spec file (``load_spec`` reads it back); the calibration
    fields only where they differ from the bare roofline's."""
    out = {"format": DEVICE_FORMAT, "name": spec.name, "peak_tflops": dict(spec.peak_tflops),
           "bandwidth_gbs": spec.bandwidth_gbs, "launch_us": spec.launch_us,
           "sync_us": spec.sync_us, "frame_us": spec.frame_us,
           "host_link_gbs": spec.host_link_gbs, "description": spec.description,
           "notes": spec.notes}
    if spec.efficiency:
        out["efficiency"] = dict(spec.efficiency)
    if spec.kernel_us:
        out["kernel_us"] = spec.kernel_us
    if spec.lane_overlap != 1.0:
        out["lane_overlap"] = spec.lane_overlap
    if spec.calibrated_from:
        out["calibrated_from"] = [dict(e) for e in spec.calibrated_from]
    return out


def load_spec(path: str | Path) -> DeviceSpec:
    """Read a device spec file (JSON with the fields of :class:`DeviceSpec`; see
    ``spec_to_dict(NAMED['h100'])`` for an example). Errors name the path and reason."""
    return spec_from_dict(read_json_object(path, "device spec"), path)
