"""Root-trajectory error on the CMU benchmark's test subjects, with the ground-truth cameras.

    python benchmarks/trajectory.py                 # every 10th frame, det and gt 2D
    python benchmarks/trajectory.py --step 1        # every frame (slower)

For every (subject, action, camera) of the ``test`` subjects, every ``--step``-th frame (frames
are subsampled only to keep the run at a few minutes on one core; the single-frame lifter makes
each frame independent), the root position in the camera frame is solved from the 2D keypoints
(undistorted with the camera's own distortion model) and a root-relative 3D pose
(:mod:`skelgnn.motion.trajectory`, the camera's real focal length and principal point), and compared
with the ground-truth root ``R^T (p_world - t)``. Rows:

* ``oracle``: GT 3D with GT 2D (checks the solver: should be ~0);
* ``gt3d+<src>``: GT root-relative 3D with the 2D source (error from the 2D alone);
* ``lift+<src>`` / ``lift+<src>/weak``: the shipped single-frame lifter's 3D (flip TTA), full or
  weak perspective;
* ``lift+<src>/assumed-f``: as ``lift+<src>`` but with the focal length and principal point
  ``skelgnn video`` assumes when none is given (:func:`skelgnn.motion.trajectory.default_intrinsics`:
  ``f = sqrt(W^2 + H^2)`` = 1415 px here, against the real 1145-1150 px), to show what an
  unknown camera costs.

Figures (mm): mean and median root position error, the mean depth (Z) and in-image (X, Y)
parts, and the mean error after one scale per sequence and camera (least squares), which
removes the scale ambiguity of monocular lifting. Prints a table and writes
``benchmarks/results/trajectory.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "cmu"


def root_errors(pred: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame errors in mm between ``(F, 3)`` trajectories: ``root`` (3D distance), ``z``
    (|depth difference|), ``xy`` (in-image-plane distance), ``scaled`` (3D distance after
    :func:`skelgnn.motion.trajectory.align_scale` over the clip)."""
    from skelgnn.motion.trajectory import align_scale

    d = pred - target
    aligned, _ = align_scale(pred, target)
    return {"root": 1000 * np.linalg.norm(d, axis=-1), "z": 1000 * np.abs(d[:, 2]),
            "xy": 1000 * np.linalg.norm(d[:, :2], axis=-1),
            "scaled": 1000 * np.linalg.norm(aligned - target, axis=-1)}


def summarise(errors: list[dict[str, np.ndarray]]) -> dict[str, float]:
    """Mean / median over all frames of every clip's :func:`root_errors`."""
    cat = {k: np.concatenate([e[k] for e in errors]) for k in errors[0]}
    return {"root_mm": float(cat["root"].mean()), "root_median_mm": float(np.median(cat["root"])),
            "z_mm": float(cat["z"].mean()), "xy_mm": float(cat["xy"].mean()),
            "scaled_mm": float(cat["scaled"].mean()), "frames": int(cat["root"].size)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--checkpoint", default=str(REPO / "checkpoints" / "skelgnn-1f-cmu-det.pt"))
    ap.add_argument("--step", type=int, default=10, help="use every STEP-th frame (default 10)")
    ap.add_argument("--sources", nargs="+", default=["det", "gt"])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "trajectory.json"))
    args = ap.parse_args(argv)
    import torch

    from skelgnn.data import load_benchmark, read_split
    from skelgnn.infer.lifter import Lifter
    from skelgnn.motion.trajectory import (Intrinsics, default_intrinsics, solve_translation,
                                    undistort_points)

    torch.set_num_threads(1)
    data = Path(args.data)
    if not (data / "data_3d_cmu.npz").is_file():
        print(f"no benchmark at {data}", file=sys.stderr)
        return 2
    test = read_split(data / "split.json")["test"]
    lifter = Lifter.from_checkpoint(args.checkpoint)
    start = time.perf_counter()
    rows: dict[str, list[dict[str, np.ndarray]]] = {}
    for source in args.sources:
        for rec in load_benchmark(data, source, subjects=test):
            cam = rec.calibration
            sel = slice(None, None, args.step)
            uv = undistort_points(rec.keypoints_2d[sel], cam)
            target = rec.trajectory[sel].astype(np.float64)
            intr = Intrinsics.from_camera(cam)
            if source == "gt":
                rows.setdefault("oracle", []).append(
                    root_errors(solve_translation(rec.poses_3d[sel], uv, intr), target))
            rows.setdefault(f"gt3d+{source}", [])
            if source != "gt":
                rows[f"gt3d+{source}"].append(
                    root_errors(solve_translation(rec.poses_3d[sel], uv, intr), target))
            lifted = lifter.predict(rec.keypoints_2d[sel], rec.image_size,
                                    reframe=False)  # the benchmark's own cameras
            for model, name in (("perspective", f"lift+{source}"), ("weak", f"lift+{source}/weak")):
                rows.setdefault(name, []).append(
                    root_errors(solve_translation(lifted, uv, intr, model=model), target))
            assumed = default_intrinsics(rec.image_size)
            rows.setdefault(f"lift+{source}/assumed-f", []).append(
                root_errors(solve_translation(lifted, uv, assumed), target))
    elapsed = time.perf_counter() - start
    table = {name: summarise(errs) for name, errs in rows.items() if errs}
    print(f"root trajectory error, test subjects {test}, every {args.step}th frame, "
          f"{Path(args.checkpoint).name}, {elapsed:.0f} s on 1 thread")
    print(f"{'row':22s} {'root':>8s} {'median':>8s} {'z':>8s} {'xy':>8s} {'scaled':>8s} frames")
    for name, r in table.items():
        print(f"{name:22s} {r['root_mm']:8.1f} {r['root_median_mm']:8.1f} {r['z_mm']:8.1f} "
              f"{r['xy_mm']:8.1f} {r['scaled_mm']:8.1f} {r['frames']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"checkpoint": Path(args.checkpoint).name, "test_subjects": test,
                               "frame_step": args.step, "seconds": round(elapsed, 1),
                               "units": "mm", "rows": table}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
