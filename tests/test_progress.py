"""Progress of long work (skelgnn.progress): log lines at least every EVERY seconds off a terminal,
a command-level heartbeat, and MediaPipe's native start-up lines filtered from stderr."""
from __future__ import annotations

import logging
import os
import time

import numpy as np
import pytest

from skelgnn import progress
from skelgnn.cli.quiet import filter_native_stderr


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_track_log_lines_every_period_and_a_last_line(monkeypatch, caplog):
    clock = FakeClock()
    monkeypatch.setattr(progress, "_clock", clock)
    monkeypatch.setattr(progress, "EVERY", 10.0)  # the default (the suite sets the variable)
    caplog.set_level(logging.INFO, logger=progress.LOGGER)
    for _ in progress.track(range(40), "detect", unit="frame", progress="log"):
        clock.now += 1.0  # one frame a second: a line every 10 frames
    lines = [r.getMessage() for r in caplog.records if r.name == progress.LOGGER]
    assert lines[0] == "detect: 10/40 frames (25%) in 10 s, 1.0 frames/s, about 30 s left"
    assert len(lines) == 5 and lines[-1] == "detect: done, 40/40 frames (100%) in 40 s, 1.0 frames/s"


def test_track_quick_loops_and_off_mode_stay_silent(monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger=progress.LOGGER)
    assert list(progress.track(iter(range(5)), "quick", progress="log")) == list(range(5))
    assert list(progress.track(range(5), "off", progress=False)) == list(range(5))
    assert not [r for r in caplog.records if r.name == progress.LOGGER]


def test_period_from_the_environment(monkeypatch, caplog):
    monkeypatch.delenv(progress.EVERY_ENV, raising=False)
    assert progress._every_from_env() == 10.0
    monkeypatch.setenv(progress.EVERY_ENV, "60")
    assert progress._every_from_env() == 60.0
    for bad in ("0", "-5", "soon", "nan"):
        monkeypatch.setenv(progress.EVERY_ENV, bad)
        assert progress._every_from_env() == 10.0
    assert "not a positive number of seconds" in caplog.text


def test_resolve_and_terminal_mode(monkeypatch):
    assert progress.resolve_mode(True) == "bar" and progress.resolve_mode(None) == "off"
    assert progress.resolve_mode("log") == "log"
    with pytest.raises(ValueError, match="progress must be"):
        progress.resolve_mode("loud")

    class Pipe:
        def isatty(self) -> bool:
            return False

    monkeypatch.setattr("sys.stderr", Pipe())
    assert progress.terminal_mode() == "log" and progress.terminal_mode(False) == "off"


def test_heartbeat_fills_silence_with_the_stage(monkeypatch, caplog):
    monkeypatch.setattr(progress, "EVERY", 0.2)
    caplog.set_level(logging.INFO, logger=progress.LOGGER)
    with progress.heartbeat("skelgnn infer"), progress.stage("lifting 9000 frames"):
        time.sleep(0.7)
    lines = [r.getMessage() for r in caplog.records if r.name == progress.LOGGER]
    assert lines and all(line.startswith("skelgnn infer: still working (lifting 9000 frames)")
                         for line in lines)
    caplog.clear()
    with progress.heartbeat("quick"):
        pass
    assert not caplog.records


def test_filter_native_stderr_drops_start_up_lines_only(capfd):
    noise = [
        b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n",
        b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
        b"W0000 00:00:1796611450.472216   23406 inference_feedback_manager.cc:114] Feedback "
        b"manager requires a model with a single signature inference.\n",
    ]
    with filter_native_stderr():
        for line in noise:
            os.write(2, line)
        os.write(2, b"E0000 00:00:1.0 1 calculator.cc:1] a real error\n")
        os.write(2, b"our own line\n")
    err = capfd.readouterr().err
    assert err == "E0000 00:00:1.0 1 calculator.cc:1] a real error\nour own line\n"


class TimedStream:
    """A non-terminal stderr that remembers when each line was written."""

    def __init__(self) -> None:
        self.lines: list[tuple[float, str]] = []

    def write(self, text: str) -> int:
        if text.strip():
            self.lines.append((time.monotonic(), text.strip()))
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def test_video_is_never_silent_for_a_period_off_a_terminal(tmp_path, monkeypatch):
    """`skelgnn video` with a slow detector, stderr a pipe: a line at least every EVERY seconds
    (scaled down from 10 s to 1 s)."""
    iio2 = pytest.importorskip("imageio.v2")
    pytest.importorskip("imageio_ffmpeg")
    from skelgnn.cli import main
    from conftest import tiny_checkpoint

    frames, every = 24, 1.0
    clip = tmp_path / "clip.mp4"
    writer = iio2.get_writer(str(clip), format="FFMPEG", fps=10, codec="libx264",
                             macro_block_size=2, ffmpeg_log_level="error")
    for i in range(frames):
        frame = np.zeros((64, 48, 3), np.uint8)
        frame[20:30, i: i + 10] = 200
        writer.append_data(frame)
    writer.close()

    class SlowDetector:
        def __init__(self) -> None:
            rng = np.random.default_rng(0)
            self.base = np.concatenate([rng.uniform(5, 40, (33, 2)), np.full((33, 1), 0.9)], -1)

        def __call__(self, frame: np.ndarray) -> np.ndarray:
            time.sleep(0.15)
            return self.base.copy()

        def close(self) -> None:
            pass

    monkeypatch.setattr("skelgnn.video.pipeline.MediaPipePoseDetector", SlowDetector)
    monkeypatch.setattr(progress, "EVERY", every)
    stream = TimedStream()
    monkeypatch.setattr("sys.stderr", stream)
    checkpoint = tiny_checkpoint(tmp_path / "tiny.pt")
    start = time.monotonic()
    assert main(["video", str(clip), "--out", str(tmp_path / "out"), "--checkpoint",
                 str(checkpoint)]) == 0
    end = time.monotonic()
    times = [start] + [t for t, _ in stream.lines] + [end]
    texts = [text for _, text in stream.lines]
    assert end - start > 3 * every  # long enough to need lines
    assert any(text.startswith("decode+detect: ") for text in texts), texts
    assert max(np.diff(times)) <= every + 0.6, (np.diff(times), texts)
