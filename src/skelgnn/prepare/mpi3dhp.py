"""The MPI-INF-3DHP test set: reading it (scored by :mod:`skelgnn.evaluate.mpi3dhp`).

Layout: ``<root>/TS1 .. TS6/annot_data.mat``. Each file holds (MATLAB array sizes, from the
dataset's README):

* ``annot2`` -- ``2 x 17 x 1 x N``: 2D joints in pixels of the test camera;
* ``univ_annot3`` -- ``3 x 17 x 1 x N``: 3D joints in millimetres in the camera frame, rescaled to
  the height of Human3.6M's universal skeleton (the annotations the official evaluation uses);
* ``valid_frame`` -- ``1 x N`` (or ``N x 1``): 1 where a frame is scored.

The files come as MATLAB v7.3 (HDF5; read with ``h5py``, which shows every array with its axes
reversed, e.g. ``annot2`` as ``(N, 1, 17, 2)``) or v5 (read with ``scipy.io.loadmat``, which keeps
MATLAB's order). :func:`read_annot_mat` undoes the reversal, so both give MATLAB's order.
Images are 2048 x 2048 in TS1-TS4 (studio) and 1920 x 1080 in TS5-TS6 (outdoor).

Joints. The 17 test joints, in the dataset's order: head_top, neck, right shoulder / elbow /
wrist, left shoulder / elbow / wrist, right hip / knee / ankle, left hip / knee / ankle, pelvis,
spine, head. :data:`TO_H36M17` maps them to our Human3.6M-17 layout the way evaluations of
Human3.6M-trained lifters on 3DHP do: pelvis -> Hip, spine -> Spine, neck -> Thorax, head ->
Neck/Nose, **head_top -> Head**. On this package's CMU benchmark our ``Head`` joint is the midpoint
of the eyes, about 0.11 m above Neck/Nose, while 3DHP's head_top is the crown of the skull, a few
centimetres higher still; the Head error therefore carries a systematic offset for CMU-trained
models. We keep head_top because it is the joint every published 3DHP table scores (the
official 14-joint set includes it) and because Human3.6M's own ``Head`` is a head-top marker, so
Human3.6M-trained checkpoints are scored as they are elsewhere.

Shape letters: ``N`` frames of a sequence, ``V`` valid frames, ``J`` joints.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = [
    "TEST_SEQUENCES",
    "IMAGE_SIZES",
    "SCENES",
    "MPI3DHP_JOINTS",
    "TO_H36M17",
    "read_annot_mat",
    "TestSequence",
    "load_test_sequence",
    "load_test_set",
]

TEST_SEQUENCES: tuple[str, ...] = ("TS1", "TS2", "TS3", "TS4", "TS5", "TS6")

IMAGE_SIZES: dict[str, tuple[int, int]] = {
    "TS1": (2048, 2048), "TS2": (2048, 2048), "TS3": (2048, 2048), "TS4": (2048, 2048),
    "TS5": (1920, 1080), "TS6": (1920, 1080),
}
"""``(width, height)`` in pixels of each test sequence's video."""

SCENES: dict[str, tuple[str, ...]] = {"GS": ("TS1", "TS2"), "noGS": ("TS3", "TS4"), "Outdoor": ("TS5", "TS6")}
"""The scenes the official evaluation pools: green screen, studio without it, outdoor."""

MPI3DHP_JOINTS: tuple[str, ...] = (
    "head_top", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
    "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
    "left_ankle", "pelvis", "spine", "head",
)
"""The 17 test joints in the order of ``annot_data.mat``."""

TO_H36M17: tuple[int, ...] = (14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4)
"""For each Human3.6M-17 joint (Hip, RHip, RKnee, RFoot, LHip, LKnee, LFoot, Spine, Thorax,
Neck/Nose, Head, LShoulder, LElbow, LWrist, RShoulder, RElbow, RWrist), its 3DHP test joint."""


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------

def _is_hdf5(path: Path) -> bool:
    # MATLAB v7.3 files are HDF5 with a 512-byte user block; HDF5 looks for its signature at
    # offsets 0, 512, 1024, ...
    signature = b"\x89HDF\r\n\x1a\n"
    with path.open("rb") as f:
        head = f.read(4096)
    return any(head[o:o + 8] == signature for o in (0, 512, 1024, 2048))


