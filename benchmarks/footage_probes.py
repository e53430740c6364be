"""Probes of what holds a lifter back on shelf_dev: the camera's pitch, OpenPose's hips, the
body's proportions, the knees' depth, and whether the error lies in depth or across the image.

    python benchmarks/footage_probes.py                  # the default checkpoint
    python benchmarks/footage_probes.py --checkpoint RUN/last.pt
    python benchmarks/footage_probes.py --only detected bones --out benchmarks/results/footage/probes_bones.json
    python benchmarks/footage_probes.py --only depth --out benchmarks/results/footage/probes_depth.json

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
* **Proportions.** The detections converted to Human3.6M-17 (as ``infer`` converts them), then
  every 2D bone scaled by one factor per track and bone (left and right alike; the joints below
  it follow) so the person has the training set's proportions: ``oracle``, the CMU training
  subjects' mean 3D bone length over this person's (from Shelf's 3D; limbs, hip and shoulder
  widths and the trunk, the head as it is), what a perfect per-person calibration would give;
  ``estimated``, from the clip's own 2D: each bone's 90th-percentile image length as a share of
  all bones', against the same share in the CMU training subjects' ``det`` 2D (clipped to
  0.7-1.4). A bone's 2D length at its longest is its true length only when it lies in the image
  plane, which a standing person's hips and widths seldom do.
* **Knees straightened in depth.** Each knee moved along the camera's depth axis by ``alpha`` of
  the way to the depth that puts it on the hip-ankle line (where it is in 2D along the leg): the
  part of the knee bend a single view cannot see, removed. Scored on shelf_dev and, with ``--val``,
  on the ``val`` subject through the cross-camera test's six novel camera kinds (first 300 frames,
  benchmark detector noise; P-MPJPE and limb-direction error), where it shows what the same prior
  costs on mocap.

* **Depth or image plane** (``--only depth``, the detections as they are): where the limb error
  lies, in the camera frame and without the per-frame rotation of the limb-direction error: each
  bone's angle across the image (its camera ``x, y`` direction against the truth's) and its
  elevation out of the image plane (signed, predicted minus true, positive away from the camera),
  per bone; and per track the viewing elevation (the angle below the horizontal of the ray to the
  true mid-hip, from the calibration's up) beside that track's limb-direction error: is a
  track's error a matter of how steeply its camera looks down?

Writes ``benchmarks/results/footage/probes.json``. One torch thread, about a minute a setting.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHELF_DEV = REPO.parent / "shared" / "data" / "shelf_dev" / "shelf_dev.npz"
OUT = REPO / "benchmarks" / "results" / "footage" / "probes.json"
_COCO_HIPS = (11, 12)
_H36M_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
_MIRROR = {1: 4, 2: 5, 3: 6, 11: 14, 12: 15, 13: 16}  # bones (by child joint) scaled alike
# footage.LIMB_JOINTS order: r_hip r_knee r_ankle l_hip l_knee l_ankle r_sh r_el r_wr l_sh l_el l_wr
_LIMB_BONES_H36M = {2: (0, 1), 3: (1, 2), 5: (3, 4), 6: (4, 5), 15: (6, 7), 16: (7, 8),
                    12: (9, 10), 13: (10, 11)}


def rescale_bones(uv: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Human3.6M-17 pixels ``(F, 17, 2)`` with bone ``j`` (parent -> ``j``) scaled by ``scale[j]``."""
    out = np.array(uv, dtype=np.float64)
    for j, p in enumerate(_H36M_PARENTS):
        if p >= 0:  # parents come first
            out[:, j] = out[:, p] + scale[j] * (uv[:, j] - uv[:, p])
    return out


def bone_shares(uv: np.ndarray, q: float = 90.0) -> np.ndarray:
    """Each bone's ``q``-th percentile 2D length as a share of all bones' ``(17,)`` (index = child
    joint, mirrored bones averaged)."""
    lengths = np.linalg.norm(uv[:, 1:] - uv[:, list(_H36M_PARENTS[1:])], axis=-1)
    share = np.zeros(17)
    share[1:] = np.nanpercentile(lengths, q, axis=0)
    share /= share.sum()
    for a, b in _MIRROR.items():
        share[a] = share[b] = 0.5 * (share[a] + share[b])
    return share


