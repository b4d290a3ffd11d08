"""Video, frames-folder and label-map I/O on real files (cwdsl.media.video) and the palette."""
from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from cwdsl.media import encode as V
from cwdsl.demo import NUM_CLASSES, generate_clip
from cwdsl.core.errors import InputError
from cwdsl.media.palette import IGNORE_LABEL, colorize, overlay, palette
from cwdsl.media.encode import available_encoders, write_video
from cwdsl.media.video import (
    load_label_png, open_frames, read_frames_dir, read_video, save_label_png, video_info,
    write_frames_dir,
)


@pytest.fixture(scope="module")
def clip():
    return generate_clip(2, 12, (64, 80))


def smooth_frames(n=8, h=48, w=64):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([np.stack([(2 * x + 3 * t) % 200 + 20, 3 * y + 10, np.full_like(x, 120 + t)],
                              -1).astype(np.uint8) for t in range(n)])


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --------------------------------------------------------------------------- video round trip

def test_encoders_available():
    encoders = available_encoders()
    assert encoders and set(encoders) <= {"libx264", "mpeg4"}
    assert "libx264" in av.codecs_available or encoders[0] == "mpeg4"


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".avi"])
def test_write_then_read_round_trip(tmp_path, clip, suffix):
    path = tmp_path / f"clip{suffix}"
    assert write_video(path, clip.frames, fps=12) == len(clip)
    frames = list(read_video(path))
    assert len(frames) == len(clip)
    assert all(f.shape == (64, 80, 3) and f.dtype == np.uint8 for f in frames)
    error = np.abs(np.stack(frames).astype(int) - clip.frames.astype(int)).mean()
    assert error < 16        # busy saturated textures lose chroma detail in yuv420p
    assert leftovers(tmp_path) == [path.name]


def test_smooth_frames_come_back_close(tmp_path):
    frames = smooth_frames()
    write_video(tmp_path / "s.mp4", frames)
    back = np.stack(list(read_video(tmp_path / "s.mp4")))
    assert back.shape == frames.shape
    assert np.abs(back.astype(int) - frames.astype(int)).mean() < 3


def test_video_info(tmp_path, clip):
    path = tmp_path / "clip.mp4"
    write_video(path, clip.frames, fps=12)
    info = video_info(path)
    assert (info.width, info.height, info.frames) == (80, 64, 12)
    assert info.size == (64, 80)
    assert info.fps == pytest.approx(12)
    assert info.codec in ("h264", "mpeg4")


def test_odd_sizes_are_padded_to_even(tmp_path):
    frames = smooth_frames(4, 47, 63)
    write_video(tmp_path / "odd.mp4", frames)
    back = np.stack(list(read_video(tmp_path / "odd.mp4")))
    assert back.shape == (4, 48, 64, 3)
    assert np.abs(back[:, :47, :63].astype(int) - frames.astype(int)).mean() < 3


def test_mpeg4_fallback_when_libx264_is_missing(tmp_path, monkeypatch, clip):
    monkeypatch.setattr(V, "available_encoders", lambda: ("mpeg4",))
    path = tmp_path / "fallback.mp4"
    write_video(path, clip.frames)
    assert video_info(path).codec == "mpeg4"
    assert len(list(read_video(path))) == len(clip)


def test_max_frames_and_early_stop(tmp_path, clip):
    path = tmp_path / "clip.mp4"
    write_video(path, clip.frames)
    assert len(list(read_video(path, max_frames=5))) == 5
    assert len(list(read_video(path, max_frames=100))) == len(clip)
    it = read_video(path)
    next(it)
    it.close()                                  # closes the container, no error


# --------------------------------------------------------------------------- frames folders

