"""Left/right flip repair: undo a detector's swapped left/right labels, frame by frame.

2D detectors (MediaPipe BlazePose, OpenPose, ...) sometimes label the person's left limbs as the
right ones: in a frontal view the whole body flips in a run of frames, or only the legs. The
lifter then sees a person who turns round between two frames, and its 3D does too.

**Detection (temporal consistency).** A person's joints move little between two frames, while a
swap moves every left/right joint by the width of the body. Each limb group (the legs with the
hips, the arms with the shoulders) gets a two-state chain per frame -- labels as detected, or
swapped -- and the Viterbi path minimises the summed 2D displacement of the group's joints between
consecutive frames under the chosen labellings (in units of the person's median height), plus a
small cost :data:`SWITCH_COST` per change of state so that a profile view (left on top of right:
either labelling moves as little) keeps its labels. The displacement cost is blind to swapping
every frame of a path at once, so of the two equally good paths the one that swaps fewer frames
wins: the detector is taken to be right most of the time. A swapped run that touches the clip's
first or last frame has one boundary only, and one change of labels is cheap to explain away: a
person turning round, or legs crossing in a profile view, lets either labelling move as little
at the moment left and right pass each other. Such a run, when longer than
:data:`EDGE_SHORT_FRAMES`, is kept only when the group's joints jump at its boundary by
:data:`EDGE_EVIDENCE` or more (a swap in a frontal view moves them by the body's width); on the
val subject's novel cameras the runs dropped this way were 33-118 frames of correct labels taken
for swapped.

**3D consistency.** Given a lifter (:func:`repair_flips` ``lift``), the chain also pays for the
change of the lifted body's facing direction (the normal of its hips and shoulders) between
consecutive frames under their labellings: a swapped frontal frame lifts to a person facing away,
and nobody turns round between two frames. This cue still holds where the 2D one is weak (a
joint missing in one of the two frames, a person seen from above), and it lets a person who
really turns round keep their labels. :class:`skelgnn.infer.lifter.Lifter` uses it with
single-frame lifters only: a temporal lifter spreads a run of swapped frames over its whole
window, so its 3D is not a per-frame cue (on whole-body swaps injected into shelf_dev's real
detections it cost the 27-frame footage checkpoint most of its leg recall, while with the
single-frame checkpoint it repaired the two tracks the 2D cue got wrong).

The repair works on Human3.6M-17 keypoints (after :func:`skelgnn.infer.layouts.convert`), before the
gaps are filled; the face joints there (nose, mid-eyes) are symmetric and need no repair.

Shape letters: ``F`` frames, ``J`` joints (17, Human3.6M order).
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from skelgnn.skeleton import H36M17

__all__ = ["FLIP_GROUPS", "SWITCH_COST", "EDGE_EVIDENCE", "EDGE_SHORT_FRAMES", "FlipReport", "detect_flips",
           "repair_flips", "swap_groups"]

log = logging.getLogger(__name__)

FLIP_GROUPS: dict[str, tuple[tuple[int, int], ...]] = {
    "legs": ((1, 4), (2, 5), (3, 6)),        # (RHip, LHip), (RKnee, LKnee), (RFoot, LFoot)
    "arms": ((14, 11), (15, 12), (16, 13)),  # (RShoulder, LShoulder), elbows, wrists
}
"""The limb groups repaired independently, as (right, left) joint pairs of Human3.6M-17."""

SWITCH_COST = 0.03
"""Cost of a change of labelling between two frames, in person heights of mean displacement."""

EDGE_EVIDENCE = 0.1
"""Least saving (person heights of mean displacement, plus the 3D term when used) at the one
boundary of a swapped run that touches the clip's first or last frame, longer than
:data:`EDGE_SHORT_FRAMES`, for the run to be kept: what swapping there saves over keeping the
labels."""

EDGE_SHORT_FRAMES = 15
"""Swapped runs at the clip's first or last frame up to this long are kept as the chain found
them (a detector's swap in progress when the clip starts or ends)."""

FACING_WEIGHT = 0.1
"""Weight of the 3D facing term: ``FACING_WEIGHT * (1 - cos)`` of the angle between two
consecutive frames' facing directions (a turn by half a circle costs ``2 * FACING_WEIGHT``, about
what a frontal swap costs in 2D)."""


@dataclass(frozen=True)
class FlipReport:
    """What :func:`repair_flips` did.

    Attributes:
        swapped: ``(F, G)`` bool, True where group ``g`` (:data:`FLIP_GROUPS` order) was swapped.
        groups: the group names.
    """

    swapped: np.ndarray = field(repr=False)
    groups: tuple[str, ...] = tuple(FLIP_GROUPS)

    @property
    def frames(self) -> int:
        return int(self.swapped.shape[0])

    @property
    def swapped_frames(self) -> int:
        """Frames with at least one group swapped."""
        return int(self.swapped.any(axis=1).sum())

    def summary(self) -> str:
        """One line for a log or the CLI."""
        per = ", ".join(f"{g} {int(n)}" for g, n in zip(self.groups, self.swapped.sum(axis=0)))
        return (f"swapped left/right in {self.swapped_frames} of {self.frames} frames "
                f"({per})")


def swap_groups(keypoints: np.ndarray, swapped: np.ndarray) -> np.ndarray:
    """Exchange the left and right joints of each group in the frames marked ``swapped``.

    Args:
        keypoints: ``(F, 17, C)`` any per-joint values (pixels, scores, 3D).
        swapped: ``(F, G)`` bool in :data:`FLIP_GROUPS` order (or ``(F,)``: every group).

    Returns:
        a swapped copy (swapping twice is the identity).
    """
    out = np.array(keypoints, copy=True)
    sw = np.asarray(swapped, dtype=bool)
    if sw.ndim == 1:
        sw = np.repeat(sw[:, None], len(FLIP_GROUPS), axis=1)
    for g, pairs in enumerate(FLIP_GROUPS.values()):
        frames = np.flatnonzero(sw[:, g])
        for right, left in pairs:
            out[frames, right], out[frames, left] = keypoints[frames, left], keypoints[frames, right]
    return out


def _height(xy: np.ndarray, valid: np.ndarray) -> float:
    """Median person height over frames, pixels (1 when unknown)."""
    y = np.where(valid, xy[..., 1], np.nan)  # (F, J)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames
        h = np.nanmax(y, axis=1) - np.nanmin(y, axis=1)  # (F,)
    h = h[np.isfinite(h) & (h > 0)]
    return float(np.median(h)) if h.size else 1.0


def _viterbi(unary: np.ndarray, pair: np.ndarray) -> np.ndarray:
    """Cheapest state path: ``unary`` ``(F, S)``, ``pair`` ``(F-1, S, S)`` (from, to)."""
    f, s = unary.shape
    cost = unary[0].copy()
    back = np.zeros((f, s), dtype=np.int64)
    for t in range(1, f):
        total = cost[:, None] + pair[t - 1]  # (S_from, S_to)
        back[t] = total.argmin(axis=0)
        cost = total.min(axis=0) + unary[t]
    path = np.empty(f, dtype=np.int64)
    path[-1] = int(cost.argmin())
    for t in range(f - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def _group_pair_costs(xy: np.ndarray, valid: np.ndarray, pairs: tuple[tuple[int, int], ...],
                      height: float) -> np.ndarray:
    """``(F-1, 2, 2)`` mean displacement between frames t-1 and t under each pair of labellings."""
    idx = [j for pair in pairs for j in pair]
    swp = [j for right, left in pairs for j in (left, right)]
    labels = [idx, swp]
    f = xy.shape[0]
    out = np.zeros((max(f - 1, 0), 2, 2))
    for a in range(2):
        for b in range(2):
            prev, cur = xy[:-1, labels[a]], xy[1:, labels[b]]  # (F-1, 2k, 2)
            ok = valid[:-1, labels[a]] & valid[1:, labels[b]]  # (F-1, 2k)
            dist = np.linalg.norm(cur - prev, axis=-1)  # (F-1, 2k)
            dist = np.where(ok, dist, 0.0)
            n = ok.sum(axis=1)
            out[:, a, b] = np.where(n > 0, dist.sum(axis=1) / np.maximum(n, 1), 0.0) / height
    out[:, 0, 1] += SWITCH_COST
    out[:, 1, 0] += SWITCH_COST
    return out


def _facing(poses: np.ndarray) -> np.ndarray:
    """``(F, 3)`` unit facing direction of 3D poses (left-to-right hips and shoulders x up)."""
    across = (poses[:, 4] - poses[:, 1]) + (poses[:, 11] - poses[:, 14])  # right -> left
    up = poses[:, 8] - poses[:, 0]
    n = np.cross(up, across)  # (F, 3)
    return n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-9)


def _facing_pair_costs(lift: Callable[[np.ndarray], np.ndarray], keypoints: np.ndarray
                       ) -> np.ndarray:
    """``(F-1, 2, 2)`` 3D cost of the change of facing between frames t-1 and t, under the
    detected (0) and the whole-body-swapped (1) labelling of each."""
    both = [lift(keypoints), lift(swap_groups(keypoints, np.ones(len(keypoints), bool)))]
    facing = [_facing(p) for p in both]  # each (F, 3)
    out = np.zeros((len(keypoints) - 1, 2, 2))
    for a in range(2):
        for b in range(2):
            cos = np.einsum("fc,fc->f", facing[a][:-1], facing[b][1:])
            out[:, a, b] = FACING_WEIGHT * (1.0 - cos)
    return out


def detect_flips(keypoints: np.ndarray, min_score: float = 0.3,
                 lift: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> np.ndarray:
    """Frames whose left/right labels look swapped, per group (see the module docstring).

    Args:
        keypoints: ``(F, 17, 3)`` Human3.6M-17 pixels and scores (NaN / low score: missing).
        min_score: joints scoring below it are missing.
        lift: optional 3D consistency: keypoints ``(F, 17, 3)`` (no missing values) ->
            root-relative 3D ``(F, 17, 3)``.

    Returns:
        ``(F, G)`` bool in :data:`FLIP_GROUPS` order.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[1] != H36M17.num_joints or kp.shape[2] != 3:
        raise ValueError(f"flip repair: expected Human3.6M-17 keypoints (F, 17, 3), found "
                         f"{tuple(kp.shape)}")
    xy = kp[..., :2]
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(xy).all(-1) & np.isfinite(kp[..., 2]) & (kp[..., 2] >= min_score)
    f = kp.shape[0]
    swapped = np.zeros((f, len(FLIP_GROUPS)), dtype=bool)
    if f < 2:
        return swapped
    height = _height(xy, valid)
    pair3d = _facing_pair_costs(lift, kp) if lift is not None else 0.0
    for g, pairs in enumerate(FLIP_GROUPS.values()):
        pair = _group_pair_costs(xy, valid, pairs, height) + pair3d
        path = _viterbi(np.zeros((f, 2)), pair)
        # the costs are (nearly) blind to swapping the whole path: of the two, the one that
        # swaps fewer frames (the detector is right most of the time)
        if path.sum() * 2 > f:
            path = 1 - path
        swapped[:, g] = _drop_weak_edge_runs(path.astype(bool), pair)
    return swapped


def _drop_weak_edge_runs(path: np.ndarray, pair: np.ndarray) -> np.ndarray:
    """``path`` ``(F,)`` without the swapped runs touching its first or last frame whose one
    boundary saves less than :data:`EDGE_EVIDENCE` (``pair``: the chain's ``(F-1, 2, 2)`` costs,
    switch cost included)."""
    out = path.copy()
    f = len(out)
    plain = pair.copy()
    plain[:, 0, 1] -= SWITCH_COST
    plain[:, 1, 0] -= SWITCH_COST
    edges = np.diff(np.concatenate([[0], out.astype(np.int64), [0]]))
    for start, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        if start > 0 and end < f:
            continue  # two boundaries: the chain's own costs decided
        if (start == 0 and end == f) or end - start <= EDGE_SHORT_FRAMES:
            continue  # short: a swap in progress at the clip's start or end
        t = end - 1 if start == 0 else start - 1  # the transition between frames t and t + 1
        saving = (plain[t, 1, 1] - plain[t, 1, 0]) if start == 0 else (plain[t, 0, 0] - plain[t, 0, 1])
        if saving < EDGE_EVIDENCE:
            out[start:end] = False
    return out


def repair_flips(keypoints: np.ndarray, min_score: float = 0.3,
                 lift: Optional[Callable[[np.ndarray], np.ndarray]] = None
                 ) -> tuple[np.ndarray, FlipReport]:
    """Detect (:func:`detect_flips`) and undo swapped left/right labels.

    Returns:
        the repaired ``(F, 17, 3)`` keypoints and a :class:`FlipReport`.
    """
    swapped = detect_flips(keypoints, min_score, lift)
    report = FlipReport(swapped)
    if report.swapped_frames:
        log.info("flip repair: %s", report.summary())
    return swap_groups(np.asarray(keypoints, dtype=np.float64), swapped), report
