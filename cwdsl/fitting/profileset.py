"""Profiles of one device predicting sizes and dtypes none of them measured.

A user profiles a network at one or a few sizes and dtypes (``cwdsl profile``) and asks the
simulator about others. :class:`ProfileSet` answers with the exact profile where one
matches the asked network, size and dtype; otherwise it *predicts* a profile for them and
prices it like a measured one (:class:`~cwdsl.devices.profiled.Profile`), saying which it
did (:attr:`ProfileSet.how`).

The prediction itself is :func:`cwdsl.fitting.prediction.predict_profile`.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cwdsl.core.errors import InputError, file_error
from cwdsl.core.netspec import NetworkSpec
from cwdsl.devices.model import DeviceModel
from cwdsl.devices.named import NAMED
from cwdsl.devices.profiled import PROFILE_FORMAT, Profile, load_profile, profile_from_dict
from cwdsl.devices.spec import DeviceSpec
from cwdsl.fitting.identity import check_same_device, device_name, guess_base
from cwdsl.fitting.prediction import dtype_classes, predict_profile

Key = tuple[str, tuple[int, int], str]
"""A profile's network, input size and dtype."""


# -- which profiles a set may hold ---------------------------------------------------------
def load_profiles_arg(arg: str) -> list[Profile]:
    """The profiles of ``--device a.json,b.json`` (each must be a profile) or of a folder
    (its ``*.json`` files that are profiles; other JSON files, such as run records, are
    passed over). Every problem is an ``InputError`` naming the path and the reason."""
    from cwdsl.core.jsonfile import read_json_object

    profiles: list[Profile] = []
    seen: set[Path] = set()
    for item in (s.strip() for s in arg.split(",")):
        if not item:
            raise InputError(f"--device {arg!r}: an empty name between commas")
        path = Path(item)
        if path.is_dir():
            found = [p for p in sorted(path.glob("*.json"))
                     if read_json_object(p, "profile").get("format") == PROFILE_FORMAT]
            if not found:
                raise file_error(path, f"a folder with no cwdsl profile in it (no *.json "
                                       f"whose format is {PROFILE_FORMAT!r}); make one with "
                                       f"cwdsl profile")
        elif not path.exists():
            raise file_error(path, "no such profile file")
        else:
            found = [path]
        for p in found:
            if p.resolve() not in seen:
                seen.add(p.resolve())
                profiles.append(load_profile(p))
    return profiles


