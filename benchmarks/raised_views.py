"""Lifters on the ``val`` subject seen through Shelf-like cameras: level, raised and high.

    python benchmarks/raised_views.py                                  # the shipped footage checkpoint
    python benchmarks/raised_views.py --checkpoint RUN/last.pt --checkpoint checkpoints/skelgnn-27f-video.pt

Separates what the viewpoint costs from what real footage's people and detector cost. Every
sequence of the ``val`` subject (S02, CMU poses, first ``--max-frames`` frames, every 2nd) is
seen by one camera per view kind drawn like Shelf's (1032 x 776 pixels, 48-52 degrees across,
3-4 m from the person, looking at them, rolled a degree or so): ``level`` 0.9-1.1 m high,
``raised`` 1.3-1.6 m (Shelf's cameras 3 and 4, 10-11 degrees down), ``high`` 2.5-2.9 m (Shelf's
camera 2, about 31 degrees down). The 2D gets the training augmentation's detector noise
(:class:`skelgnn.data.detnoise.DetectorNoise`); each clip is lifted and placed as
``skelgnn infer`` does (:func:`skelgnn.motion.pipeline.lift_and_place`, defaults). Scores, on the
12 limb joints of :mod:`skelgnn.evaluate.footage`: the limb-direction error (all, legs, arms),
P-MPJPE, the knee bias (predicted minus true knee angle, degrees, both knees, every frame:
negative = bent more than they are) and the constant-pose floor (the set's own mean pose). One torch thread; writes
``benchmarks/results/footage/raised_views.json``. Never reads the test subjects.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "cmu"
OUT = REPO / "benchmarks" / "results" / "footage" / "raised_views.json"

VIEWS: dict[str, tuple[float, float]] = {"level": (0.9, 1.1), "raised": (1.3, 1.6),
                                         "high": (2.5, 2.9)}
"""Camera height ranges (metres) of the view kinds."""

SHELF_LIKE = {"sizes": ((1032, 776),), "hfov": (48.0, 52.0)}
"""Shelf's image size and field of view (focal 1056-1130 px), as a camera device kind."""


def score_checkpoint(checkpoint: Path, data: Path, max_frames: int, name: str) -> dict:
    """The figures of one checkpoint, per view kind."""
    from skelgnn.data import cameras
    from skelgnn.data.benchmark import positions_3d_path, read_split
    from skelgnn.data.detnoise import DetectorNoise
    from skelgnn.data.readers import read_positions_3d
    from skelgnn.data.virtual import sequence_rng, view_record
    from skelgnn.evaluate.footage import (H36M_LIMB, constant_pose, knee_angles,
                                          limb_bone_errors)
    from skelgnn.infer.lifter import Lifter
    from skelgnn.metrics import p_mpjpe
    from skelgnn.motion.pipeline import lift_and_place

    cameras.DEVICE_KINDS.setdefault("shelf_like", SHELF_LIKE)
    p3 = read_positions_3d(positions_3d_path(data))
    subjects = read_split(data / "split.json")["val"]
    lifter = Lifter.from_checkpoint(checkpoint)
    out: dict = {}
    for view, height in VIEWS.items():
        sampler = cameras.CameraSampler(kinds=("shelf_like",), height=height, distance=(3.0, 4.0),
                                        elevation=(-10.0, 60.0), edge=0.3, roll_std=1.0,
                                        roll_max=3.0)
        preds, truths = [], []
        for subject in sorted(subjects):
            for action in sorted(p3[subject]):
                world = np.asarray(p3[subject][action], dtype=np.float64)[:max_frames:2]
                rng = sequence_rng(0, subject, action, f"raised-{view}")
                cam, _ = sampler.sample(world, rng, f"shelf-like-{view}")
                rec = view_record(subject, action, 0, world, cam)
                uv = DetectorNoise().apply(rec.keypoints_2d, rng)[0]
                kp = np.concatenate([uv, np.ones(uv.shape[:2] + (1,))], axis=-1)
                _, motion = lift_and_place(lifter, kp, rec.image_size, "h36m17", fps=25.0,
                                           focal=float(cam.fx))
                preds.append(motion.poses_3d[:, list(H36M_LIMB)])
                truths.append(np.asarray(rec.poses_3d, np.float64)[:, list(H36M_LIMB)])
        pred, true = np.concatenate(preds), np.concatenate(truths)
        centre = lambda p: p - p[:, [0, 3]].mean(axis=1, keepdims=True)  # noqa: E731 (mid-hip)
        err = limb_bone_errors(centre(pred), centre(true))
        floor = limb_bone_errors(np.repeat(constant_pose(true)[None], len(true), 0), centre(true))
        out[view] = {
            "frames": int(len(true)),
            "limb_deg": float(err.mean()), "legs_deg": float(err[:, :4].mean()),
            "arms_deg": float(err[:, 4:].mean()),
            "p_mpjpe_mm": float(1000.0 * np.asarray(p_mpjpe(centre(pred), centre(true))).mean()),
            "knee_bias_deg": float((knee_angles(centre(pred)) - knee_angles(centre(true))).mean()),
            "constant_limb_deg": float(floor.mean()),
        }
        print(f"{name} {view}: " + ", ".join(f"{k} {v:.1f}" if isinstance(v, float)
                                                     else f"{k} {v}" for k, v in out[view].items()),
              flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", action="append", default=[],
                    help="checkpoint (repeatable; default: the shipped footage checkpoint)")
    ap.add_argument("--max-frames", type=int, default=300, help="first N frames of each sequence")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    import torch

    from skelgnn.fileio import atomic_write_text

    torch.set_num_threads(1)
    checkpoints = [Path(c) for c in args.checkpoint] or [REPO / "checkpoints" / "skelgnn-27f-video.pt"]
    t0 = time.perf_counter()
    rows = {}
    for ckpt in checkpoints:
        try:
            name = str(ckpt.resolve().relative_to(REPO))
        except ValueError:
            name = str(Path("runs") / ckpt.parent.name / ckpt.name)
        rows[name] = score_checkpoint(ckpt, Path(args.data), args.max_frames, name)
    result = {"subject": "val", "views": {k: list(v) for k, v in VIEWS.items()},
              "distance_m": [3.0, 4.0], "max_frames": args.max_frames, "rows": rows,
              "seconds": round(time.perf_counter() - t0, 1)}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
