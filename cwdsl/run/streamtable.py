"""What a multi-stream ``cwdsl run`` reports: each stream's :class:`StreamResult`, the run's
:class:`StreamsRecord` (``streams.json``) with its throughput over the timed ticks, and the
table the command prints (:func:`streams_table`)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StreamResult:
    """One stream of a multi-stream run (``skipped``: its finished outputs were kept)."""

    name: str
    source: str
    frames: int
    latency_ms_p50: float
    latency_ms_p99: float
    fps: float
    skipped: bool = False
    deadline_ms: float | None = None    # the stream's frame deadline, if any
    on_time_pct: float | None = None    # its frames after frame 0 within it

    def to_json(self) -> dict:
        out = dict(self.__dict__)
        if self.deadline_ms is None:
            del out["deadline_ms"], out["on_time_pct"]
        return out


FPS_NOTE = ("fps: the frames of each process's ticks after its first (the warm-up: every "
            "stream's frame 0 computes in full) per second of those same ticks (timed), summed "
            "over processes; frames: every frame run, the first ticks' included")


@dataclass(frozen=True)
class Timed:
    """One process's throughput count: the frames of its ticks after the first (the
    warm-up: every stream's frame 0 computes in full) and those ticks' seconds, so the
    frames and the time cover the same ticks."""

    frames: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def total_fps(timed) -> float:
    """All processes' frames per second: each process's frames over its own ticks' time,
    summed (the processes run at once); a process that ran one tick or none adds
    nothing."""
    return sum(t.fps for t in timed)


@dataclass(frozen=True)
class StreamsRecord:
    """What ``streams.json`` holds: every stream; the frames this run ran (``frames``, every
    tick); its throughput (``fps``: :func:`total_fps` of ``timed``, one :class:`Timed` per
    process that ran streams)."""

    schedule: str
    streams: tuple[StreamResult, ...]
    frames: int
    timed: tuple[Timed, ...]
    batched: bool
    processes: int

    @property
    def fps(self) -> float:
        return total_fps(self.timed)

    @property
    def timed_frames(self) -> int:
        return sum(t.frames for t in self.timed)

    def to_json(self) -> dict:
        return {"cwdsl_streams": 1, "schedule": self.schedule, "frames": self.frames,
                "fps": self.fps, "timed_frames": self.timed_frames,
                "timed": [{"frames": t.frames, "seconds": t.seconds} for t in self.timed],
                "fps_note": FPS_NOTE,
                "batched": self.batched, "processes": self.processes,
                "streams": [s.to_json() for s in self.streams]}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _row_groups(streams) -> list[tuple[str, StreamResult]]:
    """Consecutive streams whose row would read the same, as one row named ``first … last
    (N streams)``: streams run in lockstep share every tick's latency."""
    def cells(s):
        return (s.frames, f"{s.latency_ms_p50:.2f}", f"{s.latency_ms_p99:.2f}", s.skipped,
                s.deadline_ms, None if s.on_time_pct is None else f"{s.on_time_pct:.1f}")

    groups: list[list[StreamResult]] = []
    for s in streams:
        if groups and cells(groups[-1][-1]) == cells(s):
            groups[-1].append(s)
        else:
            groups.append([s])
    return [(g[0].name if len(g) == 1 else f"{g[0].name} … {g[-1].name} ({len(g)} streams)",
             g[0]) for g in groups]


def streams_table(record: StreamsRecord) -> str:
    """The table ``cwdsl run`` prints for several streams (streams whose rows would read
    alike share one)."""
    rows = _row_groups(record.streams)
    width = max([len(name) for name, _ in rows] + [6])
    lines = [f"{record.schedule}: {_plural(len(record.streams), 'stream')}, "
             f"{'batched' if record.batched else 'one frame at a time'}"
             + (f", {record.processes} processes" if record.processes > 1 else ""),
             f"{'stream':<{width}}  {'frames':>7}  {'p50 ms':>8}  {'p99 ms':>8}"]
    for name, s in rows:
        on_time = "" if s.on_time_pct is None else \
            f"  on time {s.on_time_pct:.1f}% (deadline {s.deadline_ms:g} ms)"
        lines.append(f"{name:<{width}}  {s.frames:>7}  {s.latency_ms_p50:>8.2f}  "
                     f"{s.latency_ms_p99:>8.2f}" + on_time + ("  (kept: already finished)"
                                                              if s.skipped else ""))
    lines.append(_total_line(record))
    return "\n".join(lines)


def _total_line(record: StreamsRecord) -> str:
    """The table's last line: the frames run and the throughput, both said over which ticks
    (the first, every stream's frame 0 computed in full, is warm-up and not timed)."""
    if not record.frames:
        return "total: no frames run (every stream was kept)"
    if not record.timed:
        return (f"total: {record.frames} frames run in one tick, the warm-up (every stream's "
                f"frame 0 in full): no frames/s")
    return (f"total: {record.frames} frames run; {record.fps:.3g} frames/s over the "
            f"{record.timed_frames} after the first tick (warm-up: every stream's frame 0 "
            f"in full)")
