"""Detector-like 2D noise for training: what a real 2D detector does to projected mocap joints.

Shape letters: ``F`` frames, ``J`` joints.

All sizes are fractions of the person's height in the image, ``H`` = the median over frames of
the 2D joints' vertical extent (pixels), so the same noise fits a 200 px webcam person and a
1500 px phone-portrait one. :meth:`DetectorNoise.apply` applies, in this order:

1. **Keypoint-definition bias** (per sequence, constant over time). Detectors are trained on
   COCO-style labels, whose hips sit on the skin, wider and higher than mocap hip joint centres,
   and whose shoulders sit on the outline. The hip pair is widened about its midpoint by
   ``U(hip_widen)``; every joint then gets a fixed offset ``N(0, bias_j H)`` (larger for hips and
   shoulders, ``bias_std``).
2. **Left/right swaps** (per frame): a limb pair (knee + ankle, elbow + wrist) exchanges its
   left and right joints for ``U{1..swap_max_len}`` frames with probability ``swap_prob``; the
   whole body (every left/right pair) with probability ``body_swap_prob`` (a person seen from
   behind).
3. **Temporally correlated jitter**: AR(1) per joint and axis,
   ``e_t = rho e_(t-1) + sqrt(1 - rho^2) s_j H n_t``, ``e_0 = s_j H n_0`` (stationary std
   ``s_j H``, ``sigma``; correlation ``rho^k`` after ``k`` frames).
4. **Dropped low-confidence joints**: per joint and frame a run of ``U{1..drop_max_len}`` missing
   frames starts with probability ``drop_prob`` (twice that for wrists and ankles, which
   detectors lose most). The models take no confidence channel, so a dropped joint is filled the
   way inference fills a joint below ``--min-score`` (:func:`skelgnn.infer.gaps.fill_missing`):
   linear interpolation over time between the nearest kept frames, holding the first / last kept
   value at the ends.

The defaults give a mean error of about 2.5% of the person's height (~8 px on a 330 px person,
the size of a person in the benchmark's 1000 px images, against 6.5 px of its synthetic
detector), see ``tests/data/test_detnoise.py``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from skelgnn.skeleton import H36M17

__all__ = ["DetectorNoise", "person_height", "fill_dropped"]

_EXTREMITIES = (3, 6, 13, 16)  # ankles, wrists


def person_height(uv: np.ndarray) -> float:
    """The person's height in the image: median over frames of ``max v - min v`` (pixels)."""
    uv = np.asarray(uv, dtype=np.float64)
    return float(max(np.median(uv[..., 1].max(-1) - uv[..., 1].min(-1)), 1.0))


def fill_dropped(uv: np.ndarray, dropped: np.ndarray) -> np.ndarray:
    """Replace dropped joints ``dropped (F, J)`` of ``uv (F, J, 2)`` by linear interpolation over
    time between kept frames (edge hold); a joint dropped in every frame is left as it is."""
    out = np.array(uv, dtype=np.float64)
    t = np.arange(out.shape[0])
    for j in range(out.shape[1]):
        keep = ~dropped[:, j]
        if keep.all() or not keep.any():
            continue
        for c in range(2):
            out[~keep, j, c] = np.interp(t[~keep], t[keep], out[keep, j, c])
    return out


