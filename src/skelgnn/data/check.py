"""``skelgnn data check``: load a benchmark directory, cross-check its files, and format the report.

Shape letters: ``F`` frames, ``J`` joints.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from skelgnn.data.benchmark import (action_category, available_sources, camera_table, cameras_for,
                                    positions_2d_path, positions_3d_path, read_actions, read_split,
                                    resolve_data_dir, views_for)
from skelgnn.data.npz import DATA_HINT
from skelgnn.data.readers import h36m_cameras, read_positions_2d, read_positions_3d
from skelgnn.geometry import Camera
from skelgnn.tables import format_table

__all__ = ["SubjectSummary", "CategorySummary", "SourceSummary", "BenchmarkReport", "check_benchmark",
           "format_benchmark_report"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubjectSummary:
    """One subject of the benchmark."""

    subject: str
    split: str
    """``train``, ``val`` (part of train, held out for model selection), ``test`` or ``-``."""
    sequences: int
    frames: int
    cameras: int
    camera_source: str
    """the Human3.6M subject whose extrinsics this subject uses, or ``-``."""


@dataclass(frozen=True)
class CategorySummary:
    """One action category (first word of the action keys)."""

    category: str
    sequences: int
    frames: int
    train_frames: int
    test_frames: int


@dataclass(frozen=True)
class SourceSummary:
    """One 2D source compared with the projection of the 3D through the cameras."""

    source: str
    path: str
    sequences: int
    truncated: int
    """sequences whose 2D ran past the 3D (truncated)."""
    mean_error_px: float
    """mean Euclidean distance over joints, frames and cameras."""
    max_error_px: float


@dataclass(frozen=True)
class BenchmarkReport:
    """What :func:`check_benchmark` found; ``problems`` empty means the data are consistent."""

    data_dir: str
    subjects: tuple[SubjectSummary, ...]
    categories: tuple[CategorySummary, ...]
    sources: tuple[SourceSummary, ...]
    camera_ids: tuple[str, ...]
    image_sizes: tuple[tuple[int, int], ...]
    split_file: bool
    actions_file: bool
    hard_subsets: tuple[tuple[str, int], ...]
    problems: tuple[str, ...] = field(default=())

    @property
    def num_sequences(self) -> int:
        return sum(s.sequences for s in self.subjects)

    @property
    def num_frames(self) -> int:
        return sum(s.frames for s in self.subjects)


def _match_h36m_subject(cams: list[Camera], table: Mapping[str, list[Camera]]) -> str:
    for name, ref in table.items():
        if len(ref) == len(cams) and all(
                np.allclose(a.orientation, b.orientation, atol=1e-6)
                and np.allclose(a.translation, b.translation, atol=1e-6) for a, b in zip(cams, ref)):
            return name
    return "-"


def check_benchmark(data_dir: str | Path | None, dataset: str = "cmu",
                    gt_tolerance_px: float = 0.01) -> BenchmarkReport:
    """Load and cross-check a benchmark directory.

    Reads the 3D file, every 2D source present (``data_2d_<dataset>_*.npz``), the camera table,
    and, when present, ``split.json``, ``actions.csv`` and the ``hard_*.json`` subsets. Projects
    the 3D through every camera (vectorised per subject and camera) and measures each 2D source
    against it; the ``gt`` source must match within ``gt_tolerance_px``.

    Raises:
        FileNotFoundError / ValueError: unreadable or malformed files (reader errors).

    Returns:
        A :class:`BenchmarkReport`; inconsistencies that do not stop loading (split vs data,
        actions.csv vs 3D lengths, GT reprojection above tolerance, bad hard-subset entries) are
        listed in ``problems``.
    """
    data_dir = resolve_data_dir(data_dir)
    problems: list[str] = []
    p3 = read_positions_3d(positions_3d_path(data_dir, dataset))
    cameras, cam_origin = camera_table(data_dir, dataset)
    subjects = sorted(p3)
    for subject in subjects:
        cameras_for(cameras, subject, cam_origin)
    sources = available_sources(data_dir, dataset)
    if not sources:
        raise FileNotFoundError(f"no 2D keypoints files data_2d_{dataset}_<source>.npz in {data_dir}; {DATA_HINT}")

    split_path = data_dir / "split.json"
    split = read_split(split_path) if split_path.is_file() else None
    set_of: dict[str, str] = {}
    if split is not None:
        for s in split["train"]:
            set_of[s] = "val" if s in split["val"] else "train"
        for s in split["test"]:
            set_of[s] = "test"
        missing = sorted(set(set_of) - set(subjects))
        if missing:
            problems.append(f"{split_path}: subjects {missing} have no data in the 3D file")
        unassigned = [s for s in subjects if s not in set_of]
        if unassigned:
            problems.append(f"{split_path}: subjects {unassigned} are in neither train nor test")

    h36m = h36m_cameras()
    subject_rows = []
    for subject in subjects:
        cams = cameras[subject]
        subject_rows.append(SubjectSummary(
            subject=subject, split=set_of.get(subject, "-"), sequences=len(p3[subject]),
            frames=sum(a.shape[0] for a in p3[subject].values()), cameras=len(cams),
            camera_source=_match_h36m_subject(cams, h36m)))

    cats: dict[str, list[int]] = {}
    for subject in subjects:
        for action, arr in p3[subject].items():
            row = cats.setdefault(action_category(action), [0, 0, 0, 0])
            row[0] += 1
            row[1] += arr.shape[0]
            if set_of.get(subject) in ("train", "val"):
                row[2] += arr.shape[0]
            elif set_of.get(subject) == "test":
                row[3] += arr.shape[0]
    category_rows = tuple(CategorySummary(c, *v) for c, v in sorted(cats.items()))

    actions_path = data_dir / "actions.csv"
    if actions_path.is_file():
        actions = read_actions(actions_path)
        seen = {a: s for s in subjects for a in p3[s]}
        for key in sorted(set(seen) - set(actions)):
            problems.append(f"{actions_path}: no row for action {key!r}")
        for key in sorted(set(actions) - set(seen)):
            problems.append(f"{actions_path}: action {key!r} is not in the 3D file")
        for key in sorted(set(actions) & set(seen)):
            info, frames = actions[key], p3[seen[key]][key].shape[0]
            if info.frames != frames:
                problems.append(f"{actions_path}: {key!r} has frames_60fps={info.frames}, the 3D has {frames}")
            if info.subject != seen[key] or info.category != action_category(key):
                problems.append(f"{actions_path}: {key!r} row says subject {info.subject}, category "
                                f"{info.category}; the 3D file has {seen[key]}, {action_category(key)}")

    # Project every subject's frames through each camera in one call.
    projections: dict[str, list[np.ndarray]] = {}
    for subject in subjects:
        world = np.concatenate(list(p3[subject].values()))  # (F_s, 17, 3)
        projections[subject] = [cam.project(cam.world_to_camera(world)) for cam in cameras[subject]]

    source_rows = []
    for source in sources:
        path = positions_2d_path(data_dir, source, dataset)
        p2, _ = read_positions_2d(path)
        total, count, worst, truncated, sequences = 0.0, 0, 0.0, 0, 0
        for subject in subjects:
            cams = cameras[subject]
            per_view: list[list[np.ndarray]] = [[] for _ in cams]
            for action, world in p3[subject].items():
                views = views_for(p2, path, subject, action, len(cams), world.shape[0])
                truncated += int(any(len(v) > world.shape[0] for v in p2[subject][action]))
                sequences += 1
                for c, v in enumerate(views):
                    per_view[c].append(v)
            for c in range(len(cams)):
                err = np.linalg.norm(np.concatenate(per_view[c]) - projections[subject][c], axis=-1)  # (F_s, 17)
                total += float(err.sum())
                count += err.size
                worst = max(worst, float(err.max()))
        extra = sorted(set(p2) - set(subjects))
        if extra:
            log.warning("%s: subjects %s have no 3D and are ignored", path, extra)
        summary = SourceSummary(source, str(path), sequences, truncated, total / count, worst)
        source_rows.append(summary)
        if source == "gt" and summary.max_error_px >= gt_tolerance_px:
            problems.append(f"{path}: GT 2D differs from the projection of the 3D by up to "
                            f"{summary.max_error_px:.4f} px; expected < {gt_tolerance_px} px")

    hard = []
    test_subjects = set(split["test"]) if split is not None else set(subjects)
    for hard_path in sorted(data_dir.glob("hard_*.json")):
        try:
            samples = json.loads(hard_path.read_text(encoding="utf-8"))["samples"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{hard_path}: expected a JSON object with a 'samples' list ({exc})") from exc
        bad = 0
        for entry in samples:
            try:
                subject, action, camera, frame = entry
                ok = (subject in test_subjects and action in p3.get(subject, {})
                      and 0 <= int(camera) < len(cameras[subject])
                      and 0 <= int(frame) < p3[subject][action].shape[0])
            except (TypeError, ValueError, KeyError):
                ok = False
            bad += not ok
        if bad:
            problems.append(f"{hard_path}: {bad} of {len(samples)} samples name no test sample")
        hard.append((hard_path.stem, len(samples)))

    first = cameras[subjects[0]]
    return BenchmarkReport(
        data_dir=str(data_dir), subjects=tuple(subject_rows), categories=category_rows,
        sources=tuple(source_rows), camera_ids=tuple(c.id for c in first),
        image_sizes=tuple(c.image_size for c in first), split_file=split is not None,
        actions_file=actions_path.is_file(), hard_subsets=tuple(hard), problems=tuple(problems))


def format_benchmark_report(report: BenchmarkReport, elapsed_s: float | None = None) -> str:
    """The text ``skelgnn data check`` prints: totals, the subject, category and 2D-source tables,
    the hard subsets, the time the check took (when ``elapsed_s`` is given), then the problems or
    ``OK``."""
    lines = [f"benchmark: {report.data_dir}",
             f"{len(report.subjects)} subjects, {report.num_sequences} sequences, "
             f"{report.num_frames} frames (x {len(report.camera_ids)} cameras = "
             f"{report.num_frames * len(report.camera_ids)} views)"]
    sizes = ", ".join(f"{cid} {w}x{h}" for cid, (w, h) in zip(report.camera_ids, report.image_sizes))
    lines += [f"cameras: {sizes}", "", format_table(
        ["subject", "set", "sequences", "frames", "cameras", "extrinsics of"],
        [[s.subject, s.split, s.sequences, s.frames, s.cameras, s.camera_source] for s in report.subjects])]
    if report.split_file:
        by_set: dict[str, list[str]] = {}
        for s in report.subjects:
            by_set.setdefault(s.split, []).append(s.subject)
        note = "  (val is part of train)" if "val" in by_set else ""
        lines.append("split: " + "; ".join(f"{k} {' '.join(v)}" for k, v in sorted(by_set.items())) + note)
    else:
        lines.append("split: no split.json")
    lines += ["", format_table(
        ["category", "sequences", "frames", "train frames", "test frames"],
        [[c.category, c.sequences, c.frames, c.train_frames, c.test_frames] for c in report.categories]),
        f"{len(report.categories)} categories; actions.csv: {'checked' if report.actions_file else 'absent'}",
        "", format_table(
        ["2D source", "sequences", "truncated", "mean err vs proj (px)", "max err (px)"],
        [[s.source, s.sequences, s.truncated, f"{s.mean_error_px:.4f}", f"{s.max_error_px:.6f}"]
         for s in report.sources])]
    gt = [s for s in report.sources if s.source == "gt"]
    if gt:
        lines.append(f"GT reprojection: max {gt[0].max_error_px:.6f} px (must be < 0.01 px)")
    if report.hard_subsets:
        lines.append("hard subsets: " + ", ".join(f"{name} ({n} samples)" for name, n in report.hard_subsets))
    if elapsed_s is not None:
        lines.append(f"checked in {elapsed_s:.1f} s")
    if report.problems:
        lines.append(f"\n{len(report.problems)} problem(s):")
        lines += [f"  - {p}" for p in report.problems]
    else:
        lines.append("OK")
    return "\n".join(lines)
