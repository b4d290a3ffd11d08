"""The profiling harness: runs the real network on a device through the executor's own
runner and times every layer range, head, fuse, clock, flow, warp and batch (``harness``;
``host``: the host's issue time and the lanes' overlap, ``motion``: flows and warps,
``batch``: batched ranges). It uses the runtime, so it sits above it; the device model
that reads its output is :mod:`cwdsl.devices.profiled`."""
