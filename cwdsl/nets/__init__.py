"""Torch networks built from the one network description (:mod:`cwdsl.core.netspec`).

- :class:`StagedNetwork`: the interface an executor drives (``run_layers``, ``run_stage``,
  ``head``, ``fuse``; ``forward`` is the same path over the whole network);
- :class:`FCN`: FCN-8s for the VGG-kind specs ``fcn8s`` and ``tiny``;
- :func:`stage_module`: register any user ``nn.Module`` trunk and heads as a network;
- :func:`build_network`: the module of a registered network;
- :func:`count_macs`: per-layer MACs by ``FlopCounterMode`` on meta tensors;
- :func:`feature_sizes`: layer output sizes from the description alone.
"""
from cwdsl.nets.build import build_network
from cwdsl.nets.fcn import FCN, FuseGeometry, bilinear_kernel, fuse_geometry, is_fcn8s_kind
from cwdsl.nets.flops import MacCount, count_macs
from cwdsl.nets.geometry import feature_sizes
from cwdsl.nets.staged import FuseFn, ModuleNetwork, StagedNetwork, resize_sum, stage_module

__all__ = [
    "FCN", "FuseFn", "FuseGeometry", "MacCount", "ModuleNetwork", "StagedNetwork",
    "bilinear_kernel", "build_network", "count_macs", "feature_sizes", "fuse_geometry",
    "is_fcn8s_kind", "resize_sum", "stage_module",
]
