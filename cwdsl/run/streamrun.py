"""``cwdsl run`` over several streams: videos (``--video`` repeated, ``--videos DIR``) or
one source replayed (``--streams N``), through one :class:`MultiStreamExecutor`.

Every stream's source is opened and checked before any runs (a video that does not open:
an ``InputError`` naming it, nothing written for any stream). With ``--out DIR`` each
stream writes ``DIR/<name>/`` (the video's stem; ``stream-<i>`` for ``--streams``) exactly
as a single-stream run writes its ``--out``: ``run.json`` and the ``--save`` items, all or
nothing (its own staged folder), committed the moment the stream ends, so an interrupted
run loses only the streams still running (:mod:`cwdsl.run.streamout`);
``DIR/streams.json`` holds the run's totals and each stream's latency. ``DIR`` must be
absent, empty or a previous multi-stream run's folder (else ``--force``). A corpus
(``--videos DIR``) resumes: a stream whose folder holds a finished run of the same
schedule text, network, weights (by content), device, dtype, size, source and frame options
is kept with a note; any other is run again, with a note saying why
(:mod:`cwdsl.run.resume`). Under ``torchrun`` each process runs its
:func:`~cwdsl.runtime.distributed.shard` of the streams; rank 0 writes ``streams.json``
after every process finished.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from cwdsl.core.atomic import write_json
from cwdsl.core.errors import InputError
from cwdsl.core.progress import progress_bar
from cwdsl.core.staging import OLD, PARTIAL
from cwdsl.ir.graph import Program, under_deadlines
from cwdsl.nets import build_network
from cwdsl.nets.bundled import resolve_weights, trained_at
from cwdsl.nets.preprocess import frame_tensor
from cwdsl.nets.weights import load_weights
from cwdsl.runtime.distributed import (barrier, gather, joined, launched_main,
                                       raise_if_any_failed, shard)
from cwdsl.runtime.multistream import MultiStreamExecutor
from cwdsl.run.deadlines import stage_times
from cwdsl.run.resume import expected, rerun_reason
from cwdsl.run.run import (RunOptions, check_options, check_sequential, choose_program,
                           is_run_folder)
from cwdsl.media.video import MotionLog
from cwdsl.run.sources import FrameSource, frame_source, list_videos
from cwdsl.run.streamout import StreamOutput
from cwdsl.run.streamtable import StreamResult, StreamsRecord, Timed

STREAMS_FILE = "streams.json"


def stream_names(options: RunOptions) -> list[tuple[str, str | None]]:
    """(name, video) per stream: ``--video`` repeated, ``--videos DIR`` (name order), or
    ``--streams N`` replays of one source (``video`` None: the demo)."""
    if options.frames_dir:
        raise InputError("--frames runs one stream; give --video (repeated) or --videos DIR")
    if options.videos_dir is not None and options.videos:
        raise InputError("give --video or --videos DIR, not both")
    if options.streams is not None and (options.videos_dir is not None
                                        or len(options.videos) > 1):
        raise InputError("--streams N replays one source N times: give one --video (or "
                         "none, for the demo), not several or --videos DIR, which run each "
                         "video as its own stream")
    if options.streams and options.streams > 1:
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


def is_streams_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a previous multi-stream run and nothing else: its
    ``streams.json``, stream folders of runs, and what interrupted writers leave (staging
    folders and locks, removed by the next writer)."""
    for entry in folder.iterdir():
        if entry.name == STREAMS_FILE and entry.is_file():
            continue
        if entry.name.startswith(".") and (PARTIAL in entry.name or OLD in entry.name
                                           or entry.name.endswith(".lock")):
            continue
        if entry.is_dir() and not entry.is_symlink() and (
                not any(entry.iterdir()) or is_run_folder(entry)):
            continue
        return False
    return True


def check_out_folder(out: Path, force: bool) -> None:
    """``--out DIR`` of several streams: absent, empty, a previous multi-stream run's folder
    (see :func:`is_streams_folder`), or any folder with ``--force`` (its stream folders are
    replaced, other files left as they are); an ``InputError`` otherwise."""
    if out.is_symlink():
        raise InputError(f"{out}: is a symbolic link; give the folder it points to")
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    if out.is_dir() and not force and any(out.iterdir()) and not is_streams_folder(out):
        raise InputError(f"{out}: the folder is not empty and does not hold a cwdsl run of "
                         f"several streams; choose another folder, or give --force to write "
                         f"the streams' folders into it")


