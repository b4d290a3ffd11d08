"""``cwdsl run`` in real time: live sources (an MPEG-TS stream served on the loopback over
tcp:// and http://, standard input, a missing camera) and files paced as a camera would
deliver them (:mod:`cwdsl.run.pacing`, with a fake clock)."""
from __future__ import annotations

import functools
import http.server
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from cwdsl.commands.main import main
from cwdsl.demo.scenes import generate_clip
from cwdsl.media.live import is_live, open_live
from cwdsl.run.pacing import Paced, Unpaced, deliver, realtime_record
from cwdsl.run.sources import FrameSource

ROOT = Path(__file__).resolve().parents[1]
ADAPTIVE = str(ROOT / "schedules" / "adaptive.cw")
FRAMES = 30
RUN = ["run", ADAPTIVE, "--net", "tiny", "--quiet"]


@pytest.fixture(scope="module")
def ts_clip(tmp_path_factory) -> Path:
    """30 generated frames of 64x80 as MPEG-2 in MPEG-TS at 30 fps."""
    path = tmp_path_factory.mktemp("live") / "clip.ts"
    container = av.open(str(path), "w", format="mpegts")
    stream = container.add_stream("mpeg2video", rate=Fraction(30))
    stream.width, stream.height, stream.pix_fmt = 80, 64, "yuv420p"
    for rgb in generate_clip(7, FRAMES, (64, 80)).frames:
        for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


