"""skelgnn: Skeletal Graph Neural Networks (D-HCSF) for 2D-to-3D human pose lifting.

Importing the package is cheap: heavy submodules load on first use.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "Lifter"]


def __getattr__(name: str):
    if name == "Lifter":
        from skelgnn.infer.lifter import Lifter

        return Lifter
    raise AttributeError(f"module 'skelgnn' has no attribute {name!r}")
