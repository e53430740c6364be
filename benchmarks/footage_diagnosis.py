"""Why lifters trained on mocap lose to a constant pose on real footage: shelf_dev, input by input.

    python benchmarks/footage_diagnosis.py                       # every shipped checkpoint
    python benchmarks/footage_diagnosis.py --checkpoint X.pt --out benchmarks/results/footage/diag

Lifts every shelf_dev track (as ``skelgnn infer`` does: flip repair, gap filling, reframing) from
several 2D inputs and scores the 12 limb joints (limb-direction error, P-MPJPE, knee angle):

* ``openpose``: the real detections (COCO-17), as ``skelgnn evaluate --footage`` does;
* ``openpose --no-reframe``: the same in the image's own pixels;
* ``gt2d``: Shelf's ground truth projected into the image (15 joints mapped to Human3.6M-17:
  thorax = mid-shoulders and spine = mid(pelvis, thorax), as the COCO conversion does; nose and
  head between the bottom and the top of the head): no detector at all, Shelf's own joints;
* ``gt2d, mocap bones``: the ground truth re-built with the training data's mean bone lengths
  (every bone's direction kept, the CMU benchmark's mean length for it) and projected through
  the view's intrinsics: Shelf's poses and cameras with the training data's body proportions.

And the 2D statistics behind them: OpenPose's hips and shoulders against Shelf's (offset along the
body's left-right and up axes, fraction of the person's height), 2D bone-length ratios (thigh /
shank, torso / leg, shoulder / hip width) of OpenPose, Shelf's ground truth and the training 2D,
the cameras' pitch, and the person's height in pixels. Writes ``OUT.json`` and ``OUT.md``; the
footage itself is never copied into the results, only figures.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
SHELF_DEV = SHARED / "shelf_dev" / "shelf_dev.npz"
CMU = SHARED / "cmu"
OUT = REPO / "benchmarks" / "results" / "footage" / "diagnosis"

# Shelf-15: 0 r_ankle 1 r_knee 2 r_hip 3 l_hip 4 l_knee 5 l_ankle 6 r_wrist 7 r_elbow
# 8 r_shoulder 9 l_shoulder 10 l_elbow 11 l_wrist 12 bottom_head 13 top_head 14 pelvis
_H36M_FROM_SHELF = {0: 14, 1: 2, 2: 1, 3: 0, 4: 3, 5: 4, 6: 5, 11: 9, 12: 10, 13: 11, 14: 8,
                    15: 7, 16: 6}
_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)


def shelf_to_h36m(x: np.ndarray) -> np.ndarray:
    """``(..., 15, D)`` Shelf joints -> ``(..., 17, D)`` Human3.6M-17."""
    out = np.zeros(x.shape[:-2] + (17, x.shape[-1]))
    for h, s in _H36M_FROM_SHELF.items():
        out[..., h, :] = x[..., s, :]
    out[..., 8, :] = (x[..., 8, :] + x[..., 9, :]) / 2          # thorax = mid-shoulders
    out[..., 7, :] = (out[..., 0, :] + out[..., 8, :]) / 2      # spine
    out[..., 9, :] = x[..., 12, :] + 0.4 * (x[..., 13, :] - x[..., 12, :])   # nose
    out[..., 10, :] = x[..., 12, :] + 0.7 * (x[..., 13, :] - x[..., 12, :])  # mid-eyes
    return out


def cmu_bone_lengths() -> tuple[np.ndarray, np.ndarray]:
    """Mean bone length ``(17,)`` of the CMU benchmark's training 3D (index = child joint) and a
    ``(N, 17, 3)`` sample of its poses."""
    p3 = np.load(CMU / "data_3d_cmu.npz", allow_pickle=True)["positions_3d"].item()
    split = json.loads((CMU / "split.json").read_text())
    poses = np.concatenate([a[::25] for s in split["train"] for a in p3[s].values()])
    lengths = np.zeros(17)
    for j, p in enumerate(_PARENTS):
        if p >= 0:
            lengths[j] = np.linalg.norm(poses[:, j] - poses[:, p], axis=-1).mean()
    return lengths, poses


def retarget(h36m: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Re-build ``(N, 17, 3)`` with bone ``j`` of length ``lengths[j]``, directions kept."""
    out = h36m.copy()
    for j, p in enumerate(_PARENTS):  # parents come first
        if p < 0:
            continue
        bone = h36m[:, j] - h36m[:, p]
        bone = bone / np.maximum(np.linalg.norm(bone, axis=-1, keepdims=True), 1e-9)
        out[:, j] = out[:, p] + lengths[j] * bone
    return out


