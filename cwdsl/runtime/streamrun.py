"""``cwdsl run`` over several streams: videos (``--video`` repeated, ``--videos DIR``) or
one source replayed (``--streams N``), through one :class:`MultiStreamExecutor`.

Every stream's source is opened and checked before any runs (a video that does not open:
an ``InputError`` naming it, nothing written for any stream). With ``--out DIR`` each
stream writes ``DIR/<name>/`` (the video's stem; ``stream-<i>`` for ``--streams``) exactly
as a single-stream run writes its ``--out``: ``run.json`` and the ``--save`` items, all or
nothing (its own staged folder); ``DIR/streams.json`` holds the run's totals and each
stream's latency. A corpus (``--videos DIR``) resumes: a stream whose folder holds a
finished run of the same schedule, network, weights, device, dtype, size and source
(:func:`finished`) is skipped with a note. Under ``torchrun`` each process runs its
:func:`~cwdsl.runtime.distributed.shard` of the streams; rank 0 writes ``streams.json``
after every process finished.
"""
from __future__ import annotations

import json
import queue
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from cwdsl.core.atomic import write_json
from cwdsl.core.errors import InputError
from cwdsl.core.staging import staged_dir
from cwdsl.lang.printer import print_schedule
from cwdsl.nets import build_network
from cwdsl.nets.bundled import resolve_weights
from cwdsl.nets.preprocess import frame_tensor
from cwdsl.nets.weights import load_weights
from cwdsl.runtime.distributed import (barrier, gather, launched_main, raise_if_any_failed,
                                       shard, world)
from cwdsl.runtime.encode import write_video
from cwdsl.runtime.legend import with_legend
from cwdsl.runtime.multistream import MultiStreamExecutor
from cwdsl.runtime.palette import overlay
from cwdsl.runtime.records import Totals, frame_record, make_record
from cwdsl.runtime.run import (RunOptions, check_options, choose_program, is_run_folder,
                               oracle_labels)
from cwdsl.runtime.sources import FrameSource, frame_source, list_videos
from cwdsl.runtime.video import save_label_png

STREAMS_FILE = "streams.json"


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

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class StreamsRecord:
    """What ``streams.json`` holds: every stream, and this run's total throughput (frames
    run by all processes per second of their ticks, summed over processes)."""

    schedule: str
    streams: tuple[StreamResult, ...]
    frames: int
    fps: float
    batched: bool
    processes: int

    def to_json(self) -> dict:
        return {"cwdsl_streams": 1, "schedule": self.schedule, "frames": self.frames,
                "fps": self.fps, "batched": self.batched, "processes": self.processes,
                "streams": [s.to_json() for s in self.streams]}


def stream_names(options: RunOptions) -> list[tuple[str, str | None]]:
    """(name, video) per stream: ``--video`` repeated, ``--videos DIR`` (name order), or
    ``--streams N`` replays of one source (``video`` None: the demo)."""
    if options.frames_dir:
        raise InputError("--frames runs one stream; give --video (repeated) or --videos DIR")
    if options.videos_dir is not None and options.videos:
        raise InputError("give --video or --videos DIR, not both")
    if options.streams and options.streams > 1:
        if options.videos_dir is not None or len(options.videos) > 1:
            raise InputError("--streams N replays one source: give at most one --video")
        video = options.videos[0] if options.videos else None
        return [(f"stream-{i}", video) for i in range(options.streams)]
    videos = list_videos(options.videos_dir) if options.videos_dir is not None \
        else list(options.videos)
    names = [Path(v).stem for v in videos]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"two videos would write the same folder: {', '.join(twice)}; "
                         f"rename one")
    return list(zip(names, videos))


def finished(folder: Path, expect: dict) -> bool:
    """Whether ``folder`` holds a finished run (``run.json``: only a completed run writes
    one) whose schedule text, network, weights, device, dtype, size and source are
    ``expect``'s, with every ``--save`` item asked for."""
    record = folder / "run.json"
    if not record.is_file() or not is_run_folder(folder):
        return False
    try:
        data = json.loads(record.read_text())
    except (OSError, ValueError):
        return False
    saved = {"masks": (folder / "masks").is_dir(), "overlay": (folder / "overlay.mp4").is_file()}
    return all(data.get(k) == v for k, v in expect.items() if k != "save") and \
        all(saved[item] for item in expect["save"])


