"""Property-based tests (hypothesis) of every boundary that reads data from outside: the benchmark
readers, the user keypoint readers and ``Lifter.predict``.

The property is the same everywhere: whatever the input (random shapes and dtypes, NaN / inf,
huge values, empty arrays, wrong keys, corrupt bytes, pickled objects where arrays belong), the
call ends either in a plain ``ValueError`` / ``FileNotFoundError`` whose message says what was
wrong, or in a correct result (right shape and dtype, finite, equal to what was stored). Any other
exception type escaping -- or a NaN / inf / absurd result returned silently -- fails the test.
Each test draws 25-50 examples; the whole module runs in well under a minute on one core.
"""
from __future__ import annotations

import functools
import io
import json
import os
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conftest import save_object_npz
from skelgnn.data import (load_npz_object, read_cameras, read_positions_2d, read_positions_3d,
                          read_split)
from skelgnn.geometry import COORDINATE_LIMIT
from skelgnn.infer.lifter import Lifter
from skelgnn.infer.keypoints import read_keypoints
from skelgnn.skeleton import H36M32_KEEP

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "checkpoints" / "skelgnn-1f-cmu-det.pt"
CAMERAS_H36M = json.loads((REPO / "src" / "skelgnn" / "resources" / "cameras_h36m.json").read_text())

# SKELGNN_PROPERTY_EXAMPLES=2000 runs a deeper search (minutes) than the default suite's.
_DEEP = int(os.environ.get("SKELGNN_PROPERTY_EXAMPLES", "0"))
FAST = settings(max_examples=_DEEP or 40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(max_examples=_DEEP or 25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---- helpers ------------------------------------------------------------------------------------

def outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[str, Any]:
    """``("ok", result)`` or ``("error", message)``.

    Only a plain ``ValueError`` or ``FileNotFoundError`` counts as the documented error; a
    subclass (``UnicodeDecodeError``, numpy's ``UFuncTypeError``...) or any other exception is a
    leak and fails the test with its type in the message.
    """
    try:
        return "ok", fn(*args, **kwargs)
    except (ValueError, FileNotFoundError) as exc:
        assert type(exc) in (ValueError, FileNotFoundError), \
            f"{type(exc).__name__} leaked out of {fn.__name__}: {exc}"
        assert str(exc), f"{fn.__name__} raised {type(exc).__name__} without a message"
        return "error", str(exc)


@functools.lru_cache(maxsize=1)
def shipped_lifter() -> Lifter:
    """The shipped checkpoint, loaded once per test session (hypothesis and function-scoped
    fixtures do not mix, so this is a cache rather than a fixture)."""
    torch.set_num_threads(1)
    return Lifter.from_checkpoint(SHIPPED)


@pytest.fixture(scope="module")
def lifter() -> Lifter:
    if not SHIPPED.is_file():
        pytest.skip(f"shipped checkpoint missing: {SHIPPED}")
    threads = torch.get_num_threads()
    yield shipped_lifter()
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("properties")


_counter = iter(range(10**9))


def fresh(workdir: Path, name: str) -> Path:
    """A new path per hypothesis example (examples share the module's directory)."""
    d = workdir / f"ex{next(_counter)}"
    d.mkdir()
    return d / name




# Pickles that must never be executed: each would create the marker file named in the class.
MARKER = Path(tempfile.gettempdir()) / f"skelgnn-properties-pwned-{os.getpid()}"


class EvilSystem:
    def __reduce__(self):
        return os.system, (f"touch {MARKER}",)


class EvilEval:
    def __reduce__(self):
        return eval, (f"open({str(MARKER)!r}, 'w')",)


class EvilPopen:
    def __reduce__(self):
        return subprocess.Popen, (["touch", str(MARKER)],)


class EvilExec:
    def __reduce__(self):
        return exec, (f"open({str(MARKER)!r}, 'w')",)


class PlainObject:
    """Not malicious, but not an array either: its class is not on the allow-list."""


EVIL = [EvilSystem(), EvilEval(), EvilPopen(), EvilExec(), PlainObject()]


# ---- strategies ---------------------------------------------------------------------------------

NUMERIC = [np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.uint8]
OTHER = [np.bool_, np.complex64, np.complex128, "U4", "datetime64[s]"]
SPECIALS = {
    np.dtype(np.float64): [1e30, -1e30, 1e39, 1e300, np.nan, np.inf, -np.inf],
    np.dtype(np.float32): [1e30, -1e30, 3e38, np.nan, np.inf],
    np.dtype(np.float16): [65504.0, np.nan, np.inf],
}
JOINTS = [17, 17, 17, 0, 1, 16, 18, 32, 33]


def object_elements() -> st.SearchStrategy:
    return st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**40, 10**40),
                     st.none(), st.booleans(), st.text(max_size=3), st.just({}), st.just([1, 2]))


