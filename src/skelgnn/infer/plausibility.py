"""Whether 2D keypoints look like what they are said to be, judged from the data alone: pixels of
the stated image (:func:`keypoints_image_warnings`), and Human3.6M rather than COCO joint order
(:func:`face_spread`). These only warn: the lift still runs.

Shape letters: ``F`` frames, ``J`` joints.
"""
from __future__ import annotations

import logging
import math
import warnings

import numpy as np

__all__ = ["OUTSIDE_IMAGE_WARN", "TINY_PERSON_PX", "FACE_SPREAD_WARN", "keypoints_image_warnings",
           "warn_implausible_keypoints", "face_spread"]

log = logging.getLogger(__name__)


OUTSIDE_IMAGE_WARN = 0.2
"""Warn when more than this fraction of the usable joints lie outside the stated image (beyond a
margin of a tenth of its size): the image size probably belongs to other keypoints (a smaller
image, width and height swapped)."""

TINY_PERSON_PX = 4.0
"""Warn when the median person spans fewer pixels than this: normalised (0..1) keypoints given
with a pixel image size."""

FACE_SPREAD_WARN = 0.2
"""Warn when, read in Human3.6M order, joints 0-4 (pelvis, right leg, left hip) span less than
this fraction of the whole body in the median frame: they are then a face cluster (COCO's nose,
eyes and ears). Over the benchmark's 2D detections the per-clip median is at least 0.29."""


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
    if outside > OUTSIDE_IMAGE_WARN:
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


def warn_implausible_keypoints(uv: np.ndarray, image_size: tuple[float, float]) -> None:
    """Log each of :func:`keypoints_image_warnings` as a warning (the lift still runs)."""
    for message in keypoints_image_warnings(uv, image_size):
        log.warning("keypoints: %s", message)


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
