"""Multi-person tracking over keypoint boxes (skelgnn.infer.tracking)."""
from __future__ import annotations

import numpy as np
import pytest

from skelgnn.infer.tracking import box_iou, keypoint_box, track_people


def _person(x, y, size=100.0, score=0.9, joints=17):
    rng = np.random.default_rng(int(x * 7 + y))
    kp = np.zeros((joints, 3))
    kp[:, :2] = [x, y] + rng.uniform(0, size, (joints, 2))
    kp[0, :2] = [x, y]
    kp[1, :2] = [x + size, y + size]
    kp[:, 2] = score
    return kp


def test_box_and_iou():
    kp = np.array([[0, 0, 0.9], [10, 20, 0.9], [500, 500, 0.1], [np.nan, np.nan, 0.0]])
    np.testing.assert_allclose(keypoint_box(kp, 0.3), [0, 0, 10, 20])
    assert box_iou(np.array([0, 0, 10, 10.0]), np.array([5, 0, 15, 10.0])) == pytest.approx(1 / 3)
    assert box_iou(np.array([0, 0, 1, 1.0]), np.full(4, np.nan)) == 0.0


def test_two_people_crossing_order_keep_their_ids():
    # A walks right, B walks left; the detector lists them in a random order every frame.
    rng = np.random.default_rng(0)
    dets = {}
    for f in range(30):
        a, b = _person(100 + 10 * f, 100), _person(700 - 10 * f, 400)
        dets[f] = [a, b] if rng.random() < 0.5 else [b, a]
    tracks = track_people(dets)
    assert [t.id for t in tracks] == [0, 1]
    for t in tracks:
        assert t.frames.tolist() == list(range(30)) and t.num_detections == 30
        ys = t.keypoints[:, 0, 1]
        assert np.ptp(ys) == 0  # every frame of a track is the same person
    assert {float(t.keypoints[0, 0, 1]) for t in tracks} == {100.0, 400.0}


def test_gap_is_bridged_and_long_absence_starts_a_new_track():
    dets = {f: [_person(100 + 5 * f, 100)] for f in range(10)}
    for f in range(10, 14):
        dets[f] = []  # 4 missed frames: bridged
    dets.update({f: [_person(100 + 5 * f, 100)] for f in range(14, 20)})
    dets.update({f: [_person(100 + 5 * f, 100)] for f in range(40, 45)})  # back after 20 frames
    tracks = track_people(dets, max_gap=10)
    assert [len(t.frames) for t in tracks] == [20, 5]
    gap = tracks[0].keypoints[10:14]
    assert np.isnan(gap[..., :2]).all() and (gap[..., 2] == 0).all()


def test_fast_motion_matched_by_centroid_and_short_tracks_dropped():
    dets = {0: [_person(100, 100)], 1: [_person(160, 100)], 2: [_person(220, 100)],
            3: [_person(220, 100), _person(900, 900)]}  # a one-frame false detection
    tracks = track_people(dets, min_length=2)
    assert len(tracks) == 1 and tracks[0].num_detections == 4
    assert len(track_people(dets)) == 2
    with pytest.raises(ValueError, match="J, 3"):
        track_people({0: [np.zeros((17, 3))], 1: [np.zeros((5, 3))]})
