"""Joints a detector never saw in a clip, filled from the rest of the body instead of refused.

Real detectors miss some joints for a whole clip: the face of a person seen from behind, an arm
hidden behind the body. Temporal interpolation (:func:`skelgnn.infer.gaps.fill_missing`) has
nothing to interpolate from, so such a joint is placed from the body instead: every frame fits a
2D similarity transform (rotation, scale, translation, reflection allowed: a person seen from
behind is the mirror image of one seen from the front) from a standing template to the joints
that frame does have, weighted by their scores, and the unseen joint is the template's joint
under that transform: a head above the shoulders, a hidden arm hanging down from its shoulder.
The filled joints are flagged (the ``filled`` mask of the output is True for them in every
frame and the fill report lists them as ``unseen``).

**When too little is left** the clip is refused with one clear message: fewer than
:data:`MIN_SEEN_JOINTS` of the 17 Human3.6M joints seen in any frame, or no hip or no shoulder
ever seen (the torso is what places everything else).

Shape letters: ``F`` frames, ``J`` joints (17, Human3.6M order).
"""
from __future__ import annotations

import logging

import numpy as np

from skelgnn.skeleton import H36M17

__all__ = ["BODY_TEMPLATE", "MIN_SEEN_JOINTS", "check_enough_seen", "fill_unseen_from_body",
           "similarity_fit"]

log = logging.getLogger(__name__)

MIN_SEEN_JOINTS = 8
"""Fewest of the 17 Human3.6M joints a clip must show (each in at least one frame)."""

BODY_TEMPLATE = np.array([
    [0.00, 0.00],    # 0 Hip
    [-0.13, 0.00],   # 1 RHip
    [-0.13, 0.45],   # 2 RKnee
    [-0.13, 0.88],   # 3 RFoot
    [0.13, 0.00],    # 4 LHip
    [0.13, 0.45],    # 5 LKnee
    [0.13, 0.88],    # 6 LFoot
    [0.00, -0.23],   # 7 Spine
    [0.00, -0.48],   # 8 Thorax
    [0.00, -0.58],   # 9 Neck/Nose
    [0.00, -0.68],   # 10 Head
    [0.16, -0.45],   # 11 LShoulder
    [0.20, -0.19],   # 12 LElbow
    [0.22, 0.05],    # 13 LWrist
    [-0.16, -0.45],  # 14 RShoulder
    [-0.20, -0.19],  # 15 RElbow
    [-0.22, 0.05],   # 16 RWrist
])
"""A person standing upright, arms hanging, seen from the front (image axes: x right, y down;
metres, pelvis at the origin), Human3.6M-17 order: the person's left is on the image's right."""

_HIPS = (1, 4)
_SHOULDERS = (11, 14)


def similarity_fit(source: np.ndarray, target: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The 2D similarity (reflection allowed) taking ``source`` nearest to ``target``.

    Weighted orthogonal Procrustes (Umeyama's closed form without the determinant correction,
    since a mirror image is a valid view of a body).

    Args:
        source: ``(N, 2)`` points.
        target: ``(N, 2)`` points.
        weights: ``(N,)`` non-negative weights, not all zero.

    Returns:
        ``(3, 2)``: ``[A; b]`` with ``target ~ source @ A + b``.
    """
    w = weights / weights.sum()
    mu_s, mu_t = w @ source, w @ target  # (2,)
    s, t = source - mu_s, target - mu_t
    cov = (s * w[:, None]).T @ t  # (2, 2)
    u, sig, vt = np.linalg.svd(cov)
    rot = u @ vt
    var = float((w * (s ** 2).sum(1)).sum())
    scale = float(sig.sum()) / var if var > 0 else 1.0
    a = scale * rot
    return np.vstack([a, mu_t - mu_s @ a])


def check_enough_seen(valid: np.ndarray) -> None:
    """Refuse a clip that shows too little of the body (see the module docstring).

    Args:
        valid: ``(F, 17)`` bool, a joint usable in a frame.

    Raises:
        ValueError: fewer than :data:`MIN_SEEN_JOINTS` joints seen, or no hip / no shoulder.
    """
    seen = valid.any(axis=0)  # (J,)
    names = H36M17.names
    missing = [names[j] for j in np.flatnonzero(~seen)]
    if int(seen.sum()) < MIN_SEEN_JOINTS or not seen[list(_HIPS)].any() \
            or not seen[list(_SHOULDERS)].any():
        raise ValueError(
            f"too little of the body is visible to lift: {int(seen.sum())} of 17 joints seen in "
            f"{valid.shape[0]} frames (never seen: {', '.join(missing)}); at least "
            f"{MIN_SEEN_JOINTS}, including a hip and a shoulder, are needed to fill the rest from "
            "the body. Lower --min-score or use a clip showing more of the person")


def fill_unseen_from_body(keypoints: np.ndarray, unseen: np.ndarray,
                          scores: np.ndarray) -> np.ndarray:
    """Place joints never seen in the clip from the body, frame by frame.

    Args:
        keypoints: ``(F, 17, 2)`` pixels, finite for every joint not in ``unseen`` (already
            filled over time).
        unseen: ``(17,)`` bool, the joints to place.
        scores: ``(F, 17)`` joint scores (weights of the fit; interpolated joints score low).

    Returns:
        ``(F, 17, 2)``: ``keypoints`` with the unseen joints placed.
    """
    out = np.array(keypoints, dtype=np.float64)
    known = np.flatnonzero(~unseen)
    missing = np.flatnonzero(unseen)
    w_all = np.clip(np.nan_to_num(scores, nan=0.0), 0.05, None)  # (F, J): filled joints count a little
    for f in range(out.shape[0]):
        fit = similarity_fit(BODY_TEMPLATE[known], out[f, known], w_all[f, known])
        out[f, missing] = BODY_TEMPLATE[missing] @ fit[:2] + fit[2]
    log.info("filled from the body (never seen in %d frames): %s", out.shape[0],
             ", ".join(H36M17.names[j] for j in missing))
    return out
