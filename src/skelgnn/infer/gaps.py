"""Filling the joints a detector missed, and readying any layout for a lifter.

:func:`fill_missing` treats joints with a score below ``min_score`` (or non-finite coordinates) as
missing and fills them by linear interpolation over time, per joint, holding the first / last
observed value at the ends -- the gap filling commonly done before lifting.
:func:`prepare_keypoints` converts a layout to Human3.6M-17 and fills it.

Shape letters: ``F`` frames, ``J`` joints.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from skelgnn.infer.keypoints import as_keypoint_array
from skelgnn.infer.layouts import convert, resolve_layout
from skelgnn.infer.plausibility import COCO_FACE_SPREAD_MAX, FACE_SPREAD_WARN, face_spread
from skelgnn.skeleton import H36M17

__all__ = ["FillReport", "fill_missing", "prepare_keypoints"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FillReport:
    """What :func:`fill_missing` did.

    Attributes:
        frames: frames in the sequence.
        joints: joints per frame.
        missing_joints: joint observations (frame, joint pairs) that were missing and got filled.
        filled_frames: frames with at least one filled joint.
        empty_frames: frames with no usable joint at all (entirely interpolated).
        per_joint: missing observations per joint, ``(J,)``.
        mask: ``(F, J)`` bool, True where a joint was filled.
        unseen: joints never seen in the clip and placed from the body
            (:mod:`skelgnn.infer.body_fill`); their ``mask`` column is True in every frame.
    """

    frames: int
    joints: int
    missing_joints: int
    filled_frames: int
    empty_frames: int
    per_joint: tuple[int, ...] = ()
    mask: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool), repr=False)
    unseen: tuple[int, ...] = ()

    def summary(self) -> str:
        """One line for a log or the CLI."""
        if self.missing_joints == 0:
            return f"{self.frames} frames, no missing joints"
        line = (f"{self.frames} frames: filled {self.missing_joints} missing joint(s) in "
                f"{self.filled_frames} frame(s) ({self.empty_frames} frame(s) without any joint)")
        if self.unseen:
            names = H36M17.names if self.joints == H36M17.num_joints else None
            listed = ", ".join(names[j] if names else str(j) for j in self.unseen)
            line += f"; never seen, placed from the body: {listed}"
        return line


def fill_missing(keypoints: np.ndarray, min_score: float = 0.3,
                 names: Optional[Sequence[str]] = None,
                 fill_unseen: bool = False) -> tuple[np.ndarray, FillReport]:
    """Fill missing joints by linear interpolation over time, per joint.

    A joint is missing where its score is below ``min_score`` or a coordinate is not finite.
    Between two observations it is interpolated linearly; before the first / after the last one it
    holds that observation (edge hold).

    Args:
        keypoints: ``(F, J, 3)`` pixels and score (or ``(F, J, 2)``: every finite joint is valid).
        min_score: score threshold of a usable joint.
        names: joint names for error messages (default: H36M17's when ``J == 17``).
        fill_unseen: Human3.6M-17 keypoints only: place joints never seen in the clip from the
            body (:mod:`skelgnn.infer.body_fill`) instead of refusing, unless too little is left.

    Returns:
        ``(F, J, 3)`` float64 with every coordinate finite (scores unchanged), and a
        :class:`FillReport`.

    Raises:
        ValueError: a bad shape, no usable joint in any frame, or a joint never usable
            (with ``fill_unseen``: too little of the body seen,
            :func:`skelgnn.infer.body_fill.check_enough_seen`).
    """
    kp = as_keypoint_array(keypoints, "fill_missing")  # a copy: filled in place below
    if isinstance(min_score, (bool, np.bool_)) or not isinstance(min_score, (int, float, np.number)) \
            or not math.isfinite(float(min_score)):
        raise ValueError(f"min_score must be a finite number (a joint score threshold such as 0.3), "
                         f"found {min_score!r}")
    if kp.ndim != 3 or kp.shape[2] not in (2, 3) or kp.shape[0] == 0:
        raise ValueError(f"fill_missing: expected keypoints (F, J, 2|3) with F >= 1, found "
                         f"{tuple(kp.shape)}")
    if kp.shape[2] == 2:
        kp = np.concatenate([kp, np.ones(kp.shape[:2] + (1,))], -1)
    f, j = kp.shape[:2]
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(kp[..., :2]).all(-1) & np.isfinite(kp[..., 2]) \
            & (kp[..., 2] >= min_score)  # (F, J)
    if not valid.any():
        raise ValueError(f"no usable keypoints: no joint in any of the {f} frames has a score >= "
                         f"{min_score:g}; check the detections or lower --min-score")
    never = np.flatnonzero(~valid.any(axis=0))
    if never.size and fill_unseen and j == H36M17.num_joints:
        from skelgnn.infer.body_fill import check_enough_seen, fill_unseen_from_body

        check_enough_seen(valid)
        seen = np.flatnonzero(valid.any(axis=0))
        part, _ = fill_missing(kp[:, seen], min_score, [str(i) for i in seen])
        kp[:, seen] = part
        unseen = ~valid.any(axis=0)  # (J,)
        scores = np.where(valid, kp[..., 2], 0.0)  # (F, J)
        kp[..., :2] = fill_unseen_from_body(kp[..., :2], unseen, scores)
        mask = ~valid
        report = FillReport(frames=f, joints=j, missing_joints=int(mask.sum()),
                            filled_frames=int(mask.any(1).sum()),
                            empty_frames=int(mask.all(1).sum()),
                            per_joint=tuple(int(n) for n in mask.sum(0)), mask=mask,
                            unseen=tuple(int(i) for i in never))
        log.info("fill_missing: %s", report.summary())
        return kp, report
    if never.size:
        names = list(names) if names is not None else \
            list(H36M17.names) if j == H36M17.num_joints else [str(i) for i in range(j)]
        scores = np.where(np.isfinite(kp[..., 2]), kp[..., 2], 0.0)  # (F, J)
        best = [float(scores[:, i].max()) for i in never]
        listed = ", ".join(f"{names[i]} (best score {b:.2f})" for i, b in zip(never, best))
        raise ValueError(f"joint(s) never seen with score >= {min_score:g} in {f} frames, so they "
                         f"cannot be filled from other frames: {listed}; lower --min-score or "
                         f"use a clip where the whole body is visible")
    t = np.arange(f)
    for i in range(j):
        missing = ~valid[:, i]
        if missing.any():
            for c in range(2):
                # np.interp holds the end values outside the observed range (edge hold).
                kp[missing, i, c] = np.interp(t[missing], t[valid[:, i]], kp[valid[:, i], i, c])
    mask = ~valid
    report = FillReport(frames=f, joints=j, missing_joints=int(mask.sum()),
                        filled_frames=int(mask.any(1).sum()), empty_frames=int(mask.all(1).sum()),
                        per_joint=tuple(int(n) for n in mask.sum(0)), mask=mask)
    if report.missing_joints:
        log.info("fill_missing: %s", report.summary())
    return kp, report


def prepare_keypoints(keypoints: np.ndarray, layout: str = "h36m17", min_score: float = 0.3,
                      declared: Optional[str] = None,
                      fill_unseen: bool = True) -> tuple[np.ndarray, FillReport]:
    """Any supported layout -> filled H36M 17-joint keypoints ready for a lifter.

    Args:
        keypoints: ``(F, J, 2|3)`` pixels (and scores) in ``layout``.
        layout: a layout name or ``"auto"`` (see :func:`skelgnn.infer.layouts.resolve_layout`).
        min_score: joints scoring below it are missing and get filled.
        declared: the layout the file declares, used by ``"auto"``.
        fill_unseen: place joints never seen in the clip from the body and flag them
            (:mod:`skelgnn.infer.body_fill`) rather than refuse the clip; it is refused only when
            too little of the body is left.

    Returns:
        ``(F, 17, 3)`` float64 pixels and scores with every coordinate finite, and the
        :class:`FillReport`.
    """
    kp = as_keypoint_array(keypoints)
    if kp.ndim != 3:
        raise ValueError(f"keypoints must be (F, J, 2) or (F, J, 3), found shape {tuple(kp.shape)}")
    if kp.shape[0] == 0:
        raise ValueError("keypoints have no frames")
    resolved = resolve_layout(layout, kp.shape[1], declared)
    spread = face_spread(kp) if resolved in ("h36m17", "coco17") else math.nan
    if resolved == "coco17" and spread > COCO_FACE_SPREAD_MAX:
        log.warning("keypoints: read in COCO order (layout coco17), joints 0-4 (nose, eyes, ears) "
                    "span %.0f%% of the body: they are no face, so the keypoints are probably in "
                    "Human3.6M order. Pass layout='h36m17' (--layout h36m17) if so", 100 * spread)
    elif resolved == "h36m17" and spread < FACE_SPREAD_WARN:
        log.warning("keypoints: read in Human3.6M order (layout h36m17, the Lifter's default), "
                    "joints 0-4 (pelvis, right leg, left hip) span only %.0f%% of the body: "
                    "they look like COCO's face joints. Pass layout='coco17' (--layout coco17) "
                    "if the keypoints are in COCO order", 100 * spread)
    return fill_missing(convert(kp, resolved), min_score, fill_unseen=fill_unseen)
