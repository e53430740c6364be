"""Tests of skelgnn.data: safe npz reading, readers and their errors, records, WindowDataset."""
from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import save_object_npz
from skelgnn.data.codec import PoseCodec
from skelgnn.data import (
    Sequence2D3D,
    WindowDataset,
    action_category,
    h36m_cameras,
    load_benchmark,
    load_npz_object,
    read_cameras,
    read_positions_2d,
    read_positions_3d,
    read_split,
    resolve_data_dir,
)
from skelgnn.skeleton import H36M32_KEEP

SUBJECTS = {"S01": "S1", "S02": "S5"}  # benchmark subject -> Human3.6M extrinsics
ACTIONS = {"S01": {"Walk 01_01": 12, "Jump 01_02": 7}, "S02": {"Walk 02_01": 9}}


# ---- helpers that write files in the benchmark formats --------------------------------------------



def make_poses_3d(rng: np.random.Generator, frames: int, joints: int = 17) -> np.ndarray:
    """Poses around the world origin at about hip height, where the Human3.6M cameras look."""
    return (rng.normal(scale=0.3, size=(frames, joints, 3)) + np.array([0.0, 0.0, 1.0])).astype(np.float32)


def write_camera_table(path: Path, subjects: dict[str, str]) -> None:
    table = json.loads((resources.files("skelgnn") / "resources" / "cameras_h36m.json").read_text())
    out = {"intrinsics": table["intrinsics"],
           "extrinsics": {s: table["extrinsics"][h] for s, h in subjects.items()}}
    path.write_text(json.dumps(out))


def write_benchmark(root: Path, *, extra_2d_frames: int = 0, joints_3d: int = 17,
                    mutate_3d=None, mutate_2d=None) -> dict:
    """A tiny benchmark directory; returns the 3D dict written (17 joints)."""
    rng = np.random.default_rng(0)
    p3 = {s: {a: make_poses_3d(rng, f, joints_3d) for a, f in acts.items()} for s, acts in ACTIONS.items()}
    p2 = {s: {a: [rng.uniform(0, 1000, size=(f + extra_2d_frames, 17, 2)).astype(np.float32)
                  for _ in range(4)] for a, f in acts.items()} for s, acts in ACTIONS.items()}
    if mutate_3d:
        mutate_3d(p3)
    if mutate_2d:
        mutate_2d(p2)
    save_object_npz(root / "data_3d_cmu.npz", positions_3d=p3)
    metadata = {"num_joints": 17, "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]],
                "layout_name": "h36m"}
    save_object_npz(root / "data_2d_cmu_det.npz", positions_2d=p2, metadata=metadata)
    write_camera_table(root / "cameras.json", SUBJECTS)
    (root / "split.json").write_text(json.dumps({"train": ["S01"], "test": ["S02"]}))
    return p3


@pytest.fixture()
def bench(tmp_path: Path) -> Path:
    write_benchmark(tmp_path)
    return tmp_path


# ---- safe loader --------------------------------------------------------------------------------

