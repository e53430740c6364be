"""The renderer draws ``poses_world`` by default (the world frame): gravity up, the figure standing on
the floor grid, level, from a symmetric view; ``skelgnn render`` picks ``poses_world`` when the
file has it."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PIL")

from skelgnn.cli import main  # noqa: E402
from skelgnn.skeleton import H36M17  # noqa: E402
from skelgnn.video.render import (CENTRE_COLOUR, WORLD_VIEW, load_render_poses,  # noqa: E402
                               world_renderer, world_to_view)

# A standing person in H36M order, x right / y down, metres from the pelvis; left/right mirror
# images of each other (x -> -x swaps them).
_STANDING = np.array([
    [0.0, 0.0], [-0.12, 0.0], [-0.13, 0.45], [-0.14, 0.88], [0.12, 0.0], [0.13, 0.45],
    [0.14, 0.88], [0.0, -0.25], [0.0, -0.5], [0.0, -0.58], [0.0, -0.68], [0.18, -0.48],
    [0.22, -0.22], [0.24, 0.02], [-0.18, -0.48], [-0.22, -0.22], [-0.24, 0.02]])


def _world(frames: int = 4) -> np.ndarray:
    """``(F, 17, 3)`` world poses: upright, ankles 8 cm above the floor y = 0, walking along x."""
    pose = np.zeros((17, 3))
    pose[:, 0] = _STANDING[:, 0]
    pose[:, 1] = 0.96 - _STANDING[:, 1]
    return np.stack([pose + [0.1 * f, 0.0, 0.3] for f in range(frames)])


def test_world_to_view_keeps_the_height_above_the_floor():
    world = _world()
    view, floor = world_to_view(world)
    assert floor == pytest.approx(0.96)  # median root height
    np.testing.assert_allclose(view[:, 0, [0, 2]], 0.0)  # each frame centred on its root
    # y down: the view's y of a joint is the floor's y minus the joint's height
    np.testing.assert_allclose(view[..., 1], floor - world[..., 1])


def test_default_world_view_is_symmetric_and_level():
    view, _ = world_to_view(_world())
    renderer, _ = world_renderer(_world(), size=(320, 320))
    assert (renderer.elev, renderer.azim) == (WORLD_VIEW["elev"], WORLD_VIEW["azim"]) == (10, 0)
    px, _ = renderer.project(view[0])
    left, right = list(H36M17.joints_left), list(H36M17.joints_right)
    np.testing.assert_allclose(px[left, 0] + px[right, 0], 320.0, atol=1e-9)  # mirror images
    np.testing.assert_allclose(px[left, 1], px[right, 1], atol=1e-9)
    turned, _ = world_renderer(_world(), size=(320, 320), azim=45.0)
    seen = turned.project(view[0])[0]  # turned: one side nearer the viewer, drawn lower
    assert np.abs(seen[left, 1] - seen[right, 1]).max() > 2.0


def test_the_figure_stands_on_the_floor_grid():
    """Seen exactly level (elevation 0) the floor grid is one image row; the ankles, 8 cm above
    the floor, are drawn 8 cm of pixels above it and the head far above."""
    renderer, view = world_renderer(_world(), size=(320, 320), elev=0.0)
    image = renderer.render(view[0])
    grid = np.where((np.abs(image.astype(int) - 215) <= 0).all(-1).any(1)
                    | (np.abs(image.astype(int) - 170) <= 0).all(-1).any(1))[0]
    assert grid.max() - grid.min() <= 1  # the floor is one line
    px, _ = renderer.project(view[0])
    metre = 0.45 * 320 / renderer.radius
    np.testing.assert_allclose(grid.min() - px[[3, 6], 1], 0.08 * metre, atol=1.5)
    assert px[10, 1] < px[3, 1] - 1.5 * metre  # the head 1.64 m above the ankles


def _grey_columns(path) -> int:
    from PIL import Image

    image = np.asarray(Image.open(path).convert("RGB"))
    cols = np.where((image == CENTRE_COLOUR).all(-1).any(0))[0]
    return int(cols.max() - cols.min())


def test_render_draws_poses_world_by_default(tmp_path, capsys):
    world = _world()
    tilt = np.radians(30.0)  # the camera-frame poses lean 30 degrees sideways (camera roll)
    roll = np.array([[np.cos(tilt), -np.sin(tilt), 0], [np.sin(tilt), np.cos(tilt), 0], [0, 0, 1]])
    camera = (world - world[:, :1]) * [1.0, -1.0, -1.0] @ roll.T
    src = tmp_path / "poses.npz"
    np.savez(src, poses_3d=camera.astype(np.float32), poses_world=world.astype(np.float32),
             fps=np.array(30.0))
    poses, fps, is_world = load_render_poses(src)
    assert is_world and fps == 30.0
    np.testing.assert_allclose(poses, world, atol=1e-6)
    assert not load_render_poses(src, camera_frame=True)[2]
    upright, leaning = tmp_path / "world.png", tmp_path / "camera.png"
    assert main(["render", "--poses", str(src), "--out", str(upright)]) == 0
    assert "of poses_world" in capsys.readouterr().out
    assert main(["render", "--poses", str(src), "--out", str(leaning), "--camera-frame",
                 "--azim", "0"]) == 0
    assert "of poses_3d" in capsys.readouterr().out
    # upright: the centre line (pelvis, spine, neck, head) is one column wide-ish; leaning: wide
    assert _grey_columns(upright) <= 12 < 40 <= _grey_columns(leaning)
    np.savez(src, poses_3d=camera, poses_world=world[:2])  # a damaged file: a clear error
    assert main(["render", "--poses", str(src), "--out", str(upright)]) == 2
    assert "'poses_world' must be (4, 17, 3)" in capsys.readouterr().err
