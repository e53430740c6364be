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

Not hidden: the lines MediaPipe's C++ graph threads print when its models first run
(``INFO: Created TensorFlow Lite XNNPACK delegate``, ``All log messages before
absl::InitializeLog()``, ``Feedback manager requires ...``). They ignore both variables and are
written asynchronously, after ``process()`` has returned, so redirecting file descriptor 2 around
each call does not catch them; only redirecting it for the detector's whole life would, which
would also swallow our own progress and log lines.

Everything is restored on exit, so a program calling :func:`skelgnn.cli.main` twice, or using the
library after it, sees the warnings again. ``skelgnn -v`` does not quieten anything.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import warnings
from typing import Iterator

__all__ = ["LIBRARIES", "quiet_libraries"]

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
