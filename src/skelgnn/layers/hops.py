"""Information gain per hop distance, and the channel-squeeze ratio it implies.

The Skeletal GNN squeezes the channels of its long-range hop groups by ``d`` per extra hop,
arguing that the information gain (IG) of the ``k``-hop neighbours decays like ``a exp(-b k)``;
the paper picks ``d`` by hand. Here IG is measured on a benchmark's training subjects in two
ways, fitted, and turned into ``d = exp(-b)``.

Shape letters: ``N`` samples (frames x cameras), ``J`` joints, ``K`` the largest hop measured.

**Target-aware IG** (:func:`target_information_gain`). ``x_j`` is joint ``j``'s root-relative 2D
input (screen-normalised, ``x_j - x_root``), ``y_j`` its root-relative 3D camera-frame offset.
With all ``(x, y)`` treated as jointly Gaussian, the conditional entropy of ``y_j`` given the 2D
of the joints within ``k`` hops, ``S_k(j) = {i : d(i, j) <= k}``, is

.. math:: H_k(j) = \\tfrac12 \\log\\det\\big(2\\pi e\\, \\Sigma_{y_j | x_{S_k(j)}}\\big),\\quad
          \\Sigma_{y|x} = \\Sigma_{yy} - \\Sigma_{yx}\\Sigma_{xx}^{-1}\\Sigma_{xy}

(the residual covariance of the least-squares linear regression of ``y_j`` on ``x_S``). The gain
of hop ``k`` is what the ``k``-hop ring adds beyond the nearer hops, averaged over the non-root
joints (a joint without ``k``-hop neighbours gains 0):
``IG(k) = mean_j [H_{k-1}(j) - H_k(j)]`` in nats, with ``H_{-1}`` the marginal entropy.

**LookHops IG** (:func:`lookhops_information_gain`, after LookHops, arXiv 2012.15741). For feature
channel ``c`` and joint ``i`` the neighbourhood ``S_k(i)`` gets the distribution
``p_j = softmax_j(x_{jc} / sigma_c)`` and its entropy normalised by its maximum,
``e_{ikc} = H(p) / log|S_k(i)|`` (so the measure follows the shape of the neighbourhood, not its
size); ``P_{kc}`` is the histogram of ``e_{ikc}`` over samples and joints.
``IG(k) = mean_c KL(P_{kc} || P_{k-1,c})``: how much the distribution of neighbourhood
entropies moves when the ``k``-hop ring joins. It is defined from ``k = 2`` (a 0-hop
neighbourhood is one joint, whose entropy is 0 for every sample); ``IG(0), IG(1)`` are NaN.

**Fit** (:func:`fit_exponential`): least squares of ``log IG(k) = log a - b k`` over
``k = 1 .. fit_max`` (finite positive values only), ``d = exp(-b)`` (:func:`derive_squeeze`).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from skelgnn.layers.graph import hop_distances

__all__ = [
    "HopFit",
    "HopAnalysis",
    "pose_features",
    "target_information_gain",
    "lookhops_information_gain",
    "fit_exponential",
    "derive_squeeze",
    "squeeze_from_json",
    "analyze_hops",
]

_LOG_2PI_E = math.log(2.0 * math.pi * math.e)


@dataclass(frozen=True)
class HopFit:
    """``IG(k) ~ a exp(-b k)`` fitted on ``ks``; ``d = exp(-b)`` is the squeeze ratio."""

    a: float
    b: float
    d: float
    ks: tuple[int, ...]
    r2: float
    """coefficient of determination of the fit of ``log IG``."""


@dataclass(frozen=True)
class HopAnalysis:
    """Both measures on one dataset, with their fits."""

    source: str
    subjects: tuple[str, ...]
    num_samples: int
    frame_stride: int
    parents: tuple[int, ...]
    hops: tuple[int, ...]
    target_ig: tuple[float, ...]
    """nats per joint, hop ``k`` = ``hops[i]``."""
    lookhops_ig: tuple[float, ...]
    """nats, hop ``k`` = ``hops[i]`` (NaN at ``k < 2``)."""
    joints_with_hop: tuple[int, ...]
    """number of joints that have a neighbour exactly ``k`` hops away."""
    target_fit: HopFit
    lookhops_fit: HopFit
    notes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON (NaN -> None)."""
        out = asdict(self)
        out["lookhops_ig"] = [None if not math.isfinite(v) else v for v in self.lookhops_ig]
        return out

    def write_json(self, path: str | Path) -> Path:
        from skelgnn.fileio import atomic_write_text

        return atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")


