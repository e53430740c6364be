"""3D human pose metrics: MPJPE (Protocol #1), P-MPJPE (Protocol #2), N-MPJPE, MPJVE, PCK, AUC.

Every error metric returns **per-sample** values of shape ``(N,)`` in the units of its inputs (no
unit conversion); average them yourself, or with :func:`group_mean` for action-wise averaging.

Inputs may be NumPy arrays or ``torch.Tensor`` s (both arguments of one call must be the same
kind, else ``TypeError``), and the result is of the same kind:

* NumPy in -> NumPy ``float64`` out (integer inputs are promoted to ``float64``);
* torch in -> torch out, on the input's device and in the input's floating dtype (integer tensors
  are promoted to the default float dtype). :func:`mpjpe`, :func:`n_mpjpe` and :func:`mpjve` keep
  autograd, so :func:`mpjpe` can serve as a training loss; :func:`p_mpjpe`, :func:`pck` and
  :func:`auc` are evaluation-only and return tensors detached from the graph.

Shape letters: ``N`` samples, ``T`` frames, ``J`` joints; the last axis is always ``x, y, z``.

* :func:`mpjpe`, :func:`p_mpjpe`, :func:`n_mpjpe`, :func:`pck`, :func:`auc`: ``(N, J, 3)``
* :func:`mpjve`: ``(N, T, J, 3)`` with ``T >= 2``
* :func:`group_mean`: errors ``(N,)`` plus ``N`` labels
"""
from __future__ import annotations

import math
from typing import Hashable, Sequence, Union

import numpy as np
import torch

__all__ = [
    "mpjpe",
    "p_mpjpe",
    "n_mpjpe",
    "mpjve",
    "pck",
    "auc",
    "group_mean",
    "DEFAULT_PCK_THRESHOLD",
    "DEFAULT_AUC_THRESHOLDS",
]

ArrayLike = Union[np.ndarray, torch.Tensor]

#: Default PCK threshold, 150 (millimetres for inputs in mm), as in MPI-INF-3DHP evaluation.
DEFAULT_PCK_THRESHOLD: float = 150.0
#: Default AUC thresholds: 31 evenly spaced values from 0 to 150 inclusive.
DEFAULT_AUC_THRESHOLDS: np.ndarray = np.linspace(0.0, 150.0, 31)
DEFAULT_AUC_THRESHOLDS.flags.writeable = False


# --------------------------------------------------------------------------------------------- #
# input handling
# --------------------------------------------------------------------------------------------- #
def _shape_str(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


def _as_tensor(x: object, name: str) -> tuple[torch.Tensor, bool]:
    """Return ``(tensor, was_numpy)``; NumPy / array-likes become ``float64`` CPU tensors."""
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise ValueError(f"{name} must be real-valued, got dtype {x.dtype}")
        if not x.is_floating_point():
            x = x.to(torch.get_default_dtype())
        return x, False
    if np.iscomplexobj(x):  # type: ignore[arg-type]  # any array-like; the stubs want ArrayLike
        raise ValueError(f"{name} must be real-valued, got a complex array")
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must be a numpy array or torch tensor of real numbers, got {type(x).__name__}"
        ) from exc
    if not arr.flags.writeable:  # torch.from_numpy warns on read-only memory
        arr = arr.copy()
    return torch.from_numpy(arr), True


