"""Training views from virtual cameras: world-frame 3D projected into sampled cameras, with
optional detector-like noise (training for footage, docs/DESIGN.md).

Shape letters: ``F`` frames, ``J`` joints.

:func:`view_record` is the one place a world-frame sequence becomes a
:class:`~skelgnn.data.benchmark.Sequence2D3D` for a given camera: 2D = :func:`project_pixels`
of ``p_cam = R^T (p_world - t)``, target = ``p_cam`` minus the root joint, exactly as
:func:`~skelgnn.data.benchmark.load_benchmark` builds its targets (with a real Human3.6M camera it
reproduces the benchmark's ``gt`` 2D; ``tests/data/test_cameras.py`` pins it).
:func:`training_records` builds a run's training records from a
:class:`~skelgnn.train.config.DataConfig`: the fixed benchmark views (unless ``fixed_cameras`` is off),
detector-like noise on the views the run projects itself, and ``virtual_cameras`` virtual views
per sequence, drawn once per run (cached) from ``train.seed``.
"""
from __future__ import annotations

import dataclasses
import logging
import zlib
from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np

from skelgnn.data.benchmark import Sequence2D3D, load_benchmark, positions_3d_path
from skelgnn.data.bodyshape import BodyShape
from skelgnn.data.cameras import CameraSampler, camera_summary, project_pixels
from skelgnn.data.detnoise import DetectorNoise
from skelgnn.data.readers import read_positions_3d
from skelgnn.geometry import Camera

__all__ = ["VIRTUAL_CAMERA_BASE", "view_record", "sequence_rng", "virtual_records",
           "training_records"]

log = logging.getLogger(__name__)

VIRTUAL_CAMERA_BASE = 100
"""Camera index of a sequence's first virtual view (fixed views are 0..3)."""


def sequence_rng(seed: int, subject: str, action: str, salt: str = "") -> np.random.Generator:
    """A generator of one sequence, independent of which other sequences are loaded:
    ``default_rng([seed, crc32(salt/subject/action)])``."""
    return np.random.default_rng([int(seed), zlib.crc32(f"{salt}/{subject}/{action}".encode())])


def view_record(subject: str, action: str, camera_index: int, world: np.ndarray, camera: Camera,
                noise: Optional[DetectorNoise] = None,
                rng: Optional[np.random.Generator] = None) -> Sequence2D3D:
    """One view of a world-frame sequence ``world (F, J, 3)`` through ``camera``: 2D in pixels
    (plus ``noise`` drawn from ``rng`` when given) and the root-relative camera-frame target."""
    x_cam = camera.world_to_camera(world)  # (F, J, 3) float64
    uv = project_pixels(camera, x_cam)  # (F, J, 2)
    if noise is not None:
        if rng is None:
            raise ValueError("view_record: noise needs an rng")
        uv, _ = noise.apply(uv, rng)
    root = x_cam[:, :1]
    return Sequence2D3D(subject=subject, action=action, camera=int(camera_index),
                        keypoints_2d=uv.astype(np.float32), poses_3d=(x_cam - root).astype(np.float32),
                        trajectory=root[:, 0].astype(np.float32), image_size=camera.image_size,
                        calibration=camera)


def virtual_records(positions_3d: Mapping[str, Mapping[str, np.ndarray]], subjects: Sequence[str],
                    per_sequence: int, seed: int, sampler: Optional[CameraSampler] = None,
                    noise: Optional[DetectorNoise] = None,
                    body_shape: Optional[BodyShape] = None) -> list[Sequence2D3D]:
    """``per_sequence`` virtual views of every sequence of ``subjects`` (sorted), camera indices
    ``VIRTUAL_CAMERA_BASE + i``; cameras and noise drawn from :func:`sequence_rng`. With
    ``body_shape``, each view's 3D is first re-built with its own body proportions
    (:mod:`skelgnn.data.bodyshape`, drawn from a generator of their own, so the cameras and the
    noise are those of the same run without it)."""
    sampler = sampler or CameraSampler()
    out: list[Sequence2D3D] = []
    for subject in sorted(subjects):
        for action in sorted(positions_3d[subject]):
            world = np.asarray(positions_3d[subject][action], dtype=np.float64)
            rng = sequence_rng(seed, subject, action, "virtual")
            shape_rng = sequence_rng(seed, subject, action, "body")
            for i, (cam, _) in enumerate(sampler.sample_many(world, per_sequence, rng)):
                body = world if body_shape is None else body_shape.apply(world, shape_rng)
                out.append(view_record(subject, action, VIRTUAL_CAMERA_BASE + i, body, cam, noise, rng))
    return out


def training_records(root: Path, source: str, subjects: Sequence[str], virtual_cameras: int = 0,
                     det_noise: str = "none", fixed_cameras: bool = True,
                     seed: int = 0, body_shape: str = "none",
                     knee_opening: float = 15.0,
                     camera_height_max: float = 2.5) -> list[Sequence2D3D]:
    """The training records of a run (see the module docstring).

    With ``body_shape="varied"``, every virtual view gets its own body proportions
    (:class:`~skelgnn.data.bodyshape.BodyShape`, knees opened by U(0, ``knee_opening``)
    degrees); the fixed views keep the benchmark's. Virtual cameras stand 0.3 to
    ``camera_height_max`` metres high (:class:`~skelgnn.data.cameras.CameraSampler`'s other
    defaults).

    With ``det_noise="detector"``, :class:`DetectorNoise` is added to the virtual views and, with
    ``source="gt"``, to the fixed views too (the ``det`` source already carries the benchmark's
    synthetic detector).
    """
    if virtual_cameras < 0:
        raise ValueError(f"data.virtual_cameras must be >= 0, got {virtual_cameras}")
    if not fixed_cameras and virtual_cameras == 0:
        raise ValueError("data.fixed_cameras = false needs data.virtual_cameras > 0 (no views left)")
    if body_shape not in ("none", "varied"):
        raise ValueError(f"data.body_shape must be 'none' or 'varied', got {body_shape!r}")
    if body_shape != "none" and virtual_cameras == 0:
        raise ValueError("data.body_shape = 'varied' needs data.virtual_cameras > 0 (only the "
                         "views a run projects itself are reshaped)")
    noise = DetectorNoise() if det_noise == "detector" else None
    shape = (BodyShape(knee_extension_deg=(0.0, float(knee_opening))) if body_shape == "varied"
             else None)
    records: list[Sequence2D3D] = []
    if fixed_cameras:
        records = load_benchmark(root, source, subjects=subjects)
        if noise is not None and source == "gt":
            records = [dataclasses.replace(r, keypoints_2d=noise.apply(
                r.keypoints_2d, sequence_rng(seed, r.subject, r.action, f"fixed{r.camera}"))[0]
                .astype(np.float32)) for r in records]
    if virtual_cameras:
        p3 = read_positions_3d(positions_3d_path(root))
        sampler = CameraSampler(height=(0.3, float(camera_height_max)))
        extra = virtual_records(p3, subjects, virtual_cameras, seed, sampler=sampler, noise=noise,
                                body_shape=shape)
        log.info("virtual cameras: %d views (%s), detector noise %s, body shape %s", len(extra),
                 camera_summary([r.calibration for r in extra]), det_noise, body_shape)
        records = records + extra
    return records