@st.composite
def shapes(draw, channels: tuple[int, ...]) -> tuple[int, ...]:
    """Half the time a well-formed ``(F >= 1, 17, C)``, else near misses (no frames, wrong joint
    or channel counts) or any shape at all."""
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6))
    if choice <= 5:
        return (draw(st.integers(1, 8)), 17, draw(st.sampled_from(channels)))
    return (draw(st.integers(0, 8)), draw(st.sampled_from(JOINTS)),
            draw(st.sampled_from(list(channels) + [1, 4])))


@st.composite
def coordinate_arrays(draw, channels: tuple[int, ...], scale: float = 1000.0) -> np.ndarray:
    """Arrays of any dtype, shape and values (NaN, inf, huge) -- the inputs a reader may meet."""
    shape = draw(shapes(channels))
    kind = draw(st.sampled_from(["numeric"] * 4 + ["other"] * 2 + ["object"] * 2))
    if kind == "object":
        arr = np.empty(shape, dtype=object)
        flat = draw(st.lists(object_elements(), min_size=arr.size, max_size=arr.size))
        for i, v in enumerate(flat):
            arr.flat[i] = v
        return arr
    dtype = np.dtype(draw(st.sampled_from(NUMERIC if kind == "numeric" else OTHER)))
    if dtype.kind == "f":
        plain = st.floats(-scale, scale, width=min(dtype.itemsize * 8, 64))
        wild = st.sampled_from([float(dtype.type(v)) for v in SPECIALS[dtype]])  # exact in dtype
        elements = st.one_of(plain, plain, plain, wild) if draw(st.booleans()) else plain
        return draw(hnp.arrays(dtype, shape, elements=elements))
    return draw(hnp.arrays(dtype, shape))


def acceptable(arr: np.ndarray, joints: tuple[int, ...] | None, channels: int) -> bool:
    """What a benchmark reader must accept: a real numeric ``(F >= 1, J, C)`` array whose values are
    finite in float32 and within the coordinate limit (``joints``: the allowed ``J``; None: any
    ``J >= 1``, the readers take any skeleton)."""
    if arr.dtype.kind not in "fiu" or arr.ndim != 3 \
            or (arr.shape[1] not in joints if joints else arr.shape[1] < 1) \
            or arr.shape[2] != channels or arr.shape[0] == 0:
        return False
    with np.errstate(over="ignore", invalid="ignore"):
        as32 = arr.astype(np.float32)
    return bool(np.isfinite(as32).all() and np.abs(as32).max() <= COORDINATE_LIMIT)


json_leaves = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=4))
json_values = st.recursive(
    json_leaves,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=3), c, max_size=3),
    max_leaves=8)


# ---- benchmark readers ----------------------------------------------------------------------------

