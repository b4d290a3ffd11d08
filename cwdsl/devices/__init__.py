"""Device models: what a traced cost takes on a device. ``model`` is the interface,
``roofline`` the analytic rooflines (named GPUs and CPUs, with ``kernel_kinds``' per-kind
efficiencies), ``profiled`` a device measured by ``cwdsl profile`` (``batch_model`` its
batched timings), ``calibrate`` fits a roofline to profiles, ``load`` picks one by name
or file."""
