"""Pricing programs without running them: a schedule's cost table on a device (``costs``),
the frame-by-frame simulator (``simulate``), the capacity model of streams sharing a device
(``capacity``, ``batching``) and the report ``cwdsl simulate`` prints (``report``)."""
