"""Tests of skelgnn.infer.layouts: hand-computed conversions to the H36M 17-joint layout."""
from __future__ import annotations

import numpy as np
import pytest

from skelgnn.infer.layouts import (BLAZEPOSE33_NAMES, COCO17_NAMES, LAYOUTS, convert, detect_layout,
                             resolve_layout)
from skelgnn.skeleton import H36M17


def _coco_frame() -> np.ndarray:
    """One COCO frame (17, 3) with easy numbers: joint i at (10 i, 100 + i), score 0.9 - 0.01 i."""
    i = np.arange(17, dtype=np.float64)
    return np.stack([10 * i, 100 + i, 0.9 - 0.01 * i], axis=-1)


def test_coco17_hand_computed():
    kp = _coco_frame()[None]  # (1, 17, 3)
    out = convert(kp, "coco17")
    assert out.shape == (1, 17, 3)
    o = out[0]
    # COCO: 0 nose, 1 l_eye, 2 r_eye, 5 l_sh, 6 r_sh, 7 l_el, 8 r_el, 9 l_wr, 10 r_wr,
    # 11 l_hip, 12 r_hip, 13 l_knee, 14 r_knee, 15 l_ank, 16 r_ank
    def at(i):
        return [10.0 * i, 100.0 + i]

    np.testing.assert_allclose(o[0, :2], [115.0, 111.5])   # pelvis = mid(11, 12)
    np.testing.assert_allclose(o[1, :2], at(12))           # RHip
    np.testing.assert_allclose(o[2, :2], at(14))           # RKnee
    np.testing.assert_allclose(o[3, :2], at(16))           # RFoot
    np.testing.assert_allclose(o[4, :2], at(11))           # LHip
    np.testing.assert_allclose(o[5, :2], at(13))           # LKnee
    np.testing.assert_allclose(o[6, :2], at(15))           # LFoot
    np.testing.assert_allclose(o[8, :2], [55.0, 105.5])    # thorax = mid(5, 6)
    np.testing.assert_allclose(o[7, :2], [85.0, 108.5])    # spine = mid(pelvis, thorax)
    np.testing.assert_allclose(o[9, :2], at(0))            # neck/nose = nose
    np.testing.assert_allclose(o[10, :2], [15.0, 101.5])   # head = mid(eyes 1, 2)
    np.testing.assert_allclose(o[11, :2], at(5))
    np.testing.assert_allclose(o[12, :2], at(7))
    np.testing.assert_allclose(o[13, :2], at(9))
    np.testing.assert_allclose(o[14, :2], at(6))
    np.testing.assert_allclose(o[15, :2], at(8))
    np.testing.assert_allclose(o[16, :2], at(10))
    # Scores: direct joints keep theirs, derived = min of sources.
    s = 0.9 - 0.01 * np.arange(17)
    assert o[0, 2] == pytest.approx(s[12])                 # min(s11, s12)
    assert o[8, 2] == pytest.approx(s[6])                  # min(s5, s6)
    assert o[7, 2] == pytest.approx(s[12])                 # min over both hips and shoulders
    assert o[10, 2] == pytest.approx(s[2])
    assert o[3, 2] == pytest.approx(s[16])


def test_blazepose33_hand_computed():
    kp = np.zeros((2, 33, 2))
    # Place the used landmarks; everything else stays at 0 and must not matter.
    pos = {0: (50, 10), 2: (55, 5), 5: (45, 5), 11: (70, 30), 12: (30, 30), 13: (80, 50),
           14: (20, 50), 15: (85, 70), 16: (15, 70), 23: (60, 80), 24: (40, 80), 25: (62, 110),
           26: (38, 110), 27: (63, 140), 28: (37, 140)}
    for i, p in pos.items():
        kp[:, i] = p
    kp[1] += 1.0  # second frame shifted by one pixel
    out = convert(kp, "blazepose33")
    assert out.shape == (2, 17, 3)
    np.testing.assert_allclose(out[..., 2], 1.0)  # no scores given -> 1
    o = out[0, :, :2]
    expected = np.array([
        [50, 80], [40, 80], [38, 110], [37, 140], [60, 80], [62, 110], [63, 140],
        [50, 55], [50, 30], [50, 10], [50, 5], [70, 30], [80, 50], [85, 70], [30, 30],
        [20, 50], [15, 70]], dtype=np.float64)
    np.testing.assert_allclose(o, expected)
    np.testing.assert_allclose(out[1, :, :2], expected + 1.0)


