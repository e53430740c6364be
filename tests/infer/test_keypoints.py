"""Tests of skelgnn.infer.keypoints: reading npz / JSON keypoints the tests write, and gap filling."""
from __future__ import annotations

import json

import numpy as np
import pytest

from skelgnn.infer.gaps import fill_missing, prepare_keypoints
from skelgnn.infer.keypoints import check_image_size, read_keypoints
from skelgnn.infer.layouts import convert


def _coco_person(offset: float, score: float = 0.9, n: int = 17) -> list[float]:
    """Flat COCO keypoints [x, y, s, ...]: joint i at (offset + i, 2 i)."""
    out: list[float] = []
    for i in range(n):
        out += [offset + i, 2.0 * i, score]
    return out


# --------------------------------------------------------------------------------------------
# npz
# --------------------------------------------------------------------------------------------

def test_npz_with_metadata(tmp_path):
    kp = np.arange(4 * 17 * 2, dtype=np.float32).reshape(4, 17, 2)
    path = tmp_path / "kp.npz"
    np.savez(path, keypoints=kp, layout=np.array("coco17"), fps=np.array(25.0),
             image_size=np.array([640, 480]))
    seq = read_keypoints(path)
    assert seq.keypoints.shape == (4, 17, 3)
    np.testing.assert_array_equal(seq.keypoints[..., :2], kp)
    np.testing.assert_array_equal(seq.keypoints[..., 2], 1.0)  # no scores -> 1
    assert seq.layout == "coco17" and seq.fps == 25.0 and seq.image_size == (640.0, 480.0)
    np.testing.assert_array_equal(seq.frames, np.arange(4))


def test_npz_plain_with_scores_and_nan(tmp_path):
    kp = np.ones((3, 33, 3))
    kp[1, 5, 0] = np.nan
    path = tmp_path / "kp.npz"
    np.savez(path, keypoints=kp)
    seq = read_keypoints(path)
    assert seq.layout is None and seq.fps is None and seq.image_size is None
    assert seq.keypoints[1, 5, 2] == 0.0 and np.isnan(seq.keypoints[1, 5, :2]).all()


@pytest.mark.parametrize("entries, match", [
    ({"points": np.zeros((2, 17, 2))}, "expected an array 'keypoints'"),
    ({"keypoints": np.zeros((2, 17))}, r"must be a numeric \(F, J, 2\) or \(F, J, 3\)"),
    ({"keypoints": np.zeros((2, 17, 4))}, r"must be a numeric \(F, J, 2\) or \(F, J, 3\)"),
    ({"keypoints": np.zeros((2, 17, 2)), "image_size": np.array([0, 480])}, "must be positive"),
    ({"keypoints": np.zeros((2, 17, 2)), "image_size": np.array([640])}, r"\(width, height\)"),
    ({"keypoints": np.zeros((2, 17, 2)), "layout": np.array([1, 2])}, "single string"),
    ({"keypoints": np.zeros((0, 17, 2))}, "no keypoints"),
])
def test_npz_bad_contents(tmp_path, entries, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **entries)
    with pytest.raises(ValueError, match=match):
        read_keypoints(path)


def test_npz_needing_pickle_is_refused(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, keypoints=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="without pickle"):
        read_keypoints(path)


def test_missing_corrupt_and_unknown_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="keypoints file not found"):
        read_keypoints(tmp_path / "nope.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable npz"):
        read_keypoints(tmp_path / "junk.npz")
    (tmp_path / "kp.csv").write_text("1,2\n")
    with pytest.raises(ValueError, match="expected .npz or .json"):
        read_keypoints(tmp_path / "kp.csv")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_keypoints(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="person must be one of"):
        read_keypoints(tmp_path / "bad.json", person="biggest")


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------

def test_coco_results_most_confident_and_missing_frames(tmp_path):
    dets = [
        {"image_id": 3, "category_id": 1, "keypoints": _coco_person(0.0), "score": 0.5},
        {"image_id": 3, "category_id": 1, "keypoints": _coco_person(100.0), "score": 0.8},
        {"image_id": 6, "category_id": 1, "keypoints": _coco_person(1.0), "score": 0.9},
    ]
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(dets))
    seq = read_keypoints(path)
    np.testing.assert_array_equal(seq.frames, [3, 4, 5, 6])
    assert seq.keypoints.shape == (4, 17, 3)
    assert seq.keypoints[0, 0, 0] == 100.0  # the 0.8 person wins frame 3
    assert seq.keypoints[3, 0, 0] == 1.0
    assert np.isnan(seq.keypoints[1:3, :, :2]).all() and (seq.keypoints[1:3, :, 2] == 0).all()
    assert seq.layout is None