def _replays(source: FrameSource, streams: int) -> list[FrameSource]:
    """``source`` ``streams`` times, stream i starting i x (frames / streams) in, wrapping."""
    frames = list(source.frames)
    labels = None if source.labels is None else list(source.labels)
    n = len(frames)
    if not n:
        raise InputError(f"{source.description}: no frames to run on")
    motions = None if source.motion is None else [source.motion.take(t) for t in range(n)]
    out = []
    for i in range(streams):
        at = i * n // streams
        log = None
        if motions is not None:  # the wrap is a cut: the first frame is an I frame's
            log = MotionLog()
            for t, motion in enumerate(motions[at:] + motions[:at]):
                log.put(t, motion)
        out.append(replace(source, frames=iter(frames[at:] + frames[:at]), count=n,
                           labels=None if labels is None else iter(labels[at:] + labels[:at]),
                           description=f"{source.description}, from frame {at}", motion=log))
    return out


def run_streams(options: RunOptions, on_note=None) -> StreamsRecord:
    """Run every stream (this process's share under torchrun); write each stream's folder
    and, on rank 0, ``streams.json``; the record of the whole run (on every process)."""
    note = on_note or (lambda text: None)
    check_options(options)
    named = stream_names(options)
    demo = all(video is None for _, video in named)
    program, own_network, notes = choose_program(options, demo)
    check_sequential(options, program)
    weights = resolve_weights(program.network.name, options.weights)
    out = Path(options.out) if options.out else None
    if out is not None:
        check_out_folder(out, options.force)
    for _, video in named:  # every source opens before any stream runs
        if video is not None and out is not None and out.resolve() in Path(video).resolve().parents:
            raise InputError(f"{options.out}: the output folder holds the input {video}; "
                             f"choose another one")
    trained = trained_at(program.network.name, options.weights)
    sources = [frame_source(video, None, options.max_frames, options.keep_partial, program,
                            own_network, options.size, trained=trained)
               for video in dict.fromkeys(v for _, v in named)]
    by_video = dict(zip(dict.fromkeys(v for _, v in named), sources))
    if options.streams and options.streams > 1:
        streams = list(zip([n for n, _ in named], _replays(sources[0], options.streams)))
    else:
        streams = [(name, by_video[video]) for name, video in named]
    if launched_main():  # the notes every process would print alike: once
        for text in dict.fromkeys(notes + tuple(t for s in sources for t in s.notes)):
            note(text)
    w = joined(options.device)  # every input is checked: the first collective
    device = w.device
    mine = shard(streams, w)
    results: list[tuple[int, StreamResult]] = []
    todo = []
    for index, (name, source) in mine:
        folder = out / name if out is not None else None
        why = "" if options.videos_dir is None or folder is None else rerun_reason(
            folder, expected(options, program, weights, device, source), is_run_folder)
        if why is None:
            summary = json.loads((folder / "run.json").read_text())["summary"]
            note(f"{folder}: holds a finished run of this schedule, weights and source; kept")
            results.append((index, StreamResult(name, source.description, summary["frames"],
                                                summary["latency_ms_p50"],
                                                summary["latency_ms_p99"], summary["fps"],
                                                skipped=True)))
        else:
            if why:
                note(f"{folder}: runs again: {why}")
            todo.append((index, name, source))
    try:
        ran, timed, seconds = _run(options, program, weights, device, todo, out,
                                   stream_programs(options, program, len(streams)))
        error = None
    except Exception as e:  # every process learns of it at the next collective
        error, ran, timed, seconds = e, [], 0, 0.0
    raise_if_any_failed(error, w, "(its error is above); the streams this process "
                                  "finished are written")
    results += ran
    everything = gather(results, w)
    counts = gather([(w.rank, (sum(r.frames for _, r in ran), timed, seconds))], w)
    frames = sum(f for f, _, _ in counts)
    record = StreamsRecord(program.name, tuple(everything), frames,
                           tuple(Timed(t, s) for _, t, s in counts if s > 0),
                           options.batched, w.size)
    barrier(w)
    if out is not None and w.main:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / STREAMS_FILE, record.to_json())
    return record


