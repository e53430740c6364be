"""Quiet third-party libraries during a command-line run (never in the library API).

A user of ``skelgnn`` cannot act on a torch / ONNX / ONNX Runtime / MediaPipe ``UserWarning``
(advice about their internals, deprecations of calls we make), nor on the absl / TensorFlow Lite
log lines MediaPipe's C++ side prints while it starts. :func:`quiet_libraries` hides them for the
duration of one command:

* warnings of category ``UserWarning``, ``DeprecationWarning`` and ``FutureWarning`` (and their
  subclasses) raised from a module of :data:`LIBRARIES` are ignored; skelgnn's own warnings and
  every other library's still show;
* ``TF_CPP_MIN_LOG_LEVEL=2`` and ``GLOG_minloglevel=2`` (only errors from the C++ loggers), unless
  the user set them, and absl's Python logger at ``ERROR`` when absl is already imported;
* MediaPipe's C++ side ignores those (``INFO: Created TensorFlow Lite XNNPACK delegate``,
  ``All log messages before absl::InitializeLog()``, ``Feedback manager requires ...``, all
  printed while the graph starts and runs its first frame), so the detector wraps those two steps
  in :func:`native_stderr_quiet`, which points file descriptor 2 at ``/dev/null`` inside a
  :func:`quiet_libraries` block and does nothing outside one.

Everything is restored on exit, so a program calling :func:`skelgnn.cli.main` twice, or using the
library after it, sees the warnings again. ``skelgnn -v`` does not quieten anything.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import warnings
from typing import Iterator

__all__ = ["LIBRARIES", "quiet_libraries", "native_stderr_quiet"]

LIBRARIES = ("torch", "onnx", "onnxruntime", "onnxscript", "mediapipe", "absl", "google.protobuf",
             "tensorflow", "tflite_runtime", "jax")
"""Top-level modules whose warnings a CLI user cannot act on."""

_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "GLOG_minloglevel": "2"}
_active = 0  # nesting depth of quiet_libraries blocks


@contextlib.contextmanager
def native_stderr_quiet() -> Iterator[None]:
    """Inside a :func:`quiet_libraries` block, send what native code writes to file descriptor 2
    to ``/dev/null`` for the duration of this block (Python's ``sys.stderr`` is flushed first and
    restored after); outside one, do nothing."""
    if not _active:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.close(null)
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Hide the warnings and C++ log lines of :data:`LIBRARIES` inside the block."""
    global _active
    pattern = r"(%s)(\..*)?$" % "|".join(re.escape(name) for name in LIBRARIES)
    saved_env = {key: os.environ.get(key) for key in _ENV}
    absl_level = None
    with warnings.catch_warnings():
        for category in (UserWarning, DeprecationWarning, FutureWarning):
            warnings.filterwarnings("ignore", category=category, module=pattern)
        try:
            for key, value in _ENV.items():
                os.environ.setdefault(key, value)
            if "absl.logging" in sys.modules:
                absl_logging = sys.modules["absl.logging"]
                absl_level = absl_logging.get_verbosity()
                absl_logging.set_verbosity(absl_logging.ERROR)
            _active += 1
            yield
        finally:
            _active -= 1
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            if absl_level is not None:
                sys.modules["absl.logging"].set_verbosity(absl_level)
