"""Kinds of device kernels, for a calibrated roofline's per-kind efficiency
(:mod:`cwdsl.devices.roofline`, fitted by :mod:`cwdsl.fitting.calibrate`), and the fitted
calibration of the named Hopper specs."""
from __future__ import annotations

from types import MappingProxyType

from cwdsl.cost.kernels import Kernel

KINDS = ("conv_low", "conv_mid", "conv_high", "conv_transposed", "pool", "elementwise",
         "reduction", "copy")
"""Kinds of device kernels a calibrated spec gives an efficiency: convolutions by
arithmetic intensity (FLOP per byte: below, between and above :data:`CONV_BINS`),
transposed convolutions, pooling, element-wise ops, reductions, copies and the rest."""
CONV_BINS = (64.0, 512.0)
_POOL = ("max_pool", "avg_pool", "adaptive_avg_pool", "adaptive_max_pool")
_ELEMENTWISE = frozenset({"relu", "relu_", "add", "add_", "sub", "sub_", "mul", "mul_", "div",
                          "div_", "abs", "ne", "eq", "lt", "gt", "le", "ge", "where", "clamp",
                          "clamp_", "sigmoid", "tanh", "neg", "exp", "sqrt", "rsqrt",
                          "pow", "maximum", "minimum", "threshold", "hardtanh", "fill_"})
_REDUCTION = frozenset({"argmax", "argmin", "sum", "mean", "max", "min", "amax", "amin",
                        "std", "var", "prod", "norm", "linalg_vector_norm", "any", "all"})


def kernel_kind(k: Kernel) -> str:
    """The :data:`KINDS` entry of a traced kernel, from its aten op (and, for a
    convolution, whether it is transposed and its FLOP per byte)."""
    op = k.op.rpartition("::")[2]
    if op == "convolution":
        if k.transposed:
            return "conv_transposed"
        intensity = k.flops / max(k.bytes, 1)
        return KINDS[sum(intensity >= edge for edge in CONV_BINS)]
    if op.startswith(_POOL):
        return "pool"
    if op in _ELEMENTWISE:
        return "elementwise"
    return "reduction" if op in _REDUCTION else "copy"


# Hopper, fitted by `cwdsl calibrate` (cwdsl.fitting.calibrate) to the five FCN-8s profiles of
# /work/shared/measurements/h200-2026-11-26/ (profile-fcn8s-{256x256-float32,
# 256x256-bfloat16, 500x500-float32, 500x500-float16, 1024x1024-float16}.json, one H200,
# torch 2.11 + cuDNN 9.19, 2026-11-26), rounded to 3 digits. KIND@DTYPE: that dtype's own
# fit (transposed convolutions and the fuse's copy always run together, so their split is
# not identified); a bare KIND: every dtype pooled. lane_overlap: CUDA streams were measured
# to overlap little (pipelines within 11% of the sequential model), as the profile model
# assumes; host_link_gbs: the frame's upload as measured (its overhead grows 0.17 ms per
# MB: pageable copies and staging, not PCIe's 64 GB/s). The fit weighs each stage and the
# whole network as much as all the parts (:func:`cwdsl.fitting.calibrate.calibrate`).
# Replayed on the paper's schedules (tests/test_calibrate.py): in sample within 17% at
# 256x256 and 500x500; out of sample (each profile left out, `cwdsl calibrate` prints it,
# benchmarks/bench_predict.py records it) up to 26%; not at 1024x1024 float16, where cuDNN
# runs fc6 at 28 TFLOP/s. tests/test_calibrate.py checks these numbers are the fit's.
HOPPER_CALIBRATION = dict(
    efficiency=MappingProxyType({
        "conv_low": 0.167, "conv_mid": 0.257, "conv_high": 0.576, "conv_transposed": 0.0272,
        "pool": 0.518, "elementwise": 0.488, "reduction": 0.263, "copy": 1.0,
        "conv_low@float32": 0.172, "conv_mid@float32": 0.268, "conv_high@float32": 0.634,
        "conv_transposed@float32": 0.0323, "pool@float32": 0.654, "elementwise@float32": 1.0,
        "reduction@float32": 0.0152, "copy@float32": 1.0, "conv_low@float16": 0.0655,
        "conv_mid@float16": 0.198, "conv_high@float16": 0.515,
        "conv_transposed@float16": 0.0233, "pool@float16": 0.366,
        "elementwise@float16": 0.339, "reduction@float16": 1.0, "copy@float16": 1.0,
        "conv_low@bfloat16": 0.0934, "conv_mid@bfloat16": 0.154, "conv_high@bfloat16": 0.574,
        "conv_transposed@bfloat16": 1.0, "pool@bfloat16": 0.678, "elementwise@bfloat16": 1.0,
        "reduction@bfloat16": 1.0, "copy@bfloat16": 0.0147}),
    kernel_us=19.7, sync_us=5.05, frame_us=45.3, host_link_gbs=5.97, lane_overlap=0.0,
    calibrated_from=tuple(MappingProxyType({
        "path": f"measurements/h200-2026-11-26/profile-fcn8s-{case}.json",
        "device": "NVIDIA H200", "date": "2026-11-26"}) for case in (
            "1024x1024-float16", "256x256-bfloat16", "256x256-float32", "500x500-float16",
            "500x500-float32")))


def transferred(calibration: dict, how: str) -> dict:
    """``calibration`` for another device than the one profiled: each ``calibrated_from``
    entry says ``how`` it was transferred (a spec's label shows it)."""
    return {**calibration, "calibrated_from": tuple(
        MappingProxyType({**entry, "transferred": how})
        for entry in calibration["calibrated_from"])}
