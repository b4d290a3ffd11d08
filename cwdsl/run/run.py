"""``cwdsl run``: a schedule over real frames, with records, masks, overlays and scores.

Everything a user can get wrong is checked before the first frame runs: the output folder
(:func:`cwdsl.core.staging.staged_dir`: refused if it holds something other than a previous
run, locked against a second writer, written completely or not at all), the schedule and the
network it runs on, the weights, the frames (:mod:`cwdsl.run.sources`) and the options.
"""
from __future__ import annotations

import os
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import networkx as nx
import numpy as np
import torch

from cwdsl.core.atomic import write_json
from cwdsl.core.errors import InputError, ScheduleError
from cwdsl.core.progress import progress_bar
from cwdsl.core.staging import staged_dir
from cwdsl.core.units import HW
from cwdsl.demo.clip import DEMO
from cwdsl.ir.graph import Program, compile_schedule, record, within_frame
from cwdsl.ir.nodes import StageNode
from cwdsl.lang.parser import parse_file
from cwdsl.nets import build_network
from cwdsl.nets.bundled import bundled_weights, resolve_weights, trained_at
from cwdsl.nets.preprocess import frame_tensor, normalize
from cwdsl.nets.weights import load_weights
from cwdsl.runtime.device import MEMORY_FORMATS, resolve_device
from cwdsl.media.encode import write_video
from cwdsl.runtime.deadline import StageTimes
from cwdsl.runtime.executor import Executor
from cwdsl.media.legend import with_legend
from cwdsl.media.palette import overlay
from cwdsl.media.live import is_live
from cwdsl.run.pacing import deliver, end_note, interrupts_end, realtime_record
from cwdsl.run.deadlines import stage_times
from cwdsl.run.records import RunRecord, Throughput, Totals, frame_record, make_record
from cwdsl.run.sources import FrameSource, check_motion, frame_source
from cwdsl.media.video import save_label_png

SAVE_CHOICES = ("masks", "overlay")
RUN_ENTRIES = frozenset({"run.json", "masks", "overlay.mp4"})
"""What an ``--out`` folder of a run holds; a folder with just these is replaced by a new run."""


@dataclass(frozen=True)
class RunOptions:
    schedule: str
    video: str | None = None
    frames_dir: str | None = None
    net: str | None = None
    weights: str | None = None
    device: str = "cpu"
    dtype: str = "float32"
    out: str | None = None
    max_frames: int | None = None
    save: frozenset[str] = frozenset()
    concurrency: str = "auto"
    oracle: bool | None = None
    progress: bool = True
    size: HW | None = None          # frames are resized to this (see cwdsl.run.sources)
    force: bool = False             # replace an --out folder that is not a previous run
    keep_partial: bool = False      # run on what a truncated or corrupt video decodes
    memory_format: str = "auto"     # the executor's (see cwdsl.runtime.device.memory_format)
    compile: bool = False           # stages and fuse through torch.compile
    cuda_graphs: bool = False       # stages and fuse replayed as CUDA graphs (CUDA only)
    # several streams (cwdsl.run.streamrun): videos, every video of a folder, or one
    # source replayed N times; each stream's stages batched with the others' unless not
    videos: tuple[str, ...] = ()
    videos_dir: str | None = None
    streams: int | None = None
    batched: bool = True
    max_batch: int | None = None    # at most this many streams a batch (None: all)
    # real time (cwdsl.run.pacing): a file paced as a camera delivers frames, at its own
    # frame rate or fps; a live source (cwdsl.media.live) always runs in real time and
    # ends when no frame comes for stall_timeout seconds
    realtime: bool = False
    fps: float | None = None
    stall_timeout: float = 5.0
    # deadlines (cwdsl.ir.deadline): the frame deadline replacing the schedule's (one a
    # stream, cycled, when several), and the device model 'fits' decisions start from
    # (None: the device's named model)
    deadlines: tuple[float, ...] = ()
    cost_model: str | None = None

    @property
    def multistream(self) -> bool:
        """Whether this run has several streams (else the single-stream path)."""
        return len(self.videos) > 1 or self.videos_dir is not None or (self.streams or 1) > 1

    @property
    def deadline_ms(self) -> float | None:
        """The first stream's deadline (the one stream's), None when none is given."""
        return self.deadlines[0] if self.deadlines else None

    @property
    def live(self) -> bool:
        """Whether a video given is a live source (a camera, a URL, ``-``)."""
        return any(is_live(v) for v in (self.video, *self.videos) if v)


