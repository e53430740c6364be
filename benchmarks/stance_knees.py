"""Stance knees (:mod:`skelgnn.motion.stance`): its gate's thresholds and target on val and shelf_dev.

A lifter trained on mocap reads a standing leg's knee bent in depth (the part one view cannot
see): on shelf_dev it lifts knees of 169 degrees at 140-145, and on val's novel cameras it reads
CMU's own knees about right: the training skeleton's knee sits off the hip-ankle line, so its
planted, still legs read about 144 degrees. The module's gate picks legs that stand (foot in
contact, leg under the hip, 2D leg straight, 2D ankle still) and moves each knee along the
camera's depth axis, its image position kept, until its angle reaches ``target`` degrees. Val's
truth is that skeleton's, so on val the figures say what straightening would cost mocap-defined
keypoints (which ``--stance-knees auto`` leaves alone); shelf_dev's truth is anatomical.

Lifts once through ``lift_and_place`` (what ``skelgnn infer`` runs, stance knees off) and caches
them (``runs/stance_knees/``), then scores each setting on val's 60 novel-camera clips (S02, first 300
frames) and on shelf_dev: P-MPJPE, limb-direction error, knee angle.

    python benchmarks/stance_knees.py            # -> benchmarks/results/footage/stance_knees.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
SHELF_DEV = REPO.parent / "shared" / "data" / "shelf_dev" / "shelf_dev.npz"
CACHE = REPO / "runs" / "stance_knees"
OUT = REPO / "benchmarks" / "results" / "footage" / "stance_knees.json"


def _lift_cache(lifter, name: str) -> dict:  # noqa: ANN001
    from skelgnn.evaluate.cross_camera import novel_records
    from skelgnn.evaluate.footage import H36M_LIMB, read_footage
    from skelgnn.motion.pipeline import lift_and_place

    path = CACHE / f"{name}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    clips: list[tuple] = []
    if name == "val":
        for rec in novel_records(None, ["S02"], noise="benchmark", max_frames=300):
            true = rec.poses_3d.astype(np.float64) - rec.poses_3d[:, :1].astype(np.float64)
            pred, motion = lift_and_place(lifter, rec.keypoints_2d, rec.image_size, "h36m17", fps=30.0,
                                          stance_knees=False)
            clips.append((motion.poses_3d, pred.keypoints_2d, motion.contacts, true, 30.0,
                          motion.world.rotation[1]))
    else:
        footage = read_footage(SHELF_DEV)
        for track in footage.tracks:
            if not track.valid.any():
                continue
            pred, motion = lift_and_place(lifter, track.keypoints, footage.image_size, footage.layout,
                                          fps=footage.fps, focal=track.focal, stance_knees=False)
            true = np.full((len(track.gt), 17, 3), np.nan)
            true[:, list(H36M_LIMB)] = track.gt
            true[~track.valid] = np.nan
            clips.append((motion.poses_3d, pred.keypoints_2d, motion.contacts, true,
                          float(footage.fps or 30.0), motion.world.rotation[1]))
    out = {"clip": np.concatenate([np.full(len(c[0]), i) for i, c in enumerate(clips)]),
           "poses": np.concatenate([c[0] for c in clips]).astype(np.float64),
           "uv": np.concatenate([c[1] for c in clips]).astype(np.float64),
           "contacts": np.concatenate([c[2] for c in clips]).astype(bool),
           "true": np.concatenate([c[3] for c in clips]),
           "fps": np.array([c[4] for c in clips]),
           "up": np.concatenate([np.repeat(c[5][None], len(c[0]), 0) for c in clips])}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return out


def weights_for(cache: dict, bend: float, speed: float, vertical: float) -> np.ndarray:
    """:func:`skelgnn.motion.stance.stance_weights` with these thresholds, clip by clip."""
    from skelgnn.motion.stance import stance_weights

    w = np.zeros((len(cache["poses"]), 2))
    for i in np.unique(cache["clip"]):
        m = cache["clip"] == i
        w[m] = stance_weights(cache["poses"][m], cache["uv"][m], cache["contacts"][m],
                              cache["up"][m][0], float(cache["fps"][int(i)]), bend, speed, vertical)
    return w


def score(cache: dict, poses: np.ndarray) -> dict:
    from skelgnn.evaluate.footage import H36M_LIMB, limb_bone_errors
    from skelgnn.metrics import p_mpjpe
    from skelgnn.motion import stance

    limb = list(H36M_LIMB)
    ok = np.isfinite(cache["true"][:, limb]).all(axis=(1, 2))
    pred, true = poses[ok][:, limb], cache["true"][ok][:, limb]
    centre = lambda p: p - p[:, [0, 3]].mean(axis=1, keepdims=True)  # noqa: E731 (mid-hip)
    err = limb_bone_errors(centre(pred), centre(true))
    knees = np.stack([stance.knee_angle(poses[ok], leg) for leg in stance.LEGS], 1)
    return {"p_mpjpe_mm": round(float(1000 * np.asarray(p_mpjpe(centre(pred), centre(true))).mean()), 2),
            "limb_deg": round(float(err.mean()), 2), "legs_deg": round(float(err[:, :4].mean()), 2),
            "knee_deg": round(float(knees.mean()), 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=None, help="default: infer's default")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    import torch

    from skelgnn.fileio import atomic_write_text
    from skelgnn.infer.lifter import Lifter

    torch.set_num_threads(1)
    lifter = Lifter.from_checkpoint(args.checkpoint)
    t0 = time.perf_counter()
    from skelgnn.motion import stance

    sets = {name: _lift_cache(lifter, name) for name in ("val", "shelf_dev")}
    rows: dict = {"as lifted": {n: score(c, c["poses"]) for n, c in sets.items()}}
    print("as lifted", rows["as lifted"], flush=True)
    shipped = (stance.BEND_2D_MAX, stance.SPEED_MAX, stance.VERTICAL_MAX_DEG, stance.TARGET_DEG)
    grid = [shipped]
    grid += [(b, shipped[1], shipped[2], shipped[3]) for b in (0.05, 0.15, 1.0)]
    grid += [(shipped[0], v, shipped[2], shipped[3]) for v in (0.15, 0.5, 1e9)]
    grid += [(shipped[0], shipped[1], v, shipped[3]) for v in (15.0, 40.0, 180.0)]
    grid += [(shipped[0], shipped[1], shipped[2], t) for t in (160.0, 165.0, 175.0, 180.0)]
    grid += [(1.0, 1e9, 180.0, shipped[3])]  # every contact leg
    for bend, speed, vertical, target in grid:
        name = f"bend<{bend:g} speed<{speed:g} vertical<{vertical:g} target {target:g}"
        if (bend, speed, vertical, target) == shipped:
            name += " (shipped)"
        row = {}
        for n, c in sets.items():
            w = weights_for(c, bend, speed, vertical)
            row[n] = {**score(c, stance.straighten_knees(c["poses"], w, target)),  # knee depth only
                      "weighted_share": round(float(w.mean()), 3)}
        rows[name] = row
        print(name, row, flush=True)
    # the rows above move the knee in depth only (straighten_knees); what ships (stand_legs)
    # also gives each clip's legs one length, and the lifted lengths kept frame by frame is the
    # other way to keep bones rigid
    finals = {
        "shipped: stand_legs (one thigh and shank length a clip, measured where the legs stand)":
            lambda p, w: stance.stand_legs(p, w, shipped[3]),
        "knee depth only, no length step (bones change length from frame to frame)":
            lambda p, w: stance.straighten_knees(p, w, shipped[3]),
        "each frame's lifted lengths kept (the ankle moves along the leg)":
            lambda p, w: stance.set_leg_lengths(stance.straighten_knees(p, w, shipped[3]),
                                                stance.leg_lengths(p)),
    }
    for name, fn in finals.items():
        rows[name] = {}
        for n, c in sets.items():
            w = weights_for(c, *shipped[:3])
            poses = np.zeros_like(c["poses"])
            for i in np.unique(c["clip"]):
                m = c["clip"] == i
                poses[m] = fn(c["poses"][m], w[m])
            sd = np.mean([stance.leg_lengths(poses[c["clip"] == i]).std(axis=0).mean()
                          for i in np.unique(c["clip"])])
            rows[name][n] = {**score(c, poses), "leg_bone_sd_in_clip_cm": round(float(100 * sd), 2)}
        print(name, rows[name], flush=True)
    result = {"checkpoint": Path(str(lifter.info.get("checkpoint", "?"))).name, "rows": rows,
              "seconds": round(time.perf_counter() - t0, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