@FAST
@given(arr=coordinate_arrays((3,), scale=5.0))
def test_read_positions_3d_any_array(workdir, arr):
    path = fresh(workdir, "data_3d.npz")
    save_object_npz(path, positions_3d={"S1": {"Walk 01_01": arr}})
    status, value = outcome(read_positions_3d, path)
    if arr.dtype.kind != "O":  # object arrays of numbers may go either way
        assert status == ("ok" if acceptable(arr, None, 3) else "error"), value
    if status == "error":
        assert str(path) in value
        return
    out = value["S1"]["Walk 01_01"]
    expected = np.asarray(arr, dtype=np.float64)
    if expected.shape[1] == 32:
        expected = expected[:, list(H36M32_KEEP)]
    assert out.dtype == np.float32 and out.shape == expected.shape  # any J; 32 reduced to 17
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out, expected.astype(np.float32))


@FAST
@given(views=st.lists(coordinate_arrays((2,)), min_size=1, max_size=3))
def test_read_positions_2d_any_arrays(workdir, views):
    path = fresh(workdir, "data_2d.npz")
    save_object_npz(path, positions_2d={"S1": {"Walk 01_01": views}}, metadata={"layout": "h36m"})
    status, value = outcome(read_positions_2d, path)
    if all(v.dtype.kind != "O" for v in views):
        # any skeleton, but one per file: every camera has the first one's joint count
        same_joints = len({v.shape[1] if v.ndim == 3 else -1 for v in views}) == 1
        ok = all(acceptable(v, None, 2) for v in views) and same_joints
        assert status == ("ok" if ok else "error"), value
    if status == "error":
        assert str(path) in value
        return
    positions, metadata = value
    assert metadata == {"layout": "h36m"}
    out = positions["S1"]["Walk 01_01"]
    assert len(out) == len(views)
    for o, v in zip(out, views):
        assert o.dtype == np.float32 and o.shape == v.shape and np.isfinite(o).all()
        np.testing.assert_array_equal(o, np.asarray(v, dtype=np.float64).astype(np.float32))


@FAST
@given(structure=json_values | st.builds(lambda v: {"S1": v}, json_values)
       | st.builds(lambda v: {"S1": {"A": v}}, json_values),
       key=st.sampled_from(["positions_3d", "positions_3d", "poses", "positions_2d"]))
def test_read_positions_3d_wrong_structure_and_keys(workdir, structure, key):
    path = fresh(workdir, "data_3d.npz")
    save_object_npz(path, **{key: structure})
    status, value = outcome(read_positions_3d, path)
    assert status == "error", f"accepted {structure!r}"
    assert str(path) in value
    if key != "positions_3d":
        assert "no key 'positions_3d'" in value and key in value


@FEWER
@given(evil=st.sampled_from(EVIL), depth=st.integers(0, 3), reader=st.sampled_from(["3d", "2d", "raw"]))
def test_pickled_objects_are_refused_and_never_run(workdir, evil, depth, reader):
    payload: Any = evil
    for level in range(depth):  # bury it inside the dict / list structure
        payload = [payload] if level % 2 else {f"k{level}": payload}
    path = fresh(workdir, "evil.npz")
    key = "positions_2d" if reader == "2d" else "positions_3d"
    save_object_npz(path, **{key: payload})
    fn = {"3d": read_positions_3d, "2d": read_positions_2d,
          "raw": lambda p: load_npz_object(p, "positions_3d")}[reader]
    status, value = outcome(fn, path)
    assert status == "error" and "refusing to unpickle" in value and str(path) in value
    assert not MARKER.exists(), "a pickled payload was executed"


def _npz_bytes(compressed: bool, kind: str) -> tuple[bytes, np.ndarray]:
    arr = np.random.default_rng(0).normal(size=(3, 17, 3)).astype(np.float32)
    buf = io.BytesIO()
    save = np.savez_compressed if compressed else np.savez
    if kind == "benchmark":
        obj = np.empty((), dtype=object)
        obj[()] = {"S1": {"Walk": arr}}
        save(buf, positions_3d=obj)
    else:
        save(buf, keypoints=arr, fps=np.array(25.0))
    return buf.getvalue(), arr


