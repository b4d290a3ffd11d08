"""wkentaro/pytorch-fcn's FCN-8s forward passes written out, independently of cwdsl's FCN:
the reference the staged network is checked against (tests/test_nets.py, tests/test_atonce.py)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from cwdsl.core.netspec import FCN8S


def reference_fcn8s(net, x: torch.Tensor, zero: tuple[str, ...] = (),
                    atonce: bool = False) -> torch.Tensor:
    """wkentaro/pytorch-fcn ``FCN8s.forward`` written out, on ``net``'s modules; the heads
    in ``zero`` give zeros of their true shape (the truncated network's meaning). With
    ``atonce``, ``FCN8sAtOnce.forward``: pool4 scaled by 0.01 and pool3 by 0.0001 before
    their score heads."""
    h = x
    for layer in FCN8S.layers:
        h = getattr(net, layer.name)(h)
        if layer.kind == "conv":
            h = F.relu(h)
        if layer.name == "pool3":
            pool3 = h
        if layer.name == "pool4":
            pool4 = h

    def score(name, feats):
        s = getattr(net, name)(feats)
        return torch.zeros_like(s) if name in zero else s

    h = net.upscore2(score("score_fr", h))
    upscore2 = h
    if atonce:
        pool4, pool3 = pool4 * 0.01, pool3 * 0.0001
    h = score("score_pool4", pool4)[:, :, 5:5 + upscore2.size(2), 5:5 + upscore2.size(3)]
    h = net.upscore_pool4(upscore2 + h)
    upscore_pool4 = h
    h = score("score_pool3", pool3)[:, :, 9:9 + upscore_pool4.size(2),
                                    9:9 + upscore_pool4.size(3)]
    h = net.upscore8(upscore_pool4 + h)
    return h[:, :, 31:31 + x.size(2), 31:31 + x.size(3)].contiguous()
