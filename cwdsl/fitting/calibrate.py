"""Calibrated rooflines: fit a device spec's per-kind efficiencies to measured profiles.

A bare roofline assumes every kernel reaches peak; on a real GPU FCN-8s's convolutions
reach 20-70% of it, its transposed convolutions a few percent, and every kernel, however
small, takes ~20 µs (cuDNN launches layout and GEMM kernels per convolution). The model
(:class:`~cwdsl.devices.roofline.Roofline` with a calibrated
:class:`~cwdsl.devices.roofline.DeviceSpec`) prices a device kernel of kind ``k``
(:func:`~cwdsl.devices.kernel_kinds.kernel_kind`) as

    roofline_ms / efficiency[k] + kernel_us / 1000

One factor per kind, not a compute and a bandwidth fraction each: every kind sits on one
side of the ridge (convolutions are binned by FLOP per byte, pooling, element-wise ops,
reductions and copies are memory bound), so a second factor would not be identifiable;
the fixed ``kernel_us`` is what a pure factor cannot express (small layers at 256x256 run
6-40x their roofline time, large ones 2-4x).

The fit (:func:`calibrate`): each profiled part (a layer, a head, every fuse, each clock
measurement; the profile's own in-sequence times, as its model uses them) gives one linear
equation ``measured - roofline = Σ_k roofline_k · y_k + kernels · kernel_us + syncs ·
sync_us`` with ``efficiency[k] = 1 / (1 + y_k)``, so efficiencies stay in (0, 1]. Rows are
divided by their measured time (a least-squares fit of *relative* errors: a 50 µs head
counts like a 5 ms layer) and solved by non-negative least squares (every unknown is a
time or a slowdown, never negative; a log-ratio fit would not be linear in them). The
frame overhead is then fitted apart: ``frame_us`` plus, with profiles of several sizes on
a GPU, the upload's effective ``host_link_gbs`` (the overhead grows with the frame's
bytes). ``launch_us`` and ``lane_overlap`` are kept from the base spec (a profile does not
time the host's issue apart, nor concurrent lanes) unless the profiles measured them.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

import numpy as np
import scipy.optimize

from cwdsl.core.errors import InputError, file_error
from cwdsl.core.netspec import get_network
from cwdsl.core.units import DTYPE_NAMES
from cwdsl.cost.kernels import OpCost
from cwdsl.cost.network import NetworkCost, network_cost
from cwdsl.devices.model import DeviceModel, oracle_segments
from cwdsl.devices.kernel_kinds import KINDS, kernel_kind
from cwdsl.fitting.identity import check_same_device, device_name, guess_base, torch_threads
from cwdsl.devices.profiled import Profile, fuse_key, head_subsets, load_profile
from cwdsl.devices.named import NAMED
from cwdsl.devices.spec import DeviceSpec
from cwdsl.devices.roofline import Roofline

@dataclass(frozen=True)
class PartError:
    """One compared time (ms): what the profile measured, what the calibrated model says."""

    name: str
    measured_ms: float
    model_ms: float

    @property
    def error(self) -> float:
        """Relative error of the model, e.g. 0.05 for 5% too slow."""
        return self.model_ms / self.measured_ms - 1 if self.measured_ms > 0 else 0.0


@dataclass(frozen=True)
class ProfileFit:
    """How the calibrated model fits one profile: its segments (the paper's stages),
    the whole network (``full``), the frame overhead and the executor's oracle frame."""

    path: str
    label: str
    segments: tuple[PartError, ...]
    full: PartError
    overhead: PartError
    oracle: PartError


@dataclass(frozen=True)
class Calibration:
    """A fitted spec, its per-profile errors and the relative RMS error over all parts."""

    spec: DeviceSpec
    fits: tuple[ProfileFit, ...]
    parts: int
    rms: float


def load_profiles(paths: Sequence[str | Path]) -> list[Profile]:
    """Read ``paths`` as profiles of one device timed alike (one torch thread count), of
    networks this cwdsl knows; any problem is an ``InputError`` naming the path."""
    if not paths:
        raise InputError("calibrate needs at least one profile")
    profiles: list[Profile] = []
    for path in paths:
        profile = load_profile(path)
        try:
            spec = get_network(profile.network)
        except InputError as e:
            raise file_error(path, f"a profile of network '{profile.network}', which this "
                                   f"cwdsl does not know ({e}); load its plugin with "
                                   f"--plugin") from None
        profile.check(spec, profile.input_hw, profile.dtype)
        profiles.append(profile)
    check_same_device(profiles, one_network=False)
    return profiles


def _device_kernels(op: OpCost):
    return [k for k in op.kernels if not k.host and not k.syncs]


def _features(ops: Sequence[OpCost], bare: Roofline, dtype: str) -> np.ndarray:
    """Per kind and dtype (``KINDS`` × ``DTYPE_NAMES``) the bare roofline time (ms), then
    kernels and syncs (per µs: ms/1000)."""
    v = np.zeros(len(KINDS) * len(DTYPE_NAMES) + 2)
    at = DTYPE_NAMES.index(dtype) * len(KINDS)
    for op in ops:
        for k in _device_kernels(op):
            v[at + KINDS.index(kernel_kind(k))] += bare.device_ms(k, dtype)
            v[-2] += 1e-3
        v[-1] += 1e-3 * sum(k.syncs for k in op.kernels)
    return v


def _rows(profile: Profile, cost: NetworkCost, bare: Roofline):
    """``(name, measured ms, features)`` of every part the profile timed."""
    dt = cost.dtype
    for n in cost.layer_names:
        yield n, profile.stage_ms(cost, n, n, ()), _features((cost.layers[n],), bare, dt)
    for h, read in cost.head_reads.items():
        alone = profile.stage_ms(cost, read, read, (h,)) - profile.stage_ms(cost, read, read, ())
        yield h, alone, _features((cost.heads[h],), bare, dt)
    for subset in head_subsets(tuple(cost.heads)):
        yield ("fuse:" + fuse_key(subset), profile.fuse_ms(cost, subset),
               _features((cost.fuse_op(subset),), bare, dt))
    for h in (*cost.heads, None):
        yield (f"labeldiff:{h}" if h else "pixeldiff", profile.measure_ms(cost, h),
               _features((cost.measure_op(h),), bare, dt))


def _whole_rows(profile: Profile, cost: NetworkCost, bare: Roofline):
    """``(name, measured ms, features)`` of the profile's wholes: each head segment (the
    paper's stages) in a frame and the whole network."""
    dt = cost.dtype
    for first, last, heads in oracle_segments(cost):
        yield (f"{first}..{last}", profile.stage_ms(cost, first, last, heads),
               _features(cost.stage_ops(first, last, heads), bare, dt))
    yield "full", profile.full_ms(cost), _features(cost.full_ops(), bare, dt)


def nnls(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Non-negative least squares, ``argmin ||a x - b||`` with ``x >= 0`` (SciPy's
    Lawson-Hanson solver)."""
    return scipy.optimize.nnls(a, b)[0]


def _uncalibrated(base: DeviceSpec) -> DeviceSpec:
    return replace(base, efficiency=MappingProxyType({}), kernel_us=0.0, calibrated_from=())


def calibrate(profiles: Sequence[Profile], base: DeviceSpec) -> Calibration:
    """Fit ``base``'s efficiencies, ``kernel_us``, ``sync_us``, ``frame_us`` (and, see the
    module's docstring, ``host_link_gbs``) to ``profiles``."""
    bare = Roofline(_uncalibrated(base))
    costs = [network_cost(p.network, p.input_hw, p.dtype) for p in profiles]
    for p in profiles:
        bare.check(get_network(p.network), p.input_hw, p.dtype)  # the base has the dtype
    rows, weights = [], []
    for p, c in zip(profiles, costs):
        parts = [r for r in _rows(p, c, bare) if r[1] > 0]
        wholes = [r for r in _whole_rows(p, c, bare) if r[1] > 0]
        rows += parts + wholes
        # the wholes weigh as much as all the parts together: a fit of many small parts
        # alone under-prices the frames a schedule is made of
        weights += [1.0] * len(parts) + [np.sqrt(len(parts) / max(1, len(wholes)))] * len(wholes)
    w = np.array(weights)
    feats = np.array([r[2] for r in rows])
    measured = np.array([r[1] for r in rows])
    bare_ms = feats[:, :-2].sum(axis=1)
    n = len(KINDS)
    # every dtype's kinds pooled: the efficiency of a dtype no profile has
    pooled = np.hstack([feats[:, :-2].reshape(len(rows), -1, n).sum(axis=1), feats[:, -2:]])
    slow = nnls(pooled * (w / measured)[:, None], (measured - bare_ms) * w / measured)[:n]
    efficiency = {k: float(1 / (1 + y)) for k, y, col in zip(KINDS, slow, pooled.T) if col.any()}
    solution = nnls(feats * (w / measured)[:, None], (measured - bare_ms) * w / measured)
    kernel_us, sync_us = solution[-2], solution[-1]
    for i, (y, col) in enumerate(zip(solution[:-2], feats.T)):
        if col.any():
            efficiency[f"{KINDS[i % n]}@{DTYPE_NAMES[i // n]}"] = float(1 / (1 + y))
    spec = replace(_uncalibrated(base), efficiency=MappingProxyType(efficiency),
                   kernel_us=float(kernel_us), sync_us=float(sync_us))
    spec = _fit_overhead(spec, profiles, costs)
    threads = torch_threads(profiles[0])
    spec = replace(spec, description=(
        f"{device_name(profiles[0])}"
        f"{f' ({threads} torch threads)' if threads else ''}: calibrated on "
        f"{len(profiles)} profile{'s' * (len(profiles) > 1)}; peaks and bandwidth of the "
        f"named spec {base.name} ({base.description})"), calibrated_from=tuple(
        MappingProxyType({"path": p.path, "device": device_name(p),
                          "date": str(p.data.get("date", ""))}) for p in profiles))
    model = Roofline(spec)
    predicted = np.array([bare_ms[i] + solution @ feats[i] for i in range(len(rows))])
    rms = float(np.sqrt(np.mean((predicted / measured - 1) ** 2)))
    return Calibration(spec, tuple(_profile_fit(p, c, model) for p, c in zip(profiles, costs)),
                       len(rows), rms)


def leave_one_out(profiles: Sequence[Profile], base: DeviceSpec) -> tuple[ProfileFit, ...]:
    """Out of sample: each profile's parts priced by the spec calibrated on the *other*
    profiles (none with fewer than two profiles)."""
    if len(profiles) < 2:
        return ()
    fits = []
    for i, held in enumerate(profiles):
        others = [p for j, p in enumerate(profiles) if j != i]
        model = Roofline(calibrate(others, base).spec)
        fits.append(_profile_fit(held, network_cost(held.network, held.input_hw, held.dtype),
                                 model))
    return tuple(fits)


def profile_set_left_out(profiles: Sequence[Profile]) -> tuple[ProfileFit, ...]:
    """Out of sample, for the profile-set prediction (:mod:`cwdsl.fitting.profileset`): each
    profile's parts priced by the profile predicted from the *other* profiles; none where
    no such set exists (fewer than two profiles, several networks, or a profile whose dtype
    no other profile's class measured)."""
    from cwdsl.core.netspec import get_network
    from cwdsl.fitting.profileset import ProfileSet

    if len(profiles) < 2 or len({p.network for p in profiles}) > 1:
        return ()
    fits = []
    for i, held in enumerate(profiles):
        others = ProfileSet([p for j, p in enumerate(profiles) if j != i])
        try:
            others.check(get_network(held.network), held.input_hw, held.dtype)
        except InputError:
            return ()
        cost = network_cost(held.network, held.input_hw, held.dtype)
        fits.append(_profile_fit(held, cost, others))
    return tuple(fits)


def _fit_overhead(spec: DeviceSpec, profiles: Sequence[Profile],
                  costs: Sequence[NetworkCost]) -> DeviceSpec:
    """``frame_us`` (and the upload's ``host_link_gbs`` when the profiles have several
    frame sizes on a GPU) from the profiles' per-frame overheads."""
    bare = Roofline(replace(spec, frame_us=0.0))
    norm = np.array([bare.ops_ms((c.input,), c.dtype) + bare.host_ms((c.input,))
                     for c in costs])
    overhead = np.array([p.frame_overhead_ms(c) for p, c in zip(profiles, costs)])
    upload = np.array([c.upload_bytes * 1e-6 for c in costs])  # MB: ms × GB/s
    gpu = spec.host_link_gbs is not None
    if gpu and len(set(upload)) > 1:
        a = np.stack([np.full(len(costs), 1e-3), upload], axis=1) / overhead[:, None]
        frame_us, per_mb = nnls(a, (overhead - norm) / overhead)
        if per_mb > 0:
            return replace(spec, frame_us=float(frame_us), host_link_gbs=float(1 / per_mb))
    link = upload / spec.host_link_gbs if gpu else np.zeros(len(costs))
    rest = overhead - norm - link
    return replace(spec, frame_us=float(max(0.0, 1e3 * rest.mean())))


def _profile_fit(profile: Profile, cost: NetworkCost, model: DeviceModel) -> ProfileFit:
    h, w = profile.input_hw
    segments = tuple(PartError(f"{first}..{last}", profile.stage_ms(cost, first, last, heads),
                               model.stage_ms(cost, first, last, heads))
                     for first, last, heads in oracle_segments(cost))
    device = model.full_ms(cost)
    host = model.frame_overhead_ms(cost) + model.full_host_ms(cost)
    oracle = max(host, device) + model.sync_ms(cost) if model.overlaps_host() \
        else device + model.frame_overhead_ms(cost)
    step = profile.data["timings"]["in_frame"].get("step_all_compute", {}).get("median_ms")
    return ProfileFit(
        profile.path, f"{profile.network} {h}x{w} {profile.dtype}", segments,
        PartError("full", profile.full_ms(cost), device),
        PartError("frame overhead", profile.frame_overhead_ms(cost),
                  model.frame_overhead_ms(cost)),
        PartError("oracle frame", float(step) if step else 0.0, oracle))


def base_spec(name_or_path: str | Path | None, profiles: Sequence[Profile]) -> DeviceSpec:
    """The spec supplying peaks and bandwidth: a named one, a spec file, or (None) the one
    :func:`guess_base` finds for the profiles' device."""
    from cwdsl.devices.spec import load_spec

    if name_or_path is None:
        guess = guess_base(profiles[0])
        if guess is None:
            raise InputError(f"{profiles[0].path}: cannot tell which named spec fits device "
                             f"'{device_name(profiles[0])}'; give its peaks with --base NAME "
                             f"or --base SPEC.json (named: {', '.join(NAMED)})")
        return NAMED[guess]
    if str(name_or_path) in NAMED:
        return NAMED[str(name_or_path)]
    if not Path(name_or_path).exists():
        raise file_error(name_or_path, f"--base is neither a named spec ({', '.join(NAMED)}) "
                                       f"nor a spec file")
    return load_spec(name_or_path)
