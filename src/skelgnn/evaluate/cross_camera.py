"""The cross-camera test (training for footage, docs/DESIGN.md): the test subjects' world 3D seen through a fixed,
seeded set of novel cameras unlike the benchmark's four Human3.6M cameras, with detector-like
2D noise, and any checkpoint scored on it per camera kind.

Shape letters: ``N`` samples, ``F`` frames, ``J`` joints.

Camera kinds (:data:`NOVEL_KINDS`, one camera of each per test sequence, drawn by
:class:`~skelgnn.data.cameras.CameraSampler` from ``sequence_rng(seed, subject, action,
"novel-<kind>")``):

==============  ===================================================================
phone_portrait  1080x1920-class portrait phone, 62-78 deg across the long side, 1.2-1.7 m high, 2.5-4.5 m
low_view        webcam at 0.3-0.6 m looking up (elevation -10..0 deg), 3-6 m
high_view       landscape phone 2.0-3.5 m high looking down 40-60 deg, 2-4 m
wide_lens       action camera, 90-120 deg, 2-3.5 m
long_lens       phone telephoto, 18-28 deg, 7-10 m
near_edge       landscape phone, the person's centre 60-80% of the half width off-centre
==============  ===================================================================

2D noise (``noise``): ``"benchmark"`` (default) is the benchmark's own synthetic detector
(:class:`skelgnn.prepare.detector.DetectorModel`: AR(1) jitter, outlier bursts, limb swaps)
with its pixel sizes scaled by the person's height over :data:`REFERENCE_PERSON_PX`, the
person's median height in the benchmark's Human3.6M views, so the noise is what the old
checkpoints were trained on and only the cameras are new; ``"detector"`` is the training
augmentation's :class:`~skelgnn.data.detnoise.DetectorNoise`; ``"none"`` the exact projection.
Scores are P1 / P2 in mm per camera kind and over all samples; flip TTA as given.
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from skelgnn.data.benchmark import positions_3d_path, read_split, resolve_data_dir
from skelgnn.data.cameras import CameraSampler
from skelgnn.data.detnoise import DetectorNoise, person_height
from skelgnn.data.readers import read_positions_3d
from skelgnn.data.virtual import sequence_rng, view_record

__all__ = ["NOVEL_KINDS", "NOISE_KINDS", "REFERENCE_PERSON_PX", "novel_records",
           "evaluate_cross_camera", "format_cross_camera"]

log = logging.getLogger(__name__)

NOVEL_KINDS: dict[str, CameraSampler] = {
    "phone_portrait": CameraSampler(kinds=("phone_portrait",), height=(1.2, 1.7),
                                    distance=(2.5, 4.5), elevation=(-5.0, 15.0), edge=0.2),
    "low_view": CameraSampler(kinds=("webcam",), height=(0.3, 0.6), distance=(3.0, 6.0),
                              elevation=(-10.0, 0.0), edge=0.2),
    "high_view": CameraSampler(kinds=("phone_landscape",), height=(2.0, 3.5), distance=(2.0, 4.0),
                               elevation=(40.0, 60.0), edge=0.2),
    "wide_lens": CameraSampler(kinds=("action",), height=(0.8, 2.0), distance=(2.0, 3.5),
                               elevation=(0.0, 20.0), edge=0.3),
    "long_lens": CameraSampler(kinds=("tele",), height=(0.8, 2.0), distance=(7.0, 10.0),
                               elevation=(0.0, 10.0), edge=0.2),
    "near_edge": CameraSampler(kinds=("phone_landscape",), height=(1.0, 1.8), distance=(3.0, 6.0),
                               elevation=(0.0, 20.0), edge=0.8, edge_min=0.6, edge_y=0.15),
}
"""The novel camera kinds (module docstring)."""

NOISE_KINDS = ("benchmark", "detector", "none")

REFERENCE_PERSON_PX = 300.0
"""Median person height (pixels, :func:`person_height`) in the benchmark's Human3.6M ``gt``
views, which the benchmark detector's pixel sizes were chosen for (measured over all 568 views
of data_2d_cmu_gt.npz: median 300 px, 10th-90th percentile 267-377 px)."""

DEFAULT_SEED = 16


def _benchmark_noise(uv: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from skelgnn.prepare.detector import DetectorModel

    base = DetectorModel()
    scale = person_height(uv) / REFERENCE_PERSON_PX
    model = dataclasses.replace(base, sigma=tuple(s * scale for s in base.sigma),
                                burst_min_px=base.burst_min_px * scale,
                                burst_max_px=base.burst_max_px * scale)
    return model.apply(uv, rng)


def novel_records(data_dir: Optional[str | Path] = None, subjects: Optional[Sequence[str]] = None,
                  kinds: Sequence[str] = tuple(NOVEL_KINDS), noise: str = "benchmark",
                  seed: int = DEFAULT_SEED, max_frames: int = 0) -> list:
    """The cross-camera test records: one view per (test sequence, camera kind), camera index =
    the kind's position in :data:`NOVEL_KINDS`; each sequence cut to its first ``max_frames``
    frames when ``max_frames > 0``."""
    if noise not in NOISE_KINDS:
        raise ValueError(f"noise must be one of {list(NOISE_KINDS)}, got {noise!r}")
    unknown = [k for k in kinds if k not in NOVEL_KINDS]
    if unknown:
        raise ValueError(f"unknown camera kinds {unknown}; known: {list(NOVEL_KINDS)}")
    root = resolve_data_dir(data_dir)
    if subjects is None:
        subjects = read_split(root / "split.json")["test"]
    p3 = read_positions_3d(positions_3d_path(root))
    missing = [s for s in subjects if s not in p3]
    if missing:
        raise ValueError(f"subjects {missing} are not in {positions_3d_path(root)}; available: {sorted(p3)}")
    names = list(NOVEL_KINDS)
    out = []
    for subject in sorted(subjects):
        for action in sorted(p3[subject]):
            world = np.asarray(p3[subject][action], dtype=np.float64)
            if max_frames > 0:
                world = world[:max_frames]
            for kind in kinds:
                rng = sequence_rng(seed, subject, action, f"novel-{kind}")
                cam, _ = NOVEL_KINDS[kind].sample(world, rng, f"novel-{kind}")
                rec = view_record(subject, action, names.index(kind), world, cam)
                if noise == "benchmark":
                    uv = _benchmark_noise(rec.keypoints_2d, rng)
                elif noise == "detector":
                    uv = DetectorNoise().apply(rec.keypoints_2d, rng)[0]
                else:
                    uv = rec.keypoints_2d
                out.append(dataclasses.replace(rec, keypoints_2d=np.asarray(uv, np.float32)))
    return out


def evaluate_cross_camera(checkpoint: str | Path, data_dir: Optional[str | Path] = None,
                          noise: str = "benchmark", seed: int = DEFAULT_SEED, max_frames: int = 0,
                          flip_test: bool = True, subjects: Optional[Sequence[str]] = None,
                          progress: bool = False) -> dict[str, Any]:
    """Score a checkpoint on the cross-camera test: ``p1``, ``p2`` over all samples, the mean of
    the kinds (``p1_kinds``, ``p2_kinds``), ``per_kind`` ``{kind: {p1, p2, samples, hfov_deg,
    height_m, in_image}}`` and the set's description."""
    import math

    from skelgnn.models.checkpoint import load_model
    from skelgnn.data.windows import WindowDataset
    from skelgnn.metrics import mpjpe, p_mpjpe
    from skelgnn.models.predict import predict_sequences
    from skelgnn.skeleton import H36M17

    model, codec, info = load_model(checkpoint)
    records = novel_records(data_dir, subjects, noise=noise, seed=seed, max_frames=max_frames)
    dataset = WindowDataset(records, model.receptive_field, stride=1, codec=codec)
    pred, target = predict_sequences(model, dataset, flip_test, progress=progress, skeleton=H36M17)
    e1 = np.asarray(mpjpe(pred * 1000.0, target * 1000.0), dtype=np.float64)
    e2 = np.asarray(p_mpjpe(pred.astype(np.float64) * 1000.0, target.astype(np.float64) * 1000.0))
    cams = dataset.labels.camera
    names = list(NOVEL_KINDS)
    per_kind: dict[str, Any] = {}
    for k, name in enumerate(names):
        sel = cams == k
        recs = [r for r in records if r.camera == k]
        inside = np.mean([np.mean((r.keypoints_2d[..., 0] >= 0) & (r.keypoints_2d[..., 0] < r.image_size[0])
                                  & (r.keypoints_2d[..., 1] >= 0) & (r.keypoints_2d[..., 1] < r.image_size[1]))
                          for r in recs])
        per_kind[name] = {
            "p1": float(e1[sel].mean()), "p2": float(e2[sel].mean()), "samples": int(sel.sum()),
            "hfov_deg": float(np.mean([math.degrees(2 * math.atan(r.image_size[0] / 2 / r.calibration.fx))
                                       for r in recs])),
            "height_m": float(np.mean([r.calibration.translation[2] for r in recs])),
            "person_px": float(np.median([person_height(r.keypoints_2d) for r in recs])),
            "in_image": float(inside)}
    return {"checkpoint": Path(checkpoint).name, "model": info.get("preset", info.get("arch", "?")),
            "p1": float(e1.mean()), "p2": float(e2.mean()),
            "p1_kinds": float(np.mean([v["p1"] for v in per_kind.values()])),
            "p2_kinds": float(np.mean([v["p2"] for v in per_kind.values()])),
            "per_kind": per_kind, "samples": int(e1.shape[0]), "sequences": len(records) // len(names),
            "subjects": sorted({r.subject for r in records}), "noise": noise, "seed": seed,
            "max_frames": max_frames, "tta": bool(flip_test)}


