"""Device models: what a traced cost takes on a device. ``model`` is the interface;
``roofline`` the analytic rooflines of a ``spec`` (a device's numbers, read from spec files;
the ``named`` GPUs and CPU; ``kernel_kinds``' per-kind efficiencies); ``profiled`` a device
measured by ``cwdsl profile`` (``batch_model`` its batched timings). Fitting models to
measurements and choosing one by name or file is :mod:`cwdsl.fitting`'s."""
