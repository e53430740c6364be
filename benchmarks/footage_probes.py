"""Two probes of what holds a lifter back on shelf_dev: the camera's pitch and OpenPose's hips.

    python benchmarks/footage_probes.py                  # the default checkpoint
    python benchmarks/footage_probes.py --checkpoint RUN/last.pt

Neither is shipped; both only change the 2D a lifter is given, lift as ``skelgnn evaluate
--footage`` does (:func:`skelgnn.motion.pipeline.lift_and_place`, infer's defaults) and score the
12 limb joints of :mod:`skelgnn.evaluate.footage` (limb-direction error overall, legs and arms,
knee angle, P-MPJPE).

* **Pitch levelling.** The camera turned level about its centre (pitch and roll): the 2D mapped by
  the homography ``K R K^-1`` (``R`` the smallest rotation taking the up direction to the image's
  up; the track's focal length and the image centre), lifted without further levelling, and the
  3D turned back by ``R^T``. Up from the learnt regressor of the plain lift (``learnt``) or from
  the calibration (``true``): does a lifter read a standing person seen from above better once the
  view is level?
* **Hip height.** OpenPose's hips sit 3.2-3.5% of the person's height above Shelf's
  (``benchmarks/results/footage/diagnosis.json``); both hips moved down (positive) or up
  (negative) by the given fractions of the person's image height.

Writes ``benchmarks/results/footage/probes.json``. One torch thread, about a minute a setting.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHELF_DEV = REPO.parent / "shared" / "data" / "shelf_dev" / "shelf_dev.npz"
OUT = REPO / "benchmarks" / "results" / "footage" / "probes.json"
_COCO_HIPS = (11, 12)


def level_homography(keypoints: np.ndarray, rotation: np.ndarray, focal: float,
                     centre: np.ndarray) -> np.ndarray:
    """``keypoints (F, J, 2|3)`` pixels as the same camera turned by ``rotation`` sees them."""
    out = np.array(keypoints, dtype=np.float64)
    rays = np.concatenate([(out[..., :2] - centre) / focal, np.ones(out.shape[:-1] + (1,))], -1)
    turned = rays @ rotation.T
    out[..., :2] = turned[..., :2] / turned[..., 2:3] * focal + centre
    return out


def shift_hips(keypoints: np.ndarray, fraction: float) -> np.ndarray:
    """COCO-17 ``keypoints`` with both hips moved down by ``fraction`` of the person's height."""
    import warnings

    out = np.array(keypoints, dtype=np.float64)
    with warnings.catch_warnings():  # frames without any joint are left out of the median
        warnings.simplefilter("ignore", RuntimeWarning)
        height = np.nanmedian(np.nanmax(out[..., 1], axis=1) - np.nanmin(out[..., 1], axis=1))
    out[:, list(_COCO_HIPS), 1] += fraction * height
    return out


def run_setting(footage, lifter, pitch: str = "off", hips: float = 0.0) -> dict:  # noqa: ANN001
    from skelgnn.data.cameras import rotation_between
    from skelgnn.evaluate.footage import H36M_LIMB, knee_angles, limb_bone_errors
    from skelgnn.metrics import p_mpjpe
    from skelgnn.motion.pipeline import lift_and_place

    w, h = footage.image_size
    centre = np.array([w / 2.0, h / 2.0])
    preds, truths = [], []
    for track in footage.tracks:
        if not track.valid.any():
            continue
        kp = shift_hips(track.keypoints, hips) if hips else track.keypoints
        _, motion = lift_and_place(lifter, kp, footage.image_size, footage.layout,
                                   fps=footage.fps, focal=track.focal)
        poses = motion.poses_3d
        if pitch != "off":
            up = motion.world.rotation[1] if pitch == "learnt" else np.asarray(track.up_cam)
            turn = rotation_between(up / np.linalg.norm(up), np.array([0.0, -1.0, 0.0]))
            focal = track.focal if track.focal else motion.focal
            _, level = lift_and_place(lifter, level_homography(kp, turn, focal, centre),
                                      footage.image_size, footage.layout, fps=footage.fps,
                                      focal=focal, level=False)
            poses = level.poses_3d @ turn  # back into the real camera: X = R^T X'
        preds.append(poses[track.valid][:, list(H36M_LIMB)])
        truths.append(track.gt[track.valid])
    pred, true = np.concatenate(preds), np.concatenate(truths)
    centre3 = lambda p: p - p[:, [0, 3]].mean(axis=1, keepdims=True)  # noqa: E731 (mid-hip)
    err = limb_bone_errors(centre3(pred), centre3(true))
    return {"limb_deg": round(float(err.mean()), 2), "legs_deg": round(float(err[:, :4].mean()), 2),
            "arms_deg": round(float(err[:, 4:].mean()), 2),
            "knee_pred_deg": round(float(knee_angles(centre3(pred)).mean()), 1),
            "p_mpjpe_mm": round(float(1000.0 * np.asarray(p_mpjpe(centre3(pred),
                                                                  centre3(true))).mean()), 1),
            "frames": int(len(true))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--footage", type=Path, default=SHELF_DEV)
    ap.add_argument("--checkpoint", type=Path, default=None, help="default: infer's default")
    ap.add_argument("--hips", type=float, nargs="*", default=[0.02, 0.035, 0.05, -0.03, -0.06],
                    help="hip shifts, fractions of the person's height (down positive)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    import torch

    from skelgnn.evaluate.footage import read_footage
    from skelgnn.fileio import atomic_write_text
    from skelgnn.infer.lifter import Lifter

    torch.set_num_threads(1)
    footage = read_footage(args.footage)
    lifter = Lifter.from_checkpoint(args.checkpoint)
    t0 = time.perf_counter()
    settings = [("as detected", {}), ("pitch levelled, learnt up", {"pitch": "learnt"}),
                ("pitch levelled, true up", {"pitch": "true"})]
    settings += [(f"hips moved {'down' if f > 0 else 'up'} {abs(f):.1%}", {"hips": f})
                 for f in args.hips]
    rows = {}
    for name, opts in settings:
        rows[name] = run_setting(footage, lifter, **opts)
        print(f"{name}: {rows[name]}", flush=True)
    result = {"footage": args.footage.name, "checkpoint": lifter.info.get("checkpoint", "?"),
              "rows": rows, "seconds": round(time.perf_counter() - t0, 1)}
    result["checkpoint"] = Path(str(result["checkpoint"])).name
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
