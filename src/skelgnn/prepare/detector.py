"""The synthetic 2D detector of the CMU benchmark: GT 2D plus swaps, jitter and outlier bursts.

Shape letters: ``F`` frames, ``J`` joints.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from skelgnn.skeleton import H36M17, Skeleton

__all__ = ["DetectorModel", "add_detector_noise"]


@dataclass(frozen=True)
class DetectorModel:
    """The synthetic 2D detector of the CMU benchmark (shared/data/cmu/README.md, "Synthetic
    detector"): GT 2D with occasional left/right limb swaps, plus AR(1) jitter and outlier bursts,
    all in pixels.

    * jitter per joint and axis: ``e_0 = sigma_j n_0``, ``e_t = rho e_(t-1) + sqrt(1 - rho^2)
      sigma_j n_t`` (stationary std ``sigma_j``);
    * outliers: per joint and frame a burst starts with probability ``burst_prob``, lasts
      ``U{1..burst_max_len}`` frames and displaces the joint by a fixed vector of uniform direction
      and length ``U(burst_min_px, burst_max_px)``; a later burst overrides an earlier one;
    * swaps: per frame and limb pair (knee + ankle, elbow + wrist) with probability ``swap_prob``
      the left and right limbs exchange positions for ``U{1..swap_max_len}`` frames.

    Random draws per (subject, action, camera), in this order: normal ``(F, J, 2)``; uniform
    ``(F, J)`` burst starts; integers ``(F, J)`` burst lengths; uniform ``(F, J)`` angles; uniform
    ``(F, J)`` magnitudes; uniform ``(F, 2)`` swap starts; integers ``(F, 2)`` swap lengths.
    """

    sigma: tuple[float, ...] = (3.0, 3.0, 4.0, 5.0, 3.0, 4.0, 5.0, 3.0, 3.0, 3.5, 3.5,
                                4.0, 5.0, 6.5, 4.0, 5.0, 6.5)
    """stationary jitter std per joint (px): 3.0 pelvis/hips/spine/thorax, 3.5 neck-nose/head,
    4.0 shoulders/knees, 5.0 elbows/ankles, 6.5 wrists."""
    rho: float = 0.7
    burst_prob: float = 0.01
    burst_max_len: int = 6
    burst_min_px: float = 15.0
    burst_max_px: float = 60.0
    swap_prob: float = 0.002
    swap_max_len: int = 4
    swap_pairs: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = (((5, 6), (2, 3)), ((12, 13), (15, 16)))
    """(left joints, right joints) of each limb pair: knee + ankle, elbow + wrist."""
    seed: int = 20211011

    def for_skeleton(self, skeleton: Skeleton) -> "DetectorModel":
        """This detector for another layout whose first joints are not necessarily
        :data:`H36M17`'s: a joint named like an H36M17 joint keeps that joint's jitter, any other
        takes its nearest such ancestor's (hand tips a wrist's, toes an ankle's); each limb swap
        pair also swaps the descendants of its joints that mirror each other (skeleton's left /
        right pairs). The 17-joint layout gives back an equal model."""
        by_name = dict(zip(H36M17.names, self.sigma))
        sigma, remap = [], {}
        for j in range(skeleton.num_joints):
            k = j
            while skeleton.names[k] not in by_name and skeleton.parents[k] != -1:
                k = skeleton.parents[k]
            sigma.append(by_name.get(skeleton.names[k], max(self.sigma)))
        for j, n in enumerate(H36M17.names):
            if n in skeleton.names:
                remap[j] = skeleton.names.index(n)
        flip = skeleton.flip_permutation()
        children = skeleton.children()
        pairs = []
        for left, right in self.swap_pairs:
            lj = [remap[j] for j in left if j in remap]
            rj = [remap[j] for j in right if j in remap]
            stack = list(lj)
            while stack:  # descendants of the left joints whose mirror is a descendant on the right
                for c in children[stack.pop()]:
                    if flip[c] != c and c not in lj:
                        lj.append(c)
                        rj.append(int(flip[c]))
                        stack.append(c)
            pairs.append((tuple(lj), tuple(rj)))
        return dataclasses.replace(self, sigma=tuple(sigma), swap_pairs=tuple(pairs))

    def apply(self, gt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Detections ``(F, J, 2)`` float64 for one view's GT ``(F, J, 2)`` pixels, drawing from
        ``rng`` in the documented order."""
        gt = np.asarray(gt, dtype=np.float64)
        f, j = gt.shape[:2]
        if len(self.sigma) != j:
            raise ValueError(f"DetectorModel: {len(self.sigma)} sigmas for {j} joints")
        sigma = np.asarray(self.sigma)[None, :, None]
        noise = rng.normal(size=(f, j, 2))
        burst_start = rng.uniform(size=(f, j)) < self.burst_prob
        burst_len = rng.integers(1, self.burst_max_len + 1, size=(f, j))
        angle = rng.uniform(0.0, 2.0 * np.pi, size=(f, j))
        length = rng.uniform(self.burst_min_px, self.burst_max_px, size=(f, j))
        swap_start = rng.uniform(size=(f, len(self.swap_pairs))) < self.swap_prob
        swap_len = rng.integers(1, self.swap_max_len + 1, size=(f, len(self.swap_pairs)))

        # AR(1) jitter: the recursion runs over frames; everything else is vectorised.
        jitter = np.empty((f, j, 2))
        jitter[0] = sigma[0] * noise[0]
        innovation = math.sqrt(1.0 - self.rho ** 2) * sigma[0] * noise
        for t in range(1, f):
            jitter[t] = self.rho * jitter[t - 1] + innovation[t]

        # Bursts: for each (frame, joint) the latest burst still running, if any.
        offset = np.zeros((f, j, 2))
        vec = np.stack([np.cos(angle), np.sin(angle)], axis=-1) * length[..., None]  # (F, J, 2)
        frames, joints = np.nonzero(burst_start)  # sorted by frame: later bursts written last
        for t0, jj in zip(frames.tolist(), joints.tolist()):
            offset[t0: t0 + burst_len[t0, jj], jj] = vec[t0, jj]

        det = gt.copy()
        swapped = np.zeros((f, len(self.swap_pairs)), dtype=bool)
        for t0, k in zip(*np.nonzero(swap_start)):
            swapped[t0: t0 + swap_len[t0, k], k] = True
        for k, (left, right) in enumerate(self.swap_pairs):
            rows = swapped[:, k]
            lj, rj = np.asarray(left, dtype=np.intp), np.asarray(right, dtype=np.intp)
            det[np.ix_(rows, lj)] = gt[np.ix_(rows, rj)]
            det[np.ix_(rows, rj)] = gt[np.ix_(rows, lj)]
        return det + jitter + offset


def add_detector_noise(positions_2d: Mapping[str, Mapping[str, Sequence[np.ndarray]]],
                       model: DetectorModel | None = None) -> dict[str, dict[str, list[np.ndarray]]]:
    """Synthetic detections for every view: one ``np.random.default_rng(model.seed)`` consumed in
    sorted subject, sorted action key, camera 0.. order (see :class:`DetectorModel`)."""
    model = model or DetectorModel()
    rng = np.random.default_rng(model.seed)
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    for subject in sorted(positions_2d):
        out[subject] = {}
        for action in sorted(positions_2d[subject]):
            out[subject][action] = [model.apply(view, rng) for view in positions_2d[subject][action]]
    return out