def stream_programs(options: RunOptions, program: Program, streams: int) -> list[Program]:
    """Per stream (by its index in the run), the program it runs: ``program`` under the
    stream's own deadline where ``--deadline`` gives several (stream ``i`` the ``i``-th,
    cycled), each distinct one compiled once."""
    if len(set(options.deadlines)) < 2:
        return [program] * streams
    return under_deadlines(program, options.deadlines, streams)


def _run(options, program, weights, device, todo, out, programs) -> tuple[list, int, float]:
    """Run ``todo`` ((index, name, source)) together, each stream's folder committed the
    moment the stream ends; their results, and the frames and seconds of the ticks after
    the first (the warm-up: every stream's frame 0 computes in full). ``programs``: each
    stream's program by its index in the run (:func:`stream_programs`)."""
    if not todo:
        return [], 0, 0.0
    net = build_network(program.network)
    if weights != "random":
        load_weights(net, weights)
    mine = [programs[index] for index, _, _ in todo]
    times = [stage_times(p, torch.device(device), options.cost_model, source.size,
                         options.dtype) for p, (_, _, source) in zip(mine, todo)]
    multi = MultiStreamExecutor(program, net.to(device), len(todo), device, options.dtype,
                                options.batched, options.concurrency, options.memory_format,
                                options.compile, options.cuda_graphs, options.max_batch,
                                mine, times)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    ticks, timed, seconds = 0, 0, 0.0
    streams: list[StreamOutput] = []
    ran = []
    total = None if any(s.count is None for _, _, s in todo) else sum(s.count for _, _, s in todo)
    try:
        for index, name, source in todo:
            streams.append(StreamOutput(name, source, options, programs[index],
                                        None if out is None else out / name))
        with progress_bar(options.progress, total=total, desc=program.name,
                          unit="frame") as bar:
            live = dict(enumerate(streams))
            while live:
                rgbs = [None] * len(streams)
                for i, stream in list(live.items()):
                    rgbs[i] = next(stream.frames, None)
                    if rgbs[i] is None:  # the stream ended: commit it now
                        del live[i]
                        ran.append(_finish(todo[i][0], stream, options,
                                           programs[todo[i][0]], weights, device, started,
                                           bar))
                if not live:
                    break
                xs = [None if rgb is None else frame_tensor(rgb) for rgb in rgbs]
                motions = [None if rgb is None or stream.source.motion is None else
                           stream.source.motion.take(stream.taken) for stream, rgb
                           in zip(streams, rgbs)]
                for stream, rgb in zip(streams, rgbs):
                    stream.taken += rgb is not None
                results = multi.tick(xs, motions)
                for stream, rgb, x, result in zip(streams, rgbs, xs, results):
                    if result is not None:
                        stream.add(rgb, x, result, multi.net, multi.executors[0])
                done = [r for r in results if r is not None]
                if ticks:
                    seconds += done[0].latency_ms / 1e3
                    timed += len(done)
                ticks += 1
                bar.update(len(done))
                bar.set_postfix_str(_progress(streams, live, timed, seconds))
    except BaseException as e:
        for stream in streams:
            stream.discard(e)  # the streams still running; committed ones stay
        raise
    finally:
        multi.close()
    ran.sort(key=lambda r: r[0])
    return [(index, result) for index, result, _ in ran], timed, seconds


def _finish(index, stream: StreamOutput, options, program, weights, device, started, bar):
    record = stream.finish(options, program, weights, device, started)
    s = record.summary
    if stream.folder is not None:
        bar.write(f"note: wrote {stream.folder} ({s.frames} frames)", file=sys.stderr)
    return index, StreamResult(stream.name, stream.source.description, s.frames,
                               s.latency_ms_p50, s.latency_ms_p99, s.fps,
                               deadline_ms=s.deadline_ms, on_time_pct=None
                               if s.on_time_fraction is None else 100 * s.on_time_fraction), stream


def _progress(streams, live, timed, seconds) -> str:
    """The bar's postfix: each stream's frames (a few streams) or how many ended, and the
    throughput of all streams so far."""
    rate = f"{timed / seconds:.3g} frames/s" if seconds > 0 else "warm-up"
    if len(streams) <= 4:
        each = ", ".join(f"{s.name} {len(s.records)}" + ("" if i in live else " done")
                         for i, s in enumerate(streams))
        return f"{each}; {rate}"
    return f"{len(streams) - len(live)}/{len(streams)} streams done; {rate}"