@dataclass(frozen=True)
class DetectorNoise:
    """Parameters of the detector-like noise (module docstring); fractions of the person's
    height ``H`` unless said otherwise. Human3.6M-17 joint order."""

    sigma: tuple[float, ...] = (0.008, 0.009, 0.011, 0.014, 0.009, 0.011, 0.014, 0.008, 0.008,
                                0.009, 0.009, 0.011, 0.014, 0.018, 0.011, 0.014, 0.018)
    """stationary jitter std per joint: torso 0.8%, hips/head 0.9%, knees/shoulders 1.1%,
    ankles/elbows 1.4%, wrists 1.8% of H."""
    rho: float = 0.8
    """AR(1) correlation from one 60 fps frame to the next."""
    bias_std: tuple[float, ...] = (0.01, 0.025, 0.01, 0.01, 0.025, 0.01, 0.01, 0.01, 0.01,
                                   0.01, 0.01, 0.02, 0.01, 0.01, 0.02, 0.01, 0.01)
    """per-sequence constant offset std per joint: hips 2.5%, shoulders 2%, others 1% of H."""
    hip_widen: tuple[float, float] = (1.0, 1.4)
    """the hips' distance from their midpoint is scaled by U(lo, hi)."""
    swap_prob: float = 0.002
    swap_max_len: int = 6
    body_swap_prob: float = 0.0005
    drop_prob: float = 0.003
    drop_max_len: int = 10

    def __post_init__(self) -> None:
        if len(self.sigma) != len(self.bias_std):
            raise ValueError("DetectorNoise: sigma and bias_std need one value per joint")
        if not 0 <= self.rho < 1:
            raise ValueError(f"DetectorNoise.rho must be in [0, 1), got {self.rho}")
        for name in ("swap_prob", "body_swap_prob", "drop_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"DetectorNoise.{name} must be a probability, got {getattr(self, name)}")

    def apply(self, uv: np.ndarray, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray]:
        """Noisy detections ``(F, J, 2)`` float64 of clean 2D ``uv (F, J, 2)`` pixels and the
        ``(F, J)`` mask of dropped (then interpolated) joints."""
        gt = np.asarray(uv, dtype=np.float64)
        f, j = gt.shape[:2]
        if j != len(self.sigma):
            raise ValueError(f"DetectorNoise: parameters for {len(self.sigma)} joints, got {j}")
        h = person_height(gt)
        det = gt.copy()
        # 1. keypoint-definition bias
        mid = (det[:, 1] + det[:, 4]) / 2.0
        widen = rng.uniform(*self.hip_widen)
        for k in (1, 4):
            det[:, k] = mid + widen * (det[:, k] - mid)
        det += rng.normal(size=(1, j, 2)) * np.asarray(self.bias_std)[None, :, None] * h
        # 2. swaps
        flip = H36M17.flip_permutation()
        pairs = (((5, 6), (2, 3)), ((12, 13), (15, 16)))
        src = np.tile(np.arange(j), (f, 1))  # (F, J): which joint each output joint shows
        for left, right in pairs:
            for t0 in np.flatnonzero(rng.uniform(size=f) < self.swap_prob):
                n = int(rng.integers(1, self.swap_max_len + 1))
                src[t0:t0 + n, list(left) + list(right)] = list(right) + list(left)
        for t0 in np.flatnonzero(rng.uniform(size=f) < self.body_swap_prob):
            n = int(rng.integers(1, self.swap_max_len + 1))
            src[t0:t0 + n] = flip
        det = np.take_along_axis(det, src[..., None], axis=1)
        # 3. AR(1) jitter
        s = np.asarray(self.sigma)[:, None] * h  # (J, 1)
        noise = rng.normal(size=(f, j, 2))
        jitter = np.empty_like(noise)
        jitter[0] = s * noise[0]
        innovation = math.sqrt(1.0 - self.rho ** 2) * s * noise
        for t in range(1, f):
            jitter[t] = self.rho * jitter[t - 1] + innovation[t]
        det += jitter
        # 4. dropped joints
        prob = np.full(j, self.drop_prob)
        prob[list(_EXTREMITIES)] *= 2.0
        starts = rng.uniform(size=(f, j)) < prob
        lengths = rng.integers(1, self.drop_max_len + 1, size=(f, j))
        dropped = np.zeros((f, j), dtype=bool)
        for t0, k in zip(*np.nonzero(starts)):
            dropped[t0:t0 + lengths[t0, k], k] = True
        return fill_dropped(det, dropped), dropped
