"""What every verb group of the command line shares: exit codes, the handler type, argument types."""
from __future__ import annotations

import argparse
from typing import Callable

__all__ = ["EXIT_OK", "EXIT_PROBLEMS", "EXIT_USAGE", "Handler", "BACKENDS", "SAMPLE_VIDEO", "positive_int"]

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2

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
