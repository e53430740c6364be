"""How much to smooth the root's path across the floor: a sweep on ``val`` and ``shelf_dev``.

    python benchmarks/path_sweep.py                 # writes benchmarks/results/path_sweep.json

Every clip is lifted and placed once as ``skelgnn infer`` does it with the smoothing off
(:func:`skelgnn.motion.pipeline.lift_and_place`, ``path_smooth_s=0``); then the root's horizontal
world path is smoothed by :func:`skelgnn.motion.smoothing.gaussian` of each sigma, the contacts found
again (:func:`skelgnn.motion.contacts.foot_contacts`), and optionally the planted feet pinned
(``lock``: the body moved so each contact foot stays at its median position over its contact,
``weight`` of that correction; a candidate that is not shipped). Scored per clip: the root's path
error (:func:`skelgnn.motion.world_metrics.path_error`, mm), foot skating (cm/s) and the root's
mean acceleration (mm/frame^2 at 30 fps); means over clips. Sets: the ``val`` subject through the
six novel camera kinds of the cross-camera test (first 300 frames, benchmark detector noise) and
``shelf_dev`` (real OpenPose, Shelf's pelvis). Never the test split. One torch thread, ~2 minutes.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
OUT = REPO / "benchmarks" / "results" / "path_sweep.json"
SIGMAS = (0.0, 0.15, 0.3, 0.4, 0.6, 0.8)
LOCKS = (0.0, 0.25, 0.5, 1.0)


def _runs(contact: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of True."""
    edges = np.diff(np.concatenate([[0], contact.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def lock_feet(poses_world: np.ndarray, contacts: np.ndarray, weight: float) -> np.ndarray:
    """The body moved horizontally so each contact foot keeps its median position over its
    contact (both feet down: the mean of their corrections; frames without contact interpolate),
    by ``weight`` of that correction."""
    from skelgnn.motion.contacts import FEET

    p = np.asarray(poses_world, dtype=np.float64)
    total, count = np.zeros((len(p), 2)), np.zeros(len(p))
    for col, joint in enumerate(FEET):
        xz = p[:, joint][:, [0, 2]]
        for a, b in _runs(contacts[:, col]):
            total[a:b] += np.median(xz[a:b], axis=0) - xz[a:b]
            count[a:b] += 1
    down = count > 0
    if not down.any():
        return p.copy()
    frames = np.arange(len(p))
    corr = np.stack([np.interp(frames, frames[down], total[down, i] / count[down]) for i in range(2)], 1)
    out = p.copy()
    out[..., 0] += weight * corr[:, None, 0]
    out[..., 2] += weight * corr[:, None, 1]
    return out


def sweep(clips: list, lifter) -> dict:  # noqa: ANN001
    from skelgnn.motion.contacts import foot_contacts, foot_skating
    from skelgnn.motion.pipeline import lift_and_place
    from skelgnn.motion.smoothing import gaussian
    from skelgnn.motion.world_metrics import path_error

    rows: dict[str, dict[str, list[float]]] = {}
    for kp, size, layout, fps, focal, true_root, valid in clips:
        _, motion = lift_and_place(lifter, kp, size, layout, fps=fps, focal=focal, path_smooth_s=0.0)
        for sigma in SIGMAS:
            pw = motion.poses_world.astype(np.float64)
            if sigma > 0:
                root = pw[:, 0, [0, 2]]
                moved = gaussian(root, sigma * fps) - root
                pw[..., 0] += moved[:, None, 0]
                pw[..., 2] += moved[:, None, 1]
            contacts = foot_contacts(pw, fps) if sigma > 0 else motion.contacts
            for weight in LOCKS:
                placed = lock_feet(pw, contacts, weight) if weight else pw
                r = rows.setdefault(f"sigma {sigma:g} s, lock {weight:g}",
                                    {"path_mm": [], "skating_cm_s": [], "root_accel_mm": []})
                r["path_mm"].append(1000.0 * path_error(placed[valid, 0], true_root))
                r["skating_cm_s"].append(foot_skating(placed, contacts, fps)["cm_per_s"])
                acc = np.linalg.norm(np.diff(placed[:, 0], 2, axis=0), axis=-1).mean() if len(placed) > 2 else 0.0
                r["root_accel_mm"].append(1000.0 * float(acc) * (30.0 / fps) ** 2)
    return {name: {"path_mm": round(float(np.mean(v["path_mm"])), 1),
                   "path_mm_median": round(float(np.median(v["path_mm"])), 1),
                   "skating_cm_s": round(float(np.mean(v["skating_cm_s"])), 1),
                   "root_accel_mm": round(float(np.mean(v["root_accel_mm"])), 2)}
            for name, v in rows.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shelf", type=Path, default=SHARED / "shelf_dev" / "shelf_dev.npz")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    import logging

    import torch

    from skelgnn.evaluate.cross_camera import novel_records
    from skelgnn.fileio import atomic_write_text
    from skelgnn.infer.lifter import Lifter, default_checkpoint
    from skelgnn.motion.world_metrics import z_up_to_y_up

    logging.getLogger("skelgnn").setLevel(logging.ERROR)
    torch.set_num_threads(1)
    lifter = Lifter.from_checkpoint(default_checkpoint())
    t0 = time.perf_counter()
    val = []
    for rec in novel_records(None, ["S02"], noise="benchmark", max_frames=300):
        absolute = rec.poses_3d.astype(np.float64) + rec.trajectory[:, None].astype(np.float64)
        true_root = z_up_to_y_up(rec.calibration.camera_to_world(absolute))[:, 0]
        val.append((rec.keypoints_2d, rec.image_size, "h36m17", 30.0, None, true_root,
                    np.ones(len(true_root), bool)))
    with np.load(args.shelf) as d:
        z = {k: d[k] for k in ("keypoints", "gt3d_cam", "valid", "tracks", "track_offsets", "R", "t",
                               "K", "image_size")}
    shelf = []
    for i, (view, _, _, _, _) in enumerate(z["tracks"]):
        a, b = int(z["track_offsets"][i]), int(z["track_offsets"][i + 1])
        valid = z["valid"][a:b].astype(bool)
        rot, tr = z["R"][view].astype(np.float64), z["t"][view].astype(np.float64)
        world = (z["gt3d_cam"][a:b].astype(np.float64) - tr) @ rot  # R^T (x - t), z up
        shelf.append((z["keypoints"][a:b], tuple(float(v) for v in z["image_size"]), "coco17", 25.0,
                      float(z["K"][view][0, 0]), z_up_to_y_up(world)[valid][:, 14], valid))
    result = {"checkpoint": default_checkpoint().name, "val": sweep(val, lifter),
              "shelf_dev": sweep(shelf, lifter), "val_clips": len(val), "shelf_tracks": len(shelf)}
    result["seconds"] = round(time.perf_counter() - t0, 1)
    for part in ("val", "shelf_dev"):
        for name, r in result[part].items():
            print(f"{part:9s} {name:22s} path {r['path_mm']:6.1f} mm (median {r['path_mm_median']:6.1f})"
                  f"  skating {r['skating_cm_s']:6.1f} cm/s  root accel {r['root_accel_mm']:6.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
