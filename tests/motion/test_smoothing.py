"""One-Euro and Gaussian smoothing (skelgnn.motion.smoothing)."""
from __future__ import annotations

import numpy as np
import pytest

from skelgnn.motion.smoothing import gaussian, mean_acceleration, one_euro


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


def test_gaussian_keeps_a_constant_velocity_to_the_ends_and_removes_jitter():
    t = np.arange(90, dtype=np.float64)
    line = np.stack([0.02 * t, -0.01 * t + 3.0], axis=1)  # a walk at constant speed
    np.testing.assert_allclose(gaussian(line, 8.0), line, atol=1e-9)  # ends included
    noise = np.random.default_rng(1).normal(0, 0.05, line.shape)
    out = gaussian(line + noise, 8.0)
    assert np.abs(out - line).std() < 0.3 * noise.std()
    # inside the clip it is the plain normalised Gaussian mean
    k = np.exp(-0.5 * (np.arange(-24, 25) / 8.0) ** 2)
    assert out[45, 0] == pytest.approx(float(np.sum(k * (line + noise)[21:70, 0]) / k.sum()))


def test_gaussian_shapes_and_edge_cases():
    x = np.random.default_rng(2).normal(size=(7, 17, 3))
    assert gaussian(x, 2.0).shape == (7, 17, 3)
    np.testing.assert_array_equal(gaussian(x, 0.0), x)  # off: a copy
    np.testing.assert_array_equal(gaussian(x[:2], 5.0), x[:2])  # too short to smooth
    y = gaussian(x, 100.0)  # a window far wider than the clip: the clip's least-squares line
    f = np.arange(7.0)
    fit = np.polyval(np.polyfit(f, x[:, 3, 1], 1), f)
    np.testing.assert_allclose(y[:, 3, 1], fit, atol=1e-2)
    with pytest.raises(ValueError, match="finite"):
        gaussian(x, float("nan"))
