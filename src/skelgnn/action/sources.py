"""Where the clips' 3D comes from.

* ``gt3d``: ground-truth world 3D (Z up), root-relative: one sequence per (subject, action).
* ``gtcam``: ground-truth 3D in each camera's frame, root-relative (the lifter's target): four
  sequences per (subject, action).
* ``lifted``: the det 2D of each camera lifted by a checkpoint through
  :class:`skelgnn.infer.lifter.Lifter` (root-relative camera-frame metres, comparable with
  ``gtcam``). A single-frame lifter (receptive field 1) lifts only the frames the clips keep
  (every ``lift_step``-th); a temporal one lifts every frame in sequence mode and the clip cutter
  subsamples. Lifted sequences can be cached as ``.npz`` in ``cache_dir`` (outside the
  repository: the cache holds data derived from the benchmark), keyed by the checkpoint's bytes.

Shape letters: ``F`` frames, ``J`` joints (17).
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from skelgnn.action.clips import PoseSequence
from skelgnn.data import load_benchmark, positions_3d_path, read_positions_3d, resolve_data_dir

__all__ = ["SOURCES", "gt_world_sequences", "gt_camera_sequences", "lifted_sequences",
           "load_sequences"]

log = logging.getLogger(__name__)

SOURCES: tuple[str, ...] = ("gt3d", "gtcam", "lifted")
"""Names of the 3D sources."""

FPS = 60.0
"""Frame rate of the benchmark files."""


def gt_world_sequences(data_dir: str | Path | None, subjects: Sequence[str]) -> list[PoseSequence]:
    """Ground-truth world 3D minus the root joint, one sequence per (subject, action)."""
    data_dir = resolve_data_dir(data_dir)
    p3 = read_positions_3d(positions_3d_path(data_dir))
    out = []
    for subject in sorted(subjects):
        if subject not in p3:
            raise ValueError(f"unknown subject {subject!r}; available: {sorted(p3)}")
        for action, world in sorted(p3[subject].items()):
            out.append(PoseSequence(subject, action, -1, (world - world[:, :1]).astype(np.float32), FPS))
    return out


def gt_camera_sequences(data_dir: str | Path | None, subjects: Sequence[str]) -> list[PoseSequence]:
    """Ground-truth root-relative camera-frame 3D, one sequence per (subject, action, camera)."""
    records = load_benchmark(data_dir, source="gt", subjects=subjects)
    return [PoseSequence(r.subject, r.action, r.camera, r.poses_3d, FPS) for r in records]


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def lifted_sequences(data_dir: str | Path | None, subjects: Sequence[str], checkpoint: str | Path,
                     source_2d: str = "det", lift_step: int = 1, flip_test: bool = False,
                     cache_dir: Optional[str | Path] = None) -> list[PoseSequence]:
    """3D lifted by ``checkpoint`` from the ``source_2d`` keypoints of every camera.

    Args:
        lift_step: with a single-frame lifter, lift every ``lift_step``-th frame only (the
            returned sequences are then at ``60 / lift_step`` fps). Temporal lifters always lift
            every frame.
        flip_test: flip test-time augmentation (doubles the cost).
        cache_dir: directory of per-(checkpoint, source, step, flip, subject) ``.npz`` caches.
    """
    from skelgnn.infer.lifter import Lifter

    checkpoint = Path(checkpoint)
    lifter = Lifter.from_checkpoint(checkpoint, flip_test=flip_test)
    step = lift_step if lifter.receptive_field == 1 else 1
    tag = f"{_file_digest(checkpoint)}-{source_2d}-s{step}-f{int(flip_test)}"
    cache_of = {s: Path(cache_dir) / f"lifted-{tag}-{s}.npz" if cache_dir else None
                for s in sorted(subjects)}
    missing = [s for s, c in cache_of.items() if c is None or not c.is_file()]
    records = load_benchmark(data_dir, source=source_2d, subjects=missing) if missing else []
    out: list[PoseSequence] = []
    for subject, cache in cache_of.items():
        if cache is not None and subject not in missing:  # cached
            with np.load(cache) as z:
                for key in sorted(z.files):
                    cam, action = key.split("|", 1)
                    out.append(PoseSequence(subject, action, int(cam), z[key], FPS / step))
            continue
        arrays: dict[str, np.ndarray] = {}
        for r in (r for r in records if r.subject == subject):
            poses = lifter.predict(r.keypoints_2d[::step], r.image_size,  # (F / step, 17, 3)
                                   reframe=False)  # benchmark cameras: as evaluated
            arrays[f"{r.camera}|{r.action}"] = poses
            out.append(PoseSequence(subject, r.action, r.camera, poses, FPS / step))
        log.info("lifted %s with %s: %d sequences", subject, checkpoint.name, len(arrays))
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(cache.stem + ".tmp.npz")
            np.savez(tmp, **arrays)
            tmp.replace(cache)
    return out


def load_sequences(source: str, data_dir: str | Path | None, subjects: Sequence[str],
                   checkpoint: Optional[str | Path] = None, **lift_options) -> list[PoseSequence]:
    """The sequences of one :data:`SOURCES` entry (``lifted`` needs ``checkpoint``)."""
    if source == "gt3d":
        return gt_world_sequences(data_dir, subjects)
    if source == "gtcam":
        return gt_camera_sequences(data_dir, subjects)
    if source == "lifted":
        if checkpoint is None:
            raise ValueError("source 'lifted' needs a checkpoint")
        return lifted_sequences(data_dir, subjects, checkpoint, **lift_options)
    raise ValueError(f"unknown source {source!r}; expected one of {SOURCES}")
