"""One stream's outputs while a multi-stream run runs it, committed the moment it ends.

A :class:`StreamOutput` opens the stream's ``--out DIR/<name>/`` as a staged folder
(:func:`cwdsl.core.staging.staged_dir`: locked, written completely or not at all), collects
its frame records, score totals, masks and overlay as frames arrive, and on :meth:`finish`
writes ``run.json`` and swaps the folder in at once, while the other streams still run. An
interrupt (Ctrl-C, SIGTERM) or an error discards only the streams still running; a killed
process leaves their staging folders, which the next writer of the folder removes.
"""
from __future__ import annotations

import queue
import threading
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from cwdsl.core.atomic import write_json
from cwdsl.core.staging import staged_dir
from cwdsl.media.encode import write_video
from cwdsl.media.legend import with_legend
from cwdsl.media.palette import overlay
from cwdsl.run.records import RunRecord, Totals, frame_record, make_record
from cwdsl.run.run import RunOptions, is_run_folder, oracle_labels
from cwdsl.run.sources import FrameSource
from cwdsl.media.video import save_label_png


class OverlayWriter:
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


class StreamOutput:
    """One running stream: its frames, records, score totals, masks and overlay; its
    staged folder (``folder`` None: nothing is written) held open until :meth:`finish`
    commits it or :meth:`discard` drops it."""

    def __init__(self, name: str, source: FrameSource, options: RunOptions, program,
                 folder: Path | None):
        self.name, self.source, self.folder = name, source, folder
        self.frames = source.frames
        self.taken = 0  # frames taken from ``frames`` (their motion vectors by this index)
        self.labels = source.labels
        self.totals = Totals(program.network.num_classes)
        self.deadline_ms = program.deadline_ms  # this stream's frame deadline, if any
        self.records: list[dict] = []
        self.oracle = source.labels is not None if options.oracle is None else options.oracle
        self._stack = ExitStack()
        self.committed = False
        self.tmp = None if folder is None else self._stack.enter_context(
            staged_dir(folder, replaceable=is_run_folder, force=options.force,
                       what="cwdsl run"))
        self.masks = self.tmp / "masks" if self.tmp is not None and "masks" in options.save \
            else None
        if self.masks is not None:
            self.masks.mkdir()
        self.names = [program.network.class_name(i) for i in range(program.network.num_classes)]
        self.video = OverlayWriter(self.tmp / "overlay.mp4", source.fps) \
            if self.tmp is not None and "overlay" in options.save else None

    def add(self, rgb, x, result, net, executor) -> None:
        labels = result.labels.to("cpu", torch.uint8).numpy()
        truth = next(self.labels) if self.labels is not None else None
        self.totals.add(labels, truth, oracle_labels(net, x, executor) if self.oracle else None)
        self.records.append(frame_record(result, self.deadline_ms))
        if self.masks is not None:
            save_label_png(self.masks / f"{result.frame:06d}.png", labels)
        if self.video is not None:
            self.video.put(with_legend(overlay(rgb, labels), self.names))

    def finish(self, options: RunOptions, program, weights: str, device: str,
               started: str) -> RunRecord:
        """The stream's record; its folder written whole (``run.json`` last) and in place."""
        try:
            if self.video is not None:
                video, self.video = self.video, None
                video.close()
            source = self.source
            notes = source.notes + tuple(
                f"{source.description}: {problem}; --keep-partial: ran on the "
                f"{len(self.records)} frames that decoded" for problem in source.problems)
            record = make_record(replace(options, device=device), program, weights, source,
                                 self.records, self.totals, started, notes)
            if self.tmp is not None:
                write_json(self.tmp / "run.json", record.to_json())
        except BaseException as e:
            self.discard(e)
            raise
        self._stack.close()  # the swap: DIR/<name>/ now holds this stream's run
        self.committed = True
        return record

    def discard(self, error: BaseException | None = None) -> None:
        """Drop what the stream wrote (its staging folder goes, its target is untouched);
        nothing once it is committed."""
        if self.committed:
            return
        self.committed = True  # once only
        if self.video is not None:
            video, self.video = self.video, None
            try:
                video.close()
            except Exception:
                pass
        error = error or RuntimeError("stream discarded")
        self._stack.__exit__(type(error), error, error.__traceback__)
