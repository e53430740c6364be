"""Tests of skelgnn.video.render and ``skelgnn render``: files decode to the right frame count, the
colours follow the sides, and matplotlib stays out of ``import skelgnn``.

Needs ``pillow``, ``imageio`` and ``imageio-ffmpeg``: skipped without them, except under
``CI=true`` where a missing package fails the tests."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys

import numpy as np
import pytest


def _need(module: str):
    """Skip without ``module``, except under ``CI=true`` (CI installs the ``viz`` extra)."""
    if os.environ.get("CI", "").lower() == "true":
        return importlib.import_module(module)
    return pytest.importorskip(module)


imageio = _need("imageio")
_need("imageio.v2")
_need("imageio_ffmpeg")
_need("PIL")

from skelgnn.cli import main  # noqa: E402
from skelgnn.skeleton import H36M17  # noqa: E402
from skelgnn.video.render import (CENTRE_COLOUR, LEFT_COLOUR, RIGHT_COLOUR, PoseRenderer,  # noqa: E402
                               draw_skeleton_2d, joint_colours, load_poses, write_animation)

# A standing person, camera frame metres (y down), facing the camera: their left is at +x.
STAND = np.array([
    [0.0, 0.0, 0.0], [-0.12, 0.0, 0.0], [-0.12, 0.45, 0.0], [-0.12, 0.9, 0.0],
    [0.12, 0.0, 0.0], [0.12, 0.45, 0.0], [0.12, 0.9, 0.0], [0.0, -0.25, 0.0],
    [0.0, -0.5, 0.0], [0.0, -0.6, -0.05], [0.0, -0.7, 0.0], [0.18, -0.5, 0.0],
    [0.25, -0.25, 0.0], [0.3, 0.0, 0.0], [-0.18, -0.5, 0.0], [-0.25, -0.25, 0.0],
    [-0.3, 0.0, 0.0]])


def _clip(frames: int = 6) -> np.ndarray:
    """STAND with the arms swinging: every frame differs."""
    out = np.repeat(STAND[None], frames, 0)
    swing = 0.1 * np.sin(np.arange(frames))
    out[:, [12, 13, 15, 16], 2] += swing[:, None]
    return out


def _has_colour(img: np.ndarray, colour: tuple[int, int, int]) -> bool:
    return bool((img.reshape(-1, 3) == np.array(colour, np.uint8)).all(-1).any())


def test_joint_colours_follow_the_sides():
    colours = joint_colours()
    assert [colours[j] for j in H36M17.joints_left] == [LEFT_COLOUR] * 6
    assert [colours[j] for j in H36M17.joints_right] == [RIGHT_COLOUR] * 6
    assert [colours[j] for j in (0, 7, 8, 9, 10)] == [CENTRE_COLOUR] * 5


def test_camera_view_puts_left_on_the_image_right():
    renderer = PoseRenderer(size=(320, 240), elev=0.0, azim=0.0, floor=None)
    img = renderer.render(STAND)
    assert img.shape == (240, 320, 3) and img.dtype == np.uint8
    blue = (img == np.array(LEFT_COLOUR, np.uint8)).all(-1)
    red = (img == np.array(RIGHT_COLOUR, np.uint8)).all(-1)
    assert np.nonzero(blue)[1].mean() > 160 > np.nonzero(red)[1].mean()
    # Head (y = -0.7 m) above the feet (y = +0.9 m): up on screen is -y.
    px, _ = renderer.project(STAND[[10, 3]])
    assert px[0, 1] < px[1, 1]
    np.testing.assert_allclose(px[:, 0], [160.0, 160.0 - 0.12 * 0.45 * 240])


def test_canvas_is_reused_without_leftovers():
    renderer = PoseRenderer(size=(160, 120), floor=None)
    first = renderer.render(STAND).copy()
    renderer.render(STAND + [0.3, 0.0, 0.0])
    np.testing.assert_array_equal(renderer.render(STAND), first)
    blank = renderer.render(np.full((17, 3), np.nan))  # missing joints are skipped
    assert (blank == 255).all()


def test_png_gif_mp4(tmp_path):
    poses = _clip(6)
    png = write_animation(poses, tmp_path / "frame.png", frame=2)
    img = imageio.v3.imread(png)
    assert img.shape == (480, 640, 3)
    for colour in (LEFT_COLOUR, RIGHT_COLOUR, CENTRE_COLOUR):
        assert _has_colour(img, colour)
    gif = write_animation(poses, tmp_path / "anim.gif", fps=10)
    frames = imageio.v3.imread(gif, index=None)
    assert frames.shape[0] == 6
    assert _has_colour(frames[3][..., :3], LEFT_COLOUR)
    mp4 = write_animation(poses, tmp_path / "anim.mp4", fps=25)
    reader = imageio.v2.get_reader(str(mp4), format="FFMPEG")
    try:
        assert reader.count_frames() == 6
        assert reader.get_meta_data()["size"] == (640, 480)
    finally:
        reader.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["anim.gif", "anim.mp4", "frame.png"]


def test_write_animation_errors_keep_existing_file(tmp_path):
    out = tmp_path / "frame.png"
    out.write_bytes(b"old")
    with pytest.raises(ValueError, match="outside the clip's 6 frames"):
        write_animation(_clip(6), out, frame=6)
    assert out.read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1
    with pytest.raises(ValueError, match="unknown output type '.avi'"):
        write_animation(_clip(2), tmp_path / "a.avi")
    with pytest.raises(ValueError, match="fps must be a positive number"):
        write_animation(_clip(2), tmp_path / "a.gif", fps=0)
    with pytest.raises(ValueError, match=r"expected 3D poses \(F, J, 3\)"):
        write_animation(np.zeros((2, 17, 2)), tmp_path / "a.gif")


def test_draw_skeleton_2d():
    frame = np.zeros((100, 100, 3), np.uint8)
    kp = np.zeros((17, 3))
    kp[:, :2] = 50.0
    kp[:, 2] = 0.9
    kp[4, :2] = [20, 20]       # LHip: the bone 0 -> 4 is blue
    kp[1, :2] = [80, 80]       # RHip: the bone 0 -> 1 is red
    kp[14, :2] = [80, 20]      # RShoulder, too low a score: its bone is not drawn
    kp[14, 2] = 0.1
    out = draw_skeleton_2d(frame, kp)
    assert out.shape == frame.shape and (frame == 0).all()  # input untouched
    assert tuple(out[35, 35]) == LEFT_COLOUR and tuple(out[65, 65]) == RIGHT_COLOUR
    assert tuple(out[35, 65]) == (0, 0, 0)
    with pytest.raises(ValueError, match="uint8 RGB"):
        draw_skeleton_2d(frame.astype(np.float32), kp)
    with pytest.raises(ValueError, match=r"keypoints must be \(17, 2\) or \(17, 3\)"):
        draw_skeleton_2d(frame, kp[:5])


def test_render_cli(tmp_path, capsys):
    src = tmp_path / "poses_3d.npz"
    np.savez(src, poses_3d=_clip(5).astype(np.float32), fps=np.array(12.5))
    out = tmp_path / "anim.gif"
    assert main(["render", "--poses", str(src), "--out", str(out), "--size", "320", "240"]) == 0
    assert "5 frame(s) of poses_3d at 12.5 fps" in capsys.readouterr().out
    assert imageio.v3.imread(out, index=None).shape[:3] == (5, 240, 320)
    poses, fps = load_poses(src)
    assert poses.shape == (5, 17, 3) and fps == 12.5
    np.savez(tmp_path / "bad.npz", keypoints=np.zeros((2, 17, 2)))
    assert main(["render", "--poses", str(tmp_path / "bad.npz"), "--out", str(out)]) == 2
    assert "expected an array 'poses_3d'" in capsys.readouterr().err
    assert main(["render", "--poses", str(tmp_path / "none.npz"), "--out", str(out)]) == 2
    assert "poses file not found" in capsys.readouterr().err


def test_importing_skelgnn_does_not_import_matplotlib():
    code = ("import sys, skelgnn, skelgnn.cli, skelgnn.infer.lifter, skelgnn.infer.layouts, "
            "skelgnn.infer.keypoints, skelgnn.video.render, skelgnn.infer.onnx, skelgnn.video.pipeline; "
            "skelgnn.Lifter; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr


def test_gif_is_streamed_and_merges_repeated_frames(tmp_path):
    """The GIF writer holds one frame at a time (the file grows while frames are still being
    produced) and writes identical consecutive frames as one longer frame."""
    from PIL import Image

    from skelgnn.video.render import _write_gif

    out = tmp_path / "s.gif"
    rng = np.random.default_rng(0)
    # noise frames: ~20 kB each once encoded, more than the file buffer holds
    frames = [rng.integers(0, 256, size=(128, 160, 3), dtype=np.uint8) for _ in range(6)]
    frames[3] = frames[2].copy()  # a still pose: 2 and 3 are one frame of twice the delay
    sizes = []

    def produce():
        for f in frames:
            sizes.append(out.stat().st_size if out.exists() else 0)
            yield f

    _write_gif(out, produce(), fps=10)
    # frame 0 is written when frame 1 differs from it, so on disk before frame 2 is produced
    assert sizes[-1] > sizes[2] > 0
    im = Image.open(out)
    durations = []
    for i in range(5):
        im.seek(i)
        durations.append(im.info["duration"])
    assert durations == [100, 100, 200, 100, 100]
    assert im.info.get("loop") == 0
    decoded = imageio.v3.imread(out, index=None)
    assert decoded.shape[:3] == (5, 128, 160)
