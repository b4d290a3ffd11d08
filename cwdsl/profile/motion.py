"""The profiling harness's timings of optical flow, warps and learned clocks.

:func:`motion_tasks` adds to a profile's calls (:mod:`cwdsl.profile.harness` times them all
alike, round robin):

- ``flow:METHOD`` for every method of ``lang.ast.FLOW_METHODS``: the executor's
  ``runtime.flow.OpticalFlow`` (OpenCV's DIS on the host) on two real consecutive frames
  of the demo generator (``demo.clip.DEMO``'s seed) at the profile's size, which differ;
  ``flow:codec``: ``runtime.codecflow.CodecFlow`` on the motion vectors FFmpeg exported
  for the second of them, the demo clip encoded with ``--codec``'s default H.264
  settings at that size (:func:`demo_motion`);
- ``warp:compose`` (``runtime.warp.compose`` of a real flow into a total) and
  ``warp:features:NAME`` / ``warp:head:NAME`` (``runtime.warp.warp_tensor`` of every trunk
  layer's output, the image and every head's scores, each on its own cell grid), so that
  a stage of any split can be priced: compose plus the warps of what it holds;
- ``predicted:HEAD``: a learned clock's measurement on each head (``PredictedState.measure``
  on the head's labels and the frame) with a synthetic model reading every signal of
  ``core.clockmodel.SIGNALS`` (:func:`probe_model`).

:func:`motion_timings` turns their samples into the profile's ``flows``, ``warps`` and
``predicted`` groups.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch

from cwdsl.core.clockmodel import SIGNALS, ClockModel, make_model
from cwdsl.core.netspec import IMAGE, NetworkSpec
from cwdsl.core.units import HW
from cwdsl.demo.clip import DEMO
from cwdsl.demo.scenes import generate_clip
from cwdsl.lang.ast import DEFAULT_FLOW, FLOW_METHODS
from cwdsl.nets.preprocess import frame_tensor
from cwdsl.runtime.measure import PredictedState, SignalState, label_map
from cwdsl.cost.motion import COMPOSE, features_part, head_part

PROBE_WIDTH = 16
"""Hidden units of the synthetic clock model a profile times."""


def probe_model(network: str, head: str) -> ClockModel:
    """A clock model reading every signal, with one hidden layer of :data:`PROBE_WIDTH`
    (fixed small weights: its prediction does not matter, its work does)."""
    n = len(SIGNALS)
    hidden = [[0.01 * (i + j) for j in range(n)] for i in range(PROBE_WIDTH)]
    return make_model(network, head, tuple(SIGNALS), [0.0] * n, [1.0] * n,
                      [(hidden, [0.0] * PROBE_WIDTH), ([[0.01] * PROBE_WIDTH], [0.0])],
                      {"probe": "cwdsl profile"})


def demo_pair(hw: HW, frames: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Two consecutive frames of the demo generator at ``hw`` that differ, (1, 3, H, W) in
    [0, 1]: the first such pair among its first ``frames`` (a still clip: the last two)."""
    clip = generate_clip(DEMO.seed, frames, hw)
    t = next((t for t in range(1, frames)
              if not np.array_equal(clip.frames[t], clip.frames[t - 1])), frames - 1)
    return frame_tensor(clip.frames[t - 1]), frame_tensor(clip.frames[t])


def demo_motion(hw: HW, frames: int = 16):
    """The motion vectors of a P frame of the demo generator's clip at ``hw`` encoded with
    ``--codec``'s default H.264 settings: the frame with the most vectors among the first
    ``frames``."""
    from cwdsl.media.transcode import CodecSettings, transcode

    clip = generate_clip(DEMO.seed, frames, hw)
    coded = transcode(clip.frames, CodecSettings())
    return max(coded.motions[1:], key=lambda m: len(m.past))


def motion_tasks(spec: NetworkSpec, net, hw: HW, dev: torch.device, x0: torch.Tensor,
                 outputs: Mapping[str, torch.Tensor], scores: Mapping[str, torch.Tensor]
                 ) -> dict[str, Callable[[], object]]:
    """The calls to time (see the module's docstring), on ``net``'s real tensors: ``x0`` the
    normalised input, ``outputs`` every layer's output, ``scores`` every head's."""
    from cwdsl.runtime.flow import OpticalFlow
    from cwdsl.runtime.warp import compose, warp_tensor

    from cwdsl.runtime.codecflow import CODEC_METHOD, CodecFlow

    previous, current = (f.to(dev) for f in demo_pair(hw))
    tasks: dict[str, Callable[[], object]] = {}
    for method in FLOW_METHODS:
        if method == CODEC_METHOD:
            motion = demo_motion(hw)
            tasks[f"flow:{method}"] = lambda: CodecFlow()(motion, hw, dev)
            continue
        tasks[f"flow:{method}"] = (lambda f: lambda: f(previous, current))(OpticalFlow(method))
    with torch.inference_mode():
        flow = OpticalFlow(DEFAULT_FLOW)(previous, current).to(dev)
    tasks[f"warp:{COMPOSE}"] = lambda: compose(flow, flow)
    held = {**{features_part(n): (n, t) for n, t in ((IMAGE, x0), *outputs.items())},
            **{head_part(h): (h, s) for h, s in scores.items()}}
    for part, (name, x) in held.items():
        grid = net.cell_grid(name, hw, tuple(x.shape[-2:]))
        tasks[f"warp:{part}"] = (lambda t, g: lambda: warp_tensor(t, flow, g, hw))(x, grid)
    for head, s in scores.items():
        state = PredictedState(probe_model(spec.name, head), 2.0, ">=")  # never fires
        reference = label_map(torch.roll(s, 1, dims=-1))  # a different map
        state.state = SignalState(reference, previous, reference, previous, since_fired=1)
        tasks[f"predicted:{head}"] = (lambda st, sc: lambda: st.measure(label_map(sc), current)
                                      )(state, s)
    return tasks


def opencv_info() -> dict:
    """OpenCV's version and thread count, which the flow timings depend on (its threads and
    torch's contend for a small CPU's cores)."""
    import cv2

    return {"opencv": cv2.__version__, "opencv_threads": cv2.getNumThreads()}


def motion_timings(samples: Mapping[str, list[float]],
                   stats: Callable[[list[float]], dict]) -> dict:
    """The profile's ``flows`` (method → STATS), ``warps`` (part → STATS) and ``predicted``
    (head → STATS with the ``signals`` timed) groups from the samples of the tasks."""
    def group(prefix: str) -> dict:
        return {n[len(prefix):]: stats(s) for n, s in samples.items() if n.startswith(prefix)}

    predicted = {h: {**s, "signals": list(SIGNALS)} for h, s in group("predicted:").items()}
    return {"flows": group("flow:"), "warps": group("warp:"), "predicted": predicted}
