"""Stance knees: the gate that picks standing legs, and the knee moved in depth."""
from __future__ import annotations

import numpy as np
import pytest

from skelgnn.motion.stance import (LEGS, MIN_STANDING_FRAMES, TARGET_DEG, knee_angle, leg_lengths,
                                   set_leg_lengths, stance_weights, stand_legs, straighten_knees)
from skelgnn.motion.trajectory import default_intrinsics
from test_world import STAND, _to_camera

UP_CAM = np.array([0.0, -1.0, 0.0])  # a level camera: y points down


def _level_view(world: np.ndarray, dist: float = 4.0):
    """Camera-frame poses and pixels of world poses seen by a level camera ``dist`` m away."""
    cam = _to_camera(world, tilt_deg=0.0, dist=dist)
    intr = default_intrinsics((1280, 720))
    return cam, cam[..., :2] / cam[..., 2:] * intr.fx + [intr.cx, intr.cy]


def _bent_in_depth(frames: int = 30, bend: float = 0.12) -> np.ndarray:
    """A person standing still whose knees are pushed ``bend`` m towards the camera (+z in the
    world of :func:`test_world._to_camera`): in a level view the 2D legs stay nearly straight."""
    world = np.repeat(STAND[None], frames, axis=0).astype(np.float64)
    world[:, [2, 5], 2] += bend
    return world


def test_stand_legs_gives_the_clip_one_leg_length_measured_where_it_stands():
    cam, _ = _level_view(_bent_in_depth())
    rel = cam - cam[:, :1]
    rel[:, [2, 3, 5, 6]] *= np.linspace(0.97, 1.03, len(rel))[:, None, None]  # lengths that wobble
    w = np.zeros((len(rel), 2))
    w[:20] = 1.0  # standing in the first 20 frames only
    depth_only = straighten_knees(rel, w)
    out = stand_legs(rel, w)
    lengths = leg_lengths(out)
    np.testing.assert_allclose(lengths, lengths[:1].repeat(len(out), axis=0), atol=1e-9)  # rigid
    want = np.median(leg_lengths(depth_only)[:20], axis=0).mean(axis=0)  # both sides alike
    np.testing.assert_allclose(lengths[0], [want, want], atol=1e-9)
    for leg in LEGS:  # the angles are the straightened ones, in every frame
        np.testing.assert_allclose(knee_angle(out, leg), knee_angle(depth_only, leg), atol=1e-6)
    others = [j for j in range(17) if j not in (2, 3, 5, 6)]
    np.testing.assert_array_equal(out[:, others], rel[:, others])
    # too few standing frames: each frame keeps the lengths it was lifted with
    few = np.zeros_like(w)
    few[:MIN_STANDING_FRAMES - 1] = 1.0
    kept = stand_legs(rel, few)
    np.testing.assert_allclose(leg_lengths(kept), leg_lengths(rel), atol=1e-9)
    np.testing.assert_allclose(stand_legs(rel, np.zeros_like(w)), rel, atol=1e-12)  # nothing stands


def test_set_leg_lengths_moves_knee_and_ankle_along_the_leg():
    cam, _ = _level_view(_bent_in_depth(4))
    out = set_leg_lengths(cam, np.array([[0.5, 0.4], [0.45, 0.42]]))
    np.testing.assert_allclose(leg_lengths(out)[:, 0], [[0.5, 0.4]] * 4, atol=1e-12)
    np.testing.assert_allclose(leg_lengths(out)[:, 1], [[0.45, 0.42]] * 4, atol=1e-12)
    for hip, knee, ankle in LEGS:
        for a, b in ((hip, knee), (knee, ankle)):
            v0, v1 = cam[:, b] - cam[:, a], out[:, b] - out[:, a]
            cos = (v0 * v1).sum(-1) / np.linalg.norm(v0, axis=-1) / np.linalg.norm(v1, axis=-1)
            np.testing.assert_allclose(cos, 1.0, atol=1e-12)  # directions kept