def _prepare(
    pred: ArrayLike, target: ArrayLike, layout: str, fn: str
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Check ``pred`` / ``target`` against ``layout`` (``"NJ3"`` or ``"NTJ3"``) and convert them.

    Returns ``(pred, target, was_numpy)`` as tensors of one dtype on one device.
    """
    if isinstance(pred, torch.Tensor) != isinstance(target, torch.Tensor):
        raise TypeError(
            f"{fn}: pred and target must both be numpy arrays or both torch tensors, got "
            f"{type(pred).__name__} and {type(target).__name__}"
        )
    p, was_numpy = _as_tensor(pred, "pred")
    t, _ = _as_tensor(target, "target")
    expected = "(N, J, 3)" if layout == "NJ3" else "(N, T, J, 3)"
    ndim = len(layout)  # "NJ3" -> 3, "NTJ3" -> 4
    for name, x in (("pred", p), ("target", t)):
        if x.ndim != ndim or x.shape[-1] != 3:
            raise ValueError(
                f"{fn}: expected {name} of shape {expected}, got {_shape_str(x.shape)}"
            )
    if p.shape != t.shape:
        raise ValueError(
            f"{fn}: pred and target must have the same shape {expected}, got "
            f"pred {_shape_str(p.shape)} and target {_shape_str(t.shape)}"
        )
    if p.shape[-2] == 0:
        raise ValueError(
            f"{fn}: expected at least one joint (J >= 1), got shape {_shape_str(p.shape)}"
        )
    if layout == "NTJ3" and p.shape[1] < 2:
        raise ValueError(
            f"{fn}: expected at least 2 frames (T >= 2) in shape (N, T, J, 3), got "
            f"{_shape_str(p.shape)}"
        )
    if p.device != t.device:
        raise ValueError(f"{fn}: pred on {p.device} but target on {t.device}")
    if p.dtype != t.dtype:
        dtype = torch.promote_types(p.dtype, t.dtype)
        p, t = p.to(dtype), t.to(dtype)
    return p, t, was_numpy


def _out(x: torch.Tensor, was_numpy: bool) -> ArrayLike:
    return x.detach().cpu().numpy().astype(np.float64, copy=False) if was_numpy else x


def _joint_errors(p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Euclidean distance per joint, ``(..., J, 3) -> (..., J)``."""
    return torch.linalg.vector_norm(p - t, dim=-1)


# --------------------------------------------------------------------------------------------- #
# position errors
# --------------------------------------------------------------------------------------------- #
def mpjpe(pred: ArrayLike, target: ArrayLike) -> ArrayLike:
    """Mean per-joint position error, **Protocol #1** (no alignment).

    The mean over joints of the Euclidean distance between predicted and true joint positions.

    Args:
        pred: predicted poses ``(N, J, 3)``.
        target: ground-truth poses ``(N, J, 3)``.

    Returns:
        Per-sample errors ``(N,)`` in the input units; differentiable for torch input.

    Raises:
        ValueError: on shapes other than ``(N, J, 3)`` or mismatched shapes.
    """
    p, t, was_numpy = _prepare(pred, target, "NJ3", "mpjpe")
    return _out(_joint_errors(p, t).mean(dim=-1), was_numpy)


def _procrustes_align(p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Similarity-align ``p`` onto ``t`` per sample; both ``(N, J, 3)``, returns aligned ``p``.

    Finds per sample the scale ``s``, rotation ``R`` (``det R = +1``) and translation ``b``
    minimising ``sum_j ||s p_j R + b - t_j||^2`` (row vectors), by the SVD of the 3x3 cross
    covariance (Umeyama / Kabsch). If the unconstrained orthogonal solution is a reflection, the
    sign of the last singular vector and singular value is flipped so only proper rotations are
    used. A sample whose predicted joints all coincide gets ``s = 0`` (aligned to the target
    centroid) instead of a division by zero.
    """
    mu_p = p.mean(dim=1, keepdim=True)
    mu_t = t.mean(dim=1, keepdim=True)
    p0 = p - mu_p
    t0 = t - mu_t
    h = p0.transpose(1, 2) @ t0  # (N, 3, 3) cross covariance
    u, sv, vt = torch.linalg.svd(h)
    # proper rotation: flip the last singular vector / value where U V^T is a reflection
    d = torch.where(torch.linalg.det(u @ vt) < 0, -1.0, 1.0).to(p.dtype)  # (N,)
    u = torch.cat([u[..., :2], u[..., 2:] * d[:, None, None]], dim=-1)
    sv = torch.cat([sv[:, :2], sv[:, 2:] * d[:, None]], dim=-1)
    rot = u @ vt  # (N, 3, 3): p0 @ rot ~ t0 (up to scale)
    var_p = (p0 * p0).sum(dim=(1, 2))
    safe = torch.where(var_p > 0, var_p, torch.ones_like(var_p))
    scale = torch.where(var_p > 0, sv.sum(dim=-1) / safe, torch.zeros_like(var_p))
    return scale[:, None, None] * (p0 @ rot) + mu_t


def p_mpjpe(pred: ArrayLike, target: ArrayLike) -> ArrayLike:
    """Procrustes-aligned MPJPE, **Protocol #2**.

    Each predicted pose is first aligned to its target by the similarity transform (rotation,
    translation and uniform scale) minimising the summed squared joint distance, computed with a
    batched SVD (no loop over samples); reflections are excluded (``det R = +1``), so a mirrored
    prediction keeps a non-zero error. Then :func:`mpjpe` is taken.

    Torch inputs are aligned in ``float64`` without autograd (the result is detached) and returned
    in the input dtype. Degenerate samples (all joints at one point) give a finite error.

    Note: the alignment minimises squared error, so P-MPJPE is below MPJPE for any realistic
    prediction, but it is not a strict mathematical bound on the mean (unsquared) distance.

    Args:
        pred: predicted poses ``(N, J, 3)``.
        target: ground-truth poses ``(N, J, 3)``.

    Returns:
        Per-sample errors ``(N,)`` in the input units.

    Raises:
        ValueError: on shapes other than ``(N, J, 3)`` or mismatched shapes.
    """
    p, t, was_numpy = _prepare(pred, target, "NJ3", "p_mpjpe")
    out_dtype = p.dtype
    with torch.no_grad():
        p64 = p.detach().to(torch.float64)
        t64 = t.detach().to(torch.float64)
        err = _joint_errors(_procrustes_align(p64, t64), t64).mean(dim=-1)
    return _out(err if was_numpy else err.to(out_dtype), was_numpy)


def n_mpjpe(pred: ArrayLike, target: ArrayLike) -> ArrayLike:
    """Scale-normalised MPJPE (N-MPJPE).

    Each prediction is rescaled by the least-squares optimal factor
    ``s = <pred, target> / <pred, pred>`` (sums over joints and coordinates, per sample, no
    centring or rotation) before :func:`mpjpe`. A prediction that is all zeros gets ``s = 0``.

    Args:
        pred: predicted poses ``(N, J, 3)``.
        target: ground-truth poses ``(N, J, 3)``.

    Returns:
        Per-sample errors ``(N,)`` in the input units; differentiable for torch input.

    Raises:
        ValueError: on shapes other than ``(N, J, 3)`` or mismatched shapes.
    """
    p, t, was_numpy = _prepare(pred, target, "NJ3", "n_mpjpe")
    num = (p * t).sum(dim=(1, 2))
    den = (p * p).sum(dim=(1, 2))
    safe = torch.where(den > 0, den, torch.ones_like(den))
    scale = torch.where(den > 0, num / safe, torch.zeros_like(den))
    return _out(_joint_errors(scale[:, None, None] * p, t).mean(dim=-1), was_numpy)


def mpjve(pred: ArrayLike, target: ArrayLike) -> ArrayLike:
    """Mean per-joint velocity error (MPJVE) of pose sequences.

    Velocities are first differences along the frame axis (``T - 1`` per sequence, in input units
    per frame); the error is the Euclidean norm of the velocity difference, averaged over the
    ``T - 1`` velocity pairs and the ``J`` joints of each sequence.

    Args:
        pred: predicted sequences ``(N, T, J, 3)``, ``T >= 2``.
        target: ground-truth sequences ``(N, T, J, 3)``.

    Returns:
        Per-sequence errors ``(N,)``; differentiable for torch input.

    Raises:
        ValueError: on shapes other than ``(N, T, J, 3)``, mismatched shapes or ``T < 2``.
    """
    p, t, was_numpy = _prepare(pred, target, "NTJ3", "mpjve")
    vp = p[:, 1:] - p[:, :-1]
    vt = t[:, 1:] - t[:, :-1]
    return _out(_joint_errors(vp, vt).mean(dim=(1, 2)), was_numpy)


# --------------------------------------------------------------------------------------------- #
# detection-style metrics
# --------------------------------------------------------------------------------------------- #
def _check_threshold(value: float, fn: str, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{fn}: expected {name} to be a real number, got {value!r}") from exc
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{fn}: expected {name} to be finite and >= 0, got {v}")
    return v


def pck(pred: ArrayLike, target: ArrayLike, threshold: float = DEFAULT_PCK_THRESHOLD) -> ArrayLike:
    """3D percentage of correct keypoints (PCK), as a fraction in ``[0, 1]``.

    A joint is correct when its Euclidean error is **strictly less** than ``threshold``
    (``error < threshold``, the MPI-INF-3DHP convention), so ``threshold = 0`` gives 0.
    The threshold is in the input units; the default 150 suits millimetres.

    Args:
        pred: predicted poses ``(N, J, 3)``.
        target: ground-truth poses ``(N, J, 3)``.
        threshold: distance below which a joint counts as correct, finite and ``>= 0``.

    Returns:
        Per-sample fraction of correct joints ``(N,)`` (detached for torch input).

    Raises:
        ValueError: on bad / mismatched shapes or a negative / non-finite threshold.
    """
    thr = _check_threshold(threshold, "pck", "threshold")
    p, t, was_numpy = _prepare(pred, target, "NJ3", "pck")
    err = _joint_errors(p.detach(), t.detach())
    return _out((err < thr).to(err.dtype).mean(dim=-1), was_numpy)


def auc(
    pred: ArrayLike, target: ArrayLike, thresholds: Sequence[float] | np.ndarray | None = None
) -> ArrayLike:
    """Area under the PCK curve, as the mean of :func:`pck` over a set of thresholds.

    By default the 31 thresholds ``np.linspace(0, 150, 31)`` (0, 5, ..., 150) are used, the
    MPI-INF-3DHP setting for millimetre inputs; the result is a fraction in ``[0, 1]``. Note the
    threshold 0 always contributes a PCK of 0 because PCK uses ``error < threshold``.

    Args:
        pred: predicted poses ``(N, J, 3)``.
        target: ground-truth poses ``(N, J, 3)``.
        thresholds: 1-D, non-empty sequence of finite thresholds ``>= 0`` in input units.

    Returns:
        Per-sample AUC ``(N,)`` (detached for torch input).

    Raises:
        ValueError: on bad / mismatched shapes or bad thresholds.
    """
    thr = DEFAULT_AUC_THRESHOLDS if thresholds is None else thresholds
    if isinstance(thr, torch.Tensor):
        thr = thr.detach().cpu().numpy()
    try:
        thr_arr = np.asarray(thr, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"auc: expected thresholds as a 1-D sequence of numbers, got {thr!r}"
        ) from exc
    if thr_arr.ndim != 1 or thr_arr.size == 0:
        raise ValueError(
            f"auc: expected thresholds of shape (K,) with K >= 1, got {_shape_str(thr_arr.shape)}"
        )
    if not np.all(np.isfinite(thr_arr)) or np.any(thr_arr < 0):
        raise ValueError(f"auc: expected finite thresholds >= 0, got {thr_arr.tolist()}")
    p, t, was_numpy = _prepare(pred, target, "NJ3", "auc")
    err = _joint_errors(p.detach(), t.detach())  # (N, J)
    k = torch.tensor(thr_arr.tolist(), dtype=err.dtype, device=err.device)
    correct = (err[:, :, None] < k).to(err.dtype)  # (N, J, K)
    return _out(correct.mean(dim=(1, 2)), was_numpy)


# --------------------------------------------------------------------------------------------- #
# aggregation
# --------------------------------------------------------------------------------------------- #
def _sorted_labels(labels: list[Hashable]) -> list[Hashable]:
    unique = list(dict.fromkeys(labels))
    try:
        return sorted(unique)  # type: ignore[type-var]
    except TypeError:  # mixed, unorderable label types: order by their text
        return sorted(unique, key=lambda x: (type(x).__name__, repr(x)))


def group_mean(
    errors: ArrayLike, labels: Sequence[Hashable]
) -> tuple[float, dict[Hashable, float]]:
    """Action-wise averaging: the mean error of each label, then the mean of those means.

    This is how Human3.6M results are reported per action (each action weighs the same,
    whatever its number of frames).

    Args:
        errors: per-sample errors ``(N,)``, a NumPy array or torch tensor.
        labels: ``N`` hashable labels (e.g. action names), one per sample.

    Returns:
        ``(mean_of_means, per_label_means)``; the dict lists labels in sorted order and its
        values, like the first element, are Python floats.

    Raises:
        ValueError: when ``errors`` is not 1-D, is empty, or its length differs from ``labels``.
    """
    if isinstance(errors, torch.Tensor):
        err = errors.detach().cpu().to(torch.float64).numpy()
    else:
        try:
            err = np.asarray(errors, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"group_mean: expected errors as a numpy array or torch tensor of numbers, got "
                f"{type(errors).__name__}"
            ) from exc
    if err.ndim != 1:
        raise ValueError(f"group_mean: expected errors of shape (N,), got {_shape_str(err.shape)}")
    labs = [lab.item() if isinstance(lab, np.generic) else lab for lab in labels]
    if err.shape[0] == 0:
        raise ValueError("group_mean: expected at least one error (N >= 1), got N = 0")
    if len(labs) != err.shape[0]:
        raise ValueError(
            f"group_mean: expected {err.shape[0]} labels (one per error), got {len(labs)}"
        )
    sums: dict[Hashable, float] = {}
    counts: dict[Hashable, int] = {}
    for e, lab in zip(err.tolist(), labs):
        sums[lab] = sums.get(lab, 0.0) + e
        counts[lab] = counts.get(lab, 0) + 1
    per_label = {lab: sums[lab] / counts[lab] for lab in _sorted_labels(labs)}
    return float(np.mean(list(per_label.values()))), per_label