def test_frames_dir_round_trip_is_exact(tmp_path, clip):
    folder = tmp_path / "frames"
    assert write_frames_dir(folder, clip.frames) == len(clip)
    back = np.stack(list(read_frames_dir(folder)))
    assert np.array_equal(back, clip.frames)
    assert len(list(read_frames_dir(folder, max_frames=3))) == 3
    info = video_info(folder)
    assert (info.frames, info.width, info.height, info.fps) == (len(clip), 80, 64, None)


def test_frames_dir_natural_order_and_conversion(tmp_path):
    for i, name in enumerate(["f10.png", "f2.png", "f1.jpg"]):
        Image.fromarray(np.full((6, 8), 40 * (i + 1), dtype=np.uint8)).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    frames = list(read_frames_dir(tmp_path))
    assert [f.shape for f in frames] == [(6, 8, 3)] * 3         # grey images become RGB
    values = [int(f[0, 0, 0]) for f in frames]                   # f1.jpg, f2.png, f10.png
    assert abs(values[0] - 120) <= 2 and values[1:] == [80, 40]


def test_open_frames_chooses_the_source(tmp_path, clip):
    write_video(tmp_path / "clip.mp4", clip.frames)
    write_frames_dir(tmp_path / "frames", clip.frames[:3])
    assert len(list(open_frames(video=tmp_path / "clip.mp4"))) == len(clip)
    assert len(list(open_frames(frames_dir=tmp_path / "frames"))) == 3
    assert len(list(open_frames(video=tmp_path / "frames"))) == 3       # a folder is a folder
    with pytest.raises(InputError, match="exactly one"):
        open_frames()
    with pytest.raises(InputError, match="exactly one"):
        open_frames(video=tmp_path / "clip.mp4", frames_dir=tmp_path / "frames")


# --------------------------------------------------------------------------- label maps

def test_label_png_round_trip_is_exact(tmp_path, clip):
    labels = clip.labels[0].copy()
    labels[:3, :3] = IGNORE_LABEL
    path = tmp_path / "labels.png"
    save_label_png(path, labels, palette(NUM_CLASSES))
    with Image.open(path) as img:
        assert img.mode == "P"
        colours = np.array(img.getpalette()[:3 * 256]).reshape(-1, 3)
    assert np.array_equal(colours[:NUM_CLASSES], palette(NUM_CLASSES))
    assert tuple(colours[IGNORE_LABEL]) == (0, 0, 0)
    assert np.array_equal(load_label_png(path), labels)
    assert leftovers(tmp_path) == ["labels.png"]


def test_load_grayscale_label_png(tmp_path):
    labels = np.arange(30, dtype=np.uint8).reshape(5, 6) % 12
    Image.fromarray(labels).save(tmp_path / "l.png")            # mode "L", like CamVid
    assert np.array_equal(load_label_png(tmp_path / "l.png"), labels)


def test_label_png_rejects_bad_input(tmp_path):
    Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(InputError, match="rgb.png.*not a label map"):
        load_label_png(tmp_path / "rgb.png")
    with pytest.raises(InputError, match="missing.png.*no such"):
        load_label_png(tmp_path / "missing.png")
    (tmp_path / "junk.png").write_bytes(os.urandom(300))
    with pytest.raises(InputError, match="junk.png.*not a readable image"):
        load_label_png(tmp_path / "junk.png")
    with pytest.raises(InputError, match="out.png"):
        save_label_png(tmp_path / "out.png", np.full((3, 3), 300))
    with pytest.raises(InputError, match="out.png"):
        save_label_png(tmp_path / "out.png", np.zeros((3, 3, 3), dtype=np.uint8))
    assert not (tmp_path / "out.png").exists()


# --------------------------------------------------------------------------- bad video input

def make_zero_frame_video(path: Path) -> None:
    """An mkv whose video stream has no frames (an audio stream keeps it a valid file)."""
    try:
        av.Codec("aac", "w")
    except Exception:  # noqa: BLE001
        pytest.skip("no aac encoder to build a zero-frame video")
    with av.open(str(path), "w") as out:
        v = out.add_stream("mpeg4", rate=15)
        v.width, v.height, v.pix_fmt = 64, 64, "yuv420p"
        a = out.add_stream("aac", rate=8000)
        for _ in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                               layout="mono")
            frame.sample_rate = 8000
            for packet in a.encode(frame):
                out.mux(packet)
        for packet in a.encode():
            out.mux(packet)
        for packet in v.encode():
            out.mux(packet)


