"""Foot contacts, feet on the floor and foot skating (skelgnn.motion.contacts)."""
from __future__ import annotations

import numpy as np
import pytest

from skelgnn.motion.contacts import foot_contacts, foot_skating, place_on_floor, settle
from skelgnn.motion.world import ANKLE_HEIGHT
from test_world import STAND

FPS = 30.0
CYCLE, STANCE = 30, 20  # frames per gait cycle; frames of it a foot is down
STEP = 0.6  # metres a foot travels per swing


def _gait(frames: int = 120, float_by: float = 0.0):
    """A walk along world x: each foot is down (still, ankle at ANKLE_HEIGHT) for STANCE frames
    of every CYCLE and swings forward STEP metres, up to 10 cm high, in the rest; the right foot
    runs half a cycle behind the left. Returns the poses (F, 17, 3) and the true contacts (F, 2)
    (left, right). ``float_by(f)`` lifts the whole frame, as a bad depth would."""
    poses = np.repeat(STAND[None], frames, axis=0).astype(np.float64)
    truth = np.zeros((frames, 2), dtype=bool)
    for col, (ankle, knee, offset) in enumerate(((6, 5, 0), (3, 2, CYCLE // 2))):
        for f in range(frames):
            phase = (f + offset) % CYCLE
            cycles = (f + offset) // CYCLE
            if phase < STANCE:
                x, lift = cycles * STEP, 0.0
                truth[f, col] = True
            else:
                t = (phase - STANCE) / (CYCLE - STANCE)
                x, lift = (cycles + t) * STEP, 0.1 * np.sin(np.pi * t)
            poses[f, ankle, 0] += x
            poses[f, ankle, 1] += lift
            poses[f, knee, 0] += x
    body = np.arange(frames) * STEP / CYCLE  # the body moves with the feet on average
    for j in range(17):
        if j not in (2, 3, 5, 6):
            poses[:, j, 0] += body
    poses[..., 1] += np.asarray(float_by)[..., None] if np.ndim(float_by) else float_by
    return poses, truth


def test_contacts_of_a_synthetic_walk_match_the_known_ones():
    poses, truth = _gait()
    found = foot_contacts(poses, FPS)
    assert found.shape == truth.shape and found.dtype == bool
    agree = (found == truth).mean()
    assert agree >= 0.9, agree
    # the middle of every stance is down, the middle of every swing is up
    for col, offset in ((0, 0), (1, CYCLE // 2)):
        phase = (np.arange(len(poses)) + offset) % CYCLE
        assert found[(phase >= 4) & (phase < STANCE - 4), col].all()
        assert not found[(phase >= STANCE + 3) & (phase < CYCLE - 3), col].any()


def test_contacts_need_the_floor_or_the_lower_foot():
    poses, truth = _gait()
    high = poses.copy()
    high[..., 1] += 0.3  # everything 30 cm above the floor: no contact against the floor
    assert not foot_contacts(high, FPS).any()
    # measured from the lower foot, the same walk is found anyway
    assert (foot_contacts(high, FPS, relative=True) == truth).mean() >= 0.9
    with pytest.raises(ValueError, match="fps"):
        foot_contacts(poses, 0.0)
    with pytest.raises(ValueError, match="17, 3"):
        foot_contacts(poses[:, :16], FPS)


def test_settle_puts_contact_feet_on_the_floor_of_a_floating_clip():
    frames = 120
    drift = 0.25 + 0.1 * np.sin(np.arange(frames) / 15.0)  # floats 15-35 cm, varying
    poses, truth = _gait(frames, float_by=drift)
    out = settle(poses, FPS)
    assert (out.contacts == truth).mean() >= 0.9
    ankles = out.poses_world[:, [6, 3], 1]
    # every contact foot is on the floor: its ankle at ANKLE_HEIGHT (the sole at y = 0), and no
    # frame has its lowest contact foot elsewhere
    np.testing.assert_allclose(ankles[out.contacts], ANKLE_HEIGHT, atol=1e-9)
    np.testing.assert_allclose(out.shift, -drift, atol=1e-9)
    # a rigid vertical move per frame: the pose itself is unchanged
    np.testing.assert_allclose(out.poses_world - out.poses_world[:, :1],
                               poses - poses[:, :1], atol=1e-12)
    # the planted feet do not move, so nothing skates
    assert out.skating["cm_per_s"] == pytest.approx(0.0, abs=1e-9)


def test_place_on_floor_interpolates_frames_without_contact():
    poses = np.repeat(STAND[None], 5, axis=0).astype(np.float64)
    poses[..., 1] += np.array([0.1, 0.5, 0.5, 0.5, 0.3])[:, None]  # a jump in frames 1-3
    contacts = np.array([[1, 1], [0, 0], [0, 0], [0, 0], [1, 1]], dtype=bool)
    placed, shift = place_on_floor(poses, contacts)
    np.testing.assert_allclose(shift, [-0.1, -0.15, -0.2, -0.25, -0.3])
    np.testing.assert_allclose(placed[[0, 4]][:, [3, 6], 1], ANKLE_HEIGHT)
    # no contact at all: the clip's low ankle quantile goes to ANKLE_HEIGHT
    placed, shift = place_on_floor(poses, np.zeros((5, 2), dtype=bool), fallback_quantile=0.0)
    np.testing.assert_allclose(shift, -0.1)


def test_foot_skating_by_hand():
    poses = np.repeat(STAND[None], 4, axis=0).astype(np.float64)
    poses[:, 6, 0] += [0.0, 0.01, 0.02, 0.03]  # the left foot slides 1 cm a frame along x
    poses[:, 3, 2] += [0.0, 0.0, 0.04, 0.04]  # the right foot jumps 4 cm in z between 1 and 2
    contacts = np.array([[1, 1], [1, 1], [1, 0], [1, 0]], dtype=bool)
    # left: 3 pairs of 10 mm; right: 1 pair (frames 0-1) of 0 mm -> (30 + 0) / 4 = 7.5 mm/frame
    got = foot_skating(poses, contacts, FPS)
    assert got["mm_per_frame"] == pytest.approx(7.5)
    assert got["cm_per_s"] == pytest.approx(7.5 * FPS / 10.0)
    assert got["contact_frames"] == 4
    assert foot_skating(poses, np.zeros((4, 2), bool), FPS)["cm_per_s"] == 0.0