def cmu_shares(data_dir: Path) -> np.ndarray:
    """:func:`bone_shares` of the CMU training subjects' ``det`` 2D (val subject left out), the
    median over sequences and cameras."""
    from skelgnn.data.benchmark import read_split
    from skelgnn.data.readers import read_positions_2d

    split = read_split(data_dir / "split.json")
    p2, _ = read_positions_2d(data_dir / "data_2d_cmu_det.npz")
    shares = [bone_shares(np.asarray(cam, np.float64)[..., :2])
              for s in split["train"] if s not in split["val"] for seq in p2[s].values() for cam in seq]
    return np.median(shares, axis=0)


def oracle_scales(gt: np.ndarray, cmu_lengths: np.ndarray) -> np.ndarray:
    """Per-bone factors ``(17,)``: the CMU mean 3D bone length over this person's (Shelf's 3D of
    the 12 limb joints, ``(F, 12, 3)``), for the limbs, the hip and shoulder half-widths and the
    trunk (mid-hip to mid-shoulder against CMU's pelvis-spine-thorax); 1 elsewhere."""
    def mean_dist(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.nanmean(np.linalg.norm(a - b, axis=-1)))

    scale = np.ones(17)
    for j, (a, b) in _LIMB_BONES_H36M.items():
        scale[j] = cmu_lengths[j] / mean_dist(gt[:, a], gt[:, b])
    scale[1] = scale[4] = cmu_lengths[1] / (0.5 * mean_dist(gt[:, 0], gt[:, 3]))
    scale[11] = scale[14] = cmu_lengths[11] / (0.5 * mean_dist(gt[:, 6], gt[:, 9]))
    trunk = mean_dist(0.5 * (gt[:, 0] + gt[:, 3]), 0.5 * (gt[:, 6] + gt[:, 9]))
    scale[7] = scale[8] = (cmu_lengths[7] + cmu_lengths[8]) / trunk
    for a, b in _MIRROR.items():
        scale[a] = scale[b] = 0.5 * (scale[a] + scale[b])
    return scale


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


def straighten_knees(poses: np.ndarray, alpha: float) -> np.ndarray:
    """Human3.6M-17 camera-frame poses ``(F, 17, 3)`` with each knee's depth moved ``alpha`` of the
    way to the hip-ankle line's depth at the knee's place along the leg (``x, y`` kept)."""
    out = np.array(poses, dtype=np.float64)
    for hip, knee, ankle in ((1, 2, 3), (4, 5, 6)):
        a, b, c = out[:, hip], out[:, knee], out[:, ankle]
        leg = c[:, :2] - a[:, :2]
        t = np.clip(np.sum((b[:, :2] - a[:, :2]) * leg, -1) / np.maximum(np.sum(leg * leg, -1), 1e-12), 0, 1)
        out[:, knee, 2] = b[:, 2] + alpha * (a[:, 2] + t * (c[:, 2] - a[:, 2]) - b[:, 2])
    return out


def straighten_val(lifter, alphas: list[float]) -> dict:  # noqa: ANN001
    """P-MPJPE and limb-direction error of :func:`straighten_knees` on the val subject's novel
    cameras (mm, degrees), per ``alpha`` (0: as lifted)."""
    from skelgnn.evaluate.cross_camera import novel_records
    from skelgnn.evaluate.footage import H36M_LIMB, limb_bone_errors
    from skelgnn.metrics import p_mpjpe
    from skelgnn.motion.pipeline import lift_and_place

    errs: dict[float, tuple[list, list]] = {a: ([], []) for a in alphas}
    limb = list(H36M_LIMB)
    centre = lambda p: p - p[:, [0, 3]].mean(axis=1, keepdims=True)  # noqa: E731 (mid-hip)
    for rec in novel_records(None, ["S02"], noise="benchmark", max_frames=300):
        true = rec.poses_3d.astype(np.float64) - rec.poses_3d[:, :1].astype(np.float64)
        _, motion = lift_and_place(lifter, rec.keypoints_2d, rec.image_size, "h36m17", fps=30.0)
        for a in alphas:
            pred = straighten_knees(motion.poses_3d, a)
            errs[a][0].append(np.asarray(p_mpjpe(1000.0 * pred, 1000.0 * true)))
            errs[a][1].append(limb_bone_errors(centre(pred[:, limb]), centre(true[:, limb])).mean(1))
    return {f"knees straightened {a:g}": {"p_mpjpe_mm": round(float(np.concatenate(e[0]).mean()), 2),
                                          "limb_deg": round(float(np.concatenate(e[1]).mean()), 2)}
            for a, e in errs.items()}


