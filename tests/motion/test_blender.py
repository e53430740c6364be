"""BVH export read by real Blender: ``skelgnn convert``'s file imported with Blender's own BVH
importer (``bpy``, the ``blender`` extra) lands on ``poses_world``.

The Blender tests run with ``make test-blender`` (installs the extra; ``.ci/run`` calls it after
``make test``) or ``pytest -m blender``; outside CI they skip when ``bpy`` or the shared data are
missing. The error paths of :func:`skelgnn.motion.blender.blender_positions` run in the default suite.
"""
from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import pytest

from conftest import REPO, require_path
from skelgnn.motion.animation import BVH_NAMES, load_motion_npz, positions_to_bvh
from skelgnn.motion.blender import blender_positions
from skelgnn.cli import main
from skelgnn.prepare.bvh import forward_kinematics, read_bvh

blender = pytest.mark.blender

SAMPLE_VIDEO = REPO.parent / "shared" / "data" / "video" / "person_balance_cam01.mp4"


def _require_bpy() -> None:
    if importlib.util.find_spec("bpy") is not None:
        return
    msg = "bpy (Blender as a Python module) is not installed: pip install '.[blender]'"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg)
    pytest.skip(msg)


def _width(x: np.ndarray, a: int, b: int) -> float:
    return float(np.linalg.norm(x[:, a] - x[:, b], axis=-1).mean())


def _check_in_blender(npz, bvh) -> dict[str, float]:
    """Convert ``npz`` to ``bvh`` with the CLI, import it with Blender and with our reader, and
    check both against the npz's ``poses_world``."""
    assert main(["convert", str(npz), str(bvh)]) == 0
    world, _, frame = load_motion_npz(npz)
    assert frame == "world"
    names, cm = blender_positions(bvh)
    assert set(names) == set(BVH_NAMES)  # one bone per joint, nothing renamed or dropped
    blender = cm[:, [names.index(n) for n in BVH_NAMES]] / 100.0  # (F, 17, 3) metres
    assert blender.shape == world.shape  # every frame, the first one included
    err = np.linalg.norm(blender - world, axis=-1)  # (F, 17)
    figures = {"mean_cm": 100 * float(err.mean()), "max_cm": 100 * float(err.max()),
               "hip_ratio": _width(blender, 1, 4) / _width(world, 1, 4),
               "shoulder_ratio": _width(blender, 11, 14) / _width(world, 11, 14)}
    assert figures["mean_cm"] <= 3.0, figures
    assert abs(figures["hip_ratio"] - 1) <= 0.1 and abs(figures["shoulder_ratio"] - 1) <= 0.1, figures
    # Blender shows exactly what the solver encoded (the file's 0.01 mm precision aside) ...
    encoded = positions_to_bvh(world).positions
    assert np.abs(blender - encoded).max() < 1e-4
    # ... and so does our own reader: what remains against poses_world is the bone-length
    # variation of the lifted clip, the same for both
    ours = forward_kinematics(read_bvh(bvh)) / 100.0
    assert np.abs(ours - blender).max() < 1e-4
    return figures


@pytest.mark.slow
@blender
def test_blender_imports_a_lifted_mocap_clip_onto_poses_world(tmp_path, mini_dir):
    """The world-frame path on a real clip: the mini fixture's detector keypoints (Walk 08_01,
    camera 0) lifted by the default checkpoint, placed with the camera's focal length."""
    _require_bpy()
    kp2d = np.load(mini_dir / "data_2d_cmu_det.npz", allow_pickle=True)["positions_2d"].item()
    camera = json.loads((mini_dir / "cameras.json").read_text())["intrinsics"][0]
    kp = tmp_path / "kp.npz"
    np.savez(kp, keypoints=kp2d["S08"]["Walk 08_01"][0], layout=np.array("h36m17"),
             image_size=np.array([camera["res_w"], camera["res_h"]], dtype=float), fps=np.array(60.0))
    npz = tmp_path / "poses_3d.npz"
    assert main(["infer", "--keypoints", str(kp), "--out", str(npz), "--focal", str(camera["fx"])]) == 0
    figures = _check_in_blender(npz, tmp_path / "walk.bvh")
    assert figures["max_cm"] < 5.0, figures  # 2.7 cm: the wrists, whose lifted bones stretch most


@pytest.mark.slow
@blender
def test_blender_imports_the_sample_videos_motion_onto_poses_world(tmp_path):
    """The sample video through ``skelgnn video`` (MediaPipe), as a user would export it."""
    _require_bpy()
    pytest.importorskip("mediapipe")
    video = require_path(SAMPLE_VIDEO, "sample video")
    assert main(["video", str(video), "--out", str(tmp_path), "--no-render"]) == 0
    _check_in_blender(tmp_path / "poses_3d.npz", tmp_path / "sample.bvh")


def test_blender_positions_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="BVH file not found"):
        blender_positions(tmp_path / "none.bvh")
    bvh = tmp_path / "a.bvh"
    bvh.write_text("HIERARCHY\n")
    failing = tmp_path / "python"  # an interpreter whose import fails: its output's end is kept
    failing.write_text("#!/bin/sh\necho 'Error: no such operator import_anim.bvh' >&2\nexit 3\n")
    failing.chmod(0o755)
    with pytest.raises(RuntimeError, match=r"(?s)exit 3.*no such operator"):
        blender_positions(bvh, python=str(failing))