class _Evil:
    """Unpickling this would call os.system and create a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_safe_loader_refuses_malicious_pickle(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    save_object_npz(path, positions_3d={"S1": {"Walk": _Evil(marker)}})
    with pytest.raises(ValueError, match=r"evil\.npz.*refusing to unpickle (posix|os|nt)\.system"):
        load_npz_object(path, "positions_3d")
    with pytest.raises(ValueError, match="refusing"):
        read_positions_3d(path)
    assert not marker.exists()


def test_safe_loader_refuses_builtins_eval(tmp_path):
    class EvalPayload:
        def __reduce__(self):
            return eval, ("1 + 1",)

    path = tmp_path / "eval.npz"
    save_object_npz(path, positions_3d=EvalPayload())
    with pytest.raises(ValueError, match="builtins.eval"):
        load_npz_object(path, "positions_3d")


def test_safe_loader_reads_pickled_dicts_and_plain_arrays(tmp_path):
    obj = {"S1": {"a": np.arange(6, dtype=np.float32).reshape(2, 3)}, "meta": [1, 2.5, "x", (3,)]}
    save_object_npz(tmp_path / "obj.npz", positions_3d=obj)
    out = load_npz_object(tmp_path / "obj.npz", "positions_3d")
    np.testing.assert_array_equal(out["S1"]["a"], obj["S1"]["a"])
    assert out["meta"] == obj["meta"]
    np.savez(tmp_path / "plain.npz", x=np.arange(5))
    np.testing.assert_array_equal(load_npz_object(tmp_path / "plain.npz", "x"), np.arange(5))
    with pytest.raises(ValueError, match=r"no key 'y'.*\['x'\]"):
        load_npz_object(tmp_path / "plain.npz", "y")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not an npz"):
        load_npz_object(tmp_path / "junk.npz", "x")


def test_benchmark_files_load_without_allow_pickle(mini_dir, monkeypatch):
    real_load = np.load

    def guarded_load(*args, **kwargs):
        if kwargs.get("allow_pickle"):
            raise AssertionError("np.load(allow_pickle=True) was called")
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", guarded_load)
    p3 = read_positions_3d(mini_dir / "data_3d_cmu.npz")
    p2, meta = read_positions_2d(mini_dir / "data_2d_cmu_det.npz")
    assert sorted(p3) == ["S07", "S08", "S10"] and meta["num_joints"] == 17
    assert p3["S07"]["Walk 07_01"].shape[1:] == (17, 3) and len(p2["S07"]["Walk 07_01"]) == 4


# ---- readers -----------------------------------------------------------------------------------

def test_read_h36m_32_joint_format(tmp_path):
    p3 = write_benchmark(tmp_path, joints_3d=32)
    out = read_positions_3d(tmp_path / "data_3d_cmu.npz")
    for s, acts in ACTIONS.items():
        for a, frames in acts.items():
            assert out[s][a].shape == (frames, 17, 3) and out[s][a].dtype == np.float32
            np.testing.assert_array_equal(out[s][a], p3[s][a][:, list(H36M32_KEEP)])


def test_read_positions_2d(bench):
    p2, meta = read_positions_2d(bench / "data_2d_cmu_det.npz")
    assert meta["layout_name"] == "h36m"
    assert sorted(p2) == ["S01", "S02"]
    assert [v.shape for v in p2["S01"]["Walk 01_01"]] == [(12, 17, 2)] * 4


def test_missing_file_and_missing_key(tmp_path, bench):
    with pytest.raises(FileNotFoundError, match=r"nothere\.npz.*--data"):
        read_positions_3d(tmp_path / "nothere.npz")
    with pytest.raises(FileNotFoundError, match="nothere"):
        read_positions_2d(tmp_path / "nothere.npz")
    with pytest.raises(ValueError, match=r"data_2d_cmu_det\.npz.*no key 'positions_3d'.*positions_2d"):
        read_positions_3d(bench / "data_2d_cmu_det.npz")


def test_wrong_joint_count(tmp_path):
    write_benchmark(tmp_path, mutate_3d=lambda p3: p3["S02"].__setitem__("Walk 02_01", np.zeros((5, 16, 3))))
    with pytest.raises(ValueError, match=r"data_3d_cmu\.npz.*'S02'.*'Walk 02_01'.*17 joints.*or 32, found 16"):
        read_positions_3d(tmp_path / "data_3d_cmu.npz")


def test_wrong_joint_count_2d(tmp_path):
    def bad(p2):
        p2["S01"]["Jump 01_02"][2] = np.zeros((7, 15, 2), dtype=np.float32)

    write_benchmark(tmp_path, mutate_2d=bad)
    with pytest.raises(ValueError, match=r"'S01'.*'Jump 01_02', camera 2.*17 joints, found 15"):
        read_positions_2d(tmp_path / "data_2d_cmu_det.npz")


def test_nan_is_rejected(tmp_path):
    def nan3d(p3):
        p3["S01"]["Walk 01_01"][3, 4, 1] = np.nan

    write_benchmark(tmp_path, mutate_3d=nan3d)
    with pytest.raises(ValueError, match=r"'S01'.*'Walk 01_01'.*NaN"):
        read_positions_3d(tmp_path / "data_3d_cmu.npz")

    def inf2d(p2):
        p2["S02"]["Walk 02_01"][1][0, 0, 0] = np.inf

    write_benchmark(tmp_path, mutate_2d=inf2d)
    with pytest.raises(ValueError, match=r"'S02'.*'Walk 02_01', camera 1.*NaN/inf"):
        read_positions_2d(tmp_path / "data_2d_cmu_det.npz")


def test_2d_shorter_than_3d(tmp_path):
    write_benchmark(tmp_path, extra_2d_frames=-2)
    with pytest.raises(ValueError, match=r"data_2d_cmu_det\.npz.*2D has 5 frames, fewer than the 3D's 7"):
        load_benchmark(tmp_path, "det")


@pytest.mark.parametrize("value, match", [
    (np.ones((3, 17, 3), dtype=bool), "real numbers, found dtype bool"),
    (np.ones((3, 17, 3), dtype=np.complex128), "real numbers, found dtype complex128"),
    (np.full((3, 17, 3), "1.5"), "real numbers, found dtype <U3"),
    (np.zeros((3, 17, 3), dtype="datetime64[s]"), "real numbers, found dtype datetime64"),
    (np.zeros((3, 17, 3), dtype=[("a", "f4")]), "real numbers, found dtype"),
    (np.full((3, 17, 3), None, dtype=object), "NaN/inf"),
    (np.full((3, 17, 3), {}, dtype=object), "object array holding non-numbers"),
    (np.full((3, 17, 3), 1e39), "beyond float32"),  # finite in float64, inf in float32
    (np.full((3, 17, 3), 1e30), r"coordinates up to 1e\+30.*wrong units"),
    ([[1.0, 2.0, 3.0], [1.0]], "ragged nested sequences"),
])
def test_3d_arrays_that_are_not_coordinates(tmp_path, value, match):
    """Found by tests/test_properties.py: these leaked TypeError (isfinite on strings/objects),
    became inf in the float32 cast, or were read silently (bool, complex, datetime)."""
    write_benchmark(tmp_path, mutate_3d=lambda p3: p3["S01"].__setitem__("Walk 01_01", value))
    with pytest.raises(ValueError, match=match) as info:
        read_positions_3d(tmp_path / "data_3d_cmu.npz")
    assert type(info.value) is ValueError
    assert "data_3d_cmu.npz: subject 'S01', action 'Walk 01_01'" in str(info.value)


def test_3d_object_array_of_numbers_is_read():
    obj = np.arange(17 * 3 * 2, dtype=np.float64).reshape(2, 17, 3).astype(object)
    from skelgnn.data.readers import _coordinates

    out = _coordinates(obj, "x", "(F, 17, 3)", 3)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, obj.astype(np.float32))


@pytest.mark.parametrize("views, match", [
    # a 0-d object array raised TypeError (len() of unsized object)
    (np.array(None, dtype=object), r"camera 0: expected shape \(F, J, 2\), found \(\)"),
    ([np.zeros((0, 17, 2), np.float32)], "expected at least one frame, found 0"),
    ([np.ones((4, 17, 2), dtype=bool)], "found dtype bool"),
])
def test_2d_views_that_are_not_coordinates(tmp_path, views, match):
    write_benchmark(tmp_path, mutate_2d=lambda p2: p2["S01"].__setitem__("Walk 01_01", views))
    with pytest.raises(ValueError, match=match) as info:
        read_positions_2d(tmp_path / "data_2d_cmu_det.npz")
    assert type(info.value) is ValueError


def _npz_with_member(path: Path, name: str, header: dict, data: bytes) -> Path:
    import io
    import zipfile

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    buf.write(data)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(name, buf.getvalue())
    return path


def test_header_declaring_more_data_than_stored(tmp_path):
    """A 200-byte file whose header claims 8 TB used to make numpy allocate it (MemoryError)."""
    bomb = _npz_with_member(tmp_path / "bomb.npz", "x.npy", {"descr": "<f8", "fortran_order": False,
                                                          "shape": (10**12,)}, b"\0" * 16)
    with pytest.raises(ValueError, match=r"bomb\.npz: key 'x' declares shape \(1000000000000,\).*"
                                         "holds only 16 bytes; the file is truncated or corrupt"):
        load_npz_object(bomb, "x")
    import zipfile

    bad = tmp_path / "magic.npz"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("x.npy", b"\x93XUMPY\x01\x00garbage")  # a broken magic string
    with pytest.raises(ValueError, match=r"magic\.npz: key 'x' is not a valid \.npy array"):
        load_npz_object(bad, "x")


def _damage_central_directory(path: Path, offset: int, value: bytes) -> None:
    """Overwrite bytes of the first central-directory entry (offsets as in the zip spec:
    6 version needed, 8 flags, 10 compression method)."""
    raw = bytearray(path.read_bytes())
    entry = raw.index(b"PK\x01\x02")
    raw[entry + offset: entry + offset + len(value)] = value
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("offset, value, cause", [
    (6, b"\xff\x00", "NotImplementedError"),   # "zip file version 25.5"
    (8, b"\x01\x00", "RuntimeError"),          # the member claims to be encrypted
    (10, b"\x63\x00", "NotImplementedError"),  # compression method 99
])
def test_damaged_zip_structure_is_a_value_error(tmp_path, offset, value, cause):
    """Found by flipping every byte of small npz files: zipfile raised these types, uncaught."""
    path = tmp_path / "damaged.npz"
    save_object_npz(path, positions_3d={"S1": {"Walk": np.zeros((2, 17, 3), np.float32)}})
    _damage_central_directory(path, offset, value)
    with pytest.raises(ValueError, match=rf"damaged\.npz: not an npz.*{cause}") as info:
        read_positions_3d(path)
    assert type(info.value) is ValueError


def test_unpickling_errors_name_the_file(tmp_path):
    """Pickle's own ValueError (an unregistered EXT code) used to escape without the file name;
    a refused global is a plain ValueError, not a private subclass."""
    ext = _npz_with_member(tmp_path / "ext.npz", "positions_3d.npy",
                           {"descr": "|O", "fortran_order": False, "shape": ()}, b"\x80\x02\x82\x01.")
    with pytest.raises(ValueError, match=r"ext\.npz: key 'positions_3d' could not be unpickled.*extension"):
        load_npz_object(ext, "positions_3d")
    evil = tmp_path / "evil.npz"
    save_object_npz(evil, positions_3d=_Evil(tmp_path / "pwned"))
    with pytest.raises(ValueError) as info:
        load_npz_object(evil, "positions_3d")
    assert type(info.value) is ValueError and not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("content, match", [
    (b"\xff\xfe{", "not a UTF-8 text file"),          # was UnicodeDecodeError
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),  # was RecursionError
    (b'{"train": [' + b"9" * 5000 + b'], "test": []}', "not valid JSON.*digits"),
])
def test_json_files_that_cannot_be_parsed(tmp_path, content, match):
    for reader, name in ((read_split, "split.json"), (read_cameras, "cameras.json")):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError, match=match) as info:
            reader(path)
        assert type(info.value) is ValueError and name in str(info.value)


def test_unknown_subject(bench):
    with pytest.raises(ValueError, match=r"unknown subjects \['S99'\]; available: \['S01', 'S02'\]"):
        load_benchmark(bench, "det", subjects=["S01", "S99"])


def test_camera_table_missing_subject(bench):
    write_camera_table(bench / "cameras.json", {"S01": "S1"})
    with pytest.raises(ValueError, match=r"cameras\.json.*no cameras for subject 'S02'.*\['S01'\]"):
        load_benchmark(bench, "det")
    assert len(load_benchmark(bench, "det", subjects=["S01"])) == 2 * 4


def test_missing_2d_source(bench):
    with pytest.raises(FileNotFoundError, match=r"data_2d_cmu_gt\.npz"):
        load_benchmark(bench, "gt")


def test_read_cameras_and_packaged_table(bench, mini_dir):
    cams = read_cameras(bench / "cameras.json")
    assert sorted(cams) == ["S01", "S02"] and len(cams["S01"]) == 4
    h36m = h36m_cameras()
    assert sorted(h36m) == ["S1", "S11", "S5", "S6", "S7", "S8", "S9"]
    assert cams["S02"] == h36m["S5"]
    mini = read_cameras(mini_dir / "cameras.json")
    assert [c.id for c in mini["S07"]] == ["54138969", "55011271", "58860488", "60457274"]
    (bench / "cameras.json").write_text(json.dumps({"intrinsics": [], "extrinsics": {}}))
    with pytest.raises(ValueError, match="intrinsics"):
        read_cameras(bench / "cameras.json")


def test_read_split(tmp_path, mini_dir):
    assert read_split(mini_dir / "split.json") == {"train": ["S07", "S10"], "test": ["S08"], "val": []}
    path = tmp_path / "split.json"
    path.write_text(json.dumps({"train": ["S01"], "test": ["S02"], "val": ["S03"]}))
    with pytest.raises(ValueError, match=r"split\.json.*val.*S03"):
        read_split(path)
    path.write_text(json.dumps({"train": ["S01"]}))
    with pytest.raises(ValueError, match=r"missing key 'test'"):
        read_split(path)


def test_resolve_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("SKELGNN_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="--data DIR"):
        resolve_data_dir(tmp_path / "missing")
    assert resolve_data_dir(tmp_path) == tmp_path
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(FileNotFoundError, match="--data DIR"):
        resolve_data_dir(None)
    shared = tmp_path / "shared" / "data" / "cmu"
    shared.mkdir(parents=True)
    assert resolve_data_dir(None).resolve() == shared.resolve()
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("SKELGNN_DATA", str(other))
    assert resolve_data_dir(None) == other
    monkeypatch.setenv("SKELGNN_DATA", str(tmp_path / "typo"))
    with pytest.raises(FileNotFoundError, match="SKELGNN_DATA"):
        resolve_data_dir(None)


# ---- records ------------------------------------------------------------------------------------

def test_load_benchmark_records(tmp_path):
    p3 = write_benchmark(tmp_path, extra_2d_frames=3)
    records = load_benchmark(tmp_path, "det")
    assert [(r.subject, r.action, r.camera) for r in records[:5]] == [
        ("S01", "Jump 01_02", 0), ("S01", "Jump 01_02", 1), ("S01", "Jump 01_02", 2),
        ("S01", "Jump 01_02", 3), ("S01", "Walk 01_01", 0)]
    cams = read_cameras(tmp_path / "cameras.json")
    for r in records:
        world = p3[r.subject][r.action]
        assert r.keypoints_2d.shape == (len(world), 17, 2)  # truncated to the 3D length
        assert r.poses_3d.dtype == np.float32 and r.image_size in ((1000, 1000), (1000, 1002))
        np.testing.assert_array_equal(r.poses_3d[:, 0], 0.0)
        expected = cams[r.subject][r.camera].world_to_camera(world)
        np.testing.assert_allclose(r.poses_3d + r.trajectory[:, None], expected, atol=1e-5)
        assert r.category == r.action.split()[0]


def test_load_benchmark_mini(mini_dir):
    records = load_benchmark(mini_dir, "gt", subjects=["S08"])
    assert len(records) == 2 * 4
    r = records[0]
    # The GT 2D is the projection of the (absolute) camera-frame 3D.
    uv = r.calibration.project(r.poses_3d.astype(np.float64) + r.trajectory[:, None])
    assert np.abs(uv - r.keypoints_2d).max() < 0.01


def test_action_category():
    assert action_category("Walk 07_03") == "Walk"
    assert action_category("Directions") == "Directions"
    assert WindowDataset.action_category("Soccer 10_01") == "Soccer"
    with pytest.raises(ValueError):
        action_category("  ")


# ---- WindowDataset ------------------------------------------------------------------------------

def _record(subject: str, action: str, camera: int, frames: int, seed: int) -> Sequence2D3D:
    from skelgnn.geometry import Camera

    rng = np.random.default_rng(seed)
    cam = Camera(id="c", res_w=1000, res_h=1000, fx=1.0, fy=1.0, cx=0.0, cy=0.0, k=(0, 0, 0),
                 p=(0, 0), orientation=(1, 0, 0, 0), translation=(0, 0, 0))
    poses = rng.normal(size=(frames, 17, 3)).astype(np.float32)
    poses -= poses[:, :1]
    return Sequence2D3D(subject=subject, action=action, camera=camera,
                        keypoints_2d=rng.uniform(0, 1000, size=(frames, 17, 2)).astype(np.float32),
                        poses_3d=poses, trajectory=np.zeros((frames, 3), np.float32),
                        image_size=(1000, 1000), calibration=cam)


@pytest.fixture()
def records() -> list[Sequence2D3D]:
    return [_record("S01", "Walk 01_01", 0, 5, 0), _record("S01", "Walk 01_01", 1, 5, 1),
            _record("S02", "Jump 02_03", 2, 4, 2)]


def test_window_padding_replicates_edges_and_targets_centre(records):
    codec = PoseCodec()
    ds = WindowDataset(records, receptive_field=5, stride=1, codec=codec)
    assert len(ds) == 5 + 5 + 4
    x = codec.encode_2d(records[0].keypoints_2d, (1000, 1000))  # (5, 17, 2)
    inputs, target = ds[0]
    assert inputs.shape == (5, 17, 2) and inputs.dtype == torch.float32 and target.shape == (17, 3)
    np.testing.assert_array_equal(inputs.numpy(), x[[0, 0, 0, 1, 2]])
    np.testing.assert_array_equal(target.numpy(), records[0].poses_3d[0])
    inputs, target = ds[4]  # last frame of the first sequence
    np.testing.assert_array_equal(inputs.numpy(), x[[2, 3, 4, 4, 4]])
    np.testing.assert_array_equal(target.numpy(), records[0].poses_3d[4])
    inputs, target = ds[2]  # interior frame: no padding
    np.testing.assert_array_equal(inputs.numpy(), x[0:5])
    inputs, target = ds[len(ds) - 1]  # last frame of the last (4-frame) sequence
    x2 = codec.encode_2d(records[2].keypoints_2d, (1000, 1000))
    np.testing.assert_array_equal(inputs.numpy(), x2[[1, 2, 3, 3, 3]])
    np.testing.assert_array_equal(target.numpy(), records[2].poses_3d[3])


def test_window_labels_and_stride(records):
    ds = WindowDataset(records, receptive_field=3, stride=2)
    assert len(ds) == 3 + 3 + 2
    labels = ds.labels
    assert [labels[i] for i in range(len(ds))] == [
        ("S01", "Walk 01_01", 0, 0), ("S01", "Walk 01_01", 0, 2), ("S01", "Walk 01_01", 0, 4),
        ("S01", "Walk 01_01", 1, 0), ("S01", "Walk 01_01", 1, 2), ("S01", "Walk 01_01", 1, 4),
        ("S02", "Jump 02_03", 2, 0), ("S02", "Jump 02_03", 2, 2)]
    assert list(labels.category) == ["Walk"] * 6 + ["Jump"] * 2
    assert list(labels.sequence) == [0, 0, 0, 1, 1, 1, 2, 2]
    np.testing.assert_array_equal(ds[7][1].numpy(), records[2].poses_3d[2])
    np.testing.assert_array_equal(ds.find_samples([("S02", "Jump 02_03", 2, 2), ("S01", "Walk 01_01", 1, 4)]), [7, 5])
    with pytest.raises(ValueError, match="not in this dataset"):
        ds.find_samples([("S01", "Walk 01_01", 0, 1)])  # skipped by the stride


def test_batch_equals_stacked_getitem(records):
    ds = WindowDataset(records, receptive_field=7, stride=1)
    idx = np.array([13, 0, 4, 5, 9, 4])
    inputs, targets = ds.batch(idx)
    assert inputs.shape == (6, 7, 17, 2) and targets.shape == (6, 17, 3)
    torch.testing.assert_close(inputs, torch.stack([ds[int(i)][0] for i in idx]))
    torch.testing.assert_close(targets, torch.stack([ds[int(i)][1] for i in idx]))
    with pytest.raises(IndexError):
        ds.batch([len(ds)])


def test_sequences_yield_padded_inputs(records):
    ds = WindowDataset(records, receptive_field=5, stride=2)
    out = list(ds.sequences())
    assert [s for s, _, _ in out] == [0, 1, 2]
    for s, inputs, targets in out:
        frames = records[s].num_frames
        assert inputs.shape == (frames + 4, 17, 2) and targets.shape == (frames, 17, 3)
        # Windows cut from the padded sequence equal the dataset's samples.
        for f in range(0, frames, 2):
            i = int(ds.find_samples([(records[s].subject, records[s].action, records[s].camera, f)])[0])
            torch.testing.assert_close(inputs[f:f + 5], ds[i][0])


def test_window_dataset_rejects_bad_arguments(records):
    with pytest.raises(ValueError, match="odd"):
        WindowDataset(records, receptive_field=4)
    with pytest.raises(ValueError, match="stride"):
        WindowDataset(records, stride=0)
    with pytest.raises(ValueError, match="at least one record"):
        WindowDataset([])


def test_window_dataset_on_mini(mini_dir):
    records = load_benchmark(mini_dir, "det", subjects=["S07", "S10"])
    ds = WindowDataset(records, receptive_field=27, stride=2)
    assert len(ds) == sum((r.num_frames + 1) // 2 for r in records)
    inputs, targets = ds.batch(np.arange(len(ds)))
    assert torch.isfinite(inputs).all() and torch.isfinite(targets).all()
    assert inputs.abs().max() < 1.5  # screen-normalised
    torch.testing.assert_close(targets[:, 0], torch.zeros_like(targets[:, 0]))