def depth_breakdown(pred: np.ndarray, true: np.ndarray) -> dict:
    """Per bone of :data:`skelgnn.evaluate.footage.LIMB_BONES`, camera-frame ``(N, 12, 3)``
    poses (no alignment): the mean angle across the image plane (the bones' ``x, y``
    directions) and the mean signed and absolute elevation error out of it (degrees, predicted
    minus true, positive away from the camera)."""
    from skelgnn.evaluate.footage import LIMB_BONES, LIMB_JOINTS

    out: dict = {"in_plane_deg": {}, "elevation_signed_deg": {}, "elevation_abs_deg": {}}
    for a, b in LIMB_BONES:
        name = f"{LIMB_JOINTS[a]}-{LIMB_JOINTS[b]}"
        vp, vt = pred[:, b] - pred[:, a], true[:, b] - true[:, a]
        p2, t2 = vp[:, :2], vt[:, :2]
        cos = (p2 * t2).sum(-1) / np.maximum(
            np.linalg.norm(p2, axis=-1) * np.linalg.norm(t2, axis=-1), 1e-12)
        el_p = np.degrees(np.arcsin(np.clip(vp[:, 2] / np.linalg.norm(vp, axis=-1), -1, 1)))
        el_t = np.degrees(np.arcsin(np.clip(vt[:, 2] / np.linalg.norm(vt, axis=-1), -1, 1)))
        out["in_plane_deg"][name] = round(float(np.degrees(np.arccos(np.clip(cos, -1, 1))).mean()), 2)
        out["elevation_signed_deg"][name] = round(float((el_p - el_t).mean()), 2)
        out["elevation_abs_deg"][name] = round(float(np.abs(el_p - el_t).mean()), 2)
    for key in ("in_plane_deg", "elevation_abs_deg"):
        out[key]["mean"] = round(float(np.mean(list(out[key].values()))), 2)
    return out


def view_elevation(true: np.ndarray, up_cam: np.ndarray) -> float:
    """Mean angle (degrees) below the horizontal of the camera's ray to the true mid-hip of
    camera-frame ``(N, 12, 3)`` poses, the camera's up ``up_cam`` known."""
    hip = true[:, [0, 3]].mean(axis=1)
    ray = hip / np.linalg.norm(hip, axis=-1, keepdims=True)
    up = np.asarray(up_cam, dtype=np.float64) / np.linalg.norm(up_cam)
    return float(np.degrees(np.arcsin(np.clip(-(ray @ up), -1, 1))).mean())


