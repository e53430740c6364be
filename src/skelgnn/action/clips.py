"""Fixed-length clips cut from 3D pose sequences, labelled by action category.

A sequence at ``fps_in`` frames per second is resampled to ``spec.fps`` by keeping every
``step = fps_in / spec.fps``-th frame, then cut into windows of ``T = seconds * fps`` frames
every ``stride_seconds``. A sequence shorter than one window but at least ``min_seconds`` long
gives one clip, edge-replicated at its end to ``T`` frames (CMU's ``Run`` sequences last about a
second); shorter ones give none.

Shape letters: ``N`` clips, ``T`` frames per clip, ``J`` joints, ``C`` coordinates (3).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from skelgnn.data import action_category, read_actions, read_split

__all__ = ["ClipSpec", "PoseSequence", "ClipSet", "window_starts", "cut_clips", "make_clip_set",
           "read_labels", "labels_for", "split_subjects"]


@dataclass(frozen=True)
class ClipSpec:
    """How clips are cut: ``seconds`` long (2-4 s), at ``fps``, one every ``stride_seconds``."""

    seconds: float = 3.0
    fps: float = 15.0
    stride_seconds: float = 1.0
    min_seconds: float = 1.0

    def __post_init__(self) -> None:
        if not (self.seconds > 0 and self.fps > 0 and self.stride_seconds > 0):
            raise ValueError(f"ClipSpec: seconds, fps and stride_seconds must be > 0, got {self}")
        if not 0 < self.min_seconds <= self.seconds:
            raise ValueError(f"ClipSpec: need 0 < min_seconds <= seconds, got {self}")

    @property
    def frames(self) -> int:
        """``T``, frames per clip."""
        return max(1, int(round(self.seconds * self.fps)))

    @property
    def stride(self) -> int:
        return max(1, int(round(self.stride_seconds * self.fps)))

    @property
    def min_frames(self) -> int:
        return max(1, int(round(self.min_seconds * self.fps)))


@dataclass(frozen=True, eq=False)
class PoseSequence:
    """One 3D sequence: ``poses`` ``(F, J, C)`` at ``fps``, of ``subject`` / ``action`` seen by
    ``camera`` (``-1`` for world coordinates)."""

    subject: str
    action: str
    camera: int
    poses: np.ndarray
    fps: float = 60.0


@dataclass(frozen=True, eq=False)
class ClipSet:
    """Clips with their labels; arrays parallel along ``N``.

    Attributes:
        poses: ``(N, T, J, C)`` float32.
        labels: ``(N,)`` int64 index into ``classes``.
        classes: class names.
        subjects, actions: ``(N,)`` str; cameras, starts: ``(N,)`` int64 (start frame at clip fps).
    """

    poses: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    subjects: np.ndarray
    actions: np.ndarray
    cameras: np.ndarray
    starts: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, mask: np.ndarray) -> "ClipSet":
        return ClipSet(self.poses[mask], self.labels[mask], self.classes, self.subjects[mask],
                       self.actions[mask], self.cameras[mask], self.starts[mask])

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.classes))
        return {c: int(n) for c, n in zip(self.classes, counts)}


def window_starts(num_frames: int, spec: ClipSpec) -> list[int]:
    """Start frames (at clip fps) of the windows of a ``num_frames`` sequence."""
    t = spec.frames
    if num_frames >= t:
        return list(range(0, num_frames - t + 1, spec.stride))
    return [0] if num_frames >= spec.min_frames else []


def cut_clips(poses: np.ndarray, fps_in: float, spec: ClipSpec) -> tuple[np.ndarray, np.ndarray]:
    """Resample ``(F, J, C)`` to ``spec.fps`` and cut it: ``(n, T, J, C)`` clips and ``(n,)`` starts.

    Raises:
        ValueError: ``fps_in`` is not a whole multiple of ``spec.fps``.
    """
    ratio = fps_in / spec.fps
    step = int(round(ratio))
    if step < 1 or abs(ratio - step) > 1e-6:
        raise ValueError(f"sequence fps {fps_in:g} is not a whole multiple of clip fps {spec.fps:g}")
    x = np.asarray(poses, dtype=np.float32)[::step]
    starts = window_starts(x.shape[0], spec)
    t = spec.frames
    if x.shape[0] < t and starts:
        x = np.concatenate([x, np.repeat(x[-1:], t - x.shape[0], axis=0)])
    clips = np.stack([x[s:s + t] for s in starts]) if starts else np.zeros((0, t, *x.shape[1:]), np.float32)
    return clips, np.asarray(starts, dtype=np.int64)


def make_clip_set(sequences: Iterable[PoseSequence], labels: dict[str, str],
                  classes: Sequence[str], spec: ClipSpec) -> ClipSet:
    """Cut every sequence into clips labelled ``labels[action]`` (its category).

    Raises:
        ValueError: an action without a label, or a label not among ``classes``.
    """
    index = {c: i for i, c in enumerate(classes)}
    parts: list[np.ndarray] = []
    meta: list[tuple[int, str, str, int, np.ndarray]] = []
    for seq in sequences:
        if seq.action not in labels:
            raise ValueError(f"no action label for {seq.action!r} (subject {seq.subject})")
        label = labels[seq.action]
        if label not in index:
            raise ValueError(f"label {label!r} of {seq.action!r} is not one of the classes {list(classes)}")
        clips, starts = cut_clips(seq.poses, seq.fps, spec)
        if len(starts):
            parts.append(clips)
            meta.append((index[label], seq.subject, seq.action, seq.camera, starts))
    if not parts:
        raise ValueError("no clips: every sequence is shorter than ClipSpec.min_seconds")
    n = [len(m[4]) for m in meta]
    return ClipSet(
        poses=np.concatenate(parts).astype(np.float32),
        labels=np.repeat([m[0] for m in meta], n).astype(np.int64),
        classes=tuple(classes),
        subjects=np.repeat([m[1] for m in meta], n),
        actions=np.repeat([m[2] for m in meta], n),
        cameras=np.repeat([m[3] for m in meta], n).astype(np.int64),
        starts=np.concatenate([m[4] for m in meta]))


def read_labels(data_dir: str | Path) -> dict[str, str]:
    """``action_key -> category`` from the benchmark's ``actions.csv`` (empty without that file:
    :func:`labels_for` then falls back to the key's first word, as keys read
    ``'<Category> <subject>_<trial>'``)."""
    path = Path(data_dir) / "actions.csv"
    if not path.is_file():
        return {}
    return {key: info.category for key, info in read_actions(path).items()}


def labels_for(actions: Iterable[str], table: dict[str, str]) -> dict[str, str]:
    """Label each action from ``table``, falling back to the action key's first word."""
    return {a: table.get(a, action_category(a)) for a in actions}


def split_subjects(data_dir: str | Path, part: str, holdout_val: bool = False) -> list[str]:
    """Subjects of ``part`` (``"train"``, ``"test"`` or ``"val"``) of the benchmark's
    ``split.json``; with ``holdout_val``, ``train`` leaves out the ``val`` subjects."""
    split = read_split(Path(data_dir) / "split.json")
    if part not in split:
        raise ValueError(f"unknown split part {part!r}; expected train, test or val")
    subjects = split[part]
    if part == "train" and holdout_val:
        subjects = [s for s in subjects if s not in split["val"]]
    return list(subjects)
