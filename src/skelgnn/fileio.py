"""Small file helpers shared by every writer of the package."""
from __future__ import annotations

import os

__all__ = ["usual_mode"]


def usual_mode(path: str | os.PathLike) -> None:
    """Give a file made by ``tempfile.mkstemp`` (mode 0600) the mode a plain ``open`` would give
    it (0666 minus the umask), so renamed outputs are readable like any other file."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