class TcpServer:
    """Serves ``data`` to one client on 127.0.0.1 in ``chunks`` pieces ``pause`` seconds
    apart; ``then``: "close" (the stream ends), "reset" (a disconnect, RST), or "stall"
    (the socket stays open, silent, until :meth:`stop`); ``share`` of the data is sent."""

    def __init__(self, data: bytes, then: str = "close", share: float = 1.0,
                 chunks: int = 10, pause: float = 0.03):
        self.data, self.then, self.chunks, self.pause = data, then, chunks, pause
        self.share = share
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        self.accepted.set()
        end = int(len(self.data) * self.share) // 188 * 188
        step = -(-end // self.chunks)
        try:
            for start in range(0, end, step):
                conn.sendall(self.data[start:min(start + step, end)])
                time.sleep(self.pause)
            if self.then == "stall":
                self.done.wait(30)
            elif self.then == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass  # the client left
        finally:
            conn.close()

    def stop(self) -> None:
        self.done.set()
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def serve(ts_clip):
    servers = []

    def start(**kwargs) -> TcpServer:
        servers.append(TcpServer(ts_clip.read_bytes(), **kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def record(out: Path) -> dict:
    return json.loads((out / "run.json").read_text())


def check_frames(rec: dict) -> None:
    frames = rec["frames"]
    rt = rec["realtime"]
    assert rt["live"] and rt["frames_delivered"] == len(frames) >= 1
    indices = [f["source_frame"] for f in frames]
    assert indices == sorted(set(indices)) and indices[-1] < rt["frames_delivered"] + \
        rt["frames_dropped"]
    assert [f["frame"] for f in frames] == list(range(len(frames)))


# --------------------------------------------------------------------------- live sources

def test_is_live():
    assert all(map(is_live, ["-", "/dev/video0", "rtsp://cam/1", "TCP://h:1", "udp://@:5000",
                             "http://h/a.ts", "https://h/a.ts"]))
    assert not any(map(is_live, ["clip.mp4", "ftp://h/a.ts", "/dev/null", "frames/"]))


def test_tcp_stream_runs_to_its_end(serve, tmp_path, capsys):
    server = serve(then="close")
    out = tmp_path / "out"
    assert main(RUN + ["--video", server.url, "--out", str(out), "--save", "masks"]) == 0
    rec = record(out)
    check_frames(rec)
    rt = rec["realtime"]
    assert rt["ended"] == "stream ended" and rt["frames_delivered"] + rt["frames_dropped"] \
        == FRAMES
    assert rec["size"] == [64, 80] and rec["source"] == server.url
    assert len(list((out / "masks").glob("*.png"))) == len(rec["frames"])
    assert any("stream ended: ran" in n for n in rec["notes"])
    assert "stream ended" in capsys.readouterr().err


def test_http_stream_runs(ts_clip, tmp_path, capsys):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(ts_clip.parent)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/{ts_clip.name}"
        out = tmp_path / "out"
        assert main(RUN + ["--video", url, "--out", str(out), "--size", "32x40"]) == 0
    finally:
        httpd.shutdown()
        httpd.server_close()
    rec = record(out)
    check_frames(rec)
    assert rec["realtime"]["ended"] == "stream ended" and rec["size"] == [32, 40]


def test_a_stall_ends_the_run_cleanly(serve, tmp_path, capsys):
    server = serve(then="stall", share=0.6)
    out = tmp_path / "out"
    began = time.perf_counter()
    assert main(RUN + ["--video", server.url, "--out", str(out), "--stall-timeout", "1"]) == 0
    assert time.perf_counter() - began < 8
    rec = record(out)
    check_frames(rec)
    assert rec["realtime"]["ended"] == "stalled: no frame within 1 s"
    assert rec["realtime"]["frames_delivered"] + rec["realtime"]["frames_dropped"] < FRAMES
    assert "stalled: no frame within 1 s" in capsys.readouterr().err


def test_a_disconnect_ends_the_run_cleanly(serve, tmp_path, capsys):
    server = serve(then="reset", share=0.5)
    out = tmp_path / "out"
    assert main(RUN + ["--video", server.url, "--out", str(out), "--stall-timeout", "2"]) == 0
    rec = record(out)
    check_frames(rec)
    ended = rec["realtime"]["ended"]
    # a reset reads as a disconnect, or as the end where FFmpeg read all before it came
    assert ended.startswith("disconnected: ") or ended == "stream ended"


def test_unreachable_url_is_an_input_error(tmp_path, capsys):
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    url = f"tcp://127.0.0.1:{port}"
    out = tmp_path / "out"
    assert main(RUN + ["--video", url, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert url in err and "refused" in err.lower() and "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_missing_camera(tmp_path, capsys):
    assert main(RUN + ["--video", "/dev/video9", "--out", str(tmp_path / "out")]) == 2
    assert "/dev/video9: no such camera" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_mpegts_on_standard_input(ts_clip, tmp_path):
    out = tmp_path / "out"
    with open(ts_clip, "rb") as stdin:
        done = subprocess.run([sys.executable, "-m", "cwdsl", *RUN, "--video", "-", "--out",
                               str(out)], stdin=stdin, capture_output=True, text=True,
                              timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    rec = record(out)
    check_frames(rec)
    rt = rec["realtime"]
    assert rec["source"] == "standard input" and rt["ended"] == "stream ended"
    assert rt["frames_delivered"] + rt["frames_dropped"] == FRAMES


def test_ctrl_c_ends_a_live_run_and_keeps_it(serve, tmp_path):
    server = serve(then="stall", chunks=60, pause=0.05)  # 3 s of stream
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "cwdsl", *RUN[:-1], "--video", server.url,
                             "--out", str(out)], stderr=subprocess.PIPE, text=True, cwd=ROOT)
    running, err = threading.Event(), []

    def watch():  # the progress bar's count of the source's frames passes 0
        for char in iter(lambda: proc.stderr.read(1), ""):
            err.append(char)
            if re.search(r"[1-9]\d* frames", "".join(err[-40:])):
                running.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        assert running.wait(60), "".join(err)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        watcher.join(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, "".join(err)
    rec = record(out)
    check_frames(rec)
    assert rec["realtime"]["ended"] == "interrupted (Ctrl-C)"
    assert "interrupted (Ctrl-C): ran" in "".join(err)


def test_open_live_reads_newest_frames(serve):
    server = serve(then="close", chunks=1, pause=0)
    stream = open_live(server.url, stall_timeout=2)
    try:
        assert stream.wait_first(5) == (64, 80)
        time.sleep(0.5)  # every frame arrives before one is taken: only the newest stays
        taken = list(stream)
    finally:
        stream.close()
    assert [a.index for a in taken][-1] == FRAMES - 1 and stream.ended == "stream ended"
    assert stream.delivered == len(taken) and stream.dropped == FRAMES - len(taken)
    assert all(a.arrival is not None and a.frame.shape == (64, 80, 3) for a in taken)


# --------------------------------------------------------------------------- options

@pytest.mark.parametrize("args, words", [
    (["--fps", "10"], "--fps 10: the frame rate --realtime paces"),
    (["--video", "tcp://127.0.0.1:9", "--fps", "10"], "arrive at its own rate"),
    (["--stall-timeout", "2"], "--stall-timeout 2: ends a live source"),
    (["--realtime", "--streams", "2"], "--realtime: runs one stream in real time"),
    (["--video", "-", "--keep-partial"], "--keep-partial"),
])
def test_realtime_options_that_cannot_act(args, words, tmp_path, capsys):
    assert main(RUN + args) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


# --------------------------------------------------------------------------- pacing

class FakeClock:
    """A clock that moves only when slept on or advanced by the test (the consumer's work)."""

    def __init__(self):
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 9))
        self.now += seconds


def numbered(n: int):
    """Frames and labels whose pixels say their index."""
    frames = (np.full((2, 2, 3), i, np.uint8) for i in range(n))
    labels = (np.full((2, 2), i, np.uint8) for i in range(n))
    return frames, labels


def test_a_fast_consumer_sleeps_until_each_arrival():
    clock = FakeClock()
    paced = Paced(*numbered(5), fps=10, clock=clock, sleep=clock.sleep)
    got = []
    for a in paced:
        got.append((a.index, round(a.arrival - 100.0, 9), clock.now))
        clock.now += 0.01  # 10 ms of work
    assert [g[0] for g in got] == [0, 1, 2, 3, 4] and paced.dropped == 0
    assert [g[1] for g in got] == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert clock.slept == [0.09] * 4  # each wait ends at the frame's arrival
    assert [round(g[2] - 100, 9) for g in got] == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert paced.ended == "stream ended" and paced.delivered == 5


def test_a_slow_consumer_takes_the_newest_and_drops_with_labels():
    clock = FakeClock()
    paced = Paced(*numbered(12), fps=10, clock=clock, sleep=clock.sleep)
    taken = []
    for a in paced:
        assert a.frame[0, 0, 0] == a.index and a.label[0, 0] == a.index  # kept aligned
        taken.append(a.index)
        clock.now += 0.25  # slower than the frames arrive
    assert taken == [0, 2, 5, 7, 10, 11]  # the last frame, though late, is the newest one
    assert paced.dropped == 6 and paced.delivered == 6 and clock.slept == []
    assert realtime_record(paced) == {"live": False, "source_fps": 10, "frames_delivered": 6,
                                      "frames_dropped": 6, "ended": "stream ended"}


def test_fps_overrides_the_source_rate():
    def source():
        frames, labels = numbered(4)
        return FrameSource("four", frames, labels, 30.0, 4, (2, 2))

    assert deliver(source(), True).fps == 30.0
    clock = FakeClock()
    paced = deliver(source(), True, fps=2.0, clock=clock, sleep=clock.sleep)
    assert isinstance(paced, Paced) and paced.fps == 2.0
    assert [a.arrival - 100.0 for a in paced] == [0.0, 0.5, 1.0, 1.5]
    unpaced = deliver(source(), False)
    assert isinstance(unpaced, Unpaced) and realtime_record(unpaced) is None
    assert [(a.index, a.arrival) for a in unpaced] == [(i, None) for i in range(4)]


def test_paced_demo_run_keeps_ground_truth(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(RUN + ["--realtime", "--fps", "200", "--max-frames", "20", "--out",
                       str(out)]) == 0
    rec = record(out)
    rt = rec["realtime"]
    assert not rt["live"] and rt["source_fps"] == 200 and rt["ended"] == "stream ended"
    assert rt["frames_delivered"] + rt["frames_dropped"] == 20
    assert rt["frames_delivered"] == len(rec["frames"]) and "mean_iu" in rec["summary"]
    assert [f["source_frame"] for f in rec["frames"]][0] == 0


def test_not_realtime_records_nothing_new(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(RUN + ["--max-frames", "3", "--out", str(out)]) == 0
    rec = record(out)
    assert "realtime" not in rec and all("source_frame" not in f for f in rec["frames"])
    assert os.listdir(out) == ["run.json"]


def test_max_frames_cuts_a_live_source(serve, tmp_path, capsys):
    server = serve(then="stall")
    out = tmp_path / "out"
    assert main(RUN + ["--video", server.url, "--out", str(out), "--max-frames", "5"]) == 0
    rt = record(out)["realtime"]
    assert rt["ended"] == "--max-frames 5 reached"
    assert rt["frames_delivered"] + rt["frames_dropped"] == 5
