"""Choosing a device model: :func:`load_device` accepts a named roofline
(:mod:`cwdsl.devices.roofline`), a device spec file or a profile written by ``cwdsl
profile`` (:mod:`cwdsl.devices.profiled`), all behind one interface
(:class:`~cwdsl.devices.model.DeviceModel`).
"""
from __future__ import annotations

from pathlib import Path

from cwdsl.core.errors import file_error
from cwdsl.core.jsonfile import read_json_object
from cwdsl.devices.model import DeviceModel
from cwdsl.fitting.profileset import load_profile_set
from cwdsl.devices.profiled import PROFILE_FORMAT, profile_from_dict
from cwdsl.devices.named import NAMED
from cwdsl.devices.roofline import Roofline, named_device
from cwdsl.devices.spec import spec_from_dict


def load_device(name_or_path: str | Path) -> DeviceModel:
    """A device model from a named spec (``h100``, ``h200``, ``a100``, ``titanx``,
    ``cpu``), a device spec JSON file, a profile JSON written by ``cwdsl profile``, or
    several profiles of one device (``a.json,b.json`` or a folder of them: a
    :class:`~cwdsl.fitting.profileset.ProfileSet`, which predicts sizes and dtypes none of
    them measured)."""
    if isinstance(name_or_path, str) and name_or_path in NAMED:
        return named_device(name_or_path)
    if isinstance(name_or_path, str) and "," in name_or_path or Path(name_or_path).is_dir():
        return load_profile_set(str(name_or_path))
    path = Path(name_or_path)
    if not path.exists():
        if path.suffix == "" and "/" not in str(name_or_path):
            return named_device(str(name_or_path))
        raise file_error(path, "no such device spec or profile file")
    data = read_json_object(path, "device spec or profile")
    if data.get("format") == PROFILE_FORMAT:
        return profile_from_dict(data, path)
    return Roofline(spec_from_dict(data, path), source=f"roofline:{path}")