@FAST
@given(data=st.data(), compressed=st.booleans(), kind=st.sampled_from(["benchmark", "keypoints"]))
def test_corrupt_npz_bytes(workdir, data, compressed, kind):
    """Truncated, byte-flipped or random bytes where an npz belongs. The flips favour the zip's
    central directory and local headers (the last and first bytes), where a single byte changes
    the version, compression method, encryption flag or offsets."""
    good, arr = _npz_bytes(compressed, kind)
    raw = bytearray(good)
    how = data.draw(st.sampled_from(["truncate", "flip", "flip", "flip", "random", "pickle"]))
    if how == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    elif how == "flip":
        n = len(raw)
        position = st.integers(0, n - 1) | st.integers(max(0, n - 100), n - 1) | st.integers(0, 80)
        for pos in data.draw(st.lists(position, min_size=1, max_size=4)):
            raw[pos] = data.draw(st.sampled_from([0x00, 0xFF, raw[pos] ^ 0x01, raw[pos] ^ 0x80])
                                 | st.integers(0, 255))
    elif how == "random":
        raw = bytearray(data.draw(st.binary(max_size=400)))
    else:  # a valid zip whose .npy member is an object header followed by random pickle bytes
        member = io.BytesIO()
        np.lib.format.write_array_header_1_0(member, {"descr": "|O", "fortran_order": False,
                                                      "shape": ()})
        member.write(data.draw(st.binary(max_size=300)))
        zbuf = io.BytesIO()
        with zipfile.ZipFile(zbuf, "w") as zf:
            zf.writestr("positions_3d.npy" if kind == "benchmark" else "keypoints.npy",
                        member.getvalue())
        raw = bytearray(zbuf.getvalue())
    path = fresh(workdir, "corrupt.npz")
    path.write_bytes(bytes(raw))
    with _no_pickle_np_load():
        status, value = outcome(read_positions_3d if kind == "benchmark" else read_keypoints, path)
    if status == "error":
        assert str(path) in value
    elif kind == "benchmark":  # the damage missed everything that matters
        np.testing.assert_array_equal(value["S1"]["Walk"], arr)
    else:
        np.testing.assert_array_equal(value.keypoints[..., :2], arr[..., :2])
    assert not MARKER.exists()


@FEWER
@given(shape=st.lists(st.integers(0, 10**6), min_size=1, max_size=3), stored=st.integers(0, 64),
       dtype=st.sampled_from(["<f8", "<f4", "<i8"]))
def test_npy_header_that_lies_about_its_size(workdir, shape, stored, dtype):
    """A header may declare terabytes that the member does not hold: refused before numpy
    allocates them (a MemoryError, or a machine swapping, otherwise)."""
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, {"descr": dtype, "fortran_order": False,
                                                  "shape": tuple(shape)})
    member.write(b"\0" * stored)
    path = fresh(workdir, "lies.npz")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("keypoints.npy", member.getvalue())
    declared = int(np.prod(shape)) * np.dtype(dtype).itemsize
    for status, value in (outcome(load_npz_object, path, "keypoints"), outcome(read_keypoints, path)):
        if declared > stored:
            assert status == "error" and "truncated or corrupt" in value
        elif status == "ok" and isinstance(value, np.ndarray):
            assert value.shape == tuple(shape)


def _camera_table() -> dict:
    """A fresh (deep) copy of a valid table: one subject with the Human3.6M S1 cameras."""
    return json.loads(json.dumps({"intrinsics": CAMERAS_H36M["intrinsics"],
                                  "extrinsics": {"S01": CAMERAS_H36M["extrinsics"]["S1"]}}))


INTRINSIC_KEYS = ["id", "res_w", "res_h", "fx", "fy", "cx", "cy", "k", "p"]
EXTRINSIC_KEYS = ["orientation", "translation_m"]


@FAST
@given(where=st.sampled_from(["intrinsics", "extrinsics", "top", "subject"]),
       cam=st.integers(0, 3), key=st.sampled_from(INTRINSIC_KEYS + EXTRINSIC_KEYS),
       value=json_values | st.sampled_from([1e30, -1e30, 1e300, 0, -1, [1e30, 0, 0], [0, 0, 0, 0]]),
       delete=st.booleans())
