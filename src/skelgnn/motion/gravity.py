"""Gravity in the camera frame, learnt: which way is up for a camera, without assuming that the
person stands upright.

The old world frame took up as the clip's mean torso direction, so a person who leans all clip
long tilts the whole world by the lean. Here a small regressor (:class:`UpRegressor`, a two
hidden-layer MLP run in numpy) maps what the lifter produces at inference -- the root-relative
camera-frame pose and the unit ray from the camera to the root -- to the gravity up direction in
camera coordinates (``X`` right, ``Y`` down, ``Z`` forward; upright and level is ``(0, -1, 0)``).
It learns what a single torso cannot tell: the supporting leg is near vertical, the body's mass
sits above the feet, cameras roll little, a person seen from above shows it in the ray and the
foreshortening.

It was trained (``benchmarks/train_up.py``, reproducible, a few minutes on one core) on the CMU
training subjects seen through the virtual-camera sampler (:class:`skelgnn.data.cameras.
CameraSampler`: raised and lowered cameras, rolls of a few degrees) with detector-like 2D noise,
lifted by the default checkpoint exactly as ``skelgnn infer`` lifts (reframed), with the virtual
cameras' exact extrinsics as targets, and chosen on the ``val`` subject. Its weights ship in
``skelgnn/resources/up_regressor.npz`` (tiny).

:func:`clip_up` turns per-frame estimates into one direction per clip: the normalised mean of the
per-frame unit vectors (weighted by the regressor's confidence), then refined by dropping the
frames furthest from it (a robust mean on the sphere), so a few frames of an odd pose do not
tilt the clip.

:func:`balance_up` adds what mocap training rarely shows -- a person balancing: a body at rest
keeps its centre of mass above its support, so the direction from the support (the lower ankle,
or the middle of both when they are level) to the centre of mass (segment masses of the usual
anthropometric tables) is up on average. :func:`estimate_up` blends the two
(:data:`BALANCE_WEIGHT`, chosen on the ``val`` subject's novel cameras: 3.96 degrees against 4.11
for the regressor alone, ``benchmarks/world_frame.py``).

Shape letters: ``F`` frames, ``J`` joints (17, Human3.6M order).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Optional

import numpy as np

__all__ = ["UpRegressor", "up_features", "clip_up", "torso_up", "balance_up", "estimate_up",
           "centre_of_mass", "angle_deg", "shipped_regressor", "WEIGHTS_RESOURCE", "FEATURES",
           "BALANCE_WEIGHT"]

log = logging.getLogger(__name__)

WEIGHTS_RESOURCE = "up_regressor.npz"
"""File name of the shipped weights under ``skelgnn/resources``."""

FEATURES = 16 * 3 + 3
"""Inputs per frame: the 16 non-root joints of the root-relative pose (metres) and the unit ray to
the root."""

_HIP, _THORAX = 0, 8

BALANCE_WEIGHT = 0.25
"""Weight of :func:`balance_up` against the learnt up in :func:`estimate_up`."""

# body segments: (mass fraction, end joint a, end joint b) -> mass at the segment's middle
# (trunk, head, upper arms, forearms + hands, thighs, shanks, feet at the ankles)
_SEGMENTS = ((0.497, 0, 8), (0.081, 9, 10), (0.028, 11, 12), (0.028, 14, 15), (0.022, 12, 13),
             (0.022, 15, 16), (0.100, 1, 2), (0.100, 4, 5), (0.0465, 2, 3), (0.0465, 5, 6),
             (0.0145, 3, 3), (0.0145, 6, 6))
_ANKLES = (6, 3)


def angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees between direction vectors ``(..., 3)`` (need not be unit)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    cos = np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def up_features(poses_rel: np.ndarray, roots: np.ndarray) -> np.ndarray:
    """The regressor's inputs ``(F, FEATURES)`` float32 from root-relative camera-frame poses
    ``(F, 17, 3)`` (metres) and camera-frame root positions ``(F, 3)``."""
    p = np.asarray(poses_rel, dtype=np.float64)
    r = np.asarray(roots, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (17, 3) or r.shape != (len(p), 3):
        raise ValueError(f"up_features: expected poses (F, 17, 3) and roots (F, 3), found {p.shape} "
                         f"and {r.shape}")
    rel = p[:, 1:] - p[:, :1]
    norm = np.linalg.norm(r, axis=-1, keepdims=True)
    ray = np.where(norm > 1e-9, r / np.maximum(norm, 1e-9), np.array([0.0, 0.0, 1.0]))
    return np.concatenate([rel.reshape(len(p), -1), ray], axis=1).astype(np.float32)


def torso_up(poses: np.ndarray) -> np.ndarray:
    """The old estimate: the clip's mean unit torso direction (Hip -> Thorax), ``(3,)``."""
    p = np.asarray(poses, dtype=np.float64)
    torso = p[:, _THORAX] - p[:, _HIP]
    mean = np.mean(torso / np.linalg.norm(torso, axis=-1, keepdims=True), axis=0)
    return mean / np.linalg.norm(mean)