def project(k: np.ndarray, x: np.ndarray) -> np.ndarray:
    uvw = x @ k.T
    return uvw[..., :2] / uvw[..., 2:3]


def _nan_fill(seq: np.ndarray) -> np.ndarray:
    """``(F, J, D)`` with NaN rows filled by the nearest valid frame (per joint)."""
    out = seq.copy()
    t = np.arange(len(seq))
    for j in range(seq.shape[1]):
        ok = np.isfinite(seq[:, j]).all(-1)
        if ok.all() or not ok.any():
            continue
        for c in range(seq.shape[2]):
            out[~ok, j, c] = np.interp(t[~ok], t[ok], seq[ok, j, c])
    return out


def lift_scores(lifter, inputs: list[tuple[np.ndarray, str]], gts: list[np.ndarray],
                valids: list[np.ndarray], views: list[int], size: tuple[float, float],
                reframe: bool) -> dict:
    from skelgnn.evaluate.footage import H36M_LIMB, score_frames

    collected: dict[str, list[np.ndarray]] = {}
    per_view: dict[int, list[np.ndarray]] = {}
    lifted = 0
    for (kp, layout), gt, valid, view in zip(inputs, gts, valids, views):
        try:
            pred = lifter.predict_full(kp, size, layout, 0.3, reframe=reframe)
        except ValueError:
            continue
        lifted += 1
        s = score_frames(pred.poses_3d[:, list(H36M_LIMB)][valid], gt[valid])
        for k, v in s.items():
            collected.setdefault(k, []).append(v)
        per_view.setdefault(view, []).append(s["limb_deg"])
        collected.setdefault("bone_deg", []).append(bone_errors(pred.poses_3d[:, list(H36M_LIMB)][valid],
                                                                gt[valid]))
    bones = np.concatenate(collected.pop("bone_deg")).mean(axis=0)
    out: dict = {k: round(float(np.concatenate(v).mean()), 2) for k, v in collected.items()}
    out["bone_deg"] = dict(zip(BONE_NAMES, (round(float(b), 1) for b in bones)))
    out["limb_deg_per_view"] = {str(v): round(float(np.concatenate(x).mean()), 2)
                                for v, x in sorted(per_view.items())}
    out["lifted"] = lifted
    return out


BONE_NAMES = ("r_thigh", "r_shank", "l_thigh", "l_shank", "r_upper_arm", "r_forearm",
              "l_upper_arm", "l_forearm")
"""The bones of the limb-direction error, in :data:`skelgnn.evaluate.footage.LIMB_BONES` order."""


