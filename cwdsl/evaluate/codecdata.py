"""``--codec``: labelled clips encoded and decoded again before any schedule runs on them.

Every clip of the data is encoded by :func:`cwdsl.media.transcode.transcode` (in memory)
and replaced by its decoded frames, each with the motion vectors its decoder exported; the
labels stay. Every schedule, the frame oracle included, then runs on the same compressed
frames, so a schedule warping by ``flow=codec`` is compared with the others fairly.
"""
from __future__ import annotations

from dataclasses import replace

from cwdsl.core.errors import InputError
from cwdsl.core.progress import progress_bar
from cwdsl.evaluate.protocol import EvalData
from cwdsl.media.transcode import CodecSettings, transcode
from cwdsl.runtime.codecflow import needs_motion

SEQUENCE_FPS = 15.0
"""The frame rate clips are encoded at (CamVid's labelled 15 Hz; it sets only the
container's time stamps: x264 at a constant rate factor does not budget bits by it)."""


def encode_data(data: EvalData, settings: CodecSettings, progress: bool = False) -> EvalData:
    """``data`` with every clip encoded by ``settings`` and decoded (see the module)."""
    clips, size, psnr, frames = [], 0, 0.0, 0
    with progress_bar(progress, total=len(data.clips), desc=f"encode {settings.codec}",
                      unit="clip") as bar:
        for clip in data.clips:
            coded = transcode(clip.frames, settings, SEQUENCE_FPS)
            clips.append(replace(clip, frames=coded.frames, motion=coded.motions))
            size += coded.bytes
            psnr += coded.psnr_db * len(clip.frames)
            frames += len(clip.frames)
            bar.update(1)
    record = settings.to_json() | {"bytes": size, "psnr_db": round(psnr / frames, 2)}
    return EvalData(f"{data.description}, encoded {settings.text} ({size / 1024:.0f} KiB, "
                    f"PSNR {psnr / frames:.1f} dB)", tuple(clips), record)


def check_motion_data(programs, data: EvalData) -> None:
    """An ``InputError`` when a program warps by ``flow=codec`` and a clip of ``data`` has
    no motion vectors (the data was not given ``--codec``)."""
    for program in programs:
        if needs_motion(program) and \
                any(c.motion is None for c in data.clips):
            raise InputError(f"{program.name} warps by flow=codec, the motion vectors of a "
                             f"coded video, and {data.description} is frames without them: "
                             f"give --codec h264 (every sequence is encoded, and every "
                             f"schedule runs on the decoded frames)")

