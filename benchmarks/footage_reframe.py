"""Reframing that keeps the clip's perspective, against infer's reframing and none, on footage.

    python benchmarks/footage_reframe.py                    # shelf_dev, the default checkpoint
    python benchmarks/footage_reframe.py --footage F.npz --checkpoint PT

``skelgnn infer`` reframes a clip by one similarity transform in pixels
(:func:`skelgnn.infer.lifter.reframe_keypoints`): the person is scaled and moved to where training
people stand, which keeps the 2D's shape but not the geometry of the rays (a person off-centre in a
wide lens, a camera looking down). The alternative tried here turns the camera about its centre
so that it looks at the person (the minimal rotation taking the clip's median ray to the optical
axis, then to the training centre pixel's ray) and zooms it (a focal length that makes the
person as tall as training people), which is the view a real camera at the same place would
have: the keypoints become rays (the footage's focal length, else the default intrinsics), are
rotated, projected into the 1000 x 1000 virtual image and lifted; the 3D is turned back. Scored
as ``skelgnn evaluate --footage`` scores (12 limb joints, mid-hip centred) over every track, with
flip repair and gap filling as infer does them (no levelling: Shelf's cameras are hardly
rolled). Prints and writes
``benchmarks/results/footage/reframe.json``. Footage settings are chosen on shelf_dev and val only.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHELF_DEV = REPO.parent / "shared" / "data" / "shelf_dev" / "shelf_dev.npz"


def look_rotation(d: np.ndarray) -> np.ndarray:
    """The minimal rotation ``R`` with ``R @ d`` along +z, ``(3, 3)``."""
    d = d / np.linalg.norm(d)
    z = np.array([0.0, 0.0, 1.0])
    v = np.cross(d, z)
    s, c = float(np.linalg.norm(v)), float(d @ z)
    if s < 1e-12:
        return np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx * ((1 - c) / s ** 2)


def perspective_lift(lifter, uv: np.ndarray, image_size, focal) -> np.ndarray:  # noqa: ANN001
    """Lift filled H36M pixels ``(F, 17, 2)`` through the turned and zoomed virtual camera;
    root-relative 3D ``(F, 17, 3)`` in the real camera."""
    from skelgnn.data.codec import pad_sequence
    from skelgnn.infer.lifter import TRAINING_FRAMING
    from skelgnn.motion.trajectory import default_intrinsics

    intr = default_intrinsics(image_size, focal)
    rays = np.concatenate([(uv[..., :1] - intr.cx) / intr.fx, (uv[..., 1:2] - intr.cy) / intr.fy,
                           np.ones(uv.shape[:-1] + (1,))], -1)
    turn = look_rotation(np.median(rays.mean(-2), axis=0))
    width, height = TRAINING_FRAMING["image_size"]
    pp = np.array([width / 2.0, height / 2.0])
    r = rays @ turn.T
    xy = r[..., :2] / r[..., 2:]
    zoom = TRAINING_FRAMING["height_px"] / float(np.median(xy[..., 1].max(-1) - xy[..., 1].min(-1)))
    to_centre = (np.asarray(TRAINING_FRAMING["centre_px"]) - pp) / zoom
    turn = look_rotation(np.array([to_centre[0], to_centre[1], 1.0])).T @ turn
    r = rays @ turn.T
    virtual = r[..., :2] / r[..., 2:] * zoom + pp
    x = lifter.codec.encode_2d(virtual, (width, height)).astype(np.float32)
    poses = lifter._lift_encoded(pad_sequence(x, lifter.receptive_field))
    return poses.astype(np.float64) @ turn


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--footage", type=Path, default=SHELF_DEV)
    ap.add_argument("--checkpoint", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "footage" / "reframe.json")
    args = ap.parse_args(argv)
    import torch

    from skelgnn.evaluate.footage import H36M_LIMB, read_footage, score_frames
    from skelgnn.fileio import atomic_write_text
    from skelgnn.infer.lifter import Lifter, default_checkpoint

    torch.set_num_threads(1)
    ckpt = args.checkpoint or default_checkpoint()
    lifter = Lifter.from_checkpoint(ckpt)
    footage = read_footage(args.footage)
    scored: dict[str, list] = {"infer's reframing (default)": [], "none (--no-reframe)": [],
                               "camera turned to the person and zoomed": []}
    for track in footage.tracks:
        if not track.valid.any():
            continue
        valid = track.valid
        for name, reframe in (("infer's reframing (default)", True), ("none (--no-reframe)", False)):
            pred = lifter.predict_full(track.keypoints, footage.image_size, footage.layout,
                                       reframe=reframe)
            scored[name].append(score_frames(pred.poses_3d[:, list(H36M_LIMB)][valid], track.gt[valid]))
        poses = perspective_lift(lifter, pred.keypoints_2d.astype(np.float64), footage.image_size,
                                 track.focal)
        scored["camera turned to the person and zoomed"].append(
            score_frames(poses[:, list(H36M_LIMB)][valid], track.gt[valid]))
    result = {"footage": args.footage.name, "checkpoint": ckpt.name, "rows": {}}
    print("| reframing | limb dir. deg | P-MPJPE mm | knee deg |\n|---|---|---|---|")
    for name, rows in scored.items():
        fig = {k: float(np.concatenate([r[k] for r in rows]).mean())
               for k in ("limb_deg", "p_mpjpe_mm", "knee_pred_deg")}
        result["rows"][name] = fig
        print(f"| {name} | {fig['limb_deg']:.2f} | {fig['p_mpjpe_mm']:.1f} | {fig['knee_pred_deg']:.1f} |")
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