@dataclass(frozen=True)
class Prepared:
    """A run ready to start: the checked program, the network on its device, the frames."""

    program: Program
    net: torch.nn.Module
    source: FrameSource
    weights: str
    notes: tuple[str, ...]
    times: StageTimes | None = None  # what 'fits' decisions predict from (None: no fits)


def is_run_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a previous run and nothing else (its ``run.json`` starts
    as every run record does)."""
    entries = {p.name for p in folder.iterdir()}
    record = folder / "run.json"
    if not entries <= RUN_ENTRIES or not record.is_file() or record.is_symlink():
        return False
    with open(record, "rb") as f:
        head = f.read(64)
    return b'"cwdsl_run"' in head


def check_options(options: RunOptions) -> None:
    """The options' own consistency (before the output folder is touched): among them, an
    option given where it cannot act is refused (:func:`check_acting`)."""
    check_acting(options)
    bad = set(options.save) - set(SAVE_CHOICES)
    if bad:
        raise InputError(f"--save: unknown item(s) {', '.join(sorted(bad))}; choose from "
                         f"{', '.join(SAVE_CHOICES)}")
    if options.save and not options.out:
        raise InputError("--save needs --out DIR")
    if options.video and options.frames_dir:
        raise InputError("give --video or --frames, not both")
    if options.cuda_graphs and resolve_device(options.device).type != "cuda":
        raise InputError(f"--cuda-graphs needs --device cuda (the device is {options.device})")
    if options.memory_format not in MEMORY_FORMATS:
        raise InputError(f"unknown memory format '{options.memory_format}'; use "
                         f"{', '.join(MEMORY_FORMATS)}")
    if options.out:
        out = Path(os.path.abspath(options.out))
        inputs = (options.schedule, None if options.live else options.video,
                  options.frames_dir, None if options.weights == "random" else options.weights)
        for given in filter(None, inputs):
            path = Path(os.path.abspath(given))
            if path == out or out in path.parents:
                raise InputError(f"{options.out}: the output folder holds the input {given}; "
                                 f"a run replaces its --out folder: choose another one")


def check_acting(options: RunOptions) -> None:
    """An ``InputError`` for an option that cannot act beside the others: ``max_batch`` or
    unbatched with one stream, or the two together; ``force`` without ``out``;
    ``keep_partial`` without a video file (the demo, a frames folder)."""
    one = ("this run has one stream (give --video more than once, --videos DIR or "
           "--streams N, N >= 2)")
    if options.max_batch is not None and not options.multistream:
        raise InputError(f"--max-batch {options.max_batch}: caps how many streams share a "
                         f"batch; {one}")
    if not options.batched and not options.multistream:
        raise InputError(f"--unbatched: runs several streams one frame at a time instead of "
                         f"batching them; {one}, which always runs one frame at a time")
    if not options.batched and options.max_batch is not None:
        raise InputError(f"--max-batch {options.max_batch}: caps the batches of a batched "
                         f"run, and --unbatched batches nothing; give one of them")
    if options.force and not options.out:
        raise InputError("--force: lets --out DIR replace a folder that is not a previous "
                         "run; give --out DIR (without it nothing is written)")
    check_realtime(options)
    if len(options.deadlines) > 1 and not options.multistream:
        raise InputError(f"--deadline {','.join(f'{d:g}ms' for d in options.deadlines)}: "
                         f"one deadline a stream, and {one}")
    if options.keep_partial and not (options.video or options.videos or options.videos_dir):
        raise InputError("--keep-partial: runs on the frames a truncated or corrupt video "
                         "file decodes; " + ("--frames DIR is a folder of images"
                                             if options.frames_dir else "the demo is generated")
                         + ", give --video PATH or --videos DIR")


def check_realtime(options: RunOptions) -> None:
    """An ``InputError`` for the real-time options where they cannot act: ``fps`` without
    ``realtime`` or on a live source, ``keep_partial`` on a live source; and for several
    streams in real time (not supported yet)."""
    if options.live and options.multistream:
        raise InputError("a live source (a camera, a URL, -) runs as one stream: give it "
                         "alone to --video, without --streams")
    if options.realtime and options.multistream:
        raise InputError("--realtime: runs one stream in real time; several streams (--video "
                         "more than once, --videos, --streams) in real time are not supported")
    if options.fps is not None and options.live:
        raise InputError(f"--fps {options.fps:g}: paces a video file in real time; the frames "
                         f"of a live source arrive at its own rate")
    if options.fps is not None and not options.realtime:
        raise InputError(f"--fps {options.fps:g}: the frame rate --realtime paces the frames "
                         f"at; give --realtime")
    if options.keep_partial and options.live:
        raise InputError("--keep-partial: runs on the frames a truncated or corrupt video "
                         "file decodes; a live source ends cleanly where its frames stop")


def shares_a_wave(program: Program) -> bool:
    """Whether two stages of ``program`` can compute in one wave, by the planner's rule (a
    stage's wave: the stages on its longest within-frame path, :mod:`cwdsl.ir.plan`)."""
    frame = within_frame(program.graph)
    depth: dict[str, int] = {}
    for node in nx.topological_sort(frame):
        depth[node] = max((depth[p] + isinstance(record(frame, p), StageNode)
                           for p in frame.predecessors(node)), default=0)
    waves = [depth[s.key] for s in program.stage_nodes]
    return len(set(waves)) < len(waves)