def make_audio_only(path: Path) -> None:
    try:
        av.Codec("aac", "w")
    except Exception:  # noqa: BLE001
        pytest.skip("no aac encoder")
    with av.open(str(path), "w") as out:
        a = out.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                           layout="mono")
        frame.sample_rate = 8000
        for packet in chain_packets(a, frame):
            out.mux(packet)


def chain_packets(stream, frame):
    yield from stream.encode(frame)
    yield from stream.encode()


def bad_video(kind: str, tmp_path: Path, clip) -> Path:
    if kind == "missing":
        return tmp_path / "missing.mp4"
    if kind == "folder":
        (tmp_path / "somedir").mkdir()
        return tmp_path / "somedir"
    if kind == "empty":
        path = tmp_path / "empty.mp4"
        path.write_bytes(b"")
        return path
    if kind == "random":
        path = tmp_path / "random.mp4"
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, np.uint8).tobytes())
        return path
    if kind == "text":
        path = tmp_path / "notes.txt"
        path.write_text("hello\n" * 100)
        return path
    if kind in ("truncated-mp4", "truncated-avi"):
        suffix = "." + kind.split("-")[1]
        full = tmp_path / f"full{suffix}"
        write_video(full, clip.frames)
        path = tmp_path / f"truncated{suffix}"
        data = full.read_bytes()
        path.write_bytes(data[:len(data) // 2])
        return path
    if kind == "zero-frames":
        path = tmp_path / "zero.mkv"
        make_zero_frame_video(path)
        return path
    if kind == "audio-only":
        path = tmp_path / "audio.mp4"
        make_audio_only(path)
        return path
    raise AssertionError(kind)


@pytest.mark.parametrize("kind, reason", [
    ("missing", "no such video file"),
    ("folder", "is a folder"),
    ("empty", "not a readable video"),
    ("random", "not a readable video"),
    ("text", "not a video"),
    ("truncated-mp4", "not a readable video"),
    ("truncated-avi", "truncated"),
    ("zero-frames", "no frames"),
    ("audio-only", "no video stream"),
])
def test_bad_videos_raise_input_error_naming_the_path(tmp_path, clip, kind, reason):
    path = bad_video(kind, tmp_path, clip)
    with pytest.raises(InputError) as info:
        list(read_video(path))
    message = str(info.value)
    assert str(path) in message and reason in message, message


@pytest.mark.parametrize("kind", ["missing", "random", "audio-only"])
def test_video_info_of_bad_videos(tmp_path, clip, kind):
    path = bad_video(kind, tmp_path, clip)
    with pytest.raises(InputError, match=str(path.name)):
        video_info(path)


# --------------------------------------------------------------------------- bad frames folders

def test_bad_frames_folders(tmp_path):
    with pytest.raises(InputError, match="nowhere.*no such frames folder"):
        read_frames_dir(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images here")
    with pytest.raises(InputError, match="empty.*no images"):
        read_frames_dir(empty)
    file = tmp_path / "file.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(file)
    with pytest.raises(InputError, match="file.png.*not a folder"):
        read_frames_dir(file)

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(mixed / "a.png")
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(mixed / "b.png")
    with pytest.raises(InputError, match=r"b.png: image is 6x4, but a.png is 4x4"):
        read_frames_dir(mixed)

    junk = tmp_path / "junk"
    junk.mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(junk / "a.png")
    (junk / "b.png").write_bytes(b"definitely not a png")
    with pytest.raises(InputError, match="b.png: not a readable image"):
        read_frames_dir(junk)


def test_truncated_image_in_frames_folder(tmp_path, clip):
    Image.fromarray(clip.frames[0]).save(tmp_path / "a.png")
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "b.png").write_bytes(data[:len(data) // 2])      # header fine, pixels cut
    frames = read_frames_dir(tmp_path)
    assert np.array_equal(next(frames), clip.frames[0])
    with pytest.raises(InputError, match="b.png: not a readable image"):
        next(frames)


# --------------------------------------------------------------------------- failed writes

def test_failed_write_leaves_nothing_behind(tmp_path, clip):
    def broken():
        yield clip.frames[0]
        yield clip.frames[1]
        raise RuntimeError("camera unplugged")

    with pytest.raises(RuntimeError, match="unplugged"):
        write_video(tmp_path / "out.mp4", broken())
    assert leftovers(tmp_path) == []


def test_interrupted_write_leaves_nothing_behind(tmp_path, clip):
    def interrupted():
        yield clip.frames[0]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_video(tmp_path / "out.mp4", interrupted())
    assert leftovers(tmp_path) == []


def test_failed_write_keeps_the_old_file(tmp_path, clip):
    path = tmp_path / "out.mp4"
    write_video(path, clip.frames[:3])
    before = path.read_bytes()
    frames = [clip.frames[0], clip.frames[1][:32]]
    with pytest.raises(InputError, match="out.mp4: frame 1 is 80x32, the first frame is 80x64"):
        write_video(path, frames)
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == ["out.mp4"]


@pytest.mark.parametrize("frames, kwargs, reason", [
    ([], {}, "no frames to write"),
    ([np.zeros((8, 8, 3), np.float32)], {}, "uint8 RGB"),
    ([np.zeros((8, 8), np.uint8)], {}, "uint8 RGB"),
    ([np.zeros((8, 8, 3), np.uint8)], {"fps": 0}, "fps"),
    ([np.zeros((8, 8, 3), np.uint8)], {"codec": "nosuchcodec"}, "no 'nosuchcodec' encoder"),
])
def test_bad_writes_raise_input_error(tmp_path, frames, kwargs, reason):
    path = tmp_path / "out.mp4"
    with pytest.raises(InputError, match=reason) as info:
        write_video(path, frames, **kwargs)
    assert str(path) in str(info.value)
    assert leftovers(tmp_path) == []


def test_unsupported_container(tmp_path):
    with pytest.raises(InputError, match="out.gif.*unsupported"):
        write_video(tmp_path / "out.gif", [np.zeros((8, 8, 3), np.uint8)])


# --------------------------------------------------------------------------- palette

def test_palette_is_distinct_and_prefix_stable():
    colours = palette(40)
    assert colours.shape == (40, 3) and colours.dtype == np.uint8
    assert len({tuple(c) for c in colours}) == 40
    assert colours[0].max() < 64                                  # background is dark
    assert np.array_equal(palette(6), colours[:6])
    with pytest.raises(InputError):
        palette(0)
    with pytest.raises(InputError):
        palette(256)


def test_colorize_and_overlay():
    labels = np.array([[0, 1], [2, IGNORE_LABEL]], dtype=np.uint8)
    rgb = colorize(labels, palette(3))
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert np.array_equal(rgb[0, 1], palette(3)[1])
    assert tuple(rgb[1, 1]) == (0, 0, 0)
    frame = np.full((2, 2, 3), 200, np.uint8)
    assert np.array_equal(overlay(frame, labels, 0.0), frame)
    assert np.array_equal(overlay(frame, labels, 1.0), colorize(labels))
    half = overlay(frame, labels, 0.5).astype(int)
    assert np.abs(half - (200 + colorize(labels).astype(int)) / 2).max() <= 1
    with pytest.raises(InputError, match="label 7 has no colour"):
        colorize(np.array([7]), palette(3))
    with pytest.raises(InputError, match="do not match"):
        overlay(frame, labels[:1])