def test_coco_frame_key_and_declared_values(tmp_path):
    doc = {"layout": "coco17", "fps": 30, "image_size": [1920, 1080],
           "annotations": [{"frame": 0, "keypoints": _coco_person(5.0)}]}
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(doc))
    seq = read_keypoints(path)
    assert seq.layout == "coco17" and seq.fps == 30.0 and seq.image_size == (1920.0, 1080.0)
    assert seq.num_frames == 1 and seq.keypoints[0, 16, 0] == 21.0


def test_track_keeps_the_nearest_person(tmp_path):
    # Frame 0: A (x~0) is the most confident. Frame 1: B (x~500) is more confident, but A is
    # nearer to the previous choice.
    dets = [
        {"image_id": 0, "keypoints": _coco_person(0.0), "score": 0.9},
        {"image_id": 0, "keypoints": _coco_person(500.0), "score": 0.5},
        {"image_id": 1, "keypoints": _coco_person(3.0), "score": 0.4},
        {"image_id": 1, "keypoints": _coco_person(505.0), "score": 0.95},
    ]
    path = tmp_path / "two.json"
    path.write_text(json.dumps(dets))
    assert read_keypoints(path, person="score").keypoints[1, 0, 0] == 505.0
    assert read_keypoints(path, person="track").keypoints[1, 0, 0] == 3.0


def _mmpose_frames(n_joints: int = 33) -> list[dict]:
    def inst(offset, score):
        return {"keypoints": [[offset + i, float(i)] for i in range(n_joints)],
                "keypoint_scores": [score] * n_joints, "bbox_score": score}

    return [
        {"frame_id": 0, "instances": [inst(0.0, 0.6), inst(50.0, 0.9)]},
        {"frame_id": 1, "instances": []},
        {"frame_id": 2, "instances": [inst(2.0, 0.7)]},
    ]


def test_mmpose_predictions_list_and_dict(tmp_path):
    path = tmp_path / "mm.json"
    path.write_text(json.dumps(_mmpose_frames()))
    seq = read_keypoints(path)
    assert seq.keypoints.shape == (3, 33, 3)
    assert seq.keypoints[0, 0, 0] == 50.0 and seq.keypoints[0, 0, 2] == pytest.approx(0.9)
    assert np.isnan(seq.keypoints[1, :, 0]).all()
    assert seq.keypoints[2, 32, :].tolist() == [34.0, 32.0, pytest.approx(0.7)]
    wrapped = tmp_path / "mm2.json"
    wrapped.write_text(json.dumps({"meta_info": {}, "instance_info": _mmpose_frames()}))
    np.testing.assert_array_equal(read_keypoints(wrapped).keypoints, seq.keypoints)
    assert read_keypoints(wrapped).layout is None


def test_mmpose_dataset_name_declares_the_layout(tmp_path):
    path = tmp_path / "mm.json"
    path.write_text(json.dumps({"meta_info": {"dataset_name": "coco"},
                                "instance_info": _mmpose_frames(17)}))
    seq = read_keypoints(path)
    assert seq.layout == "coco17" and seq.keypoints.shape == (3, 17, 3)


@pytest.mark.parametrize("doc, match", [
    ([], "no person detected"),
    ([{"frame_id": 0, "instances": []}], "no person detected"),
    ([{"image_id": 0, "keypoints": [1.0, 2.0]}], "multiple of 3"),
    ([{"keypoints": _coco_person(0.0)}], "cannot tell its frame"),
    ([{"image_id": 0.5, "keypoints": _coco_person(0.0)}], "integer frame number"),
    ([{"image_id": 0, "bbox": [0, 0, 1, 1]}], "neither 'keypoints'"),
    ([{"image_id": 0, "keypoints": _coco_person(0.0)},
      {"image_id": 1, "keypoints": _coco_person(0.0, n=33)}], "different joint counts"),
    ({"results": []}, "'instance_info' or 'annotations'"),
    ("text", "expected a JSON list"),
    ({"image_size": [0, 10], "annotations": [{"image_id": 0, "keypoints": _coco_person(0.0)}]},
     "must be positive"),
])
def test_bad_json(tmp_path, doc, match):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=match):
        read_keypoints(path)


