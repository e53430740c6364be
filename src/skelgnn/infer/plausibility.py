"""Whether 2D keypoints look like what they are said to be, judged from the data alone: pixels of
the stated image, with width and height the right way round (:func:`keypoints_image_warnings`),
the declared joint order (:func:`face_spread`: Human3.6M keypoints declared COCO and the
reverse), and an upright person (:func:`orientation_warnings`: a video turned by 90 degrees, x and
y swapped, y pointing up). These only warn: the lift still runs.

Shape letters: ``F`` frames, ``J`` joints.
"""
from __future__ import annotations

import logging
import math
import warnings

import numpy as np

__all__ = ["OUTSIDE_IMAGE_WARN", "TINY_PERSON_PX", "FACE_SPREAD_WARN", "COCO_FACE_SPREAD_MAX",
           "SWAP_MARGIN", "SWAP_WARN", "TURNED_SHARE", "keypoints_image_warnings",
           "warn_implausible_keypoints", "face_spread", "torso_angles", "quarter_turns",
           "orientation_warnings"]

log = logging.getLogger(__name__)


OUTSIDE_IMAGE_WARN = 0.2
"""Warn when more than this fraction of the usable joints lie outside the stated image (beyond a
margin of a tenth of its size): the image size probably belongs to other keypoints (a smaller
image, width and height swapped)."""

TINY_PERSON_PX = 4.0
"""Warn when the median person spans fewer pixels than this: normalised (0..1) keypoints given
with a pixel image size."""

SWAP_MARGIN = 1.05
"""A keypoint more than 5% beyond the declared width or height overruns it."""

SWAP_WARN = 0.05
"""Warn that width and height look swapped when at least this share of the keypoints overruns
the declared width (or height) while nearly all fit the image with the two exchanged."""

TURNED_SHARE = 0.6
"""Call the person turned (on its side, upside down) when at least this share of the frames'
torsos point the same non-upright way."""

FACE_SPREAD_WARN = 0.2
"""Warn when, read in Human3.6M order, joints 0-4 (pelvis, right leg, left hip) span less than
this fraction of the whole body in the median frame: they are then a face cluster (COCO's nose,
eyes and ears). Over the benchmark's 2D detections the per-clip median is at least 0.29."""

COCO_FACE_SPREAD_MAX = 0.3
"""Warn when, read in COCO order, joints 0-4 (nose, eyes, ears) span more than this fraction of
the whole body in the median frame: they are then no face but Human3.6M's pelvis and legs."""


def keypoints_image_warnings(uv: np.ndarray, image_size: tuple[float, float]) -> list[str]:
    """What looks wrong about ``uv`` ``(F, J, 2)`` pixels (NaN where missing) for an image of
    ``image_size`` ``(width, height)``: most joints outside it (:data:`OUTSIDE_IMAGE_WARN`), or
    people a few pixels tall (:data:`TINY_PERSON_PX`). Empty when it looks plausible."""
    w, h = image_size
    pts = uv.reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(1)]
    if pts.shape[0] == 0:
        return []
    out: list[str] = []
    inside = ((pts[:, 0] >= -0.1 * w) & (pts[:, 0] <= 1.1 * w)
              & (pts[:, 1] >= -0.1 * h) & (pts[:, 1] <= 1.1 * h))
    outside = 1.0 - float(inside.mean())
    swapped = _looks_swapped(pts, w, h)
    if swapped:
        out.append(swapped)
    elif outside > OUTSIDE_IMAGE_WARN:
        lo, hi = pts.min(0), pts.max(0)
        out.append(f"{100 * outside:.0f}% of the keypoints lie outside the {w:g} x {h:g} image "
                   f"(x {lo[0]:.0f}..{hi[0]:.0f}, y {lo[1]:.0f}..{hi[1]:.0f} px); expected pixels "
                   "of that image: check the image size is (width, height) of the frames the "
                   "keypoints come from")
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames
        span = np.nanmax(uv, axis=1) - np.nanmin(uv, axis=1)  # (F, 2)
        size = float(np.nanmedian(np.max(span, axis=1)))
    if math.isfinite(size) and size < TINY_PERSON_PX and max(w, h) > 10 * TINY_PERSON_PX:
        out.append(f"the person spans only {size:.2g} px in a {w:g} x {h:g} image; expected "
                   "pixel coordinates, not normalised (0..1) ones: multiply them by the image "
                   "size")
    return out


