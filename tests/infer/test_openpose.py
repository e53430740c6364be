"""OpenPose BODY_25 JSON (skelgnn.infer.openpose, layout body25): a --write_json directory or one
frame file, read as one person's keypoints and lifted by `skelgnn infer`."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import tiny_checkpoint
from skelgnn.cli import main
from skelgnn.infer.keypoints import read_keypoints
from skelgnn.infer.layouts import BODY25_NAMES, convert, detect_layout

# An upright person facing the camera in BODY_25 order (x, y pixels of a 640 x 480 image).
BODY25 = np.array([
    [320, 100], [320, 130], [290, 130], [280, 180], [275, 230], [350, 130], [360, 180],
    [365, 230], [320, 240], [305, 240], [305, 320], [305, 400], [335, 240], [335, 320],
    [335, 400], [315, 92], [325, 92], [308, 96], [332, 96], [345, 410], [350, 408],
    [332, 405], [295, 410], [290, 408], [308, 405]], dtype=np.float64)


def person(shift: float = 0.0, conf: float = 0.8, missing: tuple[int, ...] = ()) -> dict:
    kp = np.concatenate([BODY25 + [shift, 0.0], np.full((25, 1), conf)], axis=1)
    kp[list(missing)] = 0.0  # OpenPose writes 0, 0, 0 for a joint it did not find
    return {"person_id": [-1], "pose_keypoints_2d": kp.reshape(-1).round(3).tolist(),
            "face_keypoints_2d": [], "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": []}


def write_frames(directory, frames: list[list[dict]]) -> None:
    directory.mkdir()
    for i, people in enumerate(frames):
        (directory / f"clip_{i:012d}_keypoints.json").write_text(
            json.dumps({"version": 1.3, "people": people}))


def test_body25_layout_converts_to_h36m():
    assert len(BODY25_NAMES) == 25 and detect_layout(25) == "body25"
    h36m = convert(np.concatenate([BODY25, np.ones((25, 1))], 1)[None], "body25")[0]
    np.testing.assert_allclose(h36m[0, :2], (BODY25[9] + BODY25[12]) / 2)  # pelvis = mid-hips
    np.testing.assert_allclose(h36m[3, :2], BODY25[11])  # RFoot = right ankle
    np.testing.assert_allclose(h36m[10, :2], (BODY25[15] + BODY25[16]) / 2)  # head = mid-eyes
    np.testing.assert_allclose(h36m[13, :2], BODY25[7])  # LWrist


def test_read_an_openpose_directory(tmp_path):
    write_frames(tmp_path / "json", [
        [person(conf=0.5), person(shift=100.0, conf=0.9)],  # two people: the more confident
        [],                                                  # nobody
        [person(shift=100.0, missing=(4,))],                 # right wrist not found
    ])
    seq = read_keypoints(tmp_path / "json")
    assert seq.keypoints.shape == (3, 25, 3) and seq.layout == "body25"
    assert seq.frames.tolist() == [0, 1, 2] and seq.image_size is None
    np.testing.assert_allclose(seq.keypoints[0, :, :2], BODY25 + [100.0, 0.0], atol=1e-3)
    assert np.isnan(seq.keypoints[1, :, :2]).all() and (seq.keypoints[1, :, 2] == 0).all()
    assert np.isnan(seq.keypoints[2, 4, :2]).all() and seq.keypoints[2, 4, 2] == 0
    track = read_keypoints(tmp_path / "json", person="track")
    np.testing.assert_allclose(track.keypoints[0, 0, :2], BODY25[0] + [100.0, 0.0], atol=1e-3)
    one = read_keypoints(tmp_path / "json" / "clip_000000000000_keypoints.json")
    assert one.keypoints.shape == (1, 25, 3) and one.layout == "body25"


def test_openpose_errors_are_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no OpenPose JSON files"):
        read_keypoints(tmp_path / "empty")
    write_frames(tmp_path / "nobody", [[], []])
    with pytest.raises(ValueError, match="nobody detected in any of the 2 OpenPose frames"):
        read_keypoints(tmp_path / "nobody")
    write_frames(tmp_path / "strings", [[{"pose_keypoints_2d": ["1", "2", "3"]}]])
    with pytest.raises(ValueError, match="must hold numbers"):
        read_keypoints(tmp_path / "strings")
    write_frames(tmp_path / "wide", [[{"pose_keypoints_2d": [1.0, 2.0, 0.5] * 300}]])
    with pytest.raises(ValueError, match="over the bounds of 256 joints"):
        read_keypoints(tmp_path / "wide")
    big = tmp_path / "big"
    write_frames(big, [[person()]])
    with open(big / "clip_000000000000_keypoints.json", "r+b") as fh:
        fh.truncate(200 << 20)  # sparse: a 200 MiB file costs nothing on disk
    with pytest.raises(ValueError, match="OpenPose JSON file"):
        read_keypoints(big)


def test_infer_lifts_an_openpose_directory(tmp_path, capsys):
    write_frames(tmp_path / "json", [[person(shift=2.0 * i)] for i in range(12)])
    out = tmp_path / "poses_3d.npz"
    checkpoint = tiny_checkpoint(tmp_path / "tiny.pt")
    assert main(["infer", "--keypoints", str(tmp_path / "json"), "--image-size", "640", "480",
                 "--checkpoint", str(checkpoint), "--out", str(out)]) == 0
    assert "(body25, 640x480)" in capsys.readouterr().out
    with np.load(out) as data:
        assert data["poses_3d"].shape == (12, 17, 3) and np.isfinite(data["poses_3d"]).all()
    assert main(["infer", "--keypoints", str(tmp_path / "json"), "--checkpoint", str(checkpoint),
                 "--out", str(out)]) == 2
    assert "pass --image-size W H" in capsys.readouterr().err
