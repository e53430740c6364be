"""Keypoint layouts of common 2D detectors, and their conversion to the Human3.6M 17-joint layout.

Every model of this package consumes :data:`skelgnn.skeleton.H36M17` (VideoPose3D order:
0 Hip, 1 RHip, 2 RKnee, 3 RFoot, 4 LHip, 5 LKnee, 6 LFoot, 7 Spine, 8 Thorax, 9 Neck/Nose, 10 Head,
11 LShoulder, 12 LElbow, 13 LWrist, 14 RShoulder, 15 RElbow, 16 RWrist). Detectors speak other
layouts; this module maps them:

* ``"h36m17"`` -- already the target layout (identity);
* ``"coco17"`` -- the 17 COCO keypoints (nose, eyes, ears, shoulders, elbows, wrists, hips, knees,
  ankles), as written by most 2D detectors (mmpose, Detectron2, OpenPifPaf, YOLO-pose);
* ``"blazepose33"`` -- the 33 MediaPipe BlazePose landmarks;
* ``"body25"`` -- OpenPose's BODY_25 model (nose, neck, shoulders ... mid-hip ... eyes, ears,
  toes and heels), as written in ``people[].pose_keypoints_2d``. Its pelvis is the mid-point of
  the hips, like the other layouts' (OpenPose's own MidHip is not used).

Joints the source layout lacks are derived as mid-points, the usual recipe (mmpose's
``coco2h36m`` conversion does the same): pelvis = mid-hips, thorax = mid-shoulders, spine =
mid(pelvis, thorax), head = mid-eyes; neck/nose = the nose. "Left" is always the person's left.
A derived joint's score is the minimum of its sources' scores, so it is only trusted when all of
them are.

Shape letters: ``F`` frames, ``J`` joints of the source layout.
"""
from __future__ import annotations

import logging
from typing import Mapping, Optional

import numpy as np

from skelgnn.skeleton import H36M17

__all__ = [
    "LAYOUTS",
    "LAYOUT_CHOICES",
    "LAYOUT_NUM_JOINTS",
    "COCO17_NAMES",
    "BLAZEPOSE33_NAMES",
    "BODY25_NAMES",
    "convert",
    "detect_layout",
    "resolve_layout",
]

log = logging.getLogger(__name__)

COCO17_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
"""COCO keypoint names in COCO order."""

BLAZEPOSE33_NAMES: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)
"""MediaPipe BlazePose landmark names in landmark-index order."""

BODY25_NAMES: tuple[str, ...] = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
    "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe",
    "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)
"""OpenPose BODY_25 keypoint names in OpenPose's order."""

# Each H36M17 joint as the landmarks it is the mean of (names shared by COCO and BlazePose).
# Spine = mid(pelvis, thorax) = mean of both hips and both shoulders (two mid-points of two).
_H36M_FROM_LANDMARKS: tuple[tuple[str, ...], ...] = (
    ("left_hip", "right_hip"),                                   # 0 Hip (pelvis)
    ("right_hip",),                                              # 1 RHip
    ("right_knee",),                                             # 2 RKnee
    ("right_ankle",),                                            # 3 RFoot
    ("left_hip",),                                               # 4 LHip
    ("left_knee",),                                              # 5 LKnee
    ("left_ankle",),                                             # 6 LFoot
    ("left_hip", "right_hip", "left_shoulder", "right_shoulder"),  # 7 Spine
    ("left_shoulder", "right_shoulder"),                         # 8 Thorax
    ("nose",),                                                   # 9 Neck/Nose
    ("left_eye", "right_eye"),                                   # 10 Head
    ("left_shoulder",),                                          # 11 LShoulder
    ("left_elbow",),                                             # 12 LElbow
    ("left_wrist",),                                             # 13 LWrist
    ("right_shoulder",),                                         # 14 RShoulder
    ("right_elbow",),                                            # 15 RElbow
    ("right_wrist",),                                            # 16 RWrist
)
assert len(_H36M_FROM_LANDMARKS) == H36M17.num_joints


def _sources(names: tuple[str, ...]) -> tuple[tuple[int, ...], ...]:
    index = {n: i for i, n in enumerate(names)}
    return tuple(tuple(index[n] for n in group) for group in _H36M_FROM_LANDMARKS)


LAYOUT_NUM_JOINTS: Mapping[str, int] = {"h36m17": 17, "coco17": 17, "blazepose33": 33, "body25": 25}
"""Joints per layout."""

LAYOUTS: tuple[str, ...] = tuple(LAYOUT_NUM_JOINTS)
"""The layouts :func:`convert` knows."""

LAYOUT_CHOICES: tuple[str, ...] = ("auto",) + LAYOUTS
"""Values accepted where a layout is asked for (``"auto"``: see :func:`resolve_layout`)."""

