"""The windowed training/evaluation dataset: ``R``-frame input windows and their centre-frame target.

Shape letters: ``B`` batch, ``F`` frames of a sequence, ``R`` receptive field (frames in one input
window), ``J`` joints.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from skelgnn.data.codec import PoseCodec
from skelgnn.data.benchmark import Sequence2D3D, action_category

__all__ = ["SampleLabels", "WindowDataset"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class SampleLabels:
    """Per-sample labels of a :class:`WindowDataset`, parallel ``(N,)`` arrays."""

    subject: np.ndarray
    action: np.ndarray
    category: np.ndarray
    camera: np.ndarray
    frame: np.ndarray
    sequence: np.ndarray
    """index of the sample's record in the dataset's record list."""

    def __len__(self) -> int:
        return int(self.frame.shape[0])

    def __getitem__(self, i: int) -> tuple[str, str, int, int]:
        """``(subject, action, camera, frame)`` of sample ``i``."""
        return str(self.subject[i]), str(self.action[i]), int(self.camera[i]), int(self.frame[i])


class WindowDataset(torch.utils.data.Dataset):
    """Input windows of ``R`` frames and the 3D pose of their centre frame.

    Everything is precomputed once: each record's 2D keypoints are encoded by ``codec`` and padded
    by ``(R - 1) / 2`` edge-replicated frames at both ends, then all sequences are stored in one
    contiguous ``(sum(F + R - 1), J, 2)`` float32 array; the targets in one ``(sum(F), J, 3)``
    array. A sample is a (sequence, frame) pair; frames ``0, stride, 2 stride, ...`` of every
    sequence are samples, so ``stride=2`` trains on every 2nd frame and ``stride=1`` (test)
    predicts every frame.

    Args:
        records: sequences from :func:`load_benchmark`.
        receptive_field: ``R``, odd, >= 1.
        stride: frame step between samples, >= 1.
        codec: the normalisation (default ``PoseCodec()``, screen mode).
    """

    def __init__(self, records: Sequence[Sequence2D3D], receptive_field: int = 1, stride: int = 1,
                 codec: PoseCodec | None = None) -> None:
        if isinstance(receptive_field, bool) or not isinstance(receptive_field, int) \
                or receptive_field < 1 or receptive_field % 2 == 0:
            raise ValueError(f"receptive_field must be an odd integer >= 1, found {receptive_field!r}")
        if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
            raise ValueError(f"stride must be an integer >= 1, found {stride!r}")
        if len(records) == 0:
            raise ValueError("WindowDataset needs at least one record, found none")
        self.receptive_field = receptive_field
        self.stride = stride
        self.codec = codec if codec is not None else PoseCodec()
        self.pad = (receptive_field - 1) // 2
        self.keys: list[tuple[str, str, int]] = [(r.subject, r.action, r.camera) for r in records]
        self.image_sizes: list[tuple[int, int]] = [(r.image_size[0], r.image_size[1]) for r in records]

        lengths = np.array([r.num_frames for r in records], dtype=np.int64)
        padded = lengths + 2 * self.pad
        self.input_offsets = np.concatenate([[0], np.cumsum(padded)]).astype(np.int64)
        self.target_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        num_joints = records[0].poses_3d.shape[1]
        self._inputs = np.empty((int(self.input_offsets[-1]), num_joints, 2), dtype=np.float32)
        self._targets = np.empty((int(self.target_offsets[-1]), num_joints, 3), dtype=np.float32)
        for s, rec in enumerate(records):
            if rec.keypoints_2d.shape[0] != rec.num_frames or rec.keypoints_2d.shape[1] != num_joints \
                    or rec.poses_3d.shape[1] != num_joints:
                raise ValueError(f"record {rec.subject} / {rec.action} / camera {rec.camera}: 2D "
                                 f"{rec.keypoints_2d.shape} and 3D {rec.poses_3d.shape} must share "
                                 f"F and J={num_joints}")
            x = self.codec.encode_2d(rec.keypoints_2d, rec.image_size)  # (F, J, 2)
            lo, hi = self.input_offsets[s], self.input_offsets[s + 1]
            self._inputs[lo:hi] = np.pad(x, ((self.pad, self.pad), (0, 0), (0, 0)), mode="edge")
            self._targets[self.target_offsets[s]:self.target_offsets[s + 1]] = self.codec.encode_3d(rec.poses_3d)

        counts = (lengths + stride - 1) // stride  # samples per sequence
        self.sample_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._seq = np.repeat(np.arange(len(records), dtype=np.int32), counts)  # (N,)
        local = np.arange(int(counts.sum()), dtype=np.int64) - self.sample_offsets[self._seq]
        self._frame = (local * stride).astype(np.int32)  # (N,)
        # Window of sample i: padded rows [start, start + R); padded row f + pad is frame f.
        self._window_start = self.input_offsets[self._seq] + self._frame  # (N,)
        self._target_row = self.target_offsets[self._seq] + self._frame  # (N,)
        self._window = np.arange(receptive_field, dtype=np.int64)
        log.info("WindowDataset: %d sequences, %d samples, R=%d, stride=%d, %.1f MiB",
                 len(records), len(self), receptive_field, stride,
                 (self._inputs.nbytes + self._targets.nbytes) / 2**20)

    def __len__(self) -> int:
        return int(self._seq.shape[0])

    @property
    def targets(self) -> np.ndarray:
        """``(N, J, 3)`` the encoded 3D target of every sample (a gathered copy)."""
        return self._targets[self._target_row]

    @property
    def num_sequences(self) -> int:
        return len(self.keys)

    def _check_indices(self, indices: Any) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64)
        n = len(self)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"sample index out of range 0..{n - 1}")
        return np.where(idx < 0, idx + n, idx)

    def batch(self, indices: Sequence[int] | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Gather samples with one fancy-indexing pass.

        Returns:
            ``inputs (B, R, J, 2)`` float32 and ``targets (B, J, 3)`` float32 tensors.
        """
        idx = self._check_indices(indices)
        rows = self._window_start[idx][:, None] + self._window  # (B, R)
        inputs = self._inputs[rows]  # (B, R, J, 2)
        targets = self._targets[self._target_row[idx]]  # (B, J, 3)
        return torch.from_numpy(inputs), torch.from_numpy(targets)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(inputs (R, J, 2), target (J, 3))`` of sample ``i``."""
        if not isinstance(i, (int, np.integer)):
            raise TypeError(f"WindowDataset index must be an int, found {type(i).__name__}; use batch()")
        inputs, targets = self.batch([int(i)])
        return inputs[0], targets[0]

    @cached_property
    def labels(self) -> SampleLabels:
        """``(subject, action, category, camera, frame, sequence)`` of every sample."""
        subjects = np.array([k[0] for k in self.keys])
        actions = np.array([k[1] for k in self.keys])
        categories = np.array([action_category(k[1]) for k in self.keys])
        cameras = np.array([k[2] for k in self.keys], dtype=np.int32)
        return SampleLabels(subject=subjects[self._seq], action=actions[self._seq],
                            category=categories[self._seq], camera=cameras[self._seq],
                            frame=self._frame.copy(), sequence=self._seq.copy())

    @staticmethod
    def action_category(action_key: str) -> str:
        """First word of an action key (see :func:`action_category`)."""
        return action_category(action_key)

    def find_samples(self, keys: Sequence[Sequence[Any]]) -> np.ndarray:
        """Sample indices of ``(subject, action, camera, frame)`` keys (e.g. a hard-pose subset).

        Raises:
            ValueError: a key names no sample of this dataset (unknown sequence, frame out of
                range, or a frame skipped by the stride).
        """
        where = {k: s for s, k in enumerate(self.keys)}
        out = np.empty(len(keys), dtype=np.int64)
        for n, key in enumerate(keys):
            subject, action, camera, frame = key
            s = where.get((str(subject), str(action), int(camera)))
            length = 0 if s is None else int(self.target_offsets[s + 1] - self.target_offsets[s])
            if s is None or not 0 <= int(frame) < length or int(frame) % self.stride:
                raise ValueError(f"sample {list(key)} is not in this dataset "
                                 f"({self.num_sequences} sequences, stride {self.stride})")
            out[n] = self.sample_offsets[s] + int(frame) // self.stride
        return out

    def sequences(self) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
        """Whole sequences for sequence-mode inference: ``(record index, inputs (F + R - 1, J, 2),
        targets (F, J, 3))``, tensors sharing memory with the dataset (do not modify)."""
        for s in range(self.num_sequences):
            lo, hi = self.input_offsets[s], self.input_offsets[s + 1]
            tlo, thi = self.target_offsets[s], self.target_offsets[s + 1]
            yield s, torch.from_numpy(self._inputs[lo:hi]), torch.from_numpy(self._targets[tlo:thi])
