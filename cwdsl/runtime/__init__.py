"""Running a program on real frames: devices, clock measurements, the executor, video I/O and
`cwdsl run`'s library."""