def format_cross_camera(result: dict[str, Any]) -> str:
    """A table of :func:`evaluate_cross_camera`'s figures."""
    lines = [f"cross-camera test: {result['checkpoint']} ({result['model']}), noise {result['noise']}, "
             f"seed {result['seed']}, {result['sequences']} sequences x {len(result['per_kind'])} "
             f"cameras, {result['samples']} samples, flip TTA {'on' if result['tta'] else 'off'}",
             f"{'camera kind':16s} {'P1 (mm)':>9s} {'P2 (mm)':>9s} {'samples':>8s} {'hfov':>6s} "
             f"{'height':>7s} {'person':>7s} {'in img':>7s}"]
    for name, row in result["per_kind"].items():
        lines.append(f"{name:16s} {row['p1']:9.1f} {row['p2']:9.1f} {row['samples']:8d} "
                     f"{row['hfov_deg']:6.0f} {row['height_m']:6.2f}m {row['person_px']:5.0f}px "
                     f"{100 * row['in_image']:6.1f}%")
    lines.append(f"{'all samples':16s} {result['p1']:9.1f} {result['p2']:9.1f} {result['samples']:8d}")
    lines.append(f"{'mean of kinds':16s} {result['p1_kinds']:9.1f} {result['p2_kinds']:9.1f}")
    return "\n".join(lines)
