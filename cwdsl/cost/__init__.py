"""The traced cost model of a network: FLOPs, bytes and kernels of every layer, head, fuse,
clock measurement, optical flow and warp, traced on the meta device (never written by
hand). ``kernels`` records one traced operation, ``network`` traces a network at one size
and dtype, ``motion`` traces flows, warps and learned clocks on demand."""