def _looks_swapped(pts: np.ndarray, w: float, h: float) -> str:
    """A warning when the keypoints ``pts`` ``(N, 2)`` overrun the declared width (or height) but
    fit the image with width and height exchanged; empty otherwise."""
    if w == h:
        return ""
    over_x = float((pts[:, 0] > SWAP_MARGIN * w).mean())
    over_y = float((pts[:, 1] > SWAP_MARGIN * h).mean())
    fits_swapped = float(((pts >= -0.02 * max(w, h)).all(1) & (pts[:, 0] <= SWAP_MARGIN * h)
                          & (pts[:, 1] <= SWAP_MARGIN * w)).mean())
    if max(over_x, over_y) >= SWAP_WARN and fits_swapped >= 0.98:
        axis, top = ("x", float(pts[:, 0].max())) if over_x >= over_y else ("y", float(pts[:, 1].max()))
        declared = w if axis == "x" else h
        return (f"keypoints reach {axis} = {top:.0f} px, beyond the declared "
                f"{'width' if axis == 'x' else 'height'} {declared:g} but inside a {h:g} x {w:g} "
                f"image: width and height look swapped; the image size is (width, height), "
                f"here probably {h:g} {w:g}")
    return ""


def warn_implausible_keypoints(uv: np.ndarray, image_size: tuple[float, float]) -> None:
    """Log each of :func:`keypoints_image_warnings` and :func:`orientation_warnings` as a warning
    (the lift still runs)."""
    for message in keypoints_image_warnings(uv, image_size) + orientation_warnings(uv):
        log.warning("keypoints: %s", message)


def torso_angles(uv: np.ndarray) -> np.ndarray:
    """Per frame, the direction of the torso (pelvis -> thorax, Human3.6M joints 0 and 8) in the
    image, degrees clockwise from straight up (y down in the image: upright is 0, head to the
    right 90, upside down 180, head to the left 270); NaN where a joint is missing or the torso
    has no length. ``uv``:
    ``(F, 17, 2)`` pixels in Human3.6M order."""
    torso = uv[:, 8, :2] - uv[:, 0, :2]  # (F, 2)
    with np.errstate(invalid="ignore", over="ignore"):
        angles = np.degrees(np.arctan2(torso[:, 0], -torso[:, 1])) % 360.0
        angles[~(np.linalg.norm(torso, axis=-1) > 0)] = np.nan  # no torso: no direction
    return angles


def quarter_turns(uv: np.ndarray) -> int:
    """How many quarter turns clockwise the person is turned in the image, judged from most
    frames' torso (:func:`torso_angles`): 0 upright, 1 head to the right (the video turned 90
    degrees clockwise), 2 upside down, 3 head to the left. 0 when fewer than
    :data:`TURNED_SHARE` of the frames agree (people who lie down for a moment stay upright)."""
    angles = torso_angles(uv)
    angles = angles[np.isfinite(angles)]
    if angles.size == 0:
        return 0
    quarter = np.round(angles / 90.0).astype(int) % 4  # nearest of 0, 90, 180, 270
    counts = np.bincount(quarter, minlength=4)
    best = int(np.argmax(counts))
    return best if best != 0 and counts[best] >= TURNED_SHARE * angles.size else 0


def orientation_warnings(uv: np.ndarray) -> list[str]:
    """What looks wrong about the person's orientation in ``uv`` ``(F, 17, 2)`` (Human3.6M
    order, pixels, y down): lying on its side or upside down in most frames, which the lifters
    (trained on upright people) get wrong. Empty when upright."""
    turns = quarter_turns(uv)
    if turns == 0:
        return []
    if turns == 2:
        return ["the person is upside down in most frames (the thorax below the pelvis): the y "
                "axis of the keypoints probably points up, or the video is upside down; the "
                "lifter expects image coordinates (y down) of an upright person"]
    side = "right" if turns == 1 else "left"
    return [f"the person lies on its side, head to the {side}, in most frames: the video is "
            f"probably turned by 90 degrees (or x and y are swapped); the lifter expects an "
            f"upright person. For `skelgnn video` pass --rotate {90 * turns} (the default "
            f"--rotate auto does it), or rotate the keypoints upright"]


def face_spread(kp: np.ndarray) -> float:
    """Median over frames of the extent of joints 0-4 divided by the whole body's (NaN when no
    frame has every joint)."""
    uv = kp[..., :2]
    full = np.isfinite(uv).all(axis=(1, 2))
    if not full.any():
        return math.nan
    uv = uv[full]
    extent = lambda p: np.linalg.norm(p.max(1) - p.min(1), axis=-1)  # noqa: E731
    # absurd coordinates (refused later, with a message) overflow here: no numpy warning for them
    with np.errstate(over="ignore", invalid="ignore"):
        body = extent(uv)
        ok = np.isfinite(body) & (body > 0)
        return float(np.median(extent(uv[ok, :5]) / body[ok])) if ok.any() else math.nan