def pose_features(keypoints_2d: np.ndarray, poses_3d: np.ndarray, image_size: tuple[int, int],
                  root: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(F, J, 2)`` pixels and ``(F, J, 3)`` root-relative metres -> ``(x, y)``: root-relative
    screen-normalised 2D ``(F, J, 2)`` (``2u/W``, ``2v/W`` minus the root's) and the 3D, float64."""
    w = float(image_size[0])
    x = np.asarray(keypoints_2d, dtype=np.float64) * (2.0 / w)
    x = x - x[:, root: root + 1]
    return x, np.asarray(poses_3d, dtype=np.float64)


def _within(parents: Sequence[int], k: int) -> np.ndarray:
    dist = hop_distances(parents).numpy()
    return (dist >= 0) & (dist <= k)  # (J, J) bool


def target_information_gain(x: np.ndarray, y: np.ndarray, parents: Sequence[int],
                            max_hop: int, root: int = 0, ridge: float = 1e-9) -> np.ndarray:
    """Target-aware IG per hop ``k = 0..max_hop`` (nats per non-root joint; module docstring).

    Args:
        x: ``(N, J, 2)`` root-relative 2D; y: ``(N, J, 3)`` root-relative 3D.
        ridge: added to the diagonal of the 2D covariance (the root's 2D is identically 0).

    Returns:
        ``(max_hop + 1,)`` float64.
    """
    n, j = x.shape[:2]
    z = np.concatenate([x.reshape(n, 2 * j), y.reshape(n, 3 * j)], axis=1)  # (N, 5J)
    z = z - z.mean(axis=0)
    cov = z.T @ z / max(1, n - 1)  # (5J, 5J)
    sxx = cov[: 2 * j, : 2 * j] + ridge * np.eye(2 * j)
    dist = hop_distances(parents).numpy()
    targets = [i for i in range(j) if i != root]
    ent = np.zeros((len(targets), max_hop + 2))  # H_{-1} .. H_{max_hop}
    for t, i in enumerate(targets):
        yi = slice(2 * j + 3 * i, 2 * j + 3 * i + 3)
        syy = cov[yi, yi]
        ent[t, 0] = 0.5 * (3 * _LOG_2PI_E + np.linalg.slogdet(syy)[1])
        for k in range(max_hop + 1):
            cols = np.flatnonzero(np.repeat((dist[i] >= 0) & (dist[i] <= k), 2))  # 2D columns
            sxy = cov[cols, yi]  # (S, 3)
            res = syy - sxy.T @ np.linalg.solve(sxx[np.ix_(cols, cols)], sxy)
            ent[t, k + 1] = 0.5 * (3 * _LOG_2PI_E + np.linalg.slogdet(res)[1])
    return (ent[:, :-1] - ent[:, 1:]).mean(axis=0)  # (K+1,)


def _neighbourhood_entropy(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``x`` ``(N, J)`` one channel, ``mask`` ``(J, J)`` -> ``(N, J)`` entropy of
    ``softmax_{j in mask[i]} x_j`` over its maximum ``log |mask[i]|`` (0 for one joint)."""
    xm = np.where(mask[None], x[:, None, :], -np.inf)  # (N, J, J)
    mx = xm.max(axis=-1, keepdims=True)
    e = np.where(mask[None], np.exp(xm - mx), 0.0)
    zsum = e.sum(axis=-1)
    p = e / zsum[..., None]
    h = -(p * np.where(mask[None], np.log(np.clip(p, 1e-300, None)), 0.0)).sum(axis=-1)
    size = mask.sum(axis=-1)  # (J,)
    return np.where(size > 1, h / np.log(np.maximum(size, 2)), 0.0)  # normalised to [0, 1]


def _kl_histograms(a: np.ndarray, b: np.ndarray, bins: int, eps: float = 1e-6) -> float:
    """``KL(P_a || P_b)`` of two samples' histograms on shared bins (``eps``-smoothed)."""
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    if hi <= lo:
        return 0.0
    edges = np.linspace(lo, hi, bins + 1)
    pa = np.histogram(a, edges)[0].astype(np.float64) + eps
    pb = np.histogram(b, edges)[0].astype(np.float64) + eps
    pa /= pa.sum()
    pb /= pb.sum()
    return float(np.sum(pa * np.log(pa / pb)))


def lookhops_information_gain(x: np.ndarray, parents: Sequence[int], max_hop: int,
                              bins: int = 64, chunk: int = 20000) -> np.ndarray:
    """LookHops-style IG per hop ``k = 0..max_hop`` (NaN for ``k < 2``; module docstring).

    Args:
        x: ``(N, J, C)`` features (here the root-relative 2D, ``C = 2``); each channel is scaled
            by its standard deviation before the softmax.

    Returns:
        ``(max_hop + 1,)`` float64.
    """
    n, j, c = x.shape
    scale = x.reshape(-1, c).std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    xs = x / scale
    out = np.zeros(max_hop + 1)
    out[:2] = np.nan
    for ch in range(c):
        ents = []
        for k in range(max_hop + 1):
            mask = _within(parents, k)
            ents.append(np.concatenate([_neighbourhood_entropy(xs[s: s + chunk, :, ch], mask)
                                        for s in range(0, n, chunk)]).ravel())
        for k in range(2, max_hop + 1):
            out[k] += _kl_histograms(ents[k], ents[k - 1], bins) / c
    return out


def fit_exponential(ig: Sequence[float] | np.ndarray, ks: Sequence[int] | None = None) -> HopFit:
    """Least squares of ``log IG(k) = log a - b k`` over ``ks`` (default every ``k >= 1``),
    skipping non-positive and non-finite values. Needs two usable points."""
    y = np.asarray(ig, dtype=np.float64)
    hops = list(range(1, len(y))) if ks is None else [int(k) for k in ks]
    use = [k for k in hops if 0 <= k < len(y) and np.isfinite(y[k]) and y[k] > 0]
    if len(use) < 2:
        raise ValueError(f"fit_exponential: need two positive IG values, found {len(use)} "
                         f"(IG = {y.tolist()})")
    kk = np.asarray(use, dtype=np.float64)
    ly = np.log(y[use])
    slope, intercept = np.polyfit(kk, ly, 1)
    pred = intercept + slope * kk
    ss_tot = float(((ly - ly.mean()) ** 2).sum())
    r2 = 1.0 - float(((ly - pred) ** 2).sum()) / ss_tot if ss_tot > 0 else 1.0
    b = -float(slope)
    return HopFit(a=float(math.exp(intercept)), b=b, d=float(math.exp(-b)), ks=tuple(use), r2=r2)


def derive_squeeze(ig: Sequence[float] | np.ndarray, ks: Sequence[int] | None = None,
                   lo: float = 0.05) -> float:
    """The squeeze ratio ``d = exp(-b)`` of the fit, clipped to ``[lo, 1]`` (the range
    :class:`~skelgnn.models.skelgnn.SkeletalGNNConfig` accepts)."""
    return float(min(1.0, max(lo, fit_exponential(ig, ks).d)))


def squeeze_from_json(path: str | Path, measure: str = "target") -> float:
    """``d`` from a ``hops.json`` written by ``skelgnn analyze hops`` (``measure`` 'target' or
    'lookhops'), clipped like :func:`derive_squeeze`; use it as ``--set model.squeeze=<d>``."""
    if measure not in ("target", "lookhops"):
        raise ValueError(f"measure must be 'target' or 'lookhops', got {measure!r}")
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return float(min(1.0, max(0.05, raw[f"{measure}_fit"]["d"])))


def analyze_hops(data_dir: str | Path | None, source: str = "det", max_hop: int | None = None,
                 fit_max: int = 5, frame_stride: int = 2, lookhops_samples: int = 40000,
                 seed: int = 0) -> HopAnalysis:
    """Both measures on the benchmark's training subjects (``split.json`` ``train``).

    Args:
        max_hop: largest hop measured (default: the skeleton's diameter).
        fit_max: the fits use ``k = 1 .. fit_max``.
        frame_stride: every n-th frame of every view.
        lookhops_samples: random samples (of the strided set) for the LookHops measure.
    """
    from skelgnn.data import load_benchmark, read_skeleton, read_split, resolve_data_dir

    root = resolve_data_dir(data_dir)
    subjects = read_split(root / "split.json")["train"]
    records = load_benchmark(root, source, subjects=subjects)
    xs, ys = [], []
    for rec in records:
        x, y = pose_features(rec.keypoints_2d[::frame_stride], rec.poses_3d[::frame_stride],
                             rec.image_size)
        xs.append(x)
        ys.append(y)
    x, y = np.concatenate(xs), np.concatenate(ys)  # (N, J, 2), (N, J, 3)
    parents = read_skeleton(root, source, num_joints=x.shape[1]).parents
    dist = hop_distances(parents).numpy()
    diameter = int(dist.max())
    k_max = diameter if max_hop is None else int(max_hop)
    tig = target_information_gain(x, y, parents, k_max)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(x), size=min(len(x), lookhops_samples), replace=False)
    lig = lookhops_information_gain(x[np.sort(pick)], parents, k_max)
    ks = list(range(1, min(fit_max, k_max) + 1))
    return HopAnalysis(
        source=source, subjects=tuple(subjects), num_samples=int(len(x)), frame_stride=frame_stride,
        parents=tuple(parents), hops=tuple(range(k_max + 1)),
        target_ig=tuple(float(v) for v in tig), lookhops_ig=tuple(float(v) for v in lig),
        joints_with_hop=tuple(int(((dist == k).sum(axis=1) > 0).sum()) for k in range(k_max + 1)),
        target_fit=fit_exponential(tig, ks), lookhops_fit=fit_exponential(lig, ks),
        notes={"lookhops_samples": int(len(pick)), "diameter": diameter,
               "features": "root-relative screen-normalised 2D (2u/W, 2v/W); targets "
                           "root-relative camera-frame 3D (m)",
               "target_ig_units": "nats per non-root joint",
               "fit": f"least squares on log IG over k = {ks[0]}..{ks[-1]}",
               "d_by_fit_range": {f"1..{m}": {"target": _safe_d(tig, range(1, m + 1)),
                                               "lookhops": _safe_d(lig, range(1, m + 1))}
                                  for m in range(3, k_max + 1)}})


def _safe_d(ig: np.ndarray, ks: Sequence[int]) -> float | None:
    try:
        return round(fit_exponential(ig, ks).d, 4)
    except ValueError:
        return None