def test_read_cameras_mutated_tables(workdir, where, cam, key, value, delete):
    table = _camera_table()
    if where == "intrinsics" and key in INTRINSIC_KEYS:
        target = table["intrinsics"][cam]
    elif where == "extrinsics" and key in EXTRINSIC_KEYS:
        target = table["extrinsics"]["S01"][cam]
    elif where == "subject":
        target, key = table["extrinsics"], "S01"
    else:
        target, key = table, ("intrinsics" if cam % 2 else "extrinsics")
    if delete:
        target.pop(key)
    else:
        target[key] = value
    path = fresh(workdir, "cameras.json")
    path.write_text(json.dumps(table))
    status, out = outcome(read_cameras, path)
    if status == "error":
        assert str(path) in out
        return
    for c in out.get("S01", []):  # accepted: every value must be usable
        assert c.res_w > 0 and c.res_h > 0 and isinstance(c.res_w, int)
        values = (c.fx, c.fy, c.cx, c.cy) + c.k + c.p + c.orientation + c.translation
        assert all(np.isfinite(values))
        assert max(abs(v) for v in (c.res_w, c.res_h, c.fx, c.fy, c.cx, c.cy) + c.translation) \
            <= COORDINATE_LIMIT
        assert np.isfinite(c.project(c.world_to_camera(np.array([[0.0, 0.0, 1.0]])))).all()


@FAST
@given(doc=json_values | st.fixed_dictionaries(
    {"train": json_values | st.lists(st.sampled_from(["S1", "S2", "S3"]), max_size=3),
     "test": json_values | st.lists(st.sampled_from(["S3", "S4"]), max_size=2)},
    optional={"val": json_values | st.lists(st.sampled_from(["S1", "S5"]), max_size=2)}))
def test_read_split_any_document(workdir, doc):
    path = fresh(workdir, "split.json")
    path.write_text(json.dumps(doc))
    status, value = outcome(read_split, path)

    def names(v):
        return isinstance(v, list) and all(isinstance(s, str) for s in v)

    valid = (isinstance(doc, dict) and names(doc.get("train")) and names(doc.get("test"))
             and names(doc.get("val", [])) and not set(doc["train"]) & set(doc["test"])
             and set(doc.get("val", [])) <= set(doc["train"]))
    assert status == ("ok" if valid else "error"), value
    if valid:
        assert value == {"train": doc["train"], "test": doc["test"], "val": doc.get("val", [])}
    else:
        assert str(path) in value


@FEWER
@given(raw=st.binary(max_size=200) | st.builds(lambda n: b"[" * n, st.integers(1, 50_000)),
       reader=st.sampled_from([read_split, read_cameras]))
def test_json_readers_on_arbitrary_bytes(workdir, raw, reader):
    path = fresh(workdir, "file.json")
    path.write_bytes(raw)
    status, value = outcome(reader, path)
    assert status == "error" and str(path) in value


# ---- user keypoint files --------------------------------------------------------------------------

def _no_pickle_np_load():
    """Patch ``numpy.load`` to fail the test if anyone asks for ``allow_pickle=True``."""
    real = np.load

    def guarded(*args, **kwargs):
        assert not kwargs.get("allow_pickle", False), "np.load(allow_pickle=True) was called"
        return real(*args, **kwargs)

    return mock.patch("numpy.load", guarded)


@FAST
@given(kp=coordinate_arrays((2, 3)),
       layout=st.sampled_from([None, None, np.array("coco17"), np.array(b"h36m17"), np.array(5),
                               np.array(["a", "b"])]),
       fps=st.sampled_from([None, None, np.array(25.0), np.array(30), np.array(np.nan),
                            np.array(-1.0), np.array(0.0), np.array(np.inf), np.array(True),
                            np.array("25"), np.array([25.0, 30.0])]),
       image_size=st.sampled_from([None, None, np.array([640, 480]), np.array([0, 480]),
                                   np.array([1e30, 1e30]), np.array([np.nan, 1.0]),
                                   np.array([True, False]), np.array([1 + 2j, 3]),
                                   np.array([1, 2, 3]), np.array(["a", "b"])]),
       evil=st.booleans())
