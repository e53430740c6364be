"""Inference: load a trained lifter and turn pixel keypoints into root-relative 3D.

>>> from skelgnn import Lifter
>>> lifter = Lifter.from_checkpoint("checkpoints/skelgnn-1f-cmu-det.pt")
>>> poses = lifter.predict(keypoints, image_size=(1000, 1002))   # (F, 17, 3) metres
>>> poses = lifter.predict(coco_keypoints, (1920, 1080), layout="coco17", min_score=0.3)

Keypoints in another detector layout are converted to Human3.6M order (:mod:`skelgnn.infer.layouts`)
and joints below ``min_score`` are filled by temporal interpolation
(:func:`skelgnn.infer.gaps.fill_missing`) before lifting.

**One normalisation for every entry point.** ``Lifter.predict``, ``skelgnn infer`` and
``skelgnn video`` all lift a clip the same way by default: screen-normalised checkpoints first
move the clip into a virtual 1000 x 1000 camera framed like the training data
(:func:`reframe_keypoints`, one similarity transform per clip), then apply the checkpoint's codec.
``reframe=False`` (``--no-reframe`` on the command line) lifts in the clip's own pixels instead,
as the benchmark evaluation does (its test cameras are the training cameras). Same keypoints, same
options: the same 3D from all three (the two commands then level a rolled camera:
:func:`skelgnn.motion.pipeline.lift_and_place`; ``predict_full(..., roll_deg=...)`` with the roll
they record gives their 3D).

Shape legend: ``F`` frames, ``J`` joints, ``R`` receptive field.
"""
from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

import torch

from skelgnn.models.checkpoint import load_model
from skelgnn.data.codec import PoseCodec, pad_sequence
from skelgnn.fileio import atomic_open
from skelgnn.geometry import COORDINATE_LIMIT, roll_matrix
from skelgnn.infer.flips import FlipReport, repair_flips
from skelgnn.infer.gaps import FillReport, prepare_keypoints
from skelgnn.infer.keypoints import as_keypoint_array, check_image_size
from skelgnn.infer.plausibility import warn_implausible_keypoints
from skelgnn.infer.layouts import convert, resolve_layout
from skelgnn.models import LifterModel
from skelgnn.models.predict import predict_sequence
from skelgnn.skeleton import H36M17

__all__ = ["Lifter", "Prediction", "DEFAULT_CHECKPOINTS", "default_checkpoint",
           "save_npz_atomic", "reframe_keypoints", "INFERENCE_DEVICES", "check_device",
           "level_keypoints"]

INFERENCE_DEVICES: tuple[str, ...] = ("cpu", "cuda", "mps")
"""Devices :meth:`Lifter.to` accepts (``skelgnn infer`` / ``video`` ``--device``)."""


def check_device(name: str) -> torch.device:
    """``name`` as a torch device, after checking this machine has it.

    Raises:
        ValueError: not one of :data:`INFERENCE_DEVICES`, or not available here (no CUDA GPU /
            no Apple-silicon MPS, or a PyTorch built without it).
    """
    if name not in INFERENCE_DEVICES:
        raise ValueError(f"device must be one of {list(INFERENCE_DEVICES)}, got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' is not available: this PyTorch "
                         f"({torch.__version__}) finds no CUDA GPU; use --device cpu")
    if name == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError("device 'mps' is not available: it needs Apple silicon and a PyTorch "
                             "built with MPS; use --device cpu")
    return torch.device(name)

DEFAULT_CHECKPOINTS: tuple[str, ...] = ("checkpoints/skelgnn-27f-video.pt",
                                        "checkpoints/skelgnn-27f-cmu-det.pt",
                                        "checkpoints/skelgnn-1f-cmu-det.pt")
"""Checkpoints tried, in order, when none is named (relative to the repository root or cwd): the
footage checkpoint (virtual cameras and detector-like noise) first."""


