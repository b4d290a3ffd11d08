"""Torch networks built from the one network description (:mod:`cwdsl.core.netspec`).

- :class:`StagedNetwork`: the interface an executor drives (``run_layers``, ``run_stage``,
  ``head``, ``fuse``; ``forward`` is the same path over the whole network) over a trunk
  that is a DAG of named layers; :class:`Features` is what one stage hands the next;
  :func:`walk_trunk` the one layer-by-layer walk;
- :class:`FCN`: FCN-8s for the VGG-kind specs ``fcn8s`` and ``tiny``;
- :class:`ESPNet`: ESPNet (``espnet``), loading the released checkpoint as it is;
- :func:`stage_module`: register any user ``nn.Module`` trunk and heads as a network;
- :func:`build_network`: the module of a registered network; :func:`meta_network` the same
  on the meta device, with the fast paths its bundled weights run;
- :func:`count_macs`: per-layer MACs by ``FlopCounterMode`` on meta tensors;
- :func:`feature_sizes`: layer output sizes from the description alone.
"""
from cwdsl.nets.build import build_network, meta_network
from cwdsl.nets.fcn import FCN, FuseGeometry, bilinear_kernel, fuse_geometry, is_fcn8s_kind
from cwdsl.nets.flops import MacCount, count_macs
from cwdsl.nets.geometry import feature_sizes
from cwdsl.nets.espnet import ESPNet, is_espnet_kind
from cwdsl.nets.module_net import ModuleNetwork, resize_sum, stage_module
from cwdsl.nets.staged import Features, FuseFn, StagedNetwork, walk_trunk

__all__ = [
    "ESPNet", "FCN", "Features", "FuseFn", "FuseGeometry", "MacCount", "ModuleNetwork",
    "StagedNetwork", "bilinear_kernel", "build_network", "count_macs", "feature_sizes",
    "fuse_geometry", "is_espnet_kind", "is_fcn8s_kind", "meta_network", "resize_sum",
    "stage_module", "walk_trunk",
]