def test_h36m17_is_identity_and_scores_default_to_one():
    rng = np.random.default_rng(0)
    kp = rng.uniform(0, 500, (5, 17, 2))
    out = convert(kp, "h36m17")
    np.testing.assert_array_equal(out[..., :2], kp)
    np.testing.assert_array_equal(out[..., 2], 1.0)
    with_scores = np.concatenate([kp, rng.uniform(0, 1, (5, 17, 1))], -1)
    np.testing.assert_array_equal(convert(with_scores, "h36m17"), with_scores)


def test_sides_follow_the_person():
    # A person facing the camera has their left side on the image's right (larger x).
    kp = np.zeros((1, 17, 2))
    for name in COCO17_NAMES:
        kp[0, COCO17_NAMES.index(name), 0] = 100.0 if name.startswith("left") else \
            -100.0 if name.startswith("right") else 0.0
    out = convert(kp, "coco17")[0]
    assert (out[list(H36M17.joints_left), 0] == 100.0).all()
    assert (out[list(H36M17.joints_right), 0] == -100.0).all()
    assert len(BLAZEPOSE33_NAMES) == 33


def test_missing_source_makes_derived_joint_missing():
    kp = _coco_frame()[None]
    kp[0, 11, :2] = np.nan  # left hip lost
    out = convert(kp, "coco17")[0]
    assert out[4, 2] == 0.0 and np.isnan(out[4, :2]).all()  # LHip
    assert out[0, 2] == 0.0 and out[7, 2] == 0.0            # pelvis, spine derive from it
    assert out[1, 2] > 0 and np.isfinite(out[1, :2]).all()  # RHip unaffected


@pytest.mark.parametrize("layout", LAYOUTS)
def test_convert_rejects_wrong_shapes(layout):
    with pytest.raises(ValueError, match="expects keypoints of shape"):
        convert(np.zeros((3, 18, 2)), layout)
    with pytest.raises(ValueError, match="expects keypoints of shape"):
        convert(np.zeros((17, 2)), layout)
    with pytest.raises(ValueError, match="unknown keypoint layout"):
        convert(np.zeros((1, 17, 2)), "openpose25")


def test_detect_layout_rules():
    assert detect_layout(33) == "blazepose33"
    assert detect_layout(17, "coco17") == "coco17"
    assert detect_layout(17, "h36m17") == "h36m17"
    with pytest.raises(ValueError, match="--layout coco17 or --layout h36m17"):
        detect_layout(17)
    assert detect_layout(25) == "body25"  # OpenPose BODY_25
    with pytest.raises(ValueError, match=r"no known keypoint layout has 23 joints; supported: "
                                         r"h36m17 \(17 joints\), coco17 \(17 joints\), "
                                         r"blazepose33 \(33 joints\), body25 \(25 joints\)"):
        detect_layout(23)
    with pytest.raises(ValueError, match="declares layout 'coco17' .* but has 33"):
        detect_layout(33, "coco17")


def test_resolve_layout():
    assert resolve_layout("auto", 17, "coco17") == "coco17"
    assert resolve_layout("h36m17", 17, "coco17") == "h36m17"  # explicit wins
    assert resolve_layout("blazepose33", 33) == "blazepose33"
    with pytest.raises(ValueError, match="has 17 joints but the keypoints have 33"):
        resolve_layout("coco17", 33)
    with pytest.raises(ValueError, match="unknown keypoint layout"):
        resolve_layout("mpii16", 16)


@pytest.mark.parametrize("layout", [["coco17"], None, 17, np.array("coco17")])
def test_a_layout_that_is_not_a_string(layout):
    """An unhashable layout (a list) used to raise TypeError from the dict lookup."""
    with pytest.raises(ValueError, match="unknown keypoint layout") as info:
        resolve_layout(layout, 17)
    assert type(info.value) is ValueError
    with pytest.raises(ValueError, match="unknown keypoint layout"):
        convert(np.zeros((1, 17, 2)), layout)
