"""BVH motion capture -> the benchmark's npz files (``skelgnn prepare bvh``).

The pipeline, each step a function:

1. :func:`read_bvh` parses a ``.bvh`` or ``.bvh.gz`` file into a :class:`BvhMotion` (hierarchy +
   motion channels, one numpy array);
2. :func:`forward_kinematics` turns the channels into joint positions (vectorised over frames);
3. a :class:`JointMap` (TOML; the CMU one is built in) names the BVH joint(s) behind each of the 17
   target joints, the units, the axes and the leading frames to drop; :func:`motion_to_joints`
   applies it and resamples to the output frame rate;
4. :func:`place_sequence` centres the pelvis track and puts the ankles above the floor;
5. :func:`prepare_bvh` does all files, names sequences (:func:`cmu_category` on the descriptions of
   ``CMU-INDEX.md``), assigns cameras, projects, optionally adds the synthetic detector
   (:class:`DetectorModel`), and writes ``data_3d_<name>.npz``, ``data_2d_<name>_gt.npz``
   (``_det.npz``), ``cameras.json`` and ``actions.csv``.

The reader and forward kinematics live in :mod:`skelgnn.prepare.bvh_reader`, the joint map and the
per-sequence conversion in :mod:`skelgnn.prepare.joint_map`, the detector in
:mod:`skelgnn.prepare.detector`; this module names the sequences, assigns cameras and writes the
benchmark (their public names are re-exported here).

Shape letters: ``F`` frames, ``J`` joints, ``C`` cameras.
"""
from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from skelgnn.fileio import atomic_write_text
from skelgnn.geometry import Camera
from skelgnn.prepare import (camera_table, project_views, write_camera_table, write_positions_2d,
                             write_positions_3d)
from skelgnn.prepare.bvh_reader import BvhMotion, euler_to_matrix, forward_kinematics, read_bvh
from skelgnn.prepare.detector import DetectorModel, add_detector_noise
from skelgnn.prepare.joint_map import (JointMap, fast_joint_frames, leading_rest_frames, load_joint_map,
                                       motion_to_joints, place_sequence)
from skelgnn.progress import ProgressMode, track
from skelgnn.skeleton import H36M17, skeleton_metadata

__all__ = [
    "BvhMotion",
    "read_bvh",
    "euler_to_matrix",
    "forward_kinematics",
    "JointMap",
    "load_joint_map",
    "leading_rest_frames",
    "motion_to_joints",
    "place_sequence",
    "fast_joint_frames",
    "CMU_CATEGORY_RULES",
    "cmu_category",
    "read_cmu_index",
    "sequence_keys",
    "assign_cameras",
    "DetectorModel",
    "add_detector_noise",
    "PreparedSequence",
    "PrepareResult",
    "find_bvh_files",
    "prepare_bvh",
]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# Naming: CMU action categories and sequence keys
# --------------------------------------------------------------------------------------------

CMU_CATEGORY_RULES: tuple[tuple[str, str], ...] = (
    (r"^playground\b.*\bclimb", "Climb"),
    (r"^playground\b.*\bjump", "Jump"),
    (r"\bdance\b", "Dance"),
    (r"\bbasketball\b", "Basketball"),
    (r"\bsoccer\b", "Soccer"),
    (r"\btai chi\b", "TaiChi"),
    (r"\bjumping jacks\b", "Exercise"),
    (r"\bjump up to grab\b", "Reach"),
    (r"\bjump", "Jump"),
    (r"\brun\b", "Run"),
    (r"\bwalk\b|\bnavigate\b", "Walk"),
    (r"\bclimb\b", "Climb"),
    (r"\bpunch\b|\bswordplay\b|\bboxing\b", "Fight"),
    (r"\bsit on\b", "Sit"),
    (r"\blaugh\b|\bdirect traffic\b|\bwave\b", "Expressions"),
    (r"\bdrink\b|\bwash\b|\bsweep\b|\bmop\b|\bscoop\b", "Everyday"),
)
"""``(regex, category)`` pairs; the first match on the lower-cased CMU description wins
(shared/data/cmu/README.md, "Action categories")."""

OTHER_CATEGORY = "Other"


def cmu_category(description: str) -> str:
    """Action category of a CMU description by :data:`CMU_CATEGORY_RULES` (``"Other"`` when no
    rule matches)."""
    text = description.lower()
    for pattern, category in CMU_CATEGORY_RULES:
        if re.search(pattern, text):
            return category
    return OTHER_CATEGORY


_INDEX_RE = re.compile(r"^\s*(\d+_\d+)\s+(.*?)\s*$")