def bone_errors(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """``(N, 8)`` angle of each limb bone after the per-frame rotation of the limb-direction
    error (degrees; its mean over bones is that error)."""
    from skelgnn.evaluate.footage import limb_bone_errors

    return limb_bone_errors(pred, true)


def knee_statistics(cmu_poses: np.ndarray, shelf_gt3d: np.ndarray) -> dict:
    """How straight knees get in the training 3D (per action category and overall) and in
    Shelf's ground truth (degrees, 180 = straight)."""
    from skelgnn.data.bodyshape import knee_angles

    p3 = np.load(CMU / "data_3d_cmu.npz", allow_pickle=True)["positions_3d"].item()
    split = json.loads((CMU / "split.json").read_text())
    straighter: dict[str, list[float]] = {}
    for s in split["train"]:
        for action, seq in p3[s].items():
            k = knee_angles(np.asarray(seq, np.float64)).max(axis=-1)
            straighter.setdefault(action.split()[0], []).append(float(np.percentile(k, 99)))
    both = knee_angles(cmu_poses).mean(axis=-1)
    shelf = knee_angles(shelf_to_h36m(shelf_gt3d)).mean(axis=-1)
    return {"cmu_train_median": round(float(np.median(both)), 1),
            "cmu_train_share_above_165": round(float((both > 165).mean()), 3),
            "cmu_p99_of_straighter_knee_per_sequence_median_by_category": {
                c: round(float(np.median(v)), 1) for c, v in sorted(straighter.items())},
            "shelf_gt_median": round(float(np.median(shelf)), 1),
            "shelf_gt_share_above_165": round(float((shelf > 165).mean()), 3)}


def body_axes(joints: np.ndarray, rhip: int, lhip: int, rsh: int, lsh: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Unit 2D left-right axis (right hip -> left hip) and up axis (mid-hip -> mid-shoulder)."""
    lr = joints[:, lhip] - joints[:, rhip]
    up = (joints[:, lsh] + joints[:, rsh]) / 2 - (joints[:, lhip] + joints[:, rhip]) / 2
    return (lr / np.linalg.norm(lr, axis=-1, keepdims=True),
            up / np.linalg.norm(up, axis=-1, keepdims=True))


def statistics(d: dict, cmu_poses: np.ndarray) -> dict:
    """2D placement and proportion statistics (see the module docstring)."""
    valid = d["valid"]
    kp, gt2 = d["keypoints"][valid].astype(np.float64), d["gt2d"][valid]
    h = d["bbox_h"][valid]
    # COCO: 5 l_sh 6 r_sh 11 l_hip 12 r_hip 13 l_knee 14 r_knee 15 l_ankle 16 r_ankle
    lr, up = body_axes(gt2, 2, 3, 8, 9)
    pairs = {"l_hip": (11, 3), "r_hip": (12, 2), "l_shoulder": (5, 9), "r_shoulder": (6, 8),
             "l_knee": (13, 4), "r_knee": (14, 1), "l_ankle": (15, 5), "r_ankle": (16, 0)}
    offsets = {}
    for name, (c, s) in pairs.items():
        delta = kp[:, c, :2] - gt2[:, s]
        ok = np.isfinite(delta).all(-1)
        outward = 1.0 if name.startswith("l_") else -1.0  # along the person's own outward side
        offsets[name] = {
            "outward_pct_h": round(float(100 * (outward * (delta * lr).sum(-1) / h)[ok].mean()), 2),
            "up_pct_h": round(float(100 * ((delta * up).sum(-1) / h)[ok].mean()), 2),
            "distance_pct_h": round(float(100 * (np.linalg.norm(delta, axis=-1) / h)[ok].mean()), 2)}

    def ratios(x: np.ndarray, idx: dict[str, int]) -> dict:
        n = lambda a, b: np.linalg.norm(x[:, idx[a]] - x[:, idx[b]], axis=-1)  # noqa: E731
        mid = lambda a, b: (x[:, idx[a]] + x[:, idx[b]]) / 2  # noqa: E731
        thigh = (n("r_hip", "r_knee") + n("l_hip", "l_knee")) / 2
        shank = (n("r_knee", "r_ankle") + n("l_knee", "l_ankle")) / 2
        torso = np.linalg.norm(mid("l_shoulder", "r_shoulder") - mid("l_hip", "r_hip"), axis=-1)
        ok = np.isfinite(thigh + shank + torso)
        width = n("l_shoulder", "r_shoulder") / np.maximum(n("l_hip", "r_hip"), 1e-9)
        okw = np.isfinite(width)
        return {"thigh_over_shank": round(float(np.median((thigh / shank)[ok])), 3),
                "torso_over_leg": round(float(np.median((torso / (thigh + shank))[ok])), 3),
                "shoulder_over_hip_width": round(float(np.median(width[okw])), 3)}

    coco = {"l_shoulder": 5, "r_shoulder": 6, "l_hip": 11, "r_hip": 12, "l_knee": 13,
            "r_knee": 14, "l_ankle": 15, "r_ankle": 16}
    shelf = {"r_ankle": 0, "r_knee": 1, "r_hip": 2, "l_hip": 3, "l_knee": 4, "l_ankle": 5,
             "r_shoulder": 8, "l_shoulder": 9}
    h36m = {"r_hip": 1, "r_knee": 2, "r_ankle": 3, "l_hip": 4, "l_knee": 5, "l_ankle": 6,
            "l_shoulder": 11, "r_shoulder": 14}
    cmu2d = np.load(CMU / "data_2d_cmu_gt.npz", allow_pickle=True)["positions_2d"].item()
    split = json.loads((CMU / "split.json").read_text())
    train2d = np.concatenate([v[::25] for s in split["train"] for a in cmu2d[s].values()
                              for v in a])
    pitch = []
    for r in d["R"]:
        pitch.append(round(float(np.degrees(np.arcsin(-r[2, 2]))), 1))
    return {
        "openpose_minus_shelf_gt_2d": offsets,
        "ratios_2d": {"openpose": ratios(kp[..., :2], coco), "shelf_gt2d": ratios(gt2, shelf),
                      "cmu_train_gt2d": ratios(train2d, h36m),
                      "cmu_train_3d": ratios(cmu_poses, h36m),
                      "shelf_gt3d": ratios(d["gt3d_cam"][valid], shelf)},
        "camera_pitch_down_deg": pitch,
        "knee_deg": knee_statistics(cmu_poses, d["gt3d_cam"][valid]),
        "person_height_px": [round(float(q), 0) for q in np.percentile(h, [5, 50, 95])],
        "image_size": [int(x) for x in d["image_size"]],
    }


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(REPO / "src"))
    from skelgnn.infer.lifter import Lifter

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--footage", type=Path, default=SHELF_DEV)
    ap.add_argument("--checkpoint", type=Path, action="append")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    ckpts = args.checkpoint or sorted((REPO / "checkpoints").glob("*.pt"))
    with np.load(args.footage) as npz:
        d = {k: npz[k] for k in npz.files}
    lengths, cmu_poses = cmu_bone_lengths()
    off = d["track_offsets"]
    size = (float(d["image_size"][0]), float(d["image_size"][1]))
    gt12_idx = [2, 1, 0, 3, 4, 5, 8, 7, 6, 9, 10, 11]  # Shelf -> footage.LIMB_JOINTS
    inputs: dict[str, list[tuple[np.ndarray, str]]] = {"openpose": [], "gt2d": [],
                                                        "gt2d, mocap bones": []}
    gts, valids, views = [], [], []
    for i in range(len(off) - 1):
        rows = slice(int(off[i]), int(off[i + 1]))
        view = int(d["tracks"][i, 0])
        inputs["openpose"].append((d["keypoints"][rows], "coco17"))
        g2 = shelf_to_h36m(_nan_fill(d["gt2d"][rows]))
        inputs["gt2d"].append((g2, "h36m17"))
        g3 = shelf_to_h36m(_nan_fill(d["gt3d_cam"][rows]))
        inputs["gt2d, mocap bones"].append((project(d["K"][view], retarget(g3, lengths)), "h36m17"))
        gts.append(_nan_fill(d["gt3d_cam"][rows])[:, gt12_idx])
        valids.append(d["valid"][rows])
        views.append(view)
    rows_out = []
    for ckpt in ckpts:
        lifter = Lifter.from_checkpoint(ckpt)
        for name, inp in inputs.items():
            for reframe in (True, False):
                s = lift_scores(lifter, inp, gts, valids, views, size, reframe)
                rows_out.append({"checkpoint": ckpt.name, "input": name, "reframe": reframe, **s})
                print(f"{ckpt.name:28s} {name:20s} reframe={reframe!s:5s} limb {s['limb_deg']:5.1f}"
                      f" P-MPJPE {s['p_mpjpe_mm']:6.1f} knee {s['knee_pred_deg']:5.1f} "
                      f"(true {s['knee_true_deg']:5.1f}) lifted {s['lifted']}", flush=True)
    stats = statistics(d, cmu_poses)
    from skelgnn.evaluate.footage import constant_pose

    scored = np.concatenate([g[v] for g, v in zip(gts, valids)])
    mean = constant_pose(scored)
    stats["constant_pose_bone_deg"] = dict(zip(BONE_NAMES, (round(float(b), 1) for b in bone_errors(
        np.repeat(mean[None], len(scored), axis=0), scored).mean(axis=0))))
    result = {"footage": args.footage.name, "rows": rows_out, "statistics": stats,
              "cmu_bone_lengths_m": [round(float(x), 4) for x in lengths]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    lines = ["| checkpoint | 2D input | reframe | limb dir. deg | P-MPJPE mm | knee pred. deg "
             "| limb dir. per view 0-4 |", "|---|---|---|---|---|---|---|"]
    for r in rows_out:
        lines.append(f"| {r['checkpoint']} | {r['input']} | {'on' if r['reframe'] else 'off'} | "
                     f"{r['limb_deg']:.1f} | {r['p_mpjpe_mm']:.1f} | {r['knee_pred_deg']:.1f} | "
                     + " / ".join(f"{x:.1f}" for x in r["limb_deg_per_view"].values()) + " |")
    lines += ["", "```", json.dumps(stats, indent=1), "```"]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(json.dumps(stats, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