def test_read_keypoints_npz_any_contents(workdir, kp, layout, fps, image_size, evil):
    path = fresh(workdir, "keypoints.npz")
    entries = {"keypoints": kp}
    for name, value in (("layout", layout), ("fps", fps), ("image_size", image_size)):
        if value is not None:
            entries[name] = value
    if evil:
        bomb = np.empty(1, dtype=object)
        bomb[0] = EvilSystem()
        entries["layout"] = bomb
    np.savez(path, **entries)
    with _no_pickle_np_load():
        status, value = outcome(read_keypoints, path)
    assert not MARKER.exists()
    numeric = kp.dtype.kind in "fiu" and kp.ndim == 3 and kp.shape[2] in (2, 3) and kp.size > 0
    if not numeric or evil or kp.dtype.kind == "O":
        assert status == "error", f"accepted {kp.dtype} {kp.shape}"
    fine_extras = ((layout is None or layout.dtype.kind in "US" and layout.ndim == 0)
                   and (fps is None or fps.dtype.kind in "fiu" and fps.size == 1 and fps > 0
                        and np.isfinite(fps))
                   and (image_size is None or image_size.tolist() == [640, 480]))
    if numeric and not evil and fine_extras:
        assert status == "ok", value
    if status == "error":
        assert str(path) in value
        return
    seq = value
    f, j = kp.shape[:2]
    assert seq.keypoints.shape == (f, j, 3) and seq.keypoints.dtype == np.float64
    np.testing.assert_array_equal(seq.frames, np.arange(f))
    given_xy = kp[..., :2].astype(np.float64)
    ok = np.isfinite(seq.keypoints[..., :2]).all(-1)
    np.testing.assert_array_equal(seq.keypoints[ok, :2], given_xy[ok])  # kept as stored
    assert (seq.keypoints[~ok, 2] == 0).all()  # missing joints carry score 0
    if seq.fps is not None:
        assert np.isfinite(seq.fps) and seq.fps > 0
    if seq.image_size is not None:
        assert all(0 < s <= COORDINATE_LIMIT for s in seq.image_size)


def _coco_entry(draw, j: int, frame: Any, wild: bool) -> dict:
    xy = st.floats(0, 2000)
    if wild:
        xy = xy | json_leaves | st.sampled_from([1e30, 10**30, float("nan"), float("inf")])
    flat = draw(st.lists(xy, min_size=3 * j, max_size=3 * j)) if draw(st.integers(0, 5)) \
        else draw(st.lists(json_leaves, max_size=10))
    entry = {draw(st.sampled_from(["image_id", "frame", "frame_id"])): frame, "keypoints": flat}
    if draw(st.booleans()):
        entry["score"] = draw(st.floats(0, 1) | (json_values if wild else st.none()))
    return entry


def _mmpose_entry(draw, j: int, frame: Any, wild: bool) -> dict:
    xy = st.floats(0, 2000)
    if wild:
        xy = xy | json_leaves
    people = []
    for _ in range(draw(st.integers(0, 2))):
        inst: dict[str, Any] = {"keypoints": draw(st.lists(st.lists(xy, min_size=2, max_size=2),
                                                           min_size=j, max_size=j))}
        if draw(st.booleans()):
            inst["keypoint_scores"] = draw(st.lists(st.floats(0, 1), min_size=j, max_size=j)
                                           | (json_values if wild else st.just([1.0] * j)))
        if draw(st.booleans()):
            inst["bbox_score"] = draw(st.floats(0, 1) | st.lists(st.floats(0, 1), max_size=1)
                                      | (json_values if wild else st.none()))
        people.append(inst if not wild or draw(st.integers(0, 6)) else draw(json_values))
    instances: Any = people if not wild or draw(st.integers(0, 6)) else draw(json_values)
    return {"frame_id": frame, "instances": instances}


