"""Joints never seen in a clip are placed from the body and flagged; too little left: refused."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skelgnn.infer.body_fill import (BODY_TEMPLATE, MIN_SEEN_JOINTS, check_enough_seen,
                               fill_unseen_from_body, similarity_fit)
from skelgnn.infer.gaps import fill_missing, prepare_keypoints

CKPT = Path(__file__).resolve().parents[2] / "checkpoints" / "skelgnn-1f-cmu-det.pt"


def _similar(points: np.ndarray, angle: float, scale: float, shift, mirror: bool = False):
    c, s = np.cos(angle), np.sin(angle)
    a = scale * np.array([[c, s], [-s, c]])
    if mirror:
        a = np.diag([-1.0, 1.0]) @ a
    return points @ a + np.asarray(shift)


@pytest.mark.parametrize("mirror", [False, True])
def test_similarity_fit_recovers_a_known_transform(mirror):
    src = BODY_TEMPLATE
    dst = _similar(src, 0.3, 250.0, (400.0, 300.0), mirror)
    fit = similarity_fit(src, dst, np.ones(len(src)))
    np.testing.assert_allclose(src @ fit[:2] + fit[2], dst, atol=1e-9)


def test_unseen_joints_follow_the_body():
    """A body that is the template under a similarity (mirrored: seen from behind) gets its
    unseen head and right arm exactly where the template puts them."""
    frames = np.stack([_similar(BODY_TEMPLATE, a, 300.0, (500.0, 400.0), mirror=True)
                       for a in (0.0, 0.2, -0.1)])  # (3, 17, 2)
    unseen = np.zeros(17, bool)
    unseen[[9, 10, 15, 16]] = True  # nose, head, right elbow and wrist
    holes = frames.copy()
    holes[:, unseen] = np.nan
    out = fill_unseen_from_body(holes, unseen, np.ones((3, 17)))
    np.testing.assert_allclose(out, frames, atol=1e-6)


def test_fill_missing_places_unseen_joints_and_flags_them():
    rng = np.random.default_rng(0)
    body = _similar(BODY_TEMPLATE, 0.05, 280.0, (500.0, 420.0))
    kp = np.concatenate([body[None] + rng.normal(0, 2, (6, 17, 2)), np.ones((6, 17, 1))], -1)
    kp[:, 10, 2] = 0.1  # the head never seen (from behind)
    kp[2, 13, :2] = np.nan  # a wrist lost in one frame: interpolated as before
    with pytest.raises(ValueError, match="never seen"):
        fill_missing(kp)  # the low-level default still refuses
    out, report = fill_missing(kp, fill_unseen=True)
    assert report.unseen == (10,)
    assert report.mask[:, 10].all() and report.mask[2, 13] and report.mask.sum() == 7
    assert "never seen, placed from the body: Head" in report.summary()
    assert np.isfinite(out[..., :2]).all()
    # the head lands above the thorax by about the template's head height
    np.testing.assert_allclose(out[:, 10, :2], body[10] + np.zeros((6, 2)), atol=8.0)


def test_too_little_left_is_refused_with_the_rule():
    valid = np.zeros((5, 17), bool)
    valid[:, [1, 2, 3, 4, 5, 6, 0]] = True  # legs and pelvis only: no shoulder, 7 joints
    with pytest.raises(ValueError, match=rf"7 of 17 joints seen.*at least {MIN_SEEN_JOINTS}, "
                                         "including a hip and a shoulder"):
        check_enough_seen(valid)
    valid[:, [11, 12]] = True
    check_enough_seen(valid)  # 9 joints with a hip and a shoulder: enough


@pytest.mark.usefixtures("seed_and_one_thread")
def test_lifter_lifts_a_clip_with_a_hidden_arm_and_face(tmp_path):
    """COCO keypoints of a person whose face and right arm are never detected: lifted, the
    filled joints flagged in the saved npz (infer refused such clips before)."""
    from skelgnn.infer.lifter import Lifter

    coco_from_h36m = {0: 9, 1: 10, 2: 10, 3: 10, 4: 10, 5: 11, 6: 14, 7: 12, 8: 15, 9: 13, 10: 16,
                      11: 4, 12: 1, 13: 5, 14: 2, 15: 6, 16: 3}
    body = _similar(BODY_TEMPLATE, 0.0, 300.0, (500.0, 450.0))
    coco = np.zeros((8, 17, 3))
    for c, h in coco_from_h36m.items():
        coco[:, c, :2] = body[h]
        coco[:, c, 2] = 0.9
    coco[:, :5, 2] = 0.0  # face never seen
    coco[:, [8, 10], :2] = np.nan  # right elbow and wrist hidden all clip
    lifter = Lifter.from_checkpoint(CKPT)
    pred = lifter.predict_full(coco, (1000, 1000), "coco17")
    assert np.isfinite(pred.poses_3d).all()
    assert set(pred.report.unseen) == {9, 10, 15, 16}
    saved = np.load(pred.save(tmp_path / "p.npz"))
    assert list(saved["unseen_joints"]) == ["Neck/Nose", "Head", "RElbow", "RWrist"]
    assert saved["filled"][:, [9, 10, 15, 16]].all()
    assert not saved["filled"][:, 11].any()
    # the right wrist hangs below the right shoulder (image y down), as the template's arm
    assert (pred.keypoints_2d[:, 16, 1] > pred.keypoints_2d[:, 14, 1]).all()


def test_prepare_keypoints_refuses_only_when_too_little_is_left():
    kp = np.full((4, 17, 3), 0.9)
    kp[..., :2] = BODY_TEMPLATE * 300 + 500
    kp[:, 11:, 2] = 0.0  # no shoulder, arm or head... in H36M order
    kp[:, 7:11, 2] = 0.0
    with pytest.raises(ValueError, match="too little of the body is visible"):
        prepare_keypoints(kp, "h36m17")
