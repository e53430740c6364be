"""One-Euro smoothing (skelgnn.motion.smoothing)."""
from __future__ import annotations

import numpy as np
import pytest

from skelgnn.motion.smoothing import mean_acceleration, one_euro


def _noisy_sine(fps=60.0, seconds=4.0, noise=0.02, seed=0):
    t = np.arange(int(fps * seconds)) / fps
    clean = 0.3 * np.sin(2 * np.pi * 0.5 * t)  # metres: a joint swinging at 0.5 Hz
    noisy = clean + np.random.default_rng(seed).normal(0, noise, t.shape)
    return clean, noisy


def _lag(filtered, clean, max_shift=20):
    """Shift (frames) that best aligns the filtered signal with the clean one."""
    errs = [np.mean((filtered[k:] - clean[:len(clean) - k]) ** 2) for k in range(max_shift)]
    return int(np.argmin(errs))


def test_one_euro_removes_jitter_with_small_lag():
    fps = 60.0
    clean, noisy = _noisy_sine(fps)
    smooth = one_euro(noisy, fps)  # the defaults: min_cutoff 1 Hz, beta 10 s/m
    rms_in = np.sqrt(np.mean((noisy - clean) ** 2))
    rms_out = np.sqrt(np.mean((smooth[30:] - clean[30:]) ** 2))
    assert rms_out < 0.9 * rms_in  # closer to the clean signal despite the lag...
    jitter_in = mean_acceleration(noisy[:, None], fps)
    jitter_out = mean_acceleration(smooth[:, None], fps)
    assert jitter_out < 0.5 * jitter_in  # ...with under half the jitter...
    assert _lag(smooth, clean) <= 2  # ...and at most 2 frames (33 ms) of lag
    # a smaller beta trades lag for jitter
    slow = one_euro(noisy, fps, min_cutoff=1.0, beta=0.5)
    assert mean_acceleration(slow[:, None], fps) < 0.5 * jitter_out
    assert _lag(slow, clean) >= 3


def test_one_euro_constant_and_shape_and_nan():
    x = np.full((10, 17, 3), 2.5)
    np.testing.assert_allclose(one_euro(x, 30.0), x)
    x = np.zeros((6, 2))
    x[3, 0] = np.nan
    out = one_euro(x, 30.0)
    assert np.isnan(out[3, 0]) and np.isfinite(np.delete(out.ravel(), 6)).all()
    with pytest.raises(ValueError, match="fps"):
        one_euro(x, 0.0)
