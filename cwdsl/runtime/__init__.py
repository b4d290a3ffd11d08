"""Running a program on frames: devices and memory formats (``device``, ``machine``), how a
stage and the fuse run (``stagerun``), the executor (``executor``) and several streams
through one network (``multistream``), clock measurements (``measure``), optical flow and
warping (``flow``, ``warp``), and scale-out over processes (``distributed``). Over 1,500
lines because the executor's parts belong together: each module is one of its jobs and
they share its types (waves, jobs, results); what a ``cwdsl run`` does with them is
:mod:`cwdsl.run`, the files it reads and writes :mod:`cwdsl.media`."""