def centre_of_mass(poses: np.ndarray) -> np.ndarray:
    """Approximate centre of mass ``(F, 3)`` of Human3.6M-17 poses ``(F, 17, 3)``: segment masses
    (fractions of body mass after the usual anthropometric tables) at the segments' middles."""
    p = np.asarray(poses, dtype=np.float64)
    out = np.zeros(p.shape[:1] + (3,))
    for m, a, b in _SEGMENTS:
        out += m * 0.5 * (p[:, a] + p[:, b])
    return out / sum(m for m, _, _ in _SEGMENTS)


def balance_up(poses: np.ndarray, up: np.ndarray, level: float = 0.08) -> np.ndarray:
    """The clip's up ``(3,)`` from balance: :func:`clip_up` of the per-frame unit directions from
    the support to the centre of mass. The support is the lower ankle along ``up`` (a first
    estimate), or the middle of both ankles when their heights differ by less than ``level``."""
    p = np.asarray(poses, dtype=np.float64)
    u = np.asarray(up, dtype=np.float64)
    left, right = p[:, _ANKLES[0]], p[:, _ANKLES[1]]
    hl, hr = left @ u, right @ u
    support = np.where((np.abs(hl - hr) < level)[:, None], 0.5 * (left + right),
                       np.where((hl < hr)[:, None], left, right))
    d = centre_of_mass(p) - support
    return clip_up(d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-9))


def estimate_up(poses_rel: np.ndarray, roots: np.ndarray,
                regressor: Optional["UpRegressor"] = None) -> np.ndarray:
    """A clip's camera-frame up ``(3,)``: the regressor's (default: the shipped one) blended with
    :func:`balance_up` by :data:`BALANCE_WEIGHT`.

    Raises:
        ValueError: the package lacks the shipped weights and no regressor is given.
    """
    reg = regressor if regressor is not None else shipped_regressor()
    if reg is None:
        raise ValueError("no up regressor: the package's resources/up_regressor.npz is missing")
    learnt = reg.clip_up(poses_rel, roots)
    mixed = (1.0 - BALANCE_WEIGHT) * learnt + BALANCE_WEIGHT * balance_up(poses_rel, learnt)
    return mixed / np.linalg.norm(mixed)


def clip_up(frame_ups: np.ndarray, weights: Optional[np.ndarray] = None,
            keep: float = 0.7) -> np.ndarray:
    """One unit direction ``(3,)`` from per-frame directions ``(F, 3)``: the weighted mean of the
    unit vectors, recomputed over the ``keep`` fraction of frames closest to it."""
    u = np.asarray(frame_ups, dtype=np.float64)
    if u.ndim != 2 or u.shape[1] != 3 or len(u) == 0:
        raise ValueError(f"clip_up: expected (F, 3) directions, found {u.shape}")
    u = u / np.linalg.norm(u, axis=-1, keepdims=True)
    w = np.ones(len(u)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(u),) or not np.all(w >= 0) or not w.sum() > 0:
        raise ValueError("clip_up: weights must be (F,), non-negative, not all zero")
    mean = (w[:, None] * u).sum(0)
    mean /= np.linalg.norm(mean)
    n_keep = max(1, int(round(keep * len(u))))
    if n_keep < len(u):
        near = np.argsort(-(u @ mean))[:n_keep]
        if w[near].sum() > 0:
            mean = (w[near, None] * u[near]).sum(0)
            mean /= np.linalg.norm(mean)
    return mean