def run_setting(footage, lifter, pitch: str = "off", hips: float = 0.0,  # noqa: ANN001
                bones: str = "off", shares: np.ndarray | None = None,
                cmu_lengths: np.ndarray | None = None, straighten: float = 0.0,
                depth: bool = False) -> dict:
    from skelgnn.data.cameras import rotation_between
    from skelgnn.evaluate.footage import H36M_LIMB, knee_angles, limb_bone_errors
    from skelgnn.infer.gaps import prepare_keypoints
    from skelgnn.metrics import p_mpjpe
    from skelgnn.motion.pipeline import lift_and_place

    w, h = footage.image_size
    centre = np.array([w / 2.0, h / 2.0])
    centre3 = lambda p: p - p[:, [0, 3]].mean(axis=1, keepdims=True)  # noqa: E731 (mid-hip)
    preds, truths, per_track = [], [], []
    for track in footage.tracks:
        if not track.valid.any():
            continue
        kp = shift_hips(track.keypoints, hips) if hips else track.keypoints
        layout = footage.layout
        if bones != "off":  # converted as infer converts them, then the bones rescaled
            kp, _ = prepare_keypoints(kp, layout, 0.3)
            kp, layout = kp.astype(np.float64), "h36m17"
            if bones == "oracle":
                kp[..., :2] = rescale_bones(kp[..., :2], oracle_scales(track.gt, cmu_lengths))
            elif bones == "estimated":
                ratio = np.ones(17)
                ratio[1:] = np.clip(shares[1:] / bone_shares(kp[..., :2])[1:], 0.7, 1.4)
                kp[..., :2] = rescale_bones(kp[..., :2], ratio)
        _, motion = lift_and_place(lifter, kp, footage.image_size, layout,
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
        if straighten:
            poses = straighten_knees(poses, straighten)
        preds.append(poses[track.valid][:, list(H36M_LIMB)])
        truths.append(track.gt[track.valid])
        if depth and track.up_cam is not None:
            per_track.append({"track": track.name,
                              "view_elevation_deg": round(view_elevation(truths[-1],
                                                                         track.up_cam), 1),
                              "limb_deg": round(float(limb_bone_errors(
                                  centre3(preds[-1]), centre3(truths[-1])).mean()), 2)})
    pred, true = np.concatenate(preds), np.concatenate(truths)
    err = limb_bone_errors(centre3(pred), centre3(true))
    extra: dict = {}
    if depth:
        extra = {**depth_breakdown(pred, true), "per_track": per_track}
    return {**extra, "limb_deg": round(float(err.mean()), 2), "legs_deg": round(float(err[:, :4].mean()), 2),
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
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "cmu",
                    help="the CMU benchmark (training proportions of the proportions probe)")
    ap.add_argument("--only", nargs="+", default=None,
                    choices=("detected", "pitch", "hips", "bones", "knees", "depth"),
                    help="probes to run (default: all)")
    ap.add_argument("--knees", type=float, nargs="*", default=[0.5, 1.0],
                    help="fractions of the knees' depth bend removed (the knees probe)")
    ap.add_argument("--val", action="store_true",
                    help="the knees probe on the val subject's novel cameras too")
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
    only = set(args.only or ("detected", "pitch", "hips", "bones", "knees", "depth"))
    settings: list[tuple[str, dict]] = []
    if "detected" in only:
        settings.append(("as detected", {}))
    if "pitch" in only:
        settings += [("pitch levelled, learnt up", {"pitch": "learnt"}),
                     ("pitch levelled, true up", {"pitch": "true"})]
    if "hips" in only:
        settings += [(f"hips moved {'down' if f > 0 else 'up'} {abs(f):.1%}", {"hips": f})
                     for f in args.hips]
    if "bones" in only:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from footage_diagnosis import cmu_bone_lengths

        extra = {"shares": cmu_shares(args.data), "cmu_lengths": cmu_bone_lengths()[0]}
        settings += [("converted to Human3.6M-17, bones as detected", {"bones": "none", **extra}),
                     ("bones rescaled to CMU's, oracle (Shelf's 3D)", {"bones": "oracle", **extra}),
                     ("bones rescaled to CMU's, estimated from the 2D", {"bones": "estimated", **extra})]
    if "knees" in only:
        settings += [(f"knees straightened {a:g}", {"straighten": a}) for a in args.knees]
    if "depth" in only:
        settings.append(("as detected, depth or image plane", {"depth": True}))
    rows = {}
    for name, opts in settings:
        rows[name] = run_setting(footage, lifter, **opts)
        print(f"{name}: {rows[name]}", flush=True)
    result = {"footage": args.footage.name, "checkpoint": lifter.info.get("checkpoint", "?"),
              "rows": rows}
    if "knees" in only and args.val:
        result["val_novel_cameras"] = straighten_val(lifter, [0.0, *args.knees])
        print(f"val: {result['val_novel_cameras']}", flush=True)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    result["checkpoint"] = Path(str(result["checkpoint"])).name
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
