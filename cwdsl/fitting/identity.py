"""Which device a profile was measured on, and whether profiles may be used together.

A profile records the device (``cuda``, ``cpu``), its name (``NVIDIA H200``, the CPU's
model) and the machine, torch threads included (:mod:`cwdsl.profile.harness`). Profiles
fitted or predicted together (:mod:`cwdsl.fitting.calibrate`,
:mod:`cwdsl.fitting.profileset`) must be of one device timed alike.
"""
from __future__ import annotations

from collections.abc import Sequence

from cwdsl.core.errors import file_error
from cwdsl.devices.profiled import Profile

_BASES = (("H200", "h200"), ("H100", "h100"), ("A100", "a100"), ("TITAN X", "titanx"))


def device_name(profile: Profile) -> str:
    """The profiled device's name (``device_name``, else ``device``)."""
    return str(profile.data.get("device_name") or profile.data["device"])


def torch_threads(profile: Profile) -> int | None:
    """The torch threads a profile was timed with (None where it did not record them)."""
    threads = profile.data.get("machine", {}).get("torch_threads")
    return threads if isinstance(threads, int) else None


def guess_base(profile: Profile) -> str | None:
    """The named spec (:data:`cwdsl.devices.roofline.NAMED`) of a profile's device:
    "NVIDIA H200" → ``h200``, a CPU profile → ``cpu``; None when unknown."""
    if profile.data["device"] == "cpu":
        return "cpu"
    upper = device_name(profile).upper()
    return next((name for token, name in _BASES if token in upper), None)


def check_same_device(profiles: Sequence[Profile], *, one_network: bool) -> None:
    """Refuse profiles of different devices or torch thread counts together (and, with
    ``one_network``, of different networks or layer lists), naming the file that differs
    and why."""
    first = profiles[0]
    for p in profiles[1:]:
        if (device_name(p), p.data["device"]) != (device_name(first), first.data["device"]):
            raise file_error(p.path, f"a profile of {device_name(p)} ({p.data['device']}), but "
                                     f"{first.path} is of {device_name(first)} "
                                     f"({first.data['device']}); give profiles of one device")
        if torch_threads(p) != torch_threads(first):
            raise file_error(p.path, f"timed with {torch_threads(p)} torch threads, but "
                                     f"{first.path} with {torch_threads(first)}: one device "
                                     f"timed two ways; profile again with one --threads")
        if not one_network:
            continue
        if p.network != first.network:
            raise file_error(p.path, f"a profile of network {p.network}, but {first.path} is of "
                                     f"{first.network}; give profiles of one network")
        if p.data["layers"] != first.data["layers"] or p.data["heads"] != first.data["heads"]:
            raise file_error(p.path, f"network {p.network} had other layers or heads when this "
                                     f"was profiled than in {first.path}; profile it again")