def test_straighten_knees_moves_only_the_knee_depth_up_to_the_target():
    cam, _ = _level_view(_bent_in_depth())
    rel = cam - cam[:, :1]
    before = np.stack([knee_angle(rel, leg) for leg in LEGS], 1)
    assert (before < 150).all()  # bent by the depth offset
    out = straighten_knees(rel, np.ones((len(rel), 2)))
    after = np.stack([knee_angle(out, leg) for leg in LEGS], 1)
    np.testing.assert_allclose(after, TARGET_DEG, atol=0.1)  # exactly to the target, no further
    moved = np.abs(out - rel)
    assert moved[..., :2].max() == 0.0  # the image position of every joint is kept
    others = [j for j in range(17) if j not in (2, 5)]
    assert moved[:, others].max() == 0.0 and moved[:, [2, 5], 2].min() > 0.01
    # the knee comes away from the camera (the lifter's bend lay towards it)
    assert (out[:, [2, 5], 2] > rel[:, [2, 5], 2]).all()


def test_straighten_knees_weights_and_already_straight_knees():
    cam, _ = _level_view(_bent_in_depth())
    rel = cam - cam[:, :1]
    none = straighten_knees(rel, np.zeros((len(rel), 2)))
    np.testing.assert_array_equal(none, rel)
    half = straighten_knees(rel, np.full((len(rel), 2), 0.5))
    full = straighten_knees(rel, np.ones((len(rel), 2)))
    np.testing.assert_allclose(half[:, [2, 5], 2], (rel[:, [2, 5], 2] + full[:, [2, 5], 2]) / 2)
    one_leg = straighten_knees(rel, np.array([[1.0, 0.0]] * len(rel)))  # left only
    assert np.array_equal(one_leg[:, 2], rel[:, 2]) and not np.array_equal(one_leg[:, 5], rel[:, 5])
    straight, _ = _level_view(_bent_in_depth(bend=0.0))
    straight = straight - straight[:, :1]
    assert (np.stack([knee_angle(straight, leg) for leg in LEGS], 1) > TARGET_DEG).all()
    np.testing.assert_array_equal(straighten_knees(straight, np.ones((len(straight), 2))), straight)


def test_a_knee_bent_in_the_image_goes_to_the_line_depth_only():
    world = _bent_in_depth()
    world[:, [2, 5], 0] += 0.15  # the knees also out to the side: a bend the image shows
    cam, _ = _level_view(world)
    rel = cam - cam[:, :1]
    out = straighten_knees(rel, np.ones((len(rel), 2)))
    after = np.stack([knee_angle(out, leg) for leg in LEGS], 1)
    before = np.stack([knee_angle(rel, leg) for leg in LEGS], 1)
    assert (after > before).all() and (after < TARGET_DEG).all()


def test_stance_weights_pick_standing_legs_only():
    frames = 30
    cam, uv = _level_view(_bent_in_depth(frames))
    down = np.ones((frames, 2), dtype=bool)
    w = stance_weights(cam, uv, down, UP_CAM, 30.0)
    assert w.shape == (frames, 2) and np.allclose(w, 1.0)
    assert np.allclose(stance_weights(cam, uv, ~down, UP_CAM, 30.0), 0.0)  # no contact
    # the camera's up turned 90 degrees: the legs no longer hang under the hips
    assert np.allclose(stance_weights(cam, uv, down, np.array([1.0, 0, 0]), 30.0), 0.0)
    moving = uv.copy()
    moving[:, 3, 0] += np.arange(frames) * 8.0  # right ankle sliding 240 px a second
    mw = stance_weights(cam, moving, down, UP_CAM, 30.0)
    right, left = 1, 0
    assert np.allclose(mw[:, left], 1.0) and mw[5:-5, right].max() == 0.0
    bent = uv.copy()
    bent[:, 5, 0] += 60.0  # the left knee far off its hip-ankle line in the image
    assert stance_weights(cam, bent, down, UP_CAM, 30.0)[5:-5, left].max() == 0.0
    # a contact gap of one frame is smoothed, not a jump from 1 to 0
    gap = down.copy()
    gap[15] = False
    gw = stance_weights(cam, uv, gap, UP_CAM, 30.0)
    assert 0.2 < gw[15, 0] < 1.0 and gw[15, 0] == gw[15, 1]


