"""The pose codec: the one object that owns input / target normalisation.

Training and inference both encode through the same :class:`PoseCodec`, and its plain-value
:meth:`PoseCodec.to_dict` is stored inside every checkpoint, so inference cannot drift from what
the model was trained on (the idea of mmpose's ``codecs/video_pose_lifting.py``).

Shape letters: ``J`` joints; ``...`` any leading dimensions (frames, batch).

2D modes:

* ``"screen"`` -- VideoPose3D screen normalisation of the whole image:
  ``x = 2u/W - 1``, ``y = 2v/W - H/W``. Keeps where the person is in the image (useful for
  the perspective cue) and is exactly invertible given the image size.
* ``"box"`` -- person-centred: per frame, subtract the centre of the 2D joints' bounding box and
  divide by half of the box's larger side, so the pose fits in ``[-1, 1]`` whatever the image size
  or the person's distance. Drops the position and scale in the image, so it is not invertible from
  the encoded values alone (:meth:`PoseCodec.decode_2d` refuses it).

3D targets are root-relative camera-frame coordinates in metres (the benchmark's target):
:func:`root_relative` is the one place a pose is centred on its root joint, ``y_j = x_j - x_root``
(numpy arrays and torch tensors alike). :func:`pad_sequence` is the one place a clip gets its
``(R - 1) / 2`` edge-replicated frames at both ends, so every frame is the centre of a full
window of ``R`` frames.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping, TypeVar

import numpy as np

from skelgnn.geometry import normalize_screen, unnormalize_screen
from skelgnn.options import Normalization, choices

__all__ = ["PoseCodec", "CODEC_MODES", "ROOT", "root_relative", "pad_sequence"]

CODEC_MODES: tuple[str, ...] = choices(Normalization)
"""The 2D normalisation modes :class:`PoseCodec` knows."""

ROOT = 0
"""Index of the root joint (the pelvis of Human3.6M order) every model's outputs are relative to."""

_Array = TypeVar("_Array")


def root_relative(x: _Array, root: int = ROOT) -> _Array:
    """Centre poses on their root joint: ``(..., J, D)`` -> ``(..., J, D)`` with joint ``root``
    exactly zero. Works on numpy arrays and torch tensors (same type and dtype out)."""
    a: Any = x  # ndarray or Tensor: both subtract and slice alike
    return a - a[..., root:root + 1, :]


def pad_sequence(x: np.ndarray, receptive_field: int) -> np.ndarray:
    """Edge-pad a clip for window-centred lifting: ``(F, ...)`` -> ``(F + R - 1, ...)`` with
    ``(R - 1) / 2`` copies of the first and last frame at the ends (``R`` odd)."""
    if receptive_field < 1 or receptive_field % 2 == 0:
        raise ValueError(f"receptive field must be odd and >= 1, got {receptive_field}")
    pad = (receptive_field - 1) // 2
    width = ((pad, pad),) + ((0, 0),) * (np.ndim(x) - 1)
    return np.pad(x, width, mode="edge")


_BOX_EPS = 1e-6  # px; a box this small (all joints on one point) encodes to all zeros


