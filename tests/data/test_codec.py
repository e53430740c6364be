"""Tests of skelgnn.data.codec.PoseCodec."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from skelgnn.data.codec import CODEC_MODES, PoseCodec, pad_sequence, root_relative


def test_screen_encode_hand_value():
    codec = PoseCodec()
    out = codec.encode_2d(np.array([[0.0, 0.0], [500.0, 501.0], [1000.0, 1002.0]]), (1000, 1002))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[-1.0, -1.002], [0.0, 0.0], [1.0, 1.002]], atol=1e-6)


def test_screen_decode_encode_round_trip():
    rng = np.random.default_rng(0)
    uv = rng.uniform(0, 1000, size=(4, 9, 17, 2))
    codec = PoseCodec(mode="screen")
    np.testing.assert_allclose(codec.decode_2d(codec.encode_2d(uv, (1000, 1000)), (1000, 1000)), uv, atol=1e-3)


def test_box_encode_hand_value_and_invariance():
    codec = PoseCodec(mode="box")
    uv = np.array([[0.0, 0.0], [4.0, 2.0], [2.0, 1.0]])
    np.testing.assert_allclose(codec.encode_2d(uv), [[-1.0, -0.5], [1.0, 0.5], [0.0, 0.0]], atol=1e-7)
    rng = np.random.default_rng(1)
    poses = rng.uniform(0, 1000, size=(6, 17, 2))
    moved = poses * 0.37 + np.array([120.0, -40.0])  # per-frame box removes translation and scale
    np.testing.assert_allclose(codec.encode_2d(moved), codec.encode_2d(poses), atol=1e-5)
    assert np.abs(codec.encode_2d(poses)).max() <= 1.0 + 1e-6
    # A degenerate box (every joint on one pixel) encodes to zeros, not NaN.
    np.testing.assert_array_equal(codec.encode_2d(np.full((17, 2), 5.0)), 0.0)
    with pytest.raises(ValueError, match="cannot be decoded"):
        codec.decode_2d(codec.encode_2d(uv), (10, 10))


def test_encode_3d_is_root_relative():
    x = np.arange(2 * 17 * 3, dtype=np.float64).reshape(2, 17, 3)
    y = PoseCodec().encode_3d(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y[:, 0], 0.0)
    np.testing.assert_allclose(y, x - x[:, :1])
    np.testing.assert_allclose(PoseCodec(root=3).encode_3d(x)[:, 3], 0.0)
    root = np.ones((2, 3))
    np.testing.assert_allclose(PoseCodec().decode_3d(y, root), y + 1.0)


@pytest.mark.parametrize("mode", CODEC_MODES)
def test_to_dict_from_dict_round_trip(mode):
    codec = PoseCodec(mode=mode, root=2)
    values = codec.to_dict()
    assert values == {"mode": mode, "root": 2}
    assert PoseCodec.from_dict(values) == codec
    # Plain values survive a weights-only checkpoint load.
    buffer = io.BytesIO()
    torch.save({"codec": values}, buffer)
    buffer.seek(0)
    assert PoseCodec.from_dict(torch.load(buffer, weights_only=True)["codec"]) == codec


def test_errors():
    with pytest.raises(ValueError, match="unknown mode 'pixels'"):
        PoseCodec(mode="pixels")
    with pytest.raises(ValueError, match="root"):
        PoseCodec(root=-1)
    with pytest.raises(ValueError, match="unknown keys"):
        PoseCodec.from_dict({"mode": "screen", "scale": 2})
    codec = PoseCodec()
    uv = np.zeros((17, 2))
    with pytest.raises(ValueError, match="positive"):
        codec.encode_2d(uv, (0, 1000))
    with pytest.raises(ValueError, match="positive"):
        codec.decode_2d(uv, (1000, 0))
    with pytest.raises(ValueError, match="image_size"):
        codec.encode_2d(uv)
    with pytest.raises(ValueError, match=r"\(\.\.\., J, 2\)"):
        codec.encode_2d(np.zeros((17, 3)), (10, 10))


def test_root_relative_numpy_and_torch():
    x = np.random.default_rng(0).normal(size=(4, 17, 3))
    y = root_relative(x)
    assert np.all(y[:, 0] == 0) and np.allclose(y[:, 5] - y[:, 3], x[:, 5] - x[:, 3])
    t = root_relative(torch.from_numpy(x), root=2)
    assert isinstance(t, torch.Tensor) and torch.all(t[:, 2] == 0)
    np.testing.assert_allclose(PoseCodec(root=0).encode_3d(x), y.astype(np.float32))

    clip = np.arange(3 * 2 * 2, dtype=float).reshape(3, 2, 2)
    padded = pad_sequence(clip, 5)  # (3 + 4, 2, 2)
    assert padded.shape == (7, 2, 2)
    assert np.array_equal(padded[:2], clip[[0, 0]]) and np.array_equal(padded[-2:], clip[[2, 2]])
    assert np.array_equal(padded[2:5], clip)
    assert pad_sequence(clip, 1) is not clip and np.array_equal(pad_sequence(clip, 1), clip)
    with pytest.raises(ValueError, match="odd"):
        pad_sequence(clip, 4)