@st.composite
def keypoint_json(draw) -> tuple[Any, bool]:
    """A COCO-results or mmpose document, clean or with wild values; returns ``(doc, wild)``."""
    wild = draw(st.booleans())
    style = draw(st.sampled_from(["coco", "mmpose"]))
    j = draw(st.sampled_from([17, 17, 33, 1]))
    n = draw(st.integers(1, 6))
    frames = st.integers(0, 50)
    if wild:
        frames = frames | st.sampled_from([10**12, -5, 2.0, 0.5, float("nan"), float("inf"),
                                           10**30, "3", None, True])
    make = _coco_entry if style == "coco" else _mmpose_entry
    entries = [make(draw, j, draw(frames), wild) for _ in range(n)]
    if draw(st.booleans()):
        meta = {"fps": draw(st.floats(1, 120) | (json_values if wild else st.floats(1, 120))),
                "image_size": draw(st.sampled_from([[1920, 1080], [640, 480]])
                                   | (json_values if wild else st.just([1000, 1000])))}
        doc: Any = dict(meta, **{"annotations" if style == "coco" else "instance_info": entries})
    else:
        doc = entries
    return doc, wild


@FAST
@given(case=keypoint_json(), person=st.sampled_from(["score", "track"]))
def test_read_keypoints_json_any_document(workdir, case, person):
    doc, wild = case
    path = fresh(workdir, "keypoints.json")
    path.write_text(json.dumps(doc))
    status, value = outcome(read_keypoints, path, person=person)
    if status == "error":
        assert str(path) in value
        return
    seq = value
    f, j, c = seq.keypoints.shape
    assert c == 3 and f >= 1 and j >= 1 and seq.frames.shape == (f,)
    np.testing.assert_array_equal(np.diff(seq.frames), 1)  # consecutive frame numbers
    assert seq.frames.dtype.kind == "i"
    xy_ok = np.isfinite(seq.keypoints[..., :2]).all(-1)
    assert (seq.keypoints[~xy_ok, 2] == 0).all()
    assert np.isfinite(seq.keypoints[..., 2]).all()
    if seq.fps is not None:
        assert np.isfinite(seq.fps) and seq.fps > 0
    if seq.image_size is not None:
        assert all(0 < s <= COORDINATE_LIMIT for s in seq.image_size)
    assert seq.layout is None or isinstance(seq.layout, str)


# ---- Lifter.predict ------------------------------------------------------------------------------

def check_poses(poses: np.ndarray, frames: int) -> None:
    """A correct lift: (F, 17, 3) float32, finite, root at the origin, a body-sized range."""
    assert poses.shape == (frames, 17, 3) and poses.dtype == np.float32
    assert np.isfinite(poses).all()
    np.testing.assert_array_equal(poses[:, 0], 0.0)
    assert np.abs(poses).max() < 1e3


