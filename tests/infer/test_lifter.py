"""Tests of skelgnn.infer.lifter: a lifter trained on the mini fixture, pixels in, metres out, and the
same numbers as the evaluation path through the dataset."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from skelgnn.models.checkpoint import load_checkpoint, load_model, save_checkpoint
from skelgnn.train.config import load_config
from skelgnn.data import WindowDataset, load_benchmark
from skelgnn.infer.lifter import Lifter
from skelgnn.models.predict import predict_sequences
from skelgnn.train.loop import train
from skelgnn.skeleton import H36M17


@pytest.fixture(scope="module", params=["skelgnn-1f", "skelgnn-9f"])
def checkpoint(request, mini_dir, tmp_path_factory):
    """A one-epoch tiny model trained on the mini fixture (single frame and temporal)."""
    cfg = load_config(None, [f"model.preset={request.param}", "model.channels=16",
                             "model.blocks=1", "data.split=test", "train.epochs=1",
                             "train.batch_size=64", "train.max_samples=256", "train.threads=1"])
    run = tmp_path_factory.mktemp(request.param)
    return train(cfg, run, progress=False, data_dir=mini_dir).checkpoint


@pytest.fixture(scope="module")
def test_records(mini_dir):
    return load_benchmark(mini_dir, "det", subjects=["S08"])


def test_from_checkpoint(checkpoint):
    lifter = Lifter.from_checkpoint(checkpoint)
    assert not lifter.model.training
    assert lifter.info["source"] == "det" and lifter.info["epoch"] == 1
    assert lifter.info["preset"] in ("skelgnn-1f", "skelgnn-9f")
    assert lifter.receptive_field == (9 if lifter.info["preset"] == "skelgnn-9f" else 1)
    assert lifter.codec.mode == "screen"


def test_predict_shapes_and_root(checkpoint, test_records):
    lifter = Lifter.from_checkpoint(checkpoint)
    rec = test_records[0]
    kp = rec.keypoints_2d[:25]  # (F, 17, 2) pixels
    out = lifter.predict(kp, rec.image_size)
    assert out.shape == (25, 17, 3) and out.dtype == np.float32
    assert np.all(out[:, 0] == 0) and np.isfinite(out).all()
    assert np.abs(out).max() > 0
    scores = np.random.default_rng(0).uniform(0.5, 1.0, size=(25, 17, 1))  # all usable
    with_scores = lifter.predict(np.concatenate([kp, scores], -1), rec.image_size)
    assert with_scores.shape == (25, 17, 3) and np.all(with_scores[:, 0] == 0)
    np.testing.assert_array_equal(with_scores, out)  # usable joints: the scores change nothing
    np.testing.assert_array_equal(lifter.predict(kp.tolist(), list(rec.image_size)), out)
    one = lifter.predict(kp[:1], rec.image_size)  # a single frame (edge-padded for 9f)
    assert one.shape == (1, 17, 3) and np.all(one[:, 0] == 0)


def test_missing_joints_are_interpolated(checkpoint, test_records):
    lifter = Lifter.from_checkpoint(checkpoint)
    rec = test_records[0]
    kp = rec.keypoints_2d[:10].astype(np.float64)  # (F, 17, 2)
    by_hand = kp.copy()
    by_hand[4, 13] = 0.5 * (kp[3, 13] + kp[5, 13])  # linear in time between frames 3 and 5
    holes = kp.copy()
    holes[4, 13] = np.nan  # a NaN joint is missing ...
    expected = lifter.predict(by_hand, rec.image_size)
    np.testing.assert_allclose(lifter.predict(holes, rec.image_size), expected, atol=1e-6)
    scored = np.concatenate([kp, np.ones((10, 17, 1))], -1)
    scored[4, 13, 2] = 0.1  # ... and so is a joint scoring below min_score
    np.testing.assert_allclose(lifter.predict(scored, rec.image_size), expected, atol=1e-6)


@pytest.mark.parametrize("flip_test", [True, False])
def test_predict_matches_the_dataset_path(checkpoint, test_records, flip_test):
    model, codec, _ = load_model(checkpoint)
    records = test_records[:2]
    ds = WindowDataset(records, model.receptive_field, stride=1, codec=codec)
    pred, _ = predict_sequences(model, ds, flip_test=flip_test, skeleton=H36M17)  # (N, J, 3)
    lifter = Lifter.from_checkpoint(checkpoint, flip_test=flip_test)
    start = 0
    for rec in records:
        out = lifter.predict(rec.keypoints_2d, rec.image_size, reframe=False)
        # same codec, same padding, same sequence-mode forward: the same numbers
        np.testing.assert_array_equal(out, pred[start:start + rec.num_frames])
        start += rec.num_frames
    assert start == pred.shape[0]


def test_flip_test_changes_the_prediction(checkpoint, test_records):
    rec = test_records[0]
    with_tta = Lifter.from_checkpoint(checkpoint).predict(rec.keypoints_2d[:10], rec.image_size)
    without = Lifter.from_checkpoint(checkpoint, flip_test=False).predict(rec.keypoints_2d[:10],
                                                                          rec.image_size)
    assert not np.allclose(with_tta, without, atol=1e-6)


@pytest.mark.parametrize("keypoints, message", [
    (np.zeros((5, 16, 2)), "17 joints but the keypoints have 16"),
    (np.zeros((5, 17, 4)), r"must be \(F, J, 2\) or \(F, J, 3\), got \(5, 17, 4\)"),
    (np.zeros((17, 2)), r"must be \(F, J, 2\).*got \(17, 2\)"),
    (np.zeros((1, 5, 17, 2)), r"got \(1, 5, 17, 2\)"),
    (np.zeros((0, 17, 2)), "no frames"),
    (np.array([]), r"must be \(F, J, 2\)"),
])
def test_bad_input_shapes(checkpoint, keypoints, message):
    lifter = Lifter.from_checkpoint(checkpoint)
    with pytest.raises(ValueError, match=message):
        lifter.predict(keypoints, (1000, 1000))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_keypoints_that_cannot_be_filled(checkpoint, bad):
    lifter = Lifter.from_checkpoint(checkpoint)
    kp = np.random.default_rng(0).uniform(400, 600, (4, 17, 2))
    kp[:, 7, 1] = bad  # the spine is never seen: placed from the body, flagged
    pred = lifter.predict_full(kp, (1000, 1000))
    assert pred.report.unseen == (7,) and pred.report.mask[:, 7].all()
    assert np.isfinite(pred.poses_3d).all()
    kp[:, 8:, 1] = bad  # only the legs and the spine's lower half: too little left
    with pytest.raises(ValueError, match="too little of the body is visible"):
        lifter.predict(kp, (1000, 1000))
    with pytest.raises(ValueError, match="no usable keypoints"):
        lifter.predict(np.full((4, 17, 2), bad), (1000, 1000))


def test_bad_image_size(checkpoint):
    lifter = Lifter.from_checkpoint(checkpoint)
    kp = np.full((3, 17, 2), 500.0)
    with pytest.raises(ValueError, match="image size must be positive"):
        lifter.predict(kp, (0, 1000))
    with pytest.raises(ValueError, match=r"image size must be \(width, height\)"):
        lifter.predict(kp, (1000,))
    with pytest.raises(ValueError, match="needs image_size"):
        lifter.predict(kp, None)


@pytest.mark.parametrize("keypoints, match", [
    (np.full((3, 17, 2), 500.0) + 1j, "found dtype complex128"),  # imaginary part was dropped
    (np.ones((3, 17, 2), dtype=bool), "found dtype bool"),        # lifted True as 1 px
    (np.full((3, 17, 2), "500"), "found dtype <U3"),                # strings were parsed
    (np.full((3, 17, 2), {}, dtype=object), "holding non-numbers"), # was TypeError
    (np.full((3, 17, 2), 500.0) * 1e27, "pixel coordinates up to 5e\\+29"),  # poses of 1e30 m
    (np.full((3, 17, 2), 1e300), "pixel coordinates up to"),      # NaN poses
])
def test_keypoints_that_are_not_pixels(checkpoint, keypoints, match):
    """Found by tests/test_properties.py; each was returned as a silent answer or a TypeError."""
    lifter = Lifter.from_checkpoint(checkpoint)
    with pytest.raises(ValueError, match=match) as info:
        lifter.predict(keypoints, (1000, 1000))
    assert type(info.value) is ValueError


@pytest.mark.parametrize("image_size", [(1, 1), (1e-3, 1e-3), (1e-300, 1e-300)])
def test_image_size_that_does_not_fit_the_keypoints(checkpoint, image_size):
    """Pixels of a 1000-px frame with image_size=(1, 1) lifted to poses ~1 km across (and NaN
    for a 1e-300 px image); now an error that names the image size."""
    lifter = Lifter.from_checkpoint(checkpoint)
    kp = np.random.default_rng(0).uniform(300, 700, size=(4, 17, 2))
    with pytest.raises(ValueError, match=r"image widths from the image of size.*Check image_size"):
        lifter.predict(kp, image_size)


def test_non_finite_model_output_is_an_error(checkpoint, monkeypatch):
    lifter = Lifter.from_checkpoint(checkpoint)
    frames = lambda x: x.shape[0] - lifter.receptive_field + 1  # noqa: E731
    monkeypatch.setattr(lifter, "_lift_encoded", lambda x: np.full((frames(x), 17, 3), np.nan))
    kp = np.random.default_rng(0).uniform(300, 700, size=(3, 17, 2))
    with pytest.raises(ValueError, match="non-finite 3D poses.*damaged"):
        lifter.predict(kp, (1000, 1000))


@pytest.mark.parametrize("kwargs, match", [
    ({"layout": ["h36m17"]}, "unknown keypoint layout"),   # was TypeError: unhashable
    ({"min_score": "0.3"}, "min_score must be a finite number"),  # was UFuncTypeError
    ({"min_score": None}, "min_score must be a finite number"),   # was TypeError
])
def test_bad_layout_and_min_score(checkpoint, kwargs, match):
    lifter = Lifter.from_checkpoint(checkpoint)
    with pytest.raises(ValueError, match=match) as info:
        lifter.predict(np.full((3, 17, 2), 500.0), (1000, 1000), **kwargs)
    assert type(info.value) is ValueError


def test_mismatched_weights_are_a_value_error(checkpoint, tmp_path):
    state = load_checkpoint(checkpoint)
    state["model_config"]["channels"] = 32  # no longer the shape of the stored weights
    bad = save_checkpoint(state, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="weights do not match") as exc:
        Lifter.from_checkpoint(bad)
    assert str(bad) in str(exc.value)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError):
        Lifter.from_checkpoint(tmp_path / "none.pt")


def test_lifter_keeps_training_and_inference_codecs_equal(checkpoint):
    state = load_checkpoint(checkpoint)
    lifter = Lifter.from_checkpoint(checkpoint)
    assert lifter.codec.to_dict() == state["codec"]
    for name, tensor in lifter.model.state_dict().items():
        assert torch.equal(tensor, state["model"][name])


def test_reframe_keypoints_hand_values():
    from skelgnn.infer.lifter import TRAINING_FRAMING, reframe_keypoints

    # two frames of a 3-joint "person" 608 px tall (twice the training median), centred at (100, 900)
    uv = np.array([[[100.0, 596.0], [100.0, 1204.0], [100.0, 900.0]]] * 2)
    out, size = reframe_keypoints(uv)
    assert size == TRAINING_FRAMING["image_size"]
    # scale 304 / 608 = 0.5 about the centre, moved to (507, 380)
    np.testing.assert_allclose(out[0], [[507.0, 228.0], [507.0, 532.0], [507.0, 380.0]])
    with pytest.raises(ValueError, match="zero height"):
        reframe_keypoints(np.zeros((3, 17, 2)))


def test_roll_lifts_as_the_level_camera_and_turns_back(checkpoint, test_records):
    """``roll_deg``: the rolled camera's pixels lifted as the level camera's, the 3D turned into
    the rolled camera: exactly the level lift turned (in the clip's own pixels, where the screen
    codec is a similarity), and close to it with reframing."""
    from skelgnn.geometry import roll_matrix

    lifter = Lifter.from_checkpoint(checkpoint)
    rec = test_records[0]
    w, h = rec.image_size
    level = rec.keypoints_2d[:30].astype(np.float64)
    turn = roll_matrix(15.0)
    centre = np.array([w / 2, h / 2])
    rolled = (level - centre) @ turn[:2, :2].T + centre  # the same camera rolled by 15 degrees
    want = lifter.predict(level, rec.image_size, reframe=False) @ turn.T
    got = lifter.predict_full(rolled, rec.image_size, reframe=False, roll_deg=15.0).poses_3d
    np.testing.assert_allclose(got, want, atol=1e-4)
    plain = lifter.predict(rolled, rec.image_size, reframe=False)
    assert np.abs(plain - want).max() > 10 * np.abs(got - want).max()
    reframed = lifter.predict_full(rolled, rec.image_size, roll_deg=15.0).poses_3d
    np.testing.assert_allclose(reframed, lifter.predict(level, rec.image_size) @ turn.T, atol=0.02)
    with pytest.raises(ValueError, match="roll_deg"):
        lifter.predict_full(rolled, rec.image_size, roll_deg=float("nan"))
