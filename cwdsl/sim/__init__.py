"""Pricing programs without running them: the traced cost model, device models (rooflines,
measured profiles), the profiling harness, the simulator and the capacity model."""
