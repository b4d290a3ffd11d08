"""The interface every device model implements: how long a network's parts take.

Two kinds implement it: rooflines (:mod:`cwdsl.devices.roofline`) and measured profiles
(:mod:`cwdsl.devices.profiled`); :func:`cwdsl.fitting.load.load_device` picks one.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from cwdsl.core.clockmodel import ClockModel
from cwdsl.core.netspec import NetworkSpec, head_segments
from cwdsl.cost.network import NetworkCost


def oracle_segments(cost: NetworkCost) -> list[tuple[str, str, tuple[str, ...]]]:
    """The frame oracle as the network's head segments (FCN-8s: the paper's three stages),
    each ``(first, last, heads)``, up to the deepest layer a head reads."""
    deepest = cost.layer_names.index(cost.deepest_read())
    return head_segments(cost.layer_names[:deepest + 1], dict(cost.head_reads))


class DeviceModel(ABC):
    """Times of the operations an executor runs, for one device.

    Every method receives the traced :class:`~cwdsl.sim.cost.NetworkCost` of the network,
    size and dtype in question; :meth:`check` says (with an ``InputError``) when the model
    cannot speak for that combination (e.g. a profile of another network).
    """

    name: str
    source: str

    def check(self, spec: NetworkSpec, input_hw: tuple[int, int], dtype: str) -> None:
        """Raise ``InputError`` unless this model can time ``spec`` at ``input_hw`` in
        ``dtype``. The default accepts everything."""

    @abstractmethod
    def stage_ms(self, cost: NetworkCost, first: str, last: str, heads: Sequence[str]) -> float:
        """Layers ``first`` .. ``last`` plus score ``heads``."""

    @abstractmethod
    def fuse_ms(self, cost: NetworkCost, heads: Sequence[str]) -> float:
        """The fuse of the scores of ``heads``."""

    @abstractmethod
    def measure_ms(self, cost: NetworkCost, head: str | None,
                   region: str | None = "map") -> float:
        """A data-driven clock's measurement: label difference on ``head``'s scores over
        ``region`` (``map``: the whole score map; ``image``: the cells that see the image;
        argmax, compare with the reference, mean, read back), or the pixel difference of
        the frame when ``head`` is None."""

    @abstractmethod
    def predicted_ms(self, cost: NetworkCost, head: str, model: ClockModel) -> float:
        """A learned clock's measurement: ``head``'s labels over its whole map, the signals
        ``model`` reads (label differences, pixel differences, each read back) and its MLP
        on the host."""

    @abstractmethod
    def flow_ms(self, cost: NetworkCost, method: str) -> float:
        """One frame's optical flow by ``method`` (``lang.ast.FLOW_METHODS``): OpenCV on the
        host CPU, whatever device runs the network, and the copies to and from it."""

    @abstractmethod
    def warp_ms(self, cost: NetworkCost, first: str, last: str, heads: Sequence[str]) -> float:
        """Warping the state of stage ``first`` .. ``last`` with ``heads`` by its composed
        flow: resampling every tensor it holds (:meth:`~cwdsl.sim.cost.NetworkCost.warp_parts`),
        the flow's composition apart (:meth:`compose_ms`)."""

    @abstractmethod
    def compose_ms(self, cost: NetworkCost) -> float:
        """Composing a frame's flow into a total flow (a warping stage's, when it did not
        compute on the frame before; shared by stages of one method that last computed on
        the same frame)."""

    @abstractmethod
    def frame_overhead_ms(self, cost: NetworkCost) -> float:
        """Fixed per-frame work besides stages, measurements and fuse: the executor's
        plan walk and bookkeeping, the frame's upload and normalisation."""

    # -- the host beside the device (a GPU); a CPU keeps these defaults ---------------
    def overlaps_host(self) -> bool:
        """Whether the device runs queued work while the host goes on (a GPU). Then a
        frame costs, between two syncs, about the larger of the host's time (the frame's
        own work, issuing each part, optical flow) and the device's (each part's
        ``*_ms``), plus :meth:`sync_ms` per sync. False (a CPU): host and device are one
        processor and every part, the frame overhead included, runs in turn."""
        return False

    def stage_host_ms(self, cost: NetworkCost, first: str, last: str,
                      heads: Sequence[str]) -> float:
        """Host time to issue a stage (its device time is :meth:`stage_ms`); 0 where it is
        not known apart (then the device time includes any wait for the host)."""
        return 0.0

    def fuse_host_ms(self, cost: NetworkCost, heads: Sequence[str]) -> float:
        """Host time to issue the fuse (see :meth:`stage_host_ms`)."""
        return 0.0

    def measure_host_ms(self, cost: NetworkCost, head: str | None,
                        region: str | None = "map") -> float:
        """Host time to issue a clock measurement, its read-back excluded (that is a
        sync, :meth:`sync_ms`)."""
        return 0.0

    def sync_ms(self, cost: NetworkCost) -> float:
        """What one device-to-host read costs beyond waiting for the queue to drain (a
        data-driven clock's number; the frame's result at its end)."""
        return 0.0

    def lane_overlap(self, cost: NetworkCost) -> float:
        """Of a pipelined wave's lanes beyond the slowest, the fraction their concurrency
        hides: 1 a perfect overlap (the wave costs its slowest lane), 0 none (the sum)."""
        return 1.0

    def full_ms(self, cost: NetworkCost) -> float:
        """The frame oracle's compute: the whole network as its head segments (for FCN-8s
        the paper's three stages), every head, the fuse of all heads (frame overhead not
        included, as in ``stage_ms``). Pricing it in segments makes an oracle schedule of
        that split exactly 100% of it under any device model."""
        return (sum(self.stage_ms(cost, *run) for run in oracle_segments(cost))
                + self.fuse_ms(cost, tuple(cost.heads)))

    def full_host_ms(self, cost: NetworkCost) -> float:
        """Host time to issue the frame oracle's compute (as :meth:`full_ms` splits it)."""
        return (sum(self.stage_host_ms(cost, *run) for run in oracle_segments(cost))
                + self.fuse_host_ms(cost, tuple(cost.heads)))