def default_checkpoint() -> Path:
    """The first of :data:`DEFAULT_CHECKPOINTS` found under the package's repository root (the
    directory above ``src/``), the current directory, or the installed package (a wheel ships
    the default checkpoints as package data).

    Raises:
        FileNotFoundError: none of them exists.
    """
    here = Path(__file__).resolve()  # <repository>/src/skelgnn/infer/lifter.py
    repo_root = here.parents[3]
    package = here.parents[1]  # skelgnn/: installed wheels hold skelgnn/checkpoints/ (package data)
    roots = list(dict.fromkeys([repo_root, Path(os.getcwd()).resolve(), package]))
    for name in DEFAULT_CHECKPOINTS:
        for root in roots:
            if (root / name).is_file():
                return root / name
    tried = ", ".join(str(r / n) for n in DEFAULT_CHECKPOINTS for r in roots)
    raise FileNotFoundError(f"no default checkpoint found (tried {tried}); train one with "
                            "`skelgnn train` or pass --checkpoint PATH")


@dataclass(frozen=True)
class Prediction:
    """One lifted clip with the 2D it was lifted from.

    Attributes:
        poses_3d: ``(F, 17, 3)`` float32 root-relative camera-frame metres.
        keypoints_2d: ``(F, 17, 2)`` float32 pixels in H36M order, missing joints filled.
        scores: ``(F, 17)`` float32 joint scores before filling (1 where none were given).
        report: what the gap filling did.
        flips: what the left/right flip repair did (None when it was off).
    """

    poses_3d: np.ndarray
    keypoints_2d: np.ndarray
    scores: np.ndarray
    report: FillReport
    flips: Optional[FlipReport] = None

    def save(self, path: str | Path, **extra: Any) -> Path:
        """Write an npz (readable with ``allow_pickle=False``) atomically: a temp file in the same
        directory, renamed over ``path`` only once complete, so an existing file is replaced only
        on success.

        Entries: ``poses_3d`` ``(F, 17, 3)``, ``keypoints_2d`` ``(F, 17, 2)``, ``scores``
        ``(F, 17)``, ``filled`` ``(F, 17)`` bool, ``joint_names`` ``(17,)``, ``unseen_joints``
        (names of the joints never seen and placed from the body, maybe empty), with flip repair
        ``flip_swapped`` ``(F, G)`` bool and ``flip_groups`` ``(G,)`` names, plus ``extra``
        values (``None`` values are left out; strings become 0-d string arrays).
        """
        arrays: dict[str, np.ndarray] = {
            "poses_3d": self.poses_3d, "keypoints_2d": self.keypoints_2d, "scores": self.scores,
            "filled": np.asarray(self.report.mask, dtype=bool),
            "joint_names": np.array(H36M17.names),
            "unseen_joints": np.array([H36M17.names[j] for j in self.report.unseen], dtype=str),
        }
        if self.flips is not None:
            arrays["flip_swapped"] = np.asarray(self.flips.swapped, dtype=bool)
            arrays["flip_groups"] = np.array(self.flips.groups)
        for key, value in extra.items():
            if value is not None:
                arrays[key] = np.asarray(value)
        return save_npz_atomic(path, arrays)


