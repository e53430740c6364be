"""World frame from camera-frame poses (skelgnn.motion.world)."""
from __future__ import annotations

import numpy as np
import pytest

from skelgnn.geometry import quaternion_to_matrix
from skelgnn.motion.world import ANKLE_HEIGHT, estimate_world_frame

# A standing Human3.6M pose in a y-up world, facing +z, left at +x, ankles 8 cm above the floor.
STAND = np.array([
    [0, 0.95, 0], [-0.1, 0.95, 0], [-0.1, 0.5, 0], [-0.1, 0.08, 0],
    [0.1, 0.95, 0], [0.1, 0.5, 0], [0.1, 0.08, 0], [0, 1.2, 0], [0, 1.45, 0],
    [0, 1.55, 0.08], [0, 1.65, 0], [0.15, 1.42, 0], [0.2, 1.15, 0], [0.22, 0.9, 0],
    [-0.15, 1.42, 0], [-0.2, 1.15, 0], [-0.22, 0.9, 0]])


def _walk(frames=60):
    """Walking along x in the world with alternating foot lifts."""
    out = np.repeat(STAND[None], frames, axis=0)
    out[:, :, 0] += np.linspace(0, 3, frames)[:, None]
    lift = np.maximum(0, np.sin(np.arange(frames) / 4))
    out[:, [2, 3], 1] += 0.1 * lift[:, None]
    out[:, [5, 6], 1] += 0.1 * np.maximum(0, -np.sin(np.arange(frames) / 4))[:, None]
    out[:, [3, 6], 2] += np.linspace(-1, 1, frames)[:, None] * 0.5  # feet also spread in depth
    return out


def _to_camera(world, tilt_deg=25.0, dist=4.0):
    """A camera looking at the scene from +z, tilted down by tilt_deg (camera y down)."""
    # camera axes in world: z forward = -z_w, y down = -y_w, x right = y x z = +x_w
    base = np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]])  # rows: camera axes in world
    a = np.radians(tilt_deg)
    tilt = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rot = tilt @ base  # world -> camera
    return (world - np.array([0, 1.5, dist])) @ rot.T


@pytest.mark.parametrize("facing", ["camera", "person"])
def test_world_frame_levels_a_tilted_camera_and_finds_the_floor(facing):
    world = _walk()
    cam = _to_camera(world)
    frame = estimate_world_frame(cam, facing=facing)
    back = frame.to_world(cam)
    # up is world y: the torso is vertical and the flat foot's ankle is 8 cm above y = 0
    torso = back[:, 8] - back[:, 0]
    np.testing.assert_allclose(torso[:, [0, 2]], 0, atol=1e-6)
    assert back[:, [3, 6], 1].min() == pytest.approx(ANKLE_HEIGHT, abs=1e-6)
    # origin below the first frame's root
    np.testing.assert_allclose(back[0, 0, [0, 2]], 0, atol=1e-6)
    # a rigid map: bone lengths unchanged, round trip exact
    np.testing.assert_allclose(np.linalg.norm(back[:, 11] - back[:, 14], axis=-1), 0.3, atol=1e-6)
    np.testing.assert_allclose(frame.to_camera(back), cam, atol=1e-9)
    assert np.linalg.det(frame.rotation) == pytest.approx(1.0)
    left = back[:, 4] - back[:, 1]
    if facing == "person":  # left at +x: faces +z
        assert left[:, 0].min() > 0.19
    else:  # the person faces the camera: the camera is at +z in both frames
        assert left[:, 0].min() > 0.19
        cam_centre = frame.to_world(np.zeros(3))
        assert cam_centre[2] > 3.0


def test_world_frame_rejects_bad_input():
    with pytest.raises(ValueError, match="17, 3"):
        estimate_world_frame(np.zeros((4, 16, 3)))
    with pytest.raises(ValueError, match="facing"):
        estimate_world_frame(np.repeat(STAND[None], 2, 0), facing="north")


def test_camera_facing_keeps_heading_under_rotation():
    q = np.array([np.cos(0.3), 0, np.sin(0.3), 0])  # turn the person about the vertical
    world = _walk() @ quaternion_to_matrix(q).T
    frame = estimate_world_frame(_to_camera(world), facing="person")
    back = frame.to_world(_to_camera(world))
    left = back[:, 4] - back[:, 1]
    np.testing.assert_allclose(left[:, 2], 0, atol=1e-6)  # facing undone: hips along x