# For each layout, the source joints of each H36M17 joint (mean of coordinates, min of scores).
_RECIPES: Mapping[str, tuple[tuple[int, ...], ...]] = {
    "h36m17": tuple((j,) for j in range(H36M17.num_joints)),
    "coco17": _sources(COCO17_NAMES),
    "blazepose33": _sources(BLAZEPOSE33_NAMES),
    "body25": _sources(BODY25_NAMES),
}


def _check_layout(layout: str) -> str:
    if not isinstance(layout, str) or layout not in LAYOUT_NUM_JOINTS:
        raise ValueError(f"unknown keypoint layout {layout!r}; expected one of {list(LAYOUTS)}")
    return layout


def convert(keypoints: np.ndarray, layout: str) -> np.ndarray:
    """Keypoints of a detector layout -> the H36M 17-joint layout with scores.

    Args:
        keypoints: ``(F, J, 2)`` pixel coordinates, or ``(F, J, 3)`` with a confidence score per
            joint; ``J`` must match ``layout``. Non-finite coordinates mark a missing joint (its
            score becomes 0).
        layout: one of :data:`LAYOUTS`.

    Returns:
        ``(F, 17, 3)`` float64: ``x``, ``y`` (pixels) and score. The score is 1 where the input
        had none; a derived joint's coordinates are the mean of its sources and its score the
        minimum of theirs (NaN coordinates propagate, so a derived joint with a missing source is
        missing too).

    Raises:
        ValueError: unknown layout, or a shape that does not fit it.
    """
    layout = _check_layout(layout)
    j = LAYOUT_NUM_JOINTS[layout]
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[1] != j or kp.shape[2] not in (2, 3):
        raise ValueError(f"layout {layout!r} expects keypoints of shape (F, {j}, 2) or "
                         f"(F, {j}, 3), found {tuple(kp.shape)}")
    xy = kp[..., :2]  # (F, J, 2)
    score = kp[..., 2].copy() if kp.shape[2] == 3 else np.ones(kp.shape[:2])  # (F, J)
    bad = ~np.isfinite(xy).all(axis=-1) | ~np.isfinite(score)
    score[bad] = 0.0
    out = np.empty((kp.shape[0], H36M17.num_joints, 3))  # (F, 17, 3)
    for target, sources in enumerate(_RECIPES[layout]):
        idx = list(sources)
        out[:, target, :2] = xy[:, idx].mean(axis=1)
        out[:, target, 2] = score[:, idx].min(axis=1)
    return out


def detect_layout(n_joints: int, declared: Optional[str] = None) -> str:
    """The layout of a keypoint file with ``n_joints`` joints (the ``"auto"`` rule).

    A layout the file declares wins (after checking its joint count); else 33 joints mean
    BlazePose and 25 OpenPose BODY_25. 17 joints are ambiguous (COCO and Human3.6M both have 17) and must be declared.

    Raises:
        ValueError: the count is ambiguous or unknown, or the declared layout is unknown or does
            not have ``n_joints`` joints.
    """
    if declared is not None:
        declared = _check_layout(str(declared))
        if LAYOUT_NUM_JOINTS[declared] != n_joints:
            raise ValueError(f"the file declares layout {declared!r} "
                             f"({LAYOUT_NUM_JOINTS[declared]} joints) but has {n_joints} joints "
                             "per frame")
        return declared
    if n_joints == 33:
        return "blazepose33"
    if n_joints == 25:
        return "body25"
    if n_joints == 17:
        raise ValueError("17 keypoints per frame can be COCO or Human3.6M order; say which with "
                         "--layout coco17 or --layout h36m17 (or store a 'layout' entry in the "
                         "file)")
    supported = ", ".join(f"{name} ({n} joints)" for name, n in LAYOUT_NUM_JOINTS.items())
    raise ValueError(f"no known keypoint layout has {n_joints} joints; supported: {supported}")


def resolve_layout(requested: str, n_joints: int, declared: Optional[str] = None) -> str:
    """The layout to use: ``requested`` unless it is ``"auto"`` (then :func:`detect_layout`).

    An explicit layout overrides a different declared one (logged as a warning) but must have
    ``n_joints`` joints.

    Raises:
        ValueError: unknown ``requested`` value, or a joint count that does not fit.
    """
    if isinstance(requested, str) and requested == "auto":
        return detect_layout(n_joints, declared)
    if not isinstance(requested, str) or requested not in LAYOUT_NUM_JOINTS:
        raise ValueError(f"unknown keypoint layout {requested!r}; expected one of "
                         f"{list(LAYOUT_CHOICES)}")
    if LAYOUT_NUM_JOINTS[requested] != n_joints:
        fitting = [name for name, n in LAYOUT_NUM_JOINTS.items() if n == n_joints]
        hint = (f"; pass their layout (layout= / --layout): {' or '.join(map(repr, fitting))}"
                if fitting else "")
        raise ValueError(f"layout {requested!r} has {LAYOUT_NUM_JOINTS[requested]} joints but the "
                         f"keypoints have {n_joints} per frame{hint}")
    if declared is not None and declared != requested:
        log.warning("keypoints declare layout %r; using %r as requested", declared, requested)
    return requested
