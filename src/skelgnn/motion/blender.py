"""Read a BVH file with Blender's own importer and return the joint positions Blender shows.

What a BVH file *means* is decided by the tools that import it, not by the format's text:
Blender's importer (``io_anim_bvh``), for instance, takes a joint's position channels as its whole
translation where other readers add them to the joint's OFFSET. :func:`blender_positions` runs
the real importer (``bpy``, Blender as a Python module: ``pip install 'skelgnn[blender]'``) on a
file and reads back every joint's world-space head for every frame, so an exporter can be checked
against the positions it was meant to encode (tests/motion/test_blender.py).

Blender runs in a child process (``bpy`` is heavy, keeps global state, and prints freely): this
file is also the child's script (``python blender.py IN.bvh OUT.npz``), so it imports only the
standard library and numpy at the top.

Import options are Blender's defaults (``axis_forward="-Z"``, ``axis_up="Y"``: the file's y-up
axes to Blender's z-up world; ``global_scale=1``; ``rotate_mode="NATIVE"``: each joint's Euler
order as its channels declare; the first file frame at scene frame 1). The child undoes the axis
change, so positions come back in the file's own axes and units.

Shape letters: ``F`` frames, ``J`` joints.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np

__all__ = ["blender_positions"]

_FRAME_START = 1


def blender_positions(path: str | Path, python: Optional[str] = None,
                      timeout: float = 600.0) -> tuple[tuple[str, ...], np.ndarray]:
    """Import a BVH file with Blender's BVH importer and read back its joints.

    Args:
        path: the ``.bvh`` file.
        python: interpreter with ``bpy`` installed (default: this one).

    The child runs with ``-P`` (Python 3.11+), so the package directory holding this script does
    not shadow standard modules on its path.
        timeout: seconds before the child is stopped.

    Returns:
        ``(names, positions)``: the bone names (one per BVH joint, in the armature's order) and
        ``(F, J, 3)`` float64 world positions of their heads, one row per file frame, in the
        file's axes and units.

    Raises:
        FileNotFoundError: no such file.
        ModuleNotFoundError: ``bpy`` is not installed for this interpreter.
        RuntimeError: Blender failed to import the file (the message holds its output's end).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"BVH file not found: {path}")
    if python is None:
        python = sys.executable
        if importlib.util.find_spec("bpy") is None:
            raise ModuleNotFoundError("Blender's Python module is not installed: "
                                      "pip install 'skelgnn[blender]'", name="bpy")
    with tempfile.TemporaryDirectory(prefix="skelgnn-blender-") as tmp:
        out = Path(tmp) / "positions.npz"
        env = dict(os.environ, PYTHONNOUSERSITE="1")
        proc = subprocess.run([python, "-P", str(Path(__file__).resolve()), str(path.resolve()), str(out)],
                              capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp)
        if proc.returncode != 0 or not out.is_file():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
            raise RuntimeError(f"Blender could not import {path} (exit {proc.returncode}):\n"
                               + "\n".join(tail))
        with np.load(out, allow_pickle=False) as data:
            names = tuple(str(n) for n in data["names"])
            positions = data["positions"].astype(np.float64)
    return names, positions


def _import_and_sample(bvh: Path, out: Path) -> None:  # pragma: no cover - runs inside Blender
    """The child: import ``bvh`` into an empty scene and write every bone head of every frame."""
    import bpy  # first: it puts Blender's modules on the path
    import addon_utils
    from bpy_extras.io_utils import axis_conversion

    bpy.ops.wm.read_factory_settings(use_empty=True)
    addon_utils.enable("io_anim_bvh", default_set=True)
    frames = _frame_count(bvh)
    result = bpy.ops.import_anim.bvh(filepath=str(bvh), axis_forward="-Z", axis_up="Y",
                                     global_scale=1.0, rotate_mode="NATIVE",
                                     frame_start=_FRAME_START, use_fps_scale=False,
                                     update_scene_fps=False, update_scene_duration=True)
    if "FINISHED" not in result:
        raise SystemExit(f"import_anim.bvh returned {result}")
    arm = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
    # Blender world = global @ file axes; undo it so positions come back in the file's axes.
    to_file = np.array(axis_conversion(from_forward="-Z", from_up="Y").to_3x3().inverted())
    bones = list(arm.pose.bones)
    pos = np.zeros((frames, len(bones), 3))
    scene = bpy.context.scene
    for f in range(frames):
        scene.frame_set(_FRAME_START + f)
        world = np.array(arm.matrix_world)  # (4, 4)
        for j, bone in enumerate(bones):
            head = world[:3, :3] @ np.array(bone.head) + world[:3, 3]
            pos[f, j] = to_file @ head
    np.savez(out, names=np.array([b.name for b in bones]), positions=pos,
             blender=np.array(bpy.app.version_string))


def _frame_count(bvh: Path) -> int:
    """``Frames: N`` of a BVH file's MOTION section."""
    with open(bvh, encoding="ascii", errors="replace") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 2 and parts[0].lower() == "frames:":
                return int(parts[1])
    raise SystemExit(f"{bvh}: no 'Frames:' line")


if __name__ == "__main__":  # pragma: no cover - the child process of blender_positions
    _import_and_sample(Path(sys.argv[1]), Path(sys.argv[2]))