def check_sequential(options: RunOptions, program: Program) -> None:
    """An ``InputError`` for ``--sequential`` where nothing would run concurrently: no two
    stages share a wave, and no wave holds several batches of one stage (one stream,
    ``--unbatched``, or a one-stage program, whose executor has no lane threads)."""
    batches = options.multistream and options.batched and len(program.stages) > 1
    if options.concurrency == "sequential" and not batches and not shares_a_wave(program):
        raise InputError(f"--sequential: runs the stages of one wave one after the other, and "
                         f"no wave of {program.name} holds two (none is pipelined): its stages "
                         f"already run one after the other")


def choose_program(options: RunOptions, demo: bool) -> tuple[Program, bool, tuple[str, ...]]:
    """The schedule compiled for the network it runs on: ``--net``, else the one its
    ``network`` line names. On the demo, a schedule whose network has no weights at hand
    runs on the demo network when it has the same layers (with a note). Also returns whether
    the schedule runs on its own network, and the notes."""
    schedule = parse_file(options.schedule)
    stated = schedule.network.name.name
    if options.net is None and demo and options.weights is None and stated != DEMO.network \
            and bundled_weights(stated) is None:
        try:
            program = compile_schedule(schedule, DEMO.network, options.deadline_ms)
        except ScheduleError:
            pass  # not the demo network's layers: the schedule's network asks for weights
        else:
            return program, False, (
                f"{options.schedule} names network {stated}, which has no bundled weights; "
                f"the demo runs it on {DEMO.network}, which has the same layer names (give "
                f"--net NAME or --weights PATH to choose)",)
    program = compile_schedule(schedule, options.net, options.deadline_ms)
    return program, program.network.name == stated, ()


def prepare(options: RunOptions) -> Prepared:
    """Everything that can fail on bad input (the options themselves are checked by
    :func:`run` first, before the output folder is touched), before anything is written."""
    demo = options.video is None and options.frames_dir is None
    program, own_network, notes = choose_program(options, demo)
    check_sequential(options, program)
    check_motion(program, options.video, options.frames_dir, options.realtime)
    weights = resolve_weights(program.network.name, options.weights)
    device = resolve_device(options.device)
    net = build_network(program.network)
    if weights != "random":
        load_weights(net, weights)
    source = frame_source(options.video, options.frames_dir, options.max_frames,
                          options.keep_partial, program, own_network, options.size,
                          options.stall_timeout,
                          trained_at(program.network.name, options.weights))
    try:  # the deadlines' check needs the frames' size; a refusal closes the source
        times = stage_times(program, device, options.cost_model, source.size, options.dtype)
    except BaseException:
        source.close()
        raise
    return Prepared(program, net.to(device), source, weights, notes + source.notes, times)