def read_annot_mat(path: str | Path, names: Sequence[str] = ("annot2", "univ_annot3", "valid_frame")
                   ) -> dict[str, np.ndarray]:
    """Read variables of a MATLAB file (v7.3 via ``h5py`` or v5 via ``scipy.io``) in MATLAB's axis
    order (``annot2`` as ``(2, 17, 1, N)`` whichever the format).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a MATLAB file, or a variable missing (the message lists those present).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"annotation file not found: {path}")
    out: dict[str, np.ndarray] = {}
    if _is_hdf5(path):
        try:
            import h5py
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ValueError(f"{path} is a MATLAB v7.3 (HDF5) file; reading it needs h5py: pip install h5py") from exc
        with h5py.File(path, "r") as f:
            present = sorted(f.keys())
            for name in names:
                if name not in f or not isinstance(f[name], h5py.Dataset):
                    raise ValueError(f"{path}: no variable {name!r}; variables present: {present}")
                out[name] = np.asarray(f[name][()]).T  # h5py shows MATLAB's axes reversed
        return out
    try:
        import scipy.io
        from scipy.io.matlab import MatReadError
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ValueError(f"{path} is a MATLAB v5 file; reading it needs scipy: pip install scipy") from exc
    try:
        raw = scipy.io.loadmat(str(path), variable_names=list(names))
    except (ValueError, TypeError, OSError, NotImplementedError, MatReadError) as exc:
        raise ValueError(f"{path}: not a readable MATLAB file ({type(exc).__name__}: {exc})") from exc
    for name in names:
        if name not in raw:
            present = sorted(k for k in raw if not k.startswith("__"))
            raise ValueError(f"{path}: no variable {name!r}; variables read: {present}")
        out[name] = np.asarray(raw[name])
    return out


def _joints_last(arr: np.ndarray, channels: int, name: str, where: str) -> np.ndarray:
    """MATLAB ``(C, 17, [1,] N)`` -> ``(N, 17, C)`` float64."""
    a = np.asarray(arr, dtype=np.float64)
    if a.ndim == 4 and a.shape[2] == 1:
        a = a[:, :, 0, :]
    if a.ndim != 3 or a.shape[0] != channels or a.shape[1] != len(MPI3DHP_JOINTS):
        raise ValueError(f"{where}: {name} should be {channels} x 17 x 1 x N in MATLAB's order "
                         f"({channels} x 17 x N accepted), found {a.shape}")
    return np.ascontiguousarray(a.transpose(2, 1, 0))  # (N, 17, C)


@dataclass(frozen=True, eq=False)
class TestSequence:
    """One 3DHP test sequence, joints already in Human3.6M-17 order.

    Attributes:
        name: ``TS1`` .. ``TS6``.
        keypoints_2d: ``(N, 17, 2)`` float64 pixels (``annot2``).
        poses_3d: ``(N, 17, 3)`` float64 camera-frame millimetres (``univ_annot3``), absolute.
        valid: ``(N,)`` bool, the frames that are scored.
        image_size: ``(width, height)`` in pixels.
    """

    name: str
    keypoints_2d: np.ndarray
    poses_3d: np.ndarray
    valid: np.ndarray
    image_size: tuple[int, int]

    @property
    def scene(self) -> str:
        return next(s for s, names in SCENES.items() if self.name in names)

    @property
    def num_valid(self) -> int:
        return int(self.valid.sum())


def load_test_sequence(path: str | Path, name: str) -> TestSequence:
    """Read one ``annot_data.mat`` and map its joints to Human3.6M-17 (:data:`TO_H36M17`).

    Raises:
        ValueError: unknown sequence name, wrong shapes, frame counts that disagree, NaN in a valid
            frame, or no valid frame.
    """
    if name not in IMAGE_SIZES:
        raise ValueError(f"unknown 3DHP test sequence {name!r}; expected one of {list(TEST_SEQUENCES)}")
    raw = read_annot_mat(path)
    where = str(path)
    kp = _joints_last(raw["annot2"], 2, "annot2", where)[:, list(TO_H36M17)]  # (N, 17, 2)
    p3 = _joints_last(raw["univ_annot3"], 3, "univ_annot3", where)[:, list(TO_H36M17)]  # (N, 17, 3)
    valid_raw = np.asarray(raw["valid_frame"])
    if valid_raw.size != kp.shape[0] or sum(d > 1 for d in valid_raw.shape) > 1:
        raise ValueError(f"{where}: valid_frame should be 1 x N with N = {kp.shape[0]} (the frames "
                         f"of annot2), found {valid_raw.shape}")
    if p3.shape[0] != kp.shape[0]:
        raise ValueError(f"{where}: annot2 has {kp.shape[0]} frames, univ_annot3 {p3.shape[0]}")
    valid = valid_raw.reshape(-1) != 0
    if not valid.any():
        raise ValueError(f"{where}: no valid frame (valid_frame is all 0)")
    if not (np.isfinite(kp[valid]).all() and np.isfinite(p3[valid]).all()):
        raise ValueError(f"{where}: NaN or inf in the annotations of valid frames")
    return TestSequence(name=name, keypoints_2d=kp, poses_3d=p3, valid=valid, image_size=IMAGE_SIZES[name])


def load_test_set(root: str | Path, sequences: Sequence[str] | None = None) -> list[TestSequence]:
    """Read ``<root>/TS*/annot_data.mat``: the requested sequences (default all present).

    Raises:
        FileNotFoundError: ``root`` missing, a requested sequence missing, or none present.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"3DHP test set directory not found: {root}; expected "
                                "<root>/TS1 .. TS6/annot_data.mat (mpi_inf_3dhp_test_set)")
    if sequences is None:
        names = [n for n in TEST_SEQUENCES if (root / n / "annot_data.mat").is_file()]
        if not names:
            raise FileNotFoundError(f"no TS1 .. TS6/annot_data.mat under {root}")
    else:
        names = list(sequences)
        for n in names:
            if n not in IMAGE_SIZES:
                raise ValueError(f"unknown 3DHP test sequence {n!r}; expected some of {list(TEST_SEQUENCES)}")
            if not (root / n / "annot_data.mat").is_file():
                raise FileNotFoundError(f"{root / n / 'annot_data.mat'} not found")
    return [load_test_sequence(root / n / "annot_data.mat", n) for n in names]