@st.composite
def clean_keypoints(draw) -> tuple[np.ndarray, tuple[float, float]]:
    """Keypoints a detector could write for a visible person: inside (or a little outside) the
    image, any real dtype, some joints missing (NaN or low score) but each seen at least once."""
    w = draw(st.integers(64, 4000))
    h = draw(st.integers(64, 4000))
    f = draw(st.integers(1, 12))
    c = draw(st.sampled_from([2, 3]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kp = np.empty((f, 17, c))
    kp[..., 0] = rng.uniform(-0.2 * w, 1.2 * w, (f, 17))
    kp[..., 1] = rng.uniform(-0.2 * h, 1.2 * h, (f, 17))
    if c == 3:
        kp[..., 2] = rng.uniform(0, 1, (f, 17))
        kp[0, :, 2] = 1.0  # every joint seen in frame 0
    if f > 1 and draw(st.booleans()):
        kp[1:][rng.random((f - 1, 17)) < 0.3, :2] = np.nan
    dtype = draw(st.sampled_from([np.float16, np.float32, np.float64, np.int32, np.int64, object]))
    if dtype in (np.int32, np.int64):
        kp = np.nan_to_num(kp, nan=0.0)
        if c == 3:
            kp[..., 2] = 1.0
    return kp.astype(dtype), (float(w), float(h))


@FAST
@given(case=clean_keypoints())
def test_predict_clean_inputs_give_correct_poses(lifter, case):
    kp, size = case
    poses = lifter.predict(kp, image_size=size)
    check_poses(poses, kp.shape[0])
    # dtype does not change the answer beyond its own rounding
    ref = lifter.predict(np.asarray(kp, dtype=np.float64), image_size=size)
    np.testing.assert_array_equal(poses, ref)


image_sizes = st.one_of(
    st.tuples(st.integers(1, 4000), st.integers(1, 4000)),
    st.tuples(st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True)),
    st.sampled_from([(1e30, 1e30), (1e-300, 1e-300), (0, 100), (1000,), (1, 2, 3), "1000x1000",
                     (True, True), (1 + 1j, 100), None, {"w": 1}, [[1000, 1000]], (1, 1)]),
)


@FAST
@given(kp=coordinate_arrays((2, 3)), size=image_sizes,
       layout=st.sampled_from(["h36m17", "h36m17", "coco17", "blazepose33", "auto", "openpose", None]),
       min_score=st.sampled_from([0.3, 0.3, 0.0, 1.0, float("nan"), -1.0, "0.3", None]))
def test_predict_any_input_errors_or_is_correct(lifter, kp, size, layout, min_score):
    status, value = outcome(lifter.predict, kp, image_size=size, layout=layout,
                            min_score=min_score)
    if kp.dtype.kind in "bcUM" or (kp.ndim == 3 and kp.shape[1] not in (17, 33)):
        assert status == "error", f"accepted {kp.dtype} {kp.shape}"
    if status == "ok":
        check_poses(value, kp.shape[0])


@FEWER
@given(case=clean_keypoints(), scale=st.sampled_from([1e7, 1e10, 1e30, 1e300, -1e30]),
       joint=st.integers(0, 16))
def test_predict_huge_coordinates_are_refused(lifter, case, scale, joint):
    kp, size = case
    kp = np.asarray(kp, dtype=np.float64)
    kp[:, joint, :2] = scale  # every frame: nothing to interpolate from
    status, value = outcome(lifter.predict, kp, image_size=size)
    assert status == "error" and "pixel coordinates up to" in value


@FEWER
@given(case=clean_keypoints(), size=st.sampled_from([(1, 1), (0.5, 0.5), (1e-3, 1e-3), (1e-300, 1e-300),
                                                     (5, 1000)]))
def test_predict_with_an_image_size_that_does_not_fit(lifter, case, size):
    kp, _ = case
    kp = np.asarray(kp, dtype=np.float64)
    kp[..., :2] = np.abs(np.nan_to_num(kp[..., :2], nan=100.0)) + 1000.0  # well away from 0
    status, value = outcome(lifter.predict, kp, image_size=size)
    assert status == "error" and "image widths" in value


@FEWER
@given(case=clean_keypoints(), joints=st.sampled_from([0, 1, 16, 18, 32, 33]))
def test_predict_wrong_joint_count(lifter, case, joints):
    kp, size = case
    kp = np.asarray(kp, dtype=np.float64)
    wrong = np.resize(kp, (kp.shape[0], joints, kp.shape[2]))
    status, value = outcome(lifter.predict, wrong, image_size=size)
    assert status == "error" and "17 joints" in value


def test_read_positions_2d_one_skeleton_per_file(workdir):
    """The example Hypothesis found: cameras with different joint counts are refused, naming the
    camera."""
    path = fresh(workdir, "data_2d.npz")
    views = [np.zeros((2, 17, 2)), np.zeros((3, 1, 2))]
    save_object_npz(path, positions_2d={"S1": {"Walk 01_01": views}}, metadata={"layout": "h36m"})
    status, value = outcome(read_positions_2d, path)
    assert status == "error" and "camera 1: expected 17 joints, found 1" in value