def run(options: RunOptions, on_note: Callable[[str], None] | None = None) -> RunRecord:
    """Run a schedule; write the record and files into ``options.out``; return the record.
    ``on_note`` gets each note for the user (a resize, skipped scoring, a partial video) as
    soon as it is known."""
    note = on_note or (lambda text: None)
    check_options(options)
    with ExitStack() as stack:
        tmp = None
        if options.out:
            tmp = stack.enter_context(staged_dir(options.out, replaceable=is_run_folder,
                                                 force=options.force, what="cwdsl run"))
        ready = prepare(options)
        stack.callback(ready.source.close)
        for text in ready.notes:
            note(text)
        record = _execute(options, ready, tmp)
        for text in record.notes[len(ready.notes):]:
            note(text)
        if tmp is not None:
            write_json(tmp / "run.json", record.to_json())
    return record


def _execute(options: RunOptions, ready: Prepared, tmp: Path | None) -> RunRecord:
    program, net, source = ready.program, ready.net, ready.source
    executor = Executor(program, net, options.device, options.dtype, options.concurrency,
                        options.memory_format, options.compile, options.cuda_graphs,
                        times=ready.times)
    compare_oracle = source.labels is not None if options.oracle is None else options.oracle
    frames_out: list[dict] = []
    totals = Totals(program.network.num_classes)
    deepest = program.stages[-1]
    masks_dir = tmp / "masks" if tmp is not None and "masks" in options.save else None
    if masks_dir is not None:
        masks_dir.mkdir()

    # one loop for every source: a file as fast as asked, or in real time (paced, live),
    # where frames not taken in time are dropped with their ground truth
    delivery = deliver(source, options.realtime, options.fps)

    def frames(bar) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        deepest_count = shown = 0
        throughput = Throughput()
        for arrival in delivery:
            rgb = arrival.frame
            x = frame_tensor(rgb)
            motion = source.motion.take(arrival.index) if source.motion is not None else None
            result = executor.step(x, arrival=arrival.arrival, motion=motion)
            labels = result.labels.to("cpu", torch.uint8).numpy()
            oracle = oracle_labels(net, x, executor) if compare_oracle else None
            totals.add(labels, arrival.label, oracle)
            frames_out.append(frame_record(result, program.deadline_ms))
            if arrival.arrival is not None:  # in real time: where it was in its source
                frames_out[-1]["source_frame"] = arrival.index
            if masks_dir is not None:
                save_label_png(masks_dir / f"{result.frame:06d}.png", labels)
            deepest_count += deepest in result.computed
            throughput.add(result)
            bar.update(arrival.index + 1 - shown)  # the source's frames, dropped ones too
            shown = arrival.index + 1
            dropped = f", {delivery.dropped} dropped" if delivery.dropped else ""
            bar.set_postfix_str(f"{throughput.label()}, {deepest} on "
                                f"{100 * deepest_count / len(frames_out):.0f}%{dropped}")
            yield rgb, labels

    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    with progress_bar(options.progress, total=source.count, desc=program.name,
                      unit="frame") as bar, interrupts_end(delivery):
        # one throughput figure: the postfix's running mean, not tqdm's wall-clock rate
        bar.bar_format = ("{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"
                          if source.count else "{desc}: {n_fmt} frames [{elapsed}{postfix}]")
        bar.refresh()
        try:
            if tmp is not None and "overlay" in options.save:
                spec = program.network
                names = [spec.class_name(i) for i in range(spec.num_classes)]
                write_video(tmp / "overlay.mp4",  # each frame with its class legend beside it
                            (with_legend(overlay(rgb, lab), names) for rgb, lab in frames(bar)),
                            fps=source.fps)
            else:
                for _ in frames(bar):
                    pass
        finally:
            executor.close()
    notes = ready.notes + tuple(
        f"{source.description}: {problem}; --keep-partial: ran on the {len(frames_out)} "
        f"frames that decoded" for problem in source.problems) + tuple(
        filter(None, [end_note(source.description, delivery)]))
    return make_record(options, program, ready.weights, source, frames_out, totals, started,
                       notes, realtime=realtime_record(delivery),
                       predictions=None if ready.times is None else ready.times.to_json())


@torch.inference_mode()
def oracle_labels(net, x, executor: Executor) -> np.ndarray:
    """The full network on this frame (the frame oracle), outside the timed step."""
    inp = normalize(x.to(executor.device), net.spec.norm).to(executor.dtype)
    return net(inp)[0].argmax(0).to("cpu", torch.uint8).numpy()