@pytest.mark.parametrize("doc, match", [
    # each of these leaked TypeError / OverflowError / AttributeError / MemoryError before
    ([{"image_id": 0, "keypoints": [{}] * 51}], r"entry 0: 'keypoints' must hold numbers"),
    ([{"image_id": 0, "keypoints": [10**400] * 51}], r"'keypoints' must hold numbers"),
    ([{"image_id": 0, "keypoints": [[1.0]] * 51}], "must be a flat list"),
    ([{"image_id": 0, "keypoints": _coco_person(0.0), "score": [1, 2]}], "score must be a number"),
    ([{"image_id": 0, "keypoints": _coco_person(0.0), "score": "high"}], "score must be a number"),
    ([{"image_id": float("inf"), "keypoints": _coco_person(0.0)}], "integer frame number"),
    ([{"image_id": float("nan"), "keypoints": _coco_person(0.0)}], "integer frame number"),
    ([{"image_id": 10**30, "keypoints": _coco_person(0.0)}], "integer frame number"),
    ([{"image_id": 0, "keypoints": _coco_person(0.0)},
      {"image_id": 10**12, "keypoints": _coco_person(0.0)}], r"only 2 frame\(s\) have a detection"),
    ([{"frame_id": 0, "instances": 5}], "'instances' must be a list of people"),
    ([{"frame_id": 0, "instances": [1]}], "each of 'instances' must be an object"),
    ([{"frame_id": 0, "instances": [{"keypoints": [["a", "b"]] * 17}]}], "must hold numbers"),
    ([{"frame_id": 0, "instances": [{"keypoints": [[1.0, 2.0]] * 17,
                                     "keypoint_scores": {"a": 1}}]}], "'keypoint_scores' must hold"),
    ([{"frame_id": 0, "instances": [{"keypoints": [[1.0, 2.0]] * 17, "bbox_score": {}}]}],
     "score must be a number"),
    ({"fps": [25, 30], "annotations": [{"image_id": 0, "keypoints": _coco_person(0.0)}]},
     "'fps' must be one positive number"),
    ({"fps": -1, "annotations": [{"image_id": 0, "keypoints": _coco_person(0.0)}]},
     "'fps' must be one positive number"),
    ({"layout": ["coco17"], "annotations": [{"image_id": 0, "keypoints": _coco_person(0.0)}]},
     "'layout' must be a layout name"),
    ({"image_size": [1e30, 1e30], "annotations": [{"image_id": 0, "keypoints": _coco_person(0.0)}]},
     "at most 1e\\+06 pixels"),
])
def test_malformed_json_values(tmp_path, doc, match):
    """Found by tests/test_properties.py."""
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=match) as info:
        read_keypoints(path)
    assert type(info.value) is ValueError and "bad.json" in str(info.value)


def test_json_nested_too_deeply_or_with_huge_integers(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)  # RecursionError in json.loads before
    with pytest.raises(ValueError, match="nested too deeply"):
        read_keypoints(path)
    path.write_text('[{"image_id": 0, "keypoints": [' + "9" * 5000 + "]}]")
    with pytest.raises(ValueError, match="not valid JSON.*digits"):
        read_keypoints(path)


def test_strided_detections_are_still_read(tmp_path):
    """Detections on every 30th frame stay within the frame-span limit."""
    dets = [{"image_id": 30 * i, "keypoints": _coco_person(float(i))} for i in range(5)]
    path = tmp_path / "strided.json"
    path.write_text(json.dumps(dets))
    seq = read_keypoints(path)
    assert seq.num_frames == 121 and np.isfinite(seq.keypoints[::30, :, :2]).all()


@pytest.mark.parametrize("fps", [np.array(np.nan), np.array(-5.0), np.array(0.0), np.array(np.inf)])
def test_npz_fps_must_be_positive_and_finite(tmp_path, fps):
    """NaN, negative, zero and infinite fps used to be returned as they were."""
    path = tmp_path / "kp.npz"
    np.savez(path, keypoints=np.zeros((2, 17, 2)), fps=fps)
    with pytest.raises(ValueError, match="'fps' must be one positive number"):
        read_keypoints(path)


def test_damaged_npz_members(tmp_path):
    import io
    import struct
    import zipfile

    path = tmp_path / "kp.npz"
    np.savez_compressed(path, keypoints=np.random.default_rng(0).normal(size=(40, 17, 3)))
    raw = bytearray(path.read_bytes())
    name_len, extra_len = struct.unpack("<HH", raw[26:30])  # the first local file header
    start = 30 + name_len + extra_len  # first bytes of the deflate stream
    raw[start:start + 4] = b"\xff" * 4  # an invalid block type
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="not a readable npz file") as info:  # was zlib.error
        read_keypoints(path)
    assert type(info.value) is ValueError
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (10**12, 17, 3)})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("keypoints.npy", member.getvalue() + b"\0" * 64)
    with pytest.raises(ValueError, match="truncated or corrupt"):  # not a 400 TB allocation
        read_keypoints(path)


# --------------------------------------------------------------------------------------------
# Filling
# --------------------------------------------------------------------------------------------