# -- the set ---------------------------------------------------------------------------------
class ProfileSet(DeviceModel):
    """A device model from one or more profiles of one device and network: the exact
    profile where one matches, else a predicted one (see the module's docstring).
    :meth:`check` chooses; every other method prices with the chosen profile."""

    def __init__(self, profiles: Sequence[Profile], base: DeviceSpec | None = None):
        if not profiles:
            raise InputError("a profile set needs at least one profile")
        check_same_device(profiles, one_network=True)
        self.profiles = tuple(profiles)
        first = profiles[0]
        self.name = first.name
        self.network = first.network
        self.base = base or _base_for(first)
        paths = ", ".join(p.path for p in profiles)
        self.source = f"profiles:{paths}"
        self._models: dict[Key, Profile] = {}
        self._how: dict[Key, str] = {}
        self._current: Profile = first
        self.how = f"the profile {first.path}"

    def describe(self, key: Key) -> str:
        """Which profile prices ``key``, or from which ones it is predicted."""
        return self._how[key]

    def check(self, spec: NetworkSpec, input_hw: tuple[int, int], dtype: str) -> None:
        key = (spec.name, (int(input_hw[0]), int(input_hw[1])), dtype)
        if key not in self._models:
            self._models[key], self._how[key] = self._model_for(spec, key)
        self._models[key].check(spec, key[1], dtype)
        self._current = self._models[key]
        self.how = self._how[key]
        self.source = self._current.source if self._current.path in \
            {p.path for p in self.profiles} else self.how

    def _model_for(self, spec: NetworkSpec, key: Key) -> tuple[Profile, str]:
        exact = [p for p in self.profiles if (p.network, p.input_hw, p.dtype) == key]
        if exact:
            return exact[0], f"the profile {exact[0].path} (measured at this size and dtype)"
        if spec.name != self.network:
            raise file_error(self.profiles[0].path,
                             f"these profiles are of network {self.network}, not {spec.name}; "
                             f"profile {spec.name} with cwdsl profile --net {spec.name}")
        if key[2] not in self.base.peak_tflops:
            raise file_error(self.profiles[0].path,
                             f"cannot predict {key[2]} on {self.name}: its spec "
                             f"({self.base.name}) has no peak for it (it has: "
                             f"{', '.join(self.base.peak_tflops)}); profile {key[2]} itself")
        peers = dtype_classes(self.base)
        if not any(peers[p.dtype] == peers[key[2]] for p in self.profiles):
            have = sorted({p.dtype for p in self.profiles})
            raise file_error(self.profiles[0].path,
                             f"cannot predict {key[2]} on {self.name}: these profiles measured "
                             f"only {', '.join(have)}, and {key[2]} runs at another peak on "
                             f"{self.base.name} (a dtype is predicted only from profiles of "
                             f"it or of a dtype of the same peak); profile {key[2]} itself")
        data = predict_profile(self.profiles, key[1], key[2], self.base)
        h, w = key[1]
        return (profile_from_dict(data, f"<{self.network} {h}x{w} {key[2]} predicted>"),
                f"predicted for {h}x{w} {key[2]} from {len(self.profiles)} profile"
                f"{'s' * (len(self.profiles) > 1)}: "
                + ", ".join(f"{Path(p.path).name} ({p.input_hw[0]}x{p.input_hw[1]} "
                            f"{p.dtype})" for p in self.profiles))

    # every price: the chosen profile's
    def stage_ms(self, cost, first, last, heads):
        return self._current.stage_ms(cost, first, last, heads)

    def fuse_ms(self, cost, heads):
        return self._current.fuse_ms(cost, heads)

    def measure_ms(self, cost, head, region="map"):
        return self._current.measure_ms(cost, head, region)

    def predicted_ms(self, cost, head, model):
        return self._current.predicted_ms(cost, head, model)

    def flow_ms(self, cost, method):
        return self._current.flow_ms(cost, method)

    def warp_ms(self, cost, first, last, heads):
        return self._current.warp_ms(cost, first, last, heads)

    def compose_ms(self, cost):
        return self._current.compose_ms(cost)

    def frame_overhead_ms(self, cost):
        return self._current.frame_overhead_ms(cost)

    def overlaps_host(self):
        return self._current.overlaps_host()

    def stage_host_ms(self, cost, first, last, heads):
        return self._current.stage_host_ms(cost, first, last, heads)

    def fuse_host_ms(self, cost, heads):
        return self._current.fuse_host_ms(cost, heads)

    def measure_host_ms(self, cost, head, region="map"):
        return self._current.measure_host_ms(cost, head, region)

    def sync_ms(self, cost):
        return self._current.sync_ms(cost)

    def lane_overlap(self, cost):
        return self._current.lane_overlap(cost)

    def batch_ratios(self, first: str, last: str):
        return self._current.batch_ratios(first, last)


def _base_for(profile: Profile) -> DeviceSpec:
    name = guess_base(profile)
    if name is None:
        raise file_error(profile.path, f"cannot tell which named spec fits device "
                                       f"'{device_name(profile)}' to predict other sizes from "
                                       f"(named: {', '.join(NAMED)})")
    return NAMED[name]


def load_profile_set(arg: str) -> ProfileSet:
    """The :class:`ProfileSet` of ``--device a.json,b.json`` or a folder of profiles."""
    return ProfileSet(load_profiles_arg(arg))