def save_npz_atomic(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """``np.savez`` to ``path`` through a temp file + rename (never a half-written file)."""
    path = Path(path)
    for key, value in arrays.items():
        if value.dtype == object:
            raise ValueError(f"npz entry {key!r} would need pickle; pass plain arrays")
    # built in memory, then written: a full disk fails the plain write (one line) instead of
    # leaving numpy's zip writer half-closed (an "Exception ignored in ZipFile.__del__" traceback)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with atomic_open(path) as fh:
        fh.write(buffer.getbuffer())
    return path


SCREEN_LIMIT = 100.0
"""Largest magnitude of an encoded (screen-normalised) input coordinate :meth:`Lifter.predict`
accepts: 100 is about 50 image widths from the image, far outside anything a detector reports for
a visible person. Larger values mean the image size does not belong to the keypoints (pixels of a
1920-wide frame with ``image_size=(1, 1)``, say), and the lifter would return poses hundreds of
metres across instead of an error."""

TRAINING_FRAMING: dict[str, Any] = {"image_size": (1000.0, 1000.0), "height_px": 304.0,
                                    "centre_px": (507.0, 380.0)}
"""How people appear in the benchmark's training images (median over the training subjects' GT
2D: person height in pixels, centre of the joints), used by :func:`reframe_keypoints`."""


def reframe_keypoints(uv: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """Move a clip into a virtual camera framed like the training data.

    A screen-normalised lifter has learnt how large people are in its training images (about
    300 px of a 1000 px wide Human3.6M camera). Footage from another camera -- a phone held in
    portrait, a person filling the frame -- is far outside that range. One similarity transform
    per clip (not per frame, so motion and relative scale over time are kept) scales the clip's
    median person height to the training median and puts its median centre at the training
    median, in a 1000 x 1000 virtual image.

    Args:
        uv: ``(F, J, 2)`` pixels, no missing values.

    Returns:
        the reframed ``(F, J, 2)`` pixels and the virtual image size.
    """
    uv = np.asarray(uv, dtype=np.float64)
    heights = uv[..., 1].max(-1) - uv[..., 1].min(-1)  # (F,)
    height = float(np.median(heights))
    if not height > 0:
        raise ValueError("cannot reframe: the person has zero height in every frame (lift "
                         "in the clip's own pixels with reframe=False / --no-reframe)")
    centre = np.median(uv.mean(-2), axis=0)  # (2,)
    scale = float(TRAINING_FRAMING["height_px"]) / height
    out = (uv - centre) * scale + np.asarray(TRAINING_FRAMING["centre_px"])
    width, image_height = TRAINING_FRAMING["image_size"]
    return out, (float(width), float(image_height))


def level_keypoints(uv: np.ndarray, roll_deg: float,
                    image_size: Optional[tuple[float, float]] = None) -> np.ndarray:
    """Pixels ``(..., 2)`` of a camera rolled by ``roll_deg`` as the same camera, level, would
    see them: turned by ``-roll_deg`` about the image centre (the principal point of the default
    intrinsics), or about the clip's median centre without an image size. Exact for a pinhole
    camera: a roll about the optical axis turns the image about the principal point."""
    uv = np.asarray(uv, dtype=np.float64)
    if image_size is not None:
        centre = np.array([image_size[0] / 2.0, image_size[1] / 2.0])
    else:
        centre = np.median(uv.reshape(-1, 2), axis=0)
    turn = roll_matrix(-roll_deg)[:2, :2]
    return (uv - centre) @ turn.T + centre


class Lifter:
    """A trained lifter with its codec: pixels in, root-relative camera-frame metres out."""

    flip_repair: bool = True
    """Repair detector left/right swaps before lifting (:mod:`skelgnn.infer.flips`); ``skelgnn
    infer`` / ``video`` ``--no-flip-repair`` turns it off."""

    def __init__(self, model: LifterModel, codec: PoseCodec, info: Optional[dict] = None,
                 flip_test: bool = True, flip_repair: bool = True) -> None:
        self.model = model.eval()
        self.codec = codec
        self.info = dict(info or {})
        self.flip_test = flip_test
        self.flip_repair = flip_repair
        self.device = torch.device("cpu")

    def to(self, device: str) -> "Lifter":
        """Run the model on ``device`` (one of :data:`INFERENCE_DEVICES`; checked with
        :func:`check_device`). Inputs and outputs stay numpy arrays on the CPU. Returns self."""
        self.device = check_device(device)
        self.model.to(self.device)
        return self

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, flip_test: bool = True) -> "Lifter":
        """Load a checkpoint; without ``path``, the default one (:func:`default_checkpoint`: the
        shipped footage checkpoint, found from any working directory)."""
        if path is None:
            path = default_checkpoint()
        model, codec, info = load_model(path)
        info["checkpoint"] = Path(path).name
        return cls(model, codec, info, flip_test)

    @property
    def receptive_field(self) -> int:
        return self.model.receptive_field

    @property
    def num_joints(self) -> int:
        return self.model.num_joints

    def predict(self, keypoints_2d: Any, image_size: tuple[float, float],
                layout: str = "h36m17", min_score: float = 0.3,
                reframe: bool = True) -> np.ndarray:
        """Lift one camera's keypoints.

        Args:
            keypoints_2d: ``(F, J, 2)`` pixels, or ``(F, J, 3)`` with a score column, in
                ``layout`` (``J = 17`` for ``"h36m17"`` and ``"coco17"``, 33 for
                ``"blazepose33"``). Joints with a score below ``min_score`` or NaN coordinates are
                missing and filled by linear interpolation over time.
            image_size: ``(width, height)`` of the camera image in pixels.
            layout: one of :data:`skelgnn.infer.layouts.LAYOUTS`.
            min_score: score threshold of a usable joint (without a score column every finite
                joint is usable).
            reframe: lift in a virtual camera framed like the training data
                (:func:`reframe_keypoints`; screen-normalised checkpoints only), as ``skelgnn
                infer`` and ``skelgnn video`` do by default. ``False``: the clip's own pixels, as
                the benchmark evaluation does.

        Returns:
            ``(F, 17, 3)`` float32 root-relative camera-frame metres. Temporal models lift the
            whole sequence at once (sequence mode) with edge-replicated padding at both ends, so
            clips shorter than the receptive field work too.
        """
        return self.predict_full(keypoints_2d, image_size, layout, min_score, reframe).poses_3d

    def predict_full(self, keypoints_2d: Any, image_size: Optional[tuple[float, float]],
                     layout: str = "h36m17", min_score: float = 0.3,
                     reframe: bool = True, roll_deg: float = 0.0) -> Prediction:
        """:meth:`predict`, also returning the H36M 2D used, the scores and the fill report.

        ``roll_deg``: the camera's roll about its optical axis (degrees, as
        :func:`skelgnn.geometry.camera_roll_deg` measures it), when known; the clip is lifted as a level camera
        would see it (the keypoints turned about the image centre, see :func:`level_keypoints`)
        and the 3D turned back into this camera's frame. The lifters were trained on cameras
        rolled a few degrees at most; :func:`skelgnn.motion.pipeline.lift_and_place` estimates
        the roll from the learnt up direction and passes it here.

        With ``reframe`` (the default; screen-normalised checkpoints), the clip is first moved
        into a virtual 1000 x 1000 camera framed like the training data (see
        :func:`reframe_keypoints`); the returned ``keypoints_2d`` stay in the original pixels.

        Left/right swaps of the detector are repaired first when ``self.flip_repair`` (the
        default; :mod:`skelgnn.infer.flips`), and joints never seen in the clip are placed from the
        body and flagged (:mod:`skelgnn.infer.body_fill`).

        Raises:
            ValueError: keypoints that are not real numbers (bool, complex, strings, objects), a
                bad shape or layout, too little of the body seen to fill the rest, pixel
                coordinates beyond
                :data:`~skelgnn.geometry.COORDINATE_LIMIT`, an image size that does not fit the
                keypoints (encoded inputs beyond :data:`SCREEN_LIMIT`), or a model output that is
                not finite (a damaged checkpoint)."""
        kp = as_keypoint_array(keypoints_2d, "keypoints_2d")
        if kp.ndim != 3 or kp.shape[2] not in (2, 3):
            raise ValueError(f"keypoints_2d must be (F, J, 2) or (F, J, 3), got {tuple(kp.shape)}")
        if kp.shape[0] == 0:
            raise ValueError("keypoints_2d has no frames")
        if image_size is not None:
            image_size = check_image_size(image_size)
        filled, report = prepare_keypoints(kp, layout, min_score)  # (F, 17, 3)
        if filled.shape[1] != self.num_joints:  # pragma: no cover - every model has 17 joints
            raise ValueError(f"the model expects {self.num_joints} joints, the keypoints have "
                             f"{filled.shape[1]}")
        uv, size = filled[..., :2], image_size
        if size is not None:  # most joints outside the image, normalised coordinates: warn
            warn_implausible_keypoints(uv, size)
        largest = float(np.abs(uv).max())
        if largest > COORDINATE_LIMIT:
            raise ValueError(f"keypoints_2d: pixel coordinates up to {largest:.3g}; expected at most "
                             f"{COORDINATE_LIMIT:g} (pixels of the camera image, not another unit)")
        # the image size must fit the keypoints, checked in the clip's own pixels (reframing
        # would hide a wrong image size)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            x = self.codec.encode_2d(uv, size).astype(np.float32)  # (F, J, 2)
        extent = float(np.abs(x).max()) if np.isfinite(x).all() else math.inf
        if extent > SCREEN_LIMIT:
            image = (f"the image of size {size[0]:g} x {size[1]:g}" if size is not None
                     else "the image")
            raise ValueError(
                f"keypoints_2d lie up to {extent / 2:.3g} image widths from {image}; expected "
                "keypoints in pixels of that image. Check "
                "image_size is the (width, height) of the frames the keypoints come from")
        flips: Optional[FlipReport] = None
        if self.flip_repair:  # after the checks: the repair lifts the clip itself
            converted = convert(kp, resolve_layout(layout, kp.shape[1]))  # (F, 17, 3)
            # the 3D cue needs each frame's own 3D: a temporal lifter spreads a run of swapped
            # frames over its whole window (on shelf_dev's injected swaps it cost the 27-frame
            # footage checkpoint most of its leg recall), so it is used with single-frame lifters
            lift = ((lambda k: self._lift_filled(k, image_size, min_score, reframe))
                    if self.receptive_field == 1 else None)
            converted, flips = repair_flips(converted, min_score, lift)
            if flips.swapped_frames:
                filled, report = prepare_keypoints(converted, "h36m17", min_score)
                uv = filled[..., :2]
                x = self.codec.encode_2d(uv, size).astype(np.float32)
        roll = float(roll_deg)
        if not math.isfinite(roll):
            raise ValueError(f"roll_deg must be a finite number of degrees, found {roll_deg}")
        uv_lift = level_keypoints(uv, roll, size) if roll else uv
        if reframe and self.codec.mode == "screen":
            x = self.codec.encode_2d(*reframe_keypoints(uv_lift)).astype(np.float32)
        elif roll:
            x = self.codec.encode_2d(uv_lift, size).astype(np.float32)
        x = pad_sequence(x, self.receptive_field)  # (F + R - 1, J, 2)
        poses = self._lift_encoded(x)
        if roll:  # back from the level camera to this one
            poses = poses @ roll_matrix(roll).T.astype(poses.dtype)
        if not np.isfinite(poses).all():
            raise ValueError(f"the lifter returned non-finite 3D poses for finite inputs; the "
                             f"checkpoint {self.info.get('checkpoint', '?')} is probably damaged "
                             "(retrain or download it again)")
        return Prediction(poses.astype(np.float32), filled[..., :2].astype(np.float32),
                          filled[..., 2].astype(np.float32), report, flips)

    def _lift_filled(self, keypoints: np.ndarray, image_size: Optional[tuple[float, float]],
                     min_score: float, reframe: bool) -> np.ndarray:
        """Fill and lift Human3.6M-17 keypoints ``(F, 17, 3)`` quietly (no checks): the 3D
        consistency cue of the flip repair."""
        filled, _ = prepare_keypoints(keypoints, "h36m17", min_score)
        uv = filled[..., :2]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if reframe and self.codec.mode == "screen":
                x = self.codec.encode_2d(*reframe_keypoints(uv))
            else:
                x = self.codec.encode_2d(uv, image_size)
        return self._lift_encoded(pad_sequence(x.astype(np.float32), self.receptive_field))

    def _lift_encoded(self, x: np.ndarray) -> np.ndarray:
        """Encoded, padded ``(F + R - 1, J, 2)`` -> ``(F, J, 3)`` root-relative metres."""
        with torch.no_grad():
            y = predict_sequence(self.model, torch.from_numpy(x).to(self.device), self.flip_test,
                                 skeleton=H36M17)  # the Lifter's layout: keypoints are converted to it
        return y.cpu().numpy()