def test_fill_missing_interpolates_and_holds_edges():
    kp = np.zeros((6, 2, 3))
    kp[..., 2] = 1.0
    kp[:, 0, 0] = [0, 10, 20, 30, 40, 50]
    kp[:, 0, 1] = 7.0
    kp[:, 1, 0] = [5, 5, 5, 5, 5, 5]
    kp[:, 1, 1] = [1, 2, 3, 4, 5, 6]
    kp[[0, 2, 3], 0, 2] = 0.1                 # joint 0 missing at 0 (edge) and 2..3 (gap)
    kp[4, 0, :2] = np.nan                     # ... and NaN at 4
    kp[[4, 5], 1, 2] = 0.29                   # joint 1 missing at the end
    filled, report = fill_missing(kp, min_score=0.3)
    # Joint 0 observed at frames 1 (10) and 5 (50): 0 holds 10, 2..4 interpolate 20, 30, 40.
    np.testing.assert_allclose(filled[:, 0, 0], [10, 10, 20, 30, 40, 50])
    np.testing.assert_allclose(filled[:, 0, 1], 7.0)
    np.testing.assert_allclose(filled[:, 1, 1], [1, 2, 3, 4, 4, 4])  # end hold
    np.testing.assert_array_equal(filled[..., 2], kp[..., 2])  # scores unchanged
    assert report.frames == 6 and report.joints == 2
    assert report.missing_joints == 6 and report.filled_frames == 5 and report.empty_frames == 1
    assert report.per_joint == (4, 2)
    assert report.mask[4].all() and not report.mask[1].any()
    assert "filled 6 missing joint(s) in 5 frame(s)" in report.summary()


def test_fill_missing_nothing_to_do():
    kp = np.random.default_rng(0).uniform(0, 100, (5, 17, 2))
    filled, report = fill_missing(kp)
    np.testing.assert_array_equal(filled[..., :2], kp)
    assert report.missing_joints == 0 and report.summary() == "5 frames, no missing joints"


def test_fill_missing_errors():
    kp = np.ones((4, 17, 3))
    kp[..., 2] = 0.2
    with pytest.raises(ValueError, match="no usable keypoints.*lower --min-score"):
        fill_missing(kp, min_score=0.3)
    kp[..., 2] = 0.9
    kp[:, 3, 2] = 0.25
    with pytest.raises(ValueError, match=r"never seen.*RFoot \(best score 0.25\)"):
        fill_missing(kp, min_score=0.3)
    with pytest.raises(ValueError, match="expected keypoints"):
        fill_missing(np.zeros((0, 17, 3)))


def test_prepare_keypoints_converts_then_fills():
    rng = np.random.default_rng(1)
    kp = np.concatenate([rng.uniform(0, 100, (5, 17, 2)), np.full((5, 17, 1), 0.9)], -1)
    kp[2, 11, 2] = 0.0  # COCO left hip lost in frame 2: LHip, pelvis, spine get filled
    out, report = prepare_keypoints(kp, "coco17")
    ref = convert(kp, "coco17")
    assert report.missing_joints == 3 and report.mask[2, [0, 4, 7]].all()
    np.testing.assert_allclose(out[2, 4, :2], (ref[1, 4, :2] + ref[3, 4, :2]) / 2)
    np.testing.assert_allclose(out[[0, 1, 3, 4]], ref[[0, 1, 3, 4]])
    with pytest.raises(ValueError, match="--layout coco17 or --layout h36m17"):
        prepare_keypoints(kp, "auto")
    out_auto, _ = prepare_keypoints(kp, "auto", declared="coco17")
    np.testing.assert_array_equal(out_auto, out)


def test_check_image_size():
    assert check_image_size((640, 480)) == (640.0, 480.0)
    assert check_image_size(np.array([[640, 480]])) == (640.0, 480.0)
    for bad in ((0, 480), (640, -1), (float("nan"), 3), "640x480", (1, 2, 3),
                (True, True), (640 + 1j, 480), (1e30, 1e30), {"w": 640}, None):
        with pytest.raises(ValueError, match="image size") as info:
            check_image_size(bad)
        assert type(info.value) is ValueError


@pytest.mark.parametrize("keypoints, match", [
    (np.ones((2, 17, 2), dtype=bool), "found dtype bool"),
    (np.ones((2, 17, 2), dtype=complex), "found dtype complex128"),
    (np.full((2, 17, 2), "3.5"), "found dtype <U3"),
    (np.full((2, 17, 2), {}, dtype=object), "object array holding non-numbers"),
    ([[[1.0, 2.0]], [[1.0]]], "ragged nested sequences"),
])
def test_keypoints_that_are_not_real_numbers(keypoints, match):
    """Complex and bool keypoints were read silently (imaginary part dropped, True as 1 px),
    numeric strings were parsed, dicts raised TypeError."""
    for fn in (prepare_keypoints, fill_missing):
        with pytest.raises(ValueError, match=match) as info:
            fn(keypoints)
        assert type(info.value) is ValueError


@pytest.mark.parametrize("min_score", ["0.3", None, float("nan"), True])
def test_min_score_must_be_a_number(min_score):
    with pytest.raises(ValueError, match="min_score must be a finite number"):  # was TypeError
        fill_missing(np.ones((2, 17, 3)), min_score)
