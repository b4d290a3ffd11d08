"""``build_network``: the torch module for a registered network description."""
from __future__ import annotations

from contextlib import nullcontext

import torch

from cwdsl.core.errors import InputError
from cwdsl.core.netspec import NetworkSpec, get_network
from cwdsl.nets.bundled import bundled_weights
from cwdsl.nets.espnet import ESPNet, is_espnet_kind
from cwdsl.nets.fcn import FCN, is_fcn8s_kind
from cwdsl.nets.staged import StagedNetwork
from cwdsl.nets.weights import read_state_dict


def build_network(spec: NetworkSpec | str, *, device: torch.device | str | None = None
                  ) -> StagedNetwork:
    """Build the :class:`StagedNetwork` of ``spec`` (or of the registered network of that
    name), in eval mode, on ``device`` (default: torch's default device).

    ``spec.builder(spec)`` makes it when set (networks from
    :func:`~cwdsl.nets.stage_module` or a plugin); an FCN-8s-kind spec gets :class:`FCN`,
    an ESPNet-kind spec :class:`~cwdsl.nets.ESPNet`. A spec without ``norm`` (how frames
    become its input) is refused.
    With ``device="meta"`` nothing is allocated: use it for shapes and FLOP counts.
    An ``InputError`` when there is no way to build it or the builder fails.
    """
    if isinstance(spec, str):
        spec = get_network(spec)
    context = torch.device(device) if device is not None else nullcontext()
    if spec.builder is not None:
        try:
            with context:
                net = spec.builder(spec)
        except Exception as e:  # a user's builder: report it, don't crash
            raise InputError(f"network {spec.name}: its builder failed: "
                             f"{type(e).__name__}: {e}") from e
        if not isinstance(net, StagedNetwork):
            raise InputError(f"network {spec.name}: its builder returned a "
                             f"{type(net).__name__}, not a cwdsl.nets.StagedNetwork")
    elif is_fcn8s_kind(spec):
        with context:
            net = FCN(spec)
    elif is_espnet_kind(spec):
        with context:
            net = ESPNet(spec)
    else:
        raise InputError(f"network {spec.name} has no torch builder: register it with "
                         f"cwdsl.nets.stage_module or give its NetworkSpec a builder")
    if spec.norm is None:
        raise InputError(f"network {spec.name}: its description states no input "
                         f"normalisation; give NetworkSpec (or stage_module) "
                         f"norm=InputNorm(...)")
    if device is not None:
        net = net.to(device)
    return net.eval()


def meta_network(spec: NetworkSpec | str) -> StagedNetwork:
    """``spec``'s network on the meta device (nothing allocated), running the fast paths
    its bundled weights would (:meth:`StagedNetwork.adopt_fast_paths`; e.g. the demo
    network's learned upsamplers run full, seeded FCN-8s's bilinear ones grouped): what
    FLOP counts and the cost model trace."""
    spec = get_network(spec) if isinstance(spec, str) else spec
    net = build_network(spec, device="meta")
    bundled = bundled_weights(spec.name)
    if bundled is not None:
        net.adopt_fast_paths(read_state_dict(bundled))
    return net