def read_cmu_index(path: str | Path) -> dict[str, str]:
    """Trial descriptions of ``CMU-INDEX.md`` (lines ``NN_TT  description``): ``"07_01" -> "walk"``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CMU index not found: {path}")
    out = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _INDEX_RE.match(line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def sequence_keys(stem: str, parent: str = "") -> tuple[str, str]:
    """``(subject key, trial)`` of a BVH file: ``"07_03"`` -> ``("S07", "07_03")``; a name
    without ``<subject>_<trial>`` uses its parent directory as the subject."""
    m = re.match(r"^(\w+?)_(\w+)$", stem)
    subject = m.group(1) if m else (parent or "S")
    if subject.isdigit():
        subject = f"S{int(subject):02d}"
    return subject, stem


# --------------------------------------------------------------------------------------------
# Cameras
# --------------------------------------------------------------------------------------------

def _natural_key(text: str) -> tuple[Any, ...]:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text))


def assign_cameras(subjects: Iterable[str], table: Mapping[str, Sequence[Camera]]
                   ) -> tuple[dict[str, list[Camera]], dict[str, str]]:
    """Cameras for every subject.

    A table holding every subject is used as it is. Otherwise (e.g. the Human3.6M table, keyed
    S1 .. S11) its subjects are handed out in turn, cyclically in natural order (S1, S5, S6, S7,
    S8, S9, S11), over all subjects in sorted order: the benchmark's S01 -> S1, S02 -> S5, ...,
    S08 -> S11, S09 -> S1. (Mixing the two would be ambiguous: CMU's S11 is not Human3.6M's S11.)

    The cyclic hand-out depends on which subjects are converted: convert all of them, or pass a
    table with every subject (e.g. the benchmark's ``cameras.json``), to get the benchmark's cameras.

    Returns:
        ``(subject -> cameras, subject -> name of the table subject they came from)``.
    """
    if not table:
        raise ValueError("camera table is empty")
    subjects = sorted(subjects)
    if all(s in table for s in subjects):
        return {s: list(table[s]) for s in subjects}, {s: s for s in subjects}
    pool = sorted(table, key=_natural_key)
    origin = {s: pool[k % len(pool)] for k, s in enumerate(subjects)}
    return {s: list(table[origin[s]]) for s in subjects}, origin


# --------------------------------------------------------------------------------------------
# The whole directory
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PreparedSequence:
    """One converted file."""

    subject: str
    trial: str
    action: str
    """the action key, ``<Category> <trial>``."""
    category: str
    description: str
    path: str
    source_frames: int
    first_frame: int
    """first kept original frame (0-based)."""
    frames: int
    fast_joint_frames: int


@dataclass(frozen=True)
class PrepareResult:
    """What :func:`prepare_bvh` wrote."""

    out_dir: str
    files: tuple[str, ...]
    sequences: tuple[PreparedSequence, ...]
    camera_sources: dict[str, str] = field(default_factory=dict)
    """subject -> the camera-table subject whose extrinsics it uses."""

    @property
    def num_frames(self) -> int:
        return sum(s.frames for s in self.sequences)


def find_bvh_files(root: str | Path) -> list[Path]:
    """Every ``*.bvh`` / ``*.bvh.gz`` under ``root`` (recursively), sorted by name; a file given
    directly is returned alone."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"BVH directory not found: {root}")
    files = [p for p in root.rglob("*") if p.is_file() and (p.name.endswith(".bvh") or p.name.endswith(".bvh.gz"))]
    if not files:
        raise FileNotFoundError(f"no .bvh or .bvh.gz files under {root}")
    return sorted(files, key=lambda p: (p.name, str(p)))


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".bvh.gz", ".bvh"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def prepare_bvh(bvh_dir: str | Path, out_dir: str | Path, *, fps: float | None = 60.0,
                cameras: str | Path | Mapping[str, Sequence[Camera]] | None = None,
                joint_map: str | Path | JointMap | None = None, name: str = "cmu",
                index: str | Path | None = None, detector: DetectorModel | None = None,
                floor_height: float = 0.08, progress: ProgressMode = False,
                force: bool = False) -> PrepareResult:
    """Convert a directory of BVH files into a benchmark directory.

    Args:
        bvh_dir: directory searched recursively for ``.bvh`` / ``.bvh.gz`` (or one file).
        out_dir: where ``data_3d_<name>.npz``, ``data_2d_<name>_gt.npz`` (and ``_det.npz`` with
            a ``detector``), ``cameras.json`` and ``actions.csv`` are written.
        fps: output frame rate (every ``source fps / fps``-th frame; ``None`` keeps all).
        cameras: a ``cameras.json`` path or a ``subject -> cameras`` table; subjects not in it get
            its subjects cyclically (:func:`assign_cameras`). Default: the built-in Human3.6M table.
        joint_map: a :class:`JointMap` or TOML path; default the built-in CMU map.
        name: dataset name in the file names.
        index: ``CMU-INDEX.md`` with the trial descriptions (default: ``<bvh_dir>/CMU-INDEX.md``
            when present). A trial with a description gets the category of
            :func:`cmu_category` (``Other`` when no rule matches); one without (or with no index)
            gets ``Unknown``, so its action key is ``Unknown <trial>``.
        detector: also write ``data_2d_<name>_det.npz`` with this synthetic detector.
        floor_height: height of the lowest ankle over a sequence (metres).
        progress: a bar or log lines (:mod:`skelgnn.progress`).
        force: replace the benchmark files ``out_dir`` already holds (by default that is
            refused before any work); an old ``data_2d_<name>_det.npz`` is then removed when no
            ``detector`` writes a new one, so the directory never mixes two preparations.

    Raises:
        FileExistsError: ``out_dir`` already holds benchmark files of ``name`` and ``force`` is
            off.
        FileNotFoundError: missing directory, files, joint map, index or camera table.
        ValueError: an unreadable BVH, a map naming a missing joint, two files with one action
            key, or an unreachable frame rate (messages name the file).
    """
    if not re.match(r"^\w+$", name):
        raise ValueError(f"--name must be a word like 'cmu', found {name!r}")
    out = Path(out_dir)
    owned = [out / f"data_3d_{name}.npz", out / f"data_2d_{name}_gt.npz",
             out / f"data_2d_{name}_det.npz", out / "cameras.json", out / "actions.csv"]
    present = [p for p in owned if p.exists()]
    if present and not force:
        raise FileExistsError(f"{out} already holds a benchmark ({', '.join(p.name for p in present)}); "
                              "pass --force to replace it or choose another --out")
    bvh_dir = Path(bvh_dir)
    files = find_bvh_files(bvh_dir)
    jmap = joint_map if isinstance(joint_map, JointMap) else load_joint_map(joint_map)
    if index is None and bvh_dir.is_dir() and (bvh_dir / "CMU-INDEX.md").is_file():
        index = bvh_dir / "CMU-INDEX.md"
    descriptions = read_cmu_index(index) if index is not None else {}
    table, table_origin = camera_table(cameras)
    target = jmap.target
    feet = tuple(target.names.index(f) for f in jmap.floor_joints)
    metadata = None if target == H36M17 else skeleton_metadata(target, jmap.name)
    if detector is not None and len(detector.sigma) != target.num_joints:
        detector = detector.for_skeleton(target)

    iterator: Iterable[Path] = track(files, "prepare bvh", len(files), "file", progress)
    poses: dict[str, dict[str, np.ndarray]] = {}
    sequences: list[PreparedSequence] = []
    for path in iterator:
        stem = _stem(path)
        subject, trial = sequence_keys(stem, path.parent.name)
        motion = read_bvh(path)
        world, start, _ = motion_to_joints(motion, jmap, fps)
        world = place_sequence(world, floor_height, root=target.root, feet=feet)
        description = descriptions.get(trial, "Unknown")
        category = cmu_category(description) if trial in descriptions else "Unknown"
        action = f"{category} {trial}"
        if action in poses.get(subject, {}):
            raise ValueError(f"{path}: action key {action!r} of subject {subject} comes from two files")
        poses.setdefault(subject, {})[action] = world
        out_fps = fps if fps is not None else motion.fps
        sequences.append(PreparedSequence(
            subject=subject, trial=trial, action=action, category=category, description=description,
            path=str(path), source_frames=motion.num_frames, first_frame=start, frames=world.shape[0],
            fast_joint_frames=fast_joint_frames(world, out_fps)))
        log.debug("%s: %d -> %d frames, first kept %d", path, motion.num_frames, world.shape[0], start)

    cams, cam_origin = assign_cameras(poses, table)
    gt = {s: {a: project_views(w, cams[s]) for a, w in acts.items()} for s, acts in poses.items()}

    out.mkdir(parents=True, exist_ok=True)
    stale_det = out / f"data_2d_{name}_det.npz"
    if detector is None and stale_det.exists():  # --force without a detector: no old det file
        stale_det.unlink()
    written = [write_positions_3d(out / f"data_3d_{name}.npz", poses),
               write_positions_2d(out / f"data_2d_{name}_gt.npz", gt, metadata)]
    if detector is not None:
        written.append(write_positions_2d(out / f"data_2d_{name}_det.npz", add_detector_noise(gt, detector),
                                          metadata))
    mapping = ", ".join(f"{s}->{o}" for s, o in sorted(cam_origin.items()))
    written.append(write_camera_table(out / "cameras.json", cams,
                                      f"{table_origin}; subject -> camera subject: {mapping}"))
    written.append(_write_actions(out / "actions.csv", sequences))
    seqs = tuple(sorted(sequences, key=lambda s: (s.subject, s.trial)))
    log.info("prepared %d sequences (%d frames) into %s", len(seqs), sum(s.frames for s in seqs), out)
    return PrepareResult(out_dir=str(out), files=tuple(str(p) for p in written), sequences=seqs,
                         camera_sources=cam_origin)


def _write_actions(path: Path, sequences: Sequence[PreparedSequence]) -> Path:
    """``actions.csv`` in the benchmark's columns (``frames_60fps`` holds the output frame count)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["subject", "trial", "category", "description", "frames_60fps", "action_key",
                     "fast_joint_frames"])
    for s in sorted(sequences, key=lambda s: (s.subject, s.trial)):
        trial = s.trial.split("_", 1)[1] if "_" in s.trial else s.trial
        writer.writerow([s.subject, trial, s.category, s.description, s.frames, s.action, s.fast_joint_frames])
    return atomic_write_text(path, buf.getvalue())