@dataclass(frozen=True, eq=False)
class UpRegressor:
    """A small MLP ``FEATURES -> hidden -> hidden -> 3`` (ReLU), inputs standardised by
    ``mean`` / ``std``; outputs normalised to unit up directions in camera coordinates. With
    ``confidence`` (trained with the von Mises-Fisher likelihood) the output's length is the
    frame's concentration, and a clip's frames are weighted by it."""

    mean: np.ndarray
    std: np.ndarray
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    confidence: bool = False

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.biases) or not self.weights:
            raise ValueError("UpRegressor: one bias per weight matrix, at least one layer")
        if self.mean.shape != (FEATURES,) or self.std.shape != (FEATURES,):
            raise ValueError(f"UpRegressor: mean / std must be ({FEATURES},)")
        width = FEATURES
        for w, b in zip(self.weights, self.biases):
            if w.ndim != 2 or w.shape[0] != width or b.shape != (w.shape[1],):
                raise ValueError(f"UpRegressor: layer shapes do not chain: {w.shape}, {b.shape}")
            width = w.shape[1]
        if width != 3:
            raise ValueError(f"UpRegressor: the last layer must give 3 outputs, found {width}")

    @classmethod
    def load(cls, path: Optional[str | Path] = None) -> "UpRegressor":
        """The weights at ``path``, default the shipped ``resources/up_regressor.npz``.

        Raises:
            FileNotFoundError: no file at ``path``.
            ValueError: a file that is not a regressor (missing or mis-shaped arrays).
        """
        if path is None:
            res = resources.files("skelgnn") / "resources" / WEIGHTS_RESOURCE
            with resources.as_file(res) as p:
                return cls._read(Path(p))
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"no up-regressor weights at {p}")
        return cls._read(p)

    @classmethod
    def _read(cls, path: Path) -> "UpRegressor":
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: np.asarray(data[k], dtype=np.float64) for k in data.files}
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not an up-regressor npz ({exc})") from None
        n = sum(1 for k in arrays if k.startswith("w"))
        try:
            return cls(mean=arrays["mean"], std=arrays["std"],
                       weights=tuple(arrays[f"w{i}"] for i in range(n)),
                       biases=tuple(arrays[f"b{i}"] for i in range(n)),
                       confidence=bool(arrays.get("confidence", np.zeros(())).item()))
        except KeyError as exc:
            raise ValueError(f"{path}: not an up-regressor npz (no {exc.args[0]!r})") from None

    def arrays(self) -> dict[str, np.ndarray]:
        """The npz entries :meth:`load` reads."""
        out = {"mean": self.mean.astype(np.float32), "std": self.std.astype(np.float32),
               "confidence": np.array(float(self.confidence), dtype=np.float32)}
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            out[f"w{i}"] = w.astype(np.float32)
            out[f"b{i}"] = b.astype(np.float32)
        return out

    def predict_with_confidence(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unit up directions ``(F, 3)`` and frame weights ``(F,)`` (the concentration with
        ``confidence``, else 1) from :func:`up_features` rows ``(F, FEATURES)``."""
        h = (np.asarray(features, dtype=np.float64) - self.mean) / self.std
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ w + b
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        norm = np.linalg.norm(h, axis=-1)
        weight = norm if self.confidence else np.ones(len(h))
        return h / np.maximum(norm, 1e-9)[:, None], weight

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        """Unit up directions ``(F, 3)`` from :func:`up_features` rows ``(F, FEATURES)``."""
        return self.predict_with_confidence(features)[0]

    def predict_frames(self, poses_rel: np.ndarray, roots: np.ndarray) -> np.ndarray:
        """Per-frame unit up directions ``(F, 3)`` in camera coordinates."""
        return self.predict_features(up_features(poses_rel, roots))

    def clip_up(self, poses_rel: np.ndarray, roots: np.ndarray) -> np.ndarray:
        """The clip's up direction ``(3,)``: :func:`clip_up` of the per-frame directions, weighted
        by their confidence."""
        up, weight = self.predict_with_confidence(up_features(poses_rel, roots))
        return clip_up(up, weight)


_SHIPPED: list[UpRegressor] = []


def shipped_regressor() -> Optional[UpRegressor]:
    """The shipped regressor (loaded once), or ``None`` (logged) when the package lacks it."""
    if not _SHIPPED:
        try:
            _SHIPPED.append(UpRegressor.load())
        except (FileNotFoundError, ValueError) as exc:  # pragma: no cover - a broken install
            log.warning("no learnt up direction (%s); falling back to the torso", exc)
            return None
    return _SHIPPED[0]
