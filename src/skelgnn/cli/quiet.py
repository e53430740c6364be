"""Quiet third-party libraries during a command-line run (never in the library API).

A user of ``skelgnn`` cannot act on a torch / ONNX / ONNX Runtime / MediaPipe ``UserWarning``
(advice about their internals, deprecations of calls we make). :func:`quiet_libraries` hides
them for the duration of one command:

* warnings of category ``UserWarning``, ``DeprecationWarning`` and ``FutureWarning`` (and their
  subclasses) raised from a module of :data:`LIBRARIES` are ignored; skelgnn's own warnings and
  every other library's still show;
* ``TF_CPP_MIN_LOG_LEVEL=2`` and ``GLOG_minloglevel=2`` (only errors from the C++ loggers), unless
  the user set them, and absl's Python logger at ``ERROR`` when absl is already imported.

* log records of the ``imageio_ffmpeg`` logger are shown once per distinct message: it repeats
  the same warning every time a clip is opened (a rotated phone video gave five identical "The
  frame size for reading ... is different from the source frame size" lines per ``skelgnn video``).

* :func:`filter_native_stderr` (``skelgnn video``) drops the lines MediaPipe's C++ graph threads
  print when its models first run (``INFO: Created TensorFlow Lite XNNPACK delegate``, ``All log
  messages before absl::InitializeLog()``, glog ``I``/``W`` lines such as ``Feedback manager
  requires ...``): they ignore both variables and are written asynchronously, after
  ``process()`` has returned, so file descriptor 2 is pointed at a pipe for the whole command and
  a thread forwards every other line (errors included) to the real stderr; Python's own stderr
  writes (progress bars, log lines) go straight to the real stderr.

Everything is restored on exit, so a program calling :func:`skelgnn.cli.main` twice, or using the
library after it, sees the warnings again. ``skelgnn -v`` does not quieten anything.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
import warnings
from typing import Iterator, Sequence

__all__ = ["LIBRARIES", "NATIVE_NOISE", "quiet_libraries", "filter_native_stderr"]

LIBRARIES = ("torch", "onnx", "onnxruntime", "onnxscript", "mediapipe", "absl", "google.protobuf",
             "tensorflow", "tflite_runtime", "jax")
"""Top-level modules whose warnings a CLI user cannot act on."""

_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "GLOG_minloglevel": "2"}

REPEATING_LOGGERS = ("imageio_ffmpeg",)
"""Loggers whose identical records are shown once per command."""


class _OncePerMessage(logging.Filter):
    """Let the first record of each distinct message through, drop its repeats."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Hide the warnings (and the C++ loggers that honour the variables) of :data:`LIBRARIES`
    inside the block."""
    pattern = r"(%s)(\..*)?$" % "|".join(re.escape(name) for name in LIBRARIES)
    saved_env = {key: os.environ.get(key) for key in _ENV}
    absl_level = None
    with warnings.catch_warnings():
        for category in (UserWarning, DeprecationWarning, FutureWarning):
            warnings.filterwarnings("ignore", category=category, module=pattern)
        once = _OncePerMessage()
        for name in REPEATING_LOGGERS:
            logging.getLogger(name).addFilter(once)
        try:
            for key, value in _ENV.items():
                os.environ.setdefault(key, value)
            if "absl.logging" in sys.modules:
                absl_logging = sys.modules["absl.logging"]
                absl_level = absl_logging.get_verbosity()
                absl_logging.set_verbosity(absl_logging.ERROR)
            yield
        finally:
            for key, saved in saved_env.items():
                if saved is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = saved
            if absl_level is not None:
                sys.modules["absl.logging"].set_verbosity(absl_level)
            for name in REPEATING_LOGGERS:
                logging.getLogger(name).removeFilter(once)


NATIVE_NOISE = (
    r"INFO: Created TensorFlow Lite XNNPACK delegate",
    r"WARNING: All log messages before absl::InitializeLog\(\) is called",
    r"[IW]\d{4} \d\d:\d\d:\d\d[.\d]* +\d+ \S+\.cc:\d+\]",  # glog info / warning lines
)
"""Start of the native (C++) stderr lines :func:`filter_native_stderr` drops: MediaPipe's and
TensorFlow Lite's start-up chatter. glog ``E`` (error) and ``F`` (fatal) lines still show."""


@contextlib.contextmanager
def filter_native_stderr(patterns: Sequence[str] = NATIVE_NOISE) -> Iterator[None]:
    """Drop the lines written to file descriptor 2 that start with one of ``patterns``; forward
    every other line. Python's ``sys.stderr`` keeps writing to the real stderr (a terminal stays a
    terminal, so progress bars still show) when it was file descriptor 2."""
    noise = re.compile("|".join(f"(?:{p})" for p in patterns))
    try:
        sys.stderr.flush()
        python_on_fd2 = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):  # a captured or replaced sys.stderr
        python_on_fd2 = False
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    dropped = [0]

    def forward() -> None:
        with os.fdopen(read_end, "rb") as pipe:
            for raw in pipe:
                if noise.match(raw.decode("utf-8", "replace")):
                    dropped[0] += 1
                else:
                    os.write(saved, raw)

    thread = threading.Thread(target=forward, name="skelgnn-native-stderr", daemon=True)
    thread.start()
    old_stderr = sys.stderr
    if python_on_fd2:
        sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding=old_stderr.encoding,
                               errors="backslashreplace")
    try:
        yield
    finally:
        if python_on_fd2:
            sys.stderr.flush()
            sys.stderr.close()
            sys.stderr = old_stderr
        os.dup2(saved, 2)  # closes the pipe's last write end: the thread reads to its end
        thread.join(timeout=5.0)
        os.close(saved)
        if dropped[0]:
            logging.getLogger(__name__).debug("dropped %d native start-up lines", dropped[0])
