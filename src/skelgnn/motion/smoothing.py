"""Temporal smoothing of keypoint or pose tracks: the One-Euro filter, and a Gaussian filter.

The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) is an exponential low-pass filter whose
cut-off frequency rises with the signal's speed: slow motion is smoothed hard (removing jitter),
fast motion lightly (keeping lag small). Per sample ``t`` with period ``Te = 1 / fps``:

    alpha(fc) = 1 / (1 + tau / Te),  tau = 1 / (2 pi fc)
    dx_t   = (x_t - xhat_{t-1}) / Te,         dxhat_t = dxhat_{t-1} + alpha(d_cutoff) (dx_t - dxhat_{t-1})
    fc_t   = min_cutoff + beta |dxhat_t|,     xhat_t  = xhat_{t-1} + alpha(fc_t) (x_t - xhat_{t-1})

Applied independently to every coordinate of an ``(F, ...)`` array, causally (frame ``t`` uses
frames ``<= t`` only, so it also works on a live stream). ``min_cutoff`` (Hz) sets the smoothing
of slow motion, ``beta`` (per unit of speed) how quickly the cut-off opens for fast motion.

:func:`gaussian` is the offline, zero-lag alternative for a whole clip: a Gaussian window of
``sigma`` frames along axis 0, as a local linear fit so that the clip's ends keep their velocity.

Shape letters: ``F`` frames; ``...`` any trailing dimensions (joints, coordinates).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["one_euro", "gaussian", "mean_acceleration", "DEFAULT_MIN_CUTOFF", "DEFAULT_BETA"]

DEFAULT_MIN_CUTOFF = 1.0
"""Hz; the cut-off of a joint at rest."""
DEFAULT_BETA = 10.0
"""s/m for 3D poses in metres: at 1 m/s the cut-off is ``min_cutoff + 10`` Hz. On a 0.5 Hz,
0.3 m sine at 60 fps with 2 cm noise this removes 60 % of the jitter (mean acceleration) for
1 frame of lag; ``beta = 0.5`` removes 90 % for 4 frames (tests/motion/test_smoothing.py)."""


def _alpha(cutoff: np.ndarray | float, period: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / period)


def one_euro(x: np.ndarray, fps: float, min_cutoff: float = DEFAULT_MIN_CUTOFF,
             beta: float = DEFAULT_BETA, d_cutoff: float = 1.0) -> np.ndarray:
    """One-Euro filter along axis 0 (see the module docstring).

    Args:
        x: ``(F, ...)`` samples; NaN values are passed through and do not update the state.
        fps: sample rate (Hz).
        min_cutoff, beta, d_cutoff: the filter's parameters (Hz, per speed unit, Hz).

    Returns:
        ``(F, ...)`` float64 filtered samples; the first frame is unchanged.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 1:
        raise ValueError("one_euro: expected an (F, ...) array")
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"one_euro: fps must be positive, found {fps}")
    if not (min_cutoff > 0 and d_cutoff > 0 and beta >= 0):
        raise ValueError(f"one_euro: need min_cutoff > 0, d_cutoff > 0, beta >= 0; found "
                         f"{min_cutoff}, {d_cutoff}, {beta}")
    out = np.empty_like(x)
    if len(x) == 0:
        return out
    period = 1.0 / fps
    a_d = _alpha(d_cutoff, period)
    prev = x[0].copy()
    dprev = np.zeros_like(prev)
    out[0] = prev
    for t in range(1, len(x)):
        cur = x[t]
        ok = np.isfinite(cur) & np.isfinite(prev)
        dx = np.where(ok, (cur - prev) / period, 0.0)
        dhat = dprev + a_d * (dx - dprev)
        a = _alpha(min_cutoff + beta * np.abs(dhat), period)
        new = prev + a * (cur - prev)
        # a NaN sample leaves the state alone; a value after NaNs restarts from that value
        new = np.where(ok, new, np.where(np.isfinite(cur), cur, prev))
        dprev = np.where(ok, dhat, dprev)
        out[t] = np.where(np.isfinite(cur), new, cur)
        prev = new
    return out


def mean_acceleration(x: np.ndarray, fps: float) -> float:
    """Jitter figure of an ``(F, ..., C)`` track: the mean norm over the last axis of the second
    difference times ``fps^2`` (units per second squared); needs ``F >= 3``."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2 or len(x) < 3:
        raise ValueError("mean_acceleration: expected (F >= 3, ..., C)")
    acc = (x[2:] - 2 * x[1:-1] + x[:-2]) * fps * fps
    return float(np.nanmean(np.linalg.norm(acc, axis=-1)))


def gaussian(x: np.ndarray, sigma: float) -> np.ndarray:
    """``x`` ``(F, ...)`` smoothed along axis 0 by a local linear fit under a Gaussian window of
    ``sigma`` frames (truncated at 3 sigma): inside the clip the plain Gaussian-weighted mean; near
    its ends, where the window is cut, the line through the frames that remain, so a constant
    velocity passes unchanged everywhere (a walk is not slowed at the ends, a still start stays
    still). ``sigma <= 0`` or fewer than 3 frames returns a copy."""
    a = np.asarray(x, dtype=np.float64)
    s = float(sigma)
    if not math.isfinite(s):
        raise ValueError(f"sigma must be a finite number of frames, found {sigma}")
    if s <= 0 or len(a) < 3:
        return a.copy()
    n = len(a)
    radius = max(1, int(math.ceil(3.0 * s)))
    s0 = np.zeros(n)
    s1 = np.zeros(n)
    s2 = np.zeros(n)
    t0 = np.zeros_like(a)
    t1 = np.zeros_like(a)
    tail = (slice(None),) + (None,) * (a.ndim - 1)
    for d in range(-radius, radius + 1):  # frame t + d seen from frame t, where it exists
        w = math.exp(-0.5 * (d / s) ** 2)
        lo, hi = max(0, -d), min(n, n - d)
        if hi <= lo:  # a window wider than the clip
            continue
        s0[lo:hi] += w
        s1[lo:hi] += w * d
        s2[lo:hi] += w * d * d
        t0[lo:hi] += w * a[lo + d:hi + d]
        t1[lo:hi] += (w * d) * a[lo + d:hi + d]
    det = s0 * s2 - s1 * s1  # > 0: every window holds at least two frames
    return (s2[tail] * t0 - s1[tail] * t1) / det[tail]
