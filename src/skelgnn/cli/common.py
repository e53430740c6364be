"""What every verb group of the command line shares: exit codes, the handler type, argument types."""
from __future__ import annotations

import argparse
from typing import Callable

__all__ = ["EXIT_OK", "EXIT_PROBLEMS", "EXIT_USAGE", "EXIT_INTERRUPTED", "Handler", "BACKENDS",
           "SAMPLE_VIDEO", "positive_int", "default_data_dir", "in_dir"]

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

Handler = Callable[[argparse.Namespace], int]

BACKENDS = ("torch", "onnxruntime")
"""Lifter back ends (:func:`skelgnn.infer.onnx.build_lifter`; the CLI does not import torch to list them)."""

SAMPLE_VIDEO = "../shared/data/video/person_balance_cam01.mp4"
"""The sample clip (relative to the repository root, where the Makefile runs)."""


def positive_int(text: str) -> int:
    """``argparse`` type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def default_data_dir(data: str | None) -> str | None:
    """The benchmark directory a command reads when ``--data`` is not given (``$SKELGNN_DATA``,
    else ``../shared/data/cmu`` when present), for the output rule
    (:class:`skelgnn.fileio.Writes`); ``None`` when there is none (the command then fails on it)."""
    from skelgnn.data.npz import default_data_dir as resolve

    return resolve(data)


def in_dir(directory: str | None, *names: str) -> list[str | None]:
    """``directory/name`` for every name (``[None]`` when ``directory`` is not given)."""
    import os

    if directory is None:
        return [None]
    return [os.path.join(directory, n) for n in names]