def _expected(options: RunOptions, program, weights: str, device: str,
              source: FrameSource) -> dict:
    return {"schedule": {"path": options.schedule, "name": program.name,
                         "text": print_schedule(program.schedule)},
            "network": program.network.name, "weights": weights, "device": device,
            "dtype": options.dtype, "size": list(source.size), "source": source.description,
            "save": sorted(options.save)}


def _replays(source: FrameSource, streams: int) -> list[FrameSource]:
    """``source`` ``streams`` times, stream i starting i x (frames / streams) in, wrapping."""
    frames = list(source.frames)
    labels = None if source.labels is None else list(source.labels)
    n = len(frames)
    if not n:
        raise InputError(f"{source.description}: no frames to run on")
    out = []
    for i in range(streams):
        at = i * n // streams
        out.append(replace(source, frames=iter(frames[at:] + frames[:at]), count=n,
                           labels=None if labels is None else iter(labels[at:] + labels[:at]),
                           description=f"{source.description}, from frame {at}"))
    return out


class _OverlayWriter:
    """``overlay.mp4`` of one stream, encoded in a thread as frames arrive."""

    def __init__(self, path: Path, fps: float):
        self._queue: queue.Queue = queue.Queue(maxsize=8)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write, args=(path, fps), daemon=True)
        self._thread.start()

    def _write(self, path, fps):
        try:
            write_video(path, self._frames(), fps=fps)
        except BaseException as e:  # re-raised by close
            self._error = e
            while self._queue.get() is not None:
                pass

    def _frames(self):
        while (frame := self._queue.get()) is not None:
            yield frame

    def put(self, frame: np.ndarray) -> None:
        self._queue.put(frame)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


class _Stream:
    """One running stream's outputs: its records, score totals, masks and overlay."""

    def __init__(self, name, source: FrameSource, options: RunOptions, program, tmp):
        self.name, self.source, self.tmp = name, source, tmp
        self.frames = source.frames
        self.labels = source.labels
        self.totals = Totals(program.network.num_classes)
        self.records: list[dict] = []
        self.oracle = source.labels is not None if options.oracle is None else options.oracle
        self.masks = tmp / "masks" if tmp is not None and "masks" in options.save else None
        if self.masks is not None:
            self.masks.mkdir()
        self.names = [program.network.class_name(i) for i in range(program.network.num_classes)]
        self.video = _OverlayWriter(tmp / "overlay.mp4", source.fps) \
            if tmp is not None and "overlay" in options.save else None

    def add(self, rgb, x, result, net, executor) -> None:
        labels = result.labels.to("cpu", torch.uint8).numpy()
        truth = next(self.labels) if self.labels is not None else None
        self.totals.add(labels, truth, oracle_labels(net, x, executor) if self.oracle else None)
        self.records.append(frame_record(result))
        if self.masks is not None:
            save_label_png(self.masks / f"{result.frame:06d}.png", labels)
        if self.video is not None:
            self.video.put(with_legend(overlay(rgb, labels), self.names))


def run_streams(options: RunOptions, on_note=None) -> StreamsRecord:
    """Run every stream (this process's share under torchrun); write each stream's folder
    and, on rank 0, ``streams.json``; the record of the whole run (on every process)."""
    note = on_note or (lambda text: None)
    check_options(options)
    named = stream_names(options)
    demo = all(video is None for _, video in named)
    program, own_network, notes = choose_program(options, demo)
    weights = resolve_weights(program.network.name, options.weights)
    out = Path(options.out) if options.out else None
    for _, video in named:  # every source opens before any stream runs
        if video is not None and out is not None and out.resolve() in Path(video).resolve().parents:
            raise InputError(f"{options.out}: the output folder holds the input {video}; "
                             f"choose another one")
    sources = [frame_source(video, None, options.max_frames, options.keep_partial, program,
                            own_network, options.size)
               for video in dict.fromkeys(v for _, v in named)]
    by_video = dict(zip(dict.fromkeys(v for _, v in named), sources))
    if options.streams and options.streams > 1:
        streams = list(zip([n for n, _ in named], _replays(sources[0], options.streams)))
    else:
        streams = [(name, by_video[video]) for name, video in named]
    if launched_main():  # the notes every process would print alike: once
        for text in dict.fromkeys(notes + tuple(t for s in sources for t in s.notes)):
            note(text)
    w = world(options.device)
    device = w.device
    mine = shard(streams, w)
    results: list[tuple[int, StreamResult]] = []
    todo = []
    for index, (name, source) in mine:
        folder = out / name if out is not None else None
        if options.videos_dir is not None and folder is not None and \
                finished(folder, _expected(options, program, weights, device, source)):
            summary = json.loads((folder / "run.json").read_text())["summary"]
            note(f"{folder}: holds a finished run of this schedule and source; skipped")
            results.append((index, StreamResult(name, source.description, summary["frames"],
                                                summary["latency_ms_p50"],
                                                summary["latency_ms_p99"], summary["fps"],
                                                skipped=True)))
        else:
            todo.append((index, name, source))
    try:
        ran, seconds = _run(options, program, weights, device, todo, out)
        error = None
    except Exception as e:  # every process learns of it at the next collective
        error, ran, seconds = e, [], 0.0
    raise_if_any_failed(error, w, "(its error is above); the streams this process "
                                  "finished are written")
    results += ran
    everything = gather(results, w)
    counts = gather([(w.rank, (sum(r.frames for _, r in ran), seconds))], w)
    frames = sum(f for f, _ in counts)
    fps = sum(f / s for f, s in counts if s > 0)
    record = StreamsRecord(program.name, tuple(everything), frames, fps, options.batched, w.size)
    barrier(w)
    if out is not None and w.main:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / STREAMS_FILE, record.to_json())
    return record