def test_stance_inputs_are_checked():
    cam, uv = _level_view(_bent_in_depth(10))
    down = np.ones((10, 2), dtype=bool)
    with pytest.raises(ValueError, match="stance_weights"):
        stance_weights(cam[:, :16], uv, down, UP_CAM, 30.0)
    with pytest.raises(ValueError, match="frame rate"):
        stance_weights(cam, uv, down, UP_CAM, 0.0)
    with pytest.raises(ValueError, match="straighten_knees"):
        straighten_knees(cam, np.ones((9, 2)))
    assert stance_weights(cam[:0], uv[:0], down[:0], UP_CAM, 30.0).shape == (0, 2)


def test_lift_and_place_straightens_standing_knees_for_detector_layouts():
    from skelgnn.infer.lifter import Lifter
    from skelgnn.motion.pipeline import lift_and_place

    lifter = Lifter.from_checkpoint()
    _, uv = _level_view(np.repeat(STAND[None], 60, axis=0).astype(np.float64))
    _, auto = lift_and_place(lifter, uv, (1280, 720), "h36m17", fps=30.0)  # mocap layout: off
    _, on = lift_and_place(lifter, uv, (1280, 720), "h36m17", fps=30.0, stance_knees=True)
    assert auto.stance_knees is None and not bool(auto.arrays()["stance_knees_applied"])
    assert np.all(auto.arrays()["stance_knees"] == 0)
    arrays = on.arrays()
    assert bool(arrays["stance_knees_applied"]) and arrays["stance_knees"].shape == (60, 2)
    assert arrays["stance_knees"].mean() > 0.5  # a person standing still: legs picked
    from skelgnn.motion.pipeline import world_summary

    assert world_summary(arrays).endswith(
        f"standing knees straightened (weight {arrays['stance_knees'].mean():.2f} over the legs' frames)")
    assert "standing knees" not in world_summary(auto.arrays())
    k_auto = np.stack([knee_angle(auto.poses_3d, leg) for leg in LEGS], 1)
    k_on = np.stack([knee_angle(on.poses_3d, leg) for leg in LEGS], 1)
    assert (k_on >= k_auto - 1e-3).all() and k_on.mean() > k_auto.mean()
    # poses_world moved with poses_3d: per frame they still differ by one vertical shift, the
    # one that puts the (longer-legged) contact feet back on the floor
    for m in (auto, on):
        gap = m.poses_world - m.world.to_world(m.poses_3d.astype(np.float64) + m.trajectory[:, None])
        np.testing.assert_allclose(gap, np.repeat(gap[:, :1], 17, axis=1), atol=1e-4)
        np.testing.assert_allclose(gap[:, 0, 1], m.floor_shift, atol=1e-4)
        np.testing.assert_allclose(gap[..., [0, 2]], 0.0, atol=1e-4)
    from skelgnn.motion.contacts import FEET
    from skelgnn.motion.world import ANKLE_HEIGHT

    for m in (auto, on):  # the lower contact ankle on the floor in every contact frame
        down = m.contacts.any(axis=1)
        ankles = np.where(m.contacts, m.poses_world[:, list(FEET), 1], np.inf).min(axis=1)
        np.testing.assert_allclose(ankles[down], ANKLE_HEIGHT, atol=1e-4)


def test_stand_legs_keeps_the_thigh_to_shank_ratio_plausible():
    from skelgnn.motion.stance import THIGH_SHANK_RANGE

    cam, _ = _level_view(_bent_in_depth())
    rel = set_leg_lengths(cam - cam[:, :1], np.array([[0.55, 0.30], [0.55, 0.30]]))  # ratio 1.8
    w = np.ones((len(rel), 2))
    measured = np.median(leg_lengths(straighten_knees(rel, w)), axis=0).mean(axis=0)
    assert measured[0] / measured[1] > THIGH_SHANK_RANGE[1]
    out = leg_lengths(stand_legs(rel, w))[0, 0]
    assert out[0] / out[1] == pytest.approx(THIGH_SHANK_RANGE[1])
    assert out.sum() == pytest.approx(measured.sum())  # the leg's length as measured