@dataclass(frozen=True)
class PoseCodec:
    """Normalisation of 2D inputs and 3D targets, shared by training and inference.

    Attributes:
        mode: 2D normalisation, one of :data:`CODEC_MODES` (see the module docstring).
        root: index of the root joint the 3D targets are made relative to.
    """

    mode: Normalization = "screen"
    root: int = 0

    def __post_init__(self) -> None:
        if self.mode not in CODEC_MODES:
            raise ValueError(f"PoseCodec: unknown mode {self.mode!r}; expected one of {list(CODEC_MODES)}")
        if isinstance(self.root, bool) or not isinstance(self.root, (int, np.integer)) or self.root < 0:
            raise ValueError(f"PoseCodec: root must be a joint index >= 0, found {self.root!r}")
        object.__setattr__(self, "root", int(self.root))

    @staticmethod
    def _check_image_size(image_size: Any) -> tuple[float, float]:
        try:
            w, h = (float(s) for s in image_size)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"PoseCodec: image_size must be (width, height), found {image_size!r}") from exc
        if not (w > 0 and h > 0):
            raise ValueError(f"PoseCodec: image size must be positive, found width={w}, height={h}")
        return w, h

    @staticmethod
    def _check_2d(x: np.ndarray, name: str) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim < 2 or x.shape[-1] != 2:
            raise ValueError(f"PoseCodec.{name}: expected 2D keypoints (..., J, 2), found shape {x.shape}")
        return x

    def encode_2d(self, uv: np.ndarray, image_size: tuple[float, float] | None = None) -> np.ndarray:
        """Pixel keypoints ``(..., J, 2)`` -> model inputs ``(..., J, 2)`` float32.

        Args:
            uv: 2D keypoints in pixels.
            image_size: ``(width, height)`` in pixels; required by ``"screen"`` mode, ignored by
                ``"box"`` mode.
        """
        uv = self._check_2d(uv, "encode_2d").astype(np.float64)
        if self.mode == "screen":
            if image_size is None:
                raise ValueError("PoseCodec.encode_2d: mode 'screen' needs image_size=(width, height)")
            w, h = self._check_image_size(image_size)
            return normalize_screen(uv, w, h).astype(np.float32)
        lo, hi = uv.min(axis=-2, keepdims=True), uv.max(axis=-2, keepdims=True)  # (..., 1, 2)
        centre = (lo + hi) / 2.0
        half = np.max(hi - lo, axis=-1, keepdims=True) / 2.0  # (..., 1, 1)
        return ((uv - centre) / np.maximum(half, _BOX_EPS)).astype(np.float32)

    def decode_2d(self, xy: np.ndarray, image_size: tuple[float, float]) -> np.ndarray:
        """Model inputs ``(..., J, 2)`` -> pixels ``(..., J, 2)`` (float64); screen mode only."""
        xy = self._check_2d(xy, "decode_2d")
        if self.mode != "screen":
            raise ValueError(f"PoseCodec.decode_2d: mode {self.mode!r} drops the box position and "
                             "scale and cannot be decoded; only mode 'screen' is invertible")
        w, h = self._check_image_size(image_size)
        return unnormalize_screen(xy.astype(np.float64), w, h)

    def encode_3d(self, x_cam: np.ndarray) -> np.ndarray:
        """Camera-frame 3D joints ``(..., J, 3)`` in metres -> root-relative targets
        ``(..., J, 3)`` float32 (joint ``root`` becomes the origin)."""
        x_cam = np.asarray(x_cam)
        if x_cam.ndim < 2 or x_cam.shape[-1] != 3 or x_cam.shape[-2] <= self.root:
            raise ValueError(f"PoseCodec.encode_3d: expected (..., J, 3) with J > root={self.root}, "
                             f"found shape {x_cam.shape}")
        return root_relative(x_cam.astype(np.float64), self.root).astype(np.float32)

    def decode_3d(self, y: np.ndarray, root_position: np.ndarray | None = None) -> np.ndarray:
        """Model outputs ``(..., J, 3)`` -> metres: root-relative as they are, or placed at
        ``root_position`` ``(..., 3)`` (camera frame) when one is given."""
        y = np.asarray(y)
        if y.ndim < 2 or y.shape[-1] != 3:
            raise ValueError(f"PoseCodec.decode_3d: expected (..., J, 3), found shape {y.shape}")
        if root_position is None:
            return y
        return y + np.asarray(root_position)[..., None, :]

    def to_dict(self) -> dict[str, Any]:
        """Plain values for a checkpoint (``torch.load(weights_only=True)`` safe)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "PoseCodec":
        """Inverse of :meth:`to_dict`; unknown keys are an error (a newer checkpoint, most likely)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"PoseCodec.from_dict: unknown keys {unknown}; expected a subset of {sorted(known)}")
        return cls(**dict(values))
