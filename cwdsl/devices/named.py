"""The named device specs (``h100``, ``h200``, ``a100``, ``titanx``, ``cpu``): datasheet
peaks and bandwidths, the host costs of an eager executor, and the Hopper calibration
(:data:`cwdsl.devices.kernel_kinds.HOPPER_CALIBRATION`)."""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from cwdsl.devices.kernel_kinds import HOPPER_CALIBRATION, transferred
from cwdsl.devices.spec import DeviceSpec

# Per-op and per-frame costs are paid by the host. Measured on this project's 2-vCPU Xeon
# VM (torch 2.13, eager, one thread): a bare aten op ~0.5 µs, a layer called through
# nn.Module ~2 µs; an all-cache Executor.step ~100 µs beyond its fuse (plan walk, cache
# pushes, FrameResult, and the normalisation's 4 ops, which the roofline counts apart as
# kernels). GPU hosts pay the dispatcher plus cudaLaunchKernel, commonly 4-10 µs per eager
# op: 5 µs is used; a device-to-host scalar read (stream synchronize + copy) ~10 µs; their
# (faster) host cores are assumed to walk a frame in 50 µs.
_GPU_LAUNCH_US = 5.0
_GPU_SYNC_US = 10.0
_FRAME_US = 50.0


def _gpu(name: str, peak_tflops: Mapping[str, float], bandwidth_gbs: float,
         host_link_gbs: float | None = None, description: str = "", notes: str = "",
         **calibrated) -> DeviceSpec:
    """A GPU's spec with the host costs above (a PCIe-attached card), or ``calibrated``'s."""
    fields = {"launch_us": _GPU_LAUNCH_US, "sync_us": _GPU_SYNC_US, "frame_us": _FRAME_US,
              "host_link_gbs": host_link_gbs, **calibrated}
    return DeviceSpec(name, peak_tflops, bandwidth_gbs=bandwidth_gbs, description=description,
                      notes=notes, **fields)


NAMED: Mapping[str, DeviceSpec] = MappingProxyType({
    "h100": _gpu(
        "h100", {"float32": 494.7, "float16": 989.4, "bfloat16": 989.4}, 3350.0,
        **transferred(HOPPER_CALIBRATION, "from h200 by peak ratios (not measured on an H100)"),
        description="NVIDIA H100 SXM5 80 GB (Hopper)",
        notes="NVIDIA H100 datasheet: FP32 (CUDA cores) 67 TFLOP/s, TF32 tensor 494.7 dense "
              "(989 with sparsity), FP16/BF16 tensor 989.4 dense (1979 sparse); HBM3 "
              "3.35 TB/s; PCIe Gen5 x16 64 GB/s per direction. float32 uses TF32: PyTorch "
              "runs float32 convolutions on TF32 tensor cores by default "
              "(torch.backends.cudnn.allow_tf32 = True) and this network is all "
              "convolutions; with TF32 disabled use a spec file with float32 = 67. "
              "Calibration transferred from the H200's (same Hopper architecture, peaks "
              "and cuDNN kernels; efficiencies are fractions of the peaks, which the two "
              "share; bandwidth from the datasheet): never measured on an H100."),
    "h200": _gpu(
        "h200", {"float32": 494.7, "float16": 989.4, "bfloat16": 989.4}, bandwidth_gbs=4800.0,
        **HOPPER_CALIBRATION, description="NVIDIA H200 SXM 141 GB (Hopper, HBM3e)",
        notes="NVIDIA H200 datasheet: the H100 SXM's compute (FP32 67, TF32 494.7 dense, "
              "FP16/BF16 989.4 dense TFLOP/s) with HBM3e at 4.8 TB/s; PCIe Gen5 x16. "
              "float32 uses TF32 as on the H100. Calibrated on 5 profiles of 2026-11-26."),
    "a100": _gpu(
        "a100", {"float32": 156.0, "float16": 312.0, "bfloat16": 312.0}, 2039.0, 32.0,
        description="NVIDIA A100 SXM4 80 GB (Ampere)",
        notes="NVIDIA A100 datasheet: FP32 19.5, TF32 tensor 156 dense (312 sparse), "
              "FP16/BF16 tensor 312 dense (624 sparse) TFLOP/s; HBM2e 2039 GB/s; PCIe "
              "Gen4 x16 32 GB/s. float32 uses TF32 (PyTorch's default for convolutions)."),
    "titanx": _gpu(
        "titanx", {"float32": 6.6, "float16": 6.6}, 336.5, 15.75,
        description="NVIDIA GeForce GTX Titan X (Maxwell GM200, 2015): the paper's GPU class",
        notes="3072 CUDA cores x 2 FLOP x 1075 MHz boost = 6.6 TFLOP/s FP32; 384-bit GDDR5 "
              "at 7 Gb/s = 336.5 GB/s; PCIe Gen3 x16 15.75 GB/s. Maxwell has no tensor "
              "cores and no fast FP16 arithmetic: cuDNN computes FP16 convolutions in FP32 "
              "(FP16 only halves the bytes), so float16 = the FP32 peak; no bfloat16. "
              "The paper's ~100 ms for FCN-8s at 500x500 (363 GFLOP) is ~55% of this peak."),
    "cpu": DeviceSpec(
        "cpu", {"float32": 0.333, "bfloat16": 5.32},
        bandwidth_gbs=20.0, launch_us=2.0, sync_us=0.0, frame_us=80.0, host_link_gbs=None,
        description="nominal 2-core x86 server CPU (Sapphire Rapids class Xeon VM, 2.6 GHz, "
                    "AVX-512 + AMX)",
        notes="2 cores x 2.6 GHz x 64 FP32 FLOP/cycle (two 512-bit FMA ports) = 0.333 "
              "TFLOP/s; bfloat16 with AMX-BF16 tiles, 1024 FLOP/cycle/core = 5.32 TFLOP/s "
              "(reached by oneDNN only on large, GEMM-shaped convolutions). Bandwidth: a "
              "2-vCPU slice of a DDR5 socket; a 256 MB torch copy measured 17 GB/s on this "
              "VM under load, 20 GB/s nominal. No float16: the executor runs float16 on "
              "CUDA only. Frames are already in host memory (no upload)."),
})
