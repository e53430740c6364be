"""Several people: link per-frame detections into tracks.

A simple online tracker over keypoint boxes (in the spirit of SORT's IoU association, without
its motion model). Frame by frame, in order:

1. each detection's box is the bounding box of its joints scoring at least ``min_score``;
2. every active track (seen within the last ``max_gap`` frames) is compared with every
   detection by the IoU of the track's last box and the detection's box; pairs are matched
   greedily, highest IoU first, down to ``iou_threshold``;
3. tracks and detections still unmatched are paired greedily by the distance between box
   centres, if it is below ``centroid_factor`` times the track box's diagonal (fast motion, or
   a detector whose boxes jump);
4. every detection left starts a new track; ids count up from 0 in order of first appearance.

Tracks shorter than ``min_length`` detections are dropped (spurious detections). Each track is
returned dense over its span of frames: frames in its gaps are NaN with score 0, which the
lifter's gap filling interpolates.

Shape letters: ``J`` joints; a detection is ``(J, 3)`` pixels + score.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

__all__ = ["Track", "keypoint_box", "box_iou", "track_people"]


@dataclass
class Track:
    """One person over time.

    Attributes:
        id: track id (0, 1, ... in order of first appearance).
        frames: ``(T,)`` frame numbers, contiguous from the first to the last detection.
        keypoints: ``(T, J, 3)`` pixels + score; NaN with score 0 where the person was not matched.
    """

    id: int
    frames: np.ndarray
    keypoints: np.ndarray

    @property
    def num_detections(self) -> int:
        return int(np.any(self.keypoints[..., 2] > 0, axis=-1).sum())


@dataclass
class _Active:
    id: int
    box: np.ndarray
    last: int
    items: dict[int, np.ndarray] = field(default_factory=dict)


def keypoint_box(kp: np.ndarray, min_score: float = 0.0) -> np.ndarray:
    """``(4,)`` box ``(x0, y0, x1, y1)`` of the finite joints of ``kp`` ``(J, 2|3)`` scoring at
    least ``min_score`` (all finite joints when none does); NaN when no joint is finite."""
    kp = np.asarray(kp, dtype=np.float64)
    ok = np.isfinite(kp[:, :2]).all(-1)
    if kp.shape[1] > 2 and (ok & (kp[:, 2] >= min_score)).any():
        ok &= kp[:, 2] >= min_score
    if not ok.any():
        return np.full(4, np.nan)
    xy = kp[ok, :2]
    return np.concatenate([xy.min(0), xy.max(0)])


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes (0 for empty or NaN boxes)."""
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return 0.0
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0.0) * max(h, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _centre(box: np.ndarray) -> np.ndarray:
    return (box[:2] + box[2:]) / 2


def track_people(detections: Mapping[int, Sequence[np.ndarray]], iou_threshold: float = 0.3,
                 max_gap: int = 10, centroid_factor: float = 0.5, min_length: int = 1,
                 min_score: float = 0.3) -> list[Track]:
    """Link ``detections`` (frame number -> list of ``(J, 3)`` people) into tracks (see the
    module docstring). Returns the tracks sorted by id."""
    if not detections:
        return []
    if not 0.0 <= iou_threshold <= 1.0 or max_gap < 1 or min_length < 1:
        raise ValueError("track_people: need 0 <= iou_threshold <= 1, max_gap >= 1, min_length >= 1")
    active: list[_Active] = []
    done: list[_Active] = []
    next_id = 0
    joints: int | None = None
    for frame in sorted(detections):
        people = [np.asarray(p, dtype=np.float64) for p in detections[frame]]
        for p in people:
            if joints is None:
                joints = p.shape[0]
            if p.ndim != 2 or p.shape != (joints, 3):
                raise ValueError(f"track_people: frame {frame}: expected (J, 3) = ({joints}, 3) "
                                 f"people, found {p.shape}")
        done += [t for t in active if frame - t.last > max_gap]
        active = [t for t in active if frame - t.last <= max_gap]
        boxes = [keypoint_box(p, min_score) for p in people]
        free_t, free_d = set(range(len(active))), set(range(len(people)))
        pairs = sorted(((box_iou(active[i].box, boxes[k]), i, k) for i in free_t for k in free_d),
                       reverse=True)
        matches = []
        for iou, i, k in pairs:
            if iou < iou_threshold or iou == 0.0:
                break
            if i in free_t and k in free_d:
                matches.append((i, k))
                free_t.discard(i)
                free_d.discard(k)
        dists = []
        for i in free_t:
            diag = np.linalg.norm(active[i].box[2:] - active[i].box[:2])
            for k in free_d:
                if np.isfinite(boxes[k]).all():
                    d = np.linalg.norm(_centre(active[i].box) - _centre(boxes[k]))
                    if d < centroid_factor * diag:
                        dists.append((d, i, k))
        for _, i, k in sorted(dists):
            if i in free_t and k in free_d:
                matches.append((i, k))
                free_t.discard(i)
                free_d.discard(k)
        for i, k in matches:
            active[i].items[frame] = people[k]
            active[i].last = frame
            active[i].box = boxes[k]
        for k in sorted(free_d):
            if np.isfinite(boxes[k]).all():
                active.append(_Active(next_id, boxes[k], frame, {frame: people[k]}))
                next_id += 1
    tracks = []
    for t in sorted(done + active, key=lambda t: t.id):
        assert joints is not None  # a track holds people, so J was read from them
        if len(t.items) < min_length:
            continue
        first, last = min(t.items), max(t.items)
        frames = np.arange(first, last + 1)
        kp = np.full((frames.size, joints, 3), np.nan)
        kp[..., 2] = 0.0
        for f, p in t.items.items():
            kp[f - first] = p
        tracks.append(Track(t.id, frames, kp))
    return tracks