def _run(options, program, weights, device, todo, out) -> tuple[list, float]:
    """Run ``todo`` ((index, name, source)) together; their results and the seconds of
    ticks after the first (the warm-up: every stream's frame 0 computes in full)."""
    if not todo:
        return [], 0.0
    net = build_network(program.network)
    if weights != "random":
        load_weights(net, weights)
    multi = MultiStreamExecutor(program, net.to(device), len(todo), device, options.dtype,
                                options.batched, options.concurrency, options.memory_format,
                                options.compile, options.cuda_graphs, options.max_batch)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    ticks, seconds = 0, 0.0
    with ExitStack() as stack:
        streams = []
        for _, name, source in todo:
            tmp = None if out is None else stack.enter_context(
                staged_dir(out / name, replaceable=is_run_folder, force=options.force,
                           what="cwdsl run"))
            streams.append(_Stream(name, source, options, program, tmp))
        try:
            active = [True] * len(streams)
            while any(active):
                rgbs = []
                for i, stream in enumerate(streams):
                    rgb = next(stream.frames, None) if active[i] else None
                    active[i] = rgb is not None
                    rgbs.append(rgb)
                if not any(active):
                    break
                xs = [None if rgb is None else frame_tensor(rgb) for rgb in rgbs]
                results = multi.tick(xs)
                for stream, rgb, x, result in zip(streams, rgbs, xs, results):
                    if result is not None:
                        stream.add(rgb, x, result, multi.net, multi.executors[0])
                if ticks:
                    seconds += next(r for r in results if r is not None).latency_ms / 1e3
                ticks += 1
            ran = []
            for (index, name, source), stream in zip(todo, streams):
                if stream.video is not None:
                    stream.video.close()
                notes = source.notes + tuple(
                    f"{source.description}: {problem}; --keep-partial: ran on the "
                    f"{len(stream.records)} frames that decoded" for problem in source.problems)
                record = make_record(replace(options, device=device), program, weights,
                                     source, stream.records, stream.totals, started, notes)
                if stream.tmp is not None:
                    write_json(stream.tmp / "run.json", record.to_json())
                s = record.summary
                ran.append((index, StreamResult(name, source.description, s.frames,
                                                s.latency_ms_p50, s.latency_ms_p99, s.fps)))
        finally:
            multi.close()
    return ran, seconds


def streams_table(record: StreamsRecord) -> str:
    """The table ``cwdsl run`` prints for several streams."""
    width = max([len(s.name) for s in record.streams] + [6])
    lines = [f"{record.schedule}: {len(record.streams)} streams, "
             f"{'batched' if record.batched else 'one frame at a time'}"
             + (f", {record.processes} processes" if record.processes > 1 else ""),
             f"{'stream':<{width}}  {'frames':>7}  {'p50 ms':>8}  {'p99 ms':>8}"]
    for s in record.streams:
        lines.append(f"{s.name:<{width}}  {s.frames:>7}  {s.latency_ms_p50:>8.2f}  "
                     f"{s.latency_ms_p99:>8.2f}" + ("  (kept: already finished)"
                                                     if s.skipped else ""))
    lines.append(f"total: {record.frames} frames run, {record.fps:.3g} frames/s (all "
                 f"streams, first tick excluded)")
    return "\n".join(lines)
