"""World-frame figures, old (mean torso up) against new (learnt camera up + floor + contacts).

    python benchmarks/world_frame.py                      # val (S02) synthetic, shelf_dev, sample video
    python benchmarks/world_frame.py --subjects test      # the test subjects (score once, at the end)
    python benchmarks/world_frame.py --parts shelf        # one part only

Every clip is lifted exactly as ``skelgnn infer`` lifts it (the default checkpoint, reframed,
default intrinsics) and placed three ways: by :func:`skelgnn.motion.pipeline.build_motion` with
``up="torso"`` (the method before the learnt up: mean torso direction, refined by the contacts'
plane within 30 degrees) and ``up="learnt"`` (one lift), and by
:func:`skelgnn.motion.pipeline.lift_and_place` (``levelled``: ``skelgnn infer``'s default, a camera
rolled more than 5 degrees levelled and the clip lifted again). Parts:

* ``synthetic``: the CMU subjects (``--subjects val`` or ``test``) seen through the fixed, seeded
  novel cameras of :mod:`skelgnn.evaluate.cross_camera` (6 kinds, benchmark detector noise): per clip the
  up error (degrees, against the virtual camera's exact up), the standing foot right (% of frames
  with the true ankles more than 5 cm apart in height), the heading-aligned root-relative world
  MPJPE (17 joints, mm), the root's path error (horizontal, after one turn about the vertical and
  one shift per clip, mm: :func:`skelgnn.motion.world_metrics.path_error`) and the foot skating
  (cm/s);
* ``shelf``: ``../shared/data/shelf_dev`` (real OpenPose COCO-17, Shelf's 3D, world z up): the
  same per track, the MPJPE on the 12 limb joints centred on the mid-hip, over the rows marked
  valid; a track the lifter refuses is counted as refused;
* ``video``: the sample clip (MediaPipe, as ``skelgnn video`` detects it; no 3D truth): the
  angle between the old and the new up, each up's pitch and roll in the camera, the up error
  when ``--video-up`` gives the camera's true up (from a calibration of that camera), and the
  lower ankle's height above the floor (minus the ankle's own height), old (no per-frame
  placement) and new.

The sample clip's camera is calibrated in the package it comes from (pose2sim 0.10.49,
``Demo_SinglePerson/calibration/Calib.qca.txt``, camera ``cam01``; world z up; the rows of its
rotation are the camera's axes with the camera looking along -z, so the up in OpenCV camera axes
is ``(r13, -r23, -r33)``): ``--video-up 0.2144479094331626 -0.8986921279821063
-0.3825762057979294`` (pitch 23.1 degrees down, roll 13.4), which ``results/world_frame.json``
was scored with. Nothing of that package is kept here.

Means are over clips (tracks). Prints a summary and writes ``benchmarks/results/world_frame[-test].json``.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"

# Shelf-15 limb joints (r_ankle .. l_wrist) and the Human3.6M joints that match them
SHELF_LIMBS = list(range(12))
H36M_FOR_SHELF = [3, 2, 1, 4, 5, 6, 16, 15, 14, 11, 12, 13]
FPS_SHELF = 25.0


def pitch_roll(up: np.ndarray) -> tuple[float, float]:
    """Camera pitch (degrees, positive looking down) and roll of a camera-frame up direction."""
    u = up / np.linalg.norm(up)
    return (math.degrees(math.atan2(-u[2], -u[1])), math.degrees(math.atan2(u[0], -u[1])))


METHODS = ("torso", "learnt", "levelled")


PATH_SMOOTH_S: float | None = None
"""``--path-smoothing``: the root path's smoothing of every placement (None: the pipeline's default)."""


def place_both(lifter, keypoints, image_size, layout: str, fps: float) -> tuple:  # noqa: ANN001
    """The clip lifted once and placed with each up method of :data:`METHODS`: the mean torso,
    the learnt up (one lift), and ``skelgnn infer``'s default (learnt up, a rolled camera levelled
    and lifted again: :func:`skelgnn.motion.pipeline.lift_and_place`). Returns the first lift and
    the motions."""
    from skelgnn.motion.pipeline import PATH_SMOOTH_S as DEFAULT_PATH, build_motion, lift_and_place

    path = DEFAULT_PATH if PATH_SMOOTH_S is None else PATH_SMOOTH_S
    pred = lifter.predict_full(keypoints, image_size, layout, reframe=True)
    motions = {m: build_motion(pred.poses_3d, pred.keypoints_2d, image_size, fps, pred.scores, up=m,
                               path_smooth_s=path)
               for m in ("torso", "learnt")}
    motions["levelled"] = lift_and_place(lifter, keypoints, image_size, layout, fps=fps,
                                        path_smooth_s=path)[1]
    return pred, motions


def clip_figures(motion, true_up_cam: np.ndarray, true_world_yup: np.ndarray,
                 pred_idx: list[int], true_feet: tuple[int, int], pred_feet: tuple[int, int],
                 true_centre: list[int], pred_centre: list[int], rows=slice(None)) -> dict:  # noqa: ANN001
    """Up error, standing foot right and heading-aligned MPJPE of one placed clip."""
    from skelgnn.motion.world_metrics import (heading_aligned_mpjpe, path_error, standing_foot_right,
                                              up_error_deg)

    pw = motion.poses_world[rows]
    tw = true_world_yup
    right, counted = standing_foot_right(pw[:, list(pred_feet), 1], tw[:, list(true_feet), 1])
    p = pw[:, pred_idx] - pw[:, pred_centre].mean(1, keepdims=True)
    t = tw[:, :len(pred_idx)] - tw[:, true_centre].mean(1, keepdims=True)
    return {"up_deg": up_error_deg(motion.world.rotation[1], true_up_cam),
            "standing_right": right, "standing_frames": counted,
            "world_mpjpe_mm": 1000.0 * heading_aligned_mpjpe(p, t),
            "path_mm": 1000.0 * path_error(pw[:, pred_centre].mean(1), tw[:, true_centre].mean(1)),
            "skating_cm_s": motion.skating["cm_per_s"]}


def summarise(rows: list[dict]) -> dict:
    out: dict = {"clips": len(rows)}
    for method in METHODS:
        r = [row[method] for row in rows]
        sf = [x["standing_right"] for x in r if x["standing_frames"] > 0]
        frames = sum(x["standing_frames"] for x in r)
        out[method] = {
            "up_deg_mean": float(np.mean([x["up_deg"] for x in r])),
            "up_deg_median": float(np.median([x["up_deg"] for x in r])),
            "standing_right_pct_clips": 100.0 * float(np.mean(sf)) if sf else float("nan"),
            "standing_right_pct_frames": 100.0 * sum(x["standing_right"] * x["standing_frames"]
                                                     for x in r if x["standing_frames"]) / max(frames, 1),
            "world_mpjpe_mm": float(np.mean([x["world_mpjpe_mm"] for x in r])),
            "path_mm": float(np.mean([x["path_mm"] for x in r])),
            "path_mm_median": float(np.median([x["path_mm"] for x in r])),
            "skating_cm_s": float(np.mean([x["skating_cm_s"] for x in r]))}
    return out


def part_synthetic(lifter, data: Path, subjects: list[str], max_frames: int) -> dict:  # noqa: ANN001
    from skelgnn.evaluate.cross_camera import NOVEL_KINDS, novel_records

    names = list(NOVEL_KINDS)
    rows, per_kind = [], {k: [] for k in names}
    for rec in novel_records(data, subjects, noise="benchmark", max_frames=max_frames):
        cam = rec.calibration
        _, motions = place_both(lifter, rec.keypoints_2d, rec.image_size, "h36m17", 30.0)
        o = cam.world_to_camera(np.zeros((1, 3)))[0]
        true_up = cam.world_to_camera(np.array([[0.0, 0.0, 1.0]]))[0] - o
        x_cam = rec.poses_3d.astype(np.float64) + rec.trajectory[:, None].astype(np.float64)
        world = cam.camera_to_world(x_cam)
        tw = _z_up(world)
        row = {m: clip_figures(mo, true_up, tw, list(range(17)), (6, 3), (6, 3), [0], [0])
               for m, mo in motions.items()}
        row["clip"] = f"{rec.subject}/{rec.action}/{names[rec.camera]}"
        rows.append(row)
        per_kind[names[rec.camera]].append(row)
    return {"subjects": subjects, **summarise(rows),
            "per_kind": {k: summarise(v) for k, v in per_kind.items() if v}}


def _z_up(points: np.ndarray) -> np.ndarray:
    from skelgnn.motion.world_metrics import z_up_to_y_up

    return z_up_to_y_up(points)


def part_shelf(lifter, path: Path) -> dict:  # noqa: ANN001
    with np.load(path) as d:
        z = {k: d[k] for k in ("keypoints", "gt3d_cam", "valid", "tracks", "track_offsets", "R", "t",
                               "image_size")}
    size = tuple(float(v) for v in z["image_size"])
    rows, refused = [], []
    for i, (view, person, _, _, _) in enumerate(z["tracks"]):
        a, b = int(z["track_offsets"][i]), int(z["track_offsets"][i + 1])
        kp = z["keypoints"][a:b]
        try:
            _, motions = place_both(lifter, kp, size, "coco17", FPS_SHELF)
        except ValueError as exc:
            refused.append({"track": i, "view": int(view), "person": int(person), "error": str(exc)})
            continue
        rot, tr = z["R"][view].astype(np.float64), z["t"][view].astype(np.float64)
        valid = z["valid"][a:b].astype(bool)
        world = (z["gt3d_cam"][a:b].astype(np.float64) - tr) @ rot  # R^T (x - t)
        tw = _z_up(world)[valid]
        row = {m: clip_figures(mo, rot[:, 2], tw, H36M_FOR_SHELF, (5, 0), (6, 3), [2, 3], [1, 4],
                               rows=valid)
               for m, mo in motions.items()}
        row["clip"] = f"view{int(view)}/person{int(person)}"
        row["frames"] = int(valid.sum())
        rows.append(row)
    return {"tracks": len(z["tracks"]), "lifted": len(rows), "refused": refused, **summarise(rows),
            "per_track": rows}


def part_video(lifter, video: Path, true_up=None) -> dict:  # noqa: ANN001
    from skelgnn.motion.world import ANKLE_HEIGHT
    from skelgnn.motion.world_metrics import up_error_deg

    from skelgnn.video.pipeline import MediaPipePoseDetector, detect_keypoints

    with MediaPipePoseDetector() as det:
        seq = detect_keypoints(video, det)
    fps = float(seq.fps or 30.0)
    pred, motions = place_both(lifter, seq.keypoints, seq.image_size, seq.layout or "blazepose33", fps)
    out: dict = {"frames": int(len(pred.poses_3d)), "fps": fps,
                 "old_vs_new_up_deg": up_error_deg(motions["torso"].world.rotation[1],
                                                   motions["learnt"].world.rotation[1])}
    for m, mo in motions.items():
        pitch, roll = pitch_roll(mo.world.rotation[1])
        low = mo.poses_world[:, [3, 6], 1].min(axis=1) - ANKLE_HEIGHT  # lower ankle above the floor
        # the old pipeline had no per-frame placement: undo it for the old row
        raw = low - (mo.floor_shift if m == "torso" else 0.0)
        out.setdefault("levelled_roll_deg", float(motions["levelled"].roll_deg))
        out[m] = {"pitch_deg": pitch, "roll_deg": roll,
                  "up_deg": None if true_up is None else up_error_deg(mo.world.rotation[1], true_up),
                  "lower_foot_above_floor_cm": {"median": 100 * float(np.median(raw)),
                                                "p90": 100 * float(np.quantile(raw, 0.9)),
                                                "max": 100 * float(raw.max())},
                  "contact_frames": mo.skating["contact_frames"], "skating_cm_s": mo.skating["cm_per_s"]}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subjects", default="val", choices=("val", "test"))
    ap.add_argument("--parts", nargs="+", default=["synthetic", "shelf", "video"],
                    choices=("synthetic", "shelf", "video"))
    ap.add_argument("--max-frames", type=int, default=0, help="first N frames of each CMU sequence")
    ap.add_argument("--data", default=str(SHARED / "cmu"))
    ap.add_argument("--shelf", default=str(SHARED / "shelf_dev" / "shelf_dev.npz"))
    ap.add_argument("--video", default=str(SHARED / "video" / "person_balance_cam01.mp4"))
    ap.add_argument("--video-up", type=float, nargs=3, default=None, metavar=("X", "Y", "Z"),
                    help="the video camera's true up in its own frame (OpenCV axes), when known "
                         "from a calibration: scores the up error of the video part too")
    ap.add_argument("--path-smoothing", type=float, default=None, metavar="SECONDS",
                    help="the root path's smoothing of every placement (default: the pipeline's; "
                         "0: off, the placement before it)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    global PATH_SMOOTH_S
    PATH_SMOOTH_S = args.path_smoothing
    import logging

    import torch

    from skelgnn.data.benchmark import read_split
    from skelgnn.fileio import atomic_write_text
    from skelgnn.infer.lifter import Lifter, default_checkpoint

    logging.getLogger("skelgnn").setLevel(logging.ERROR)
    torch.set_num_threads(1)
    ckpt = default_checkpoint()
    lifter = Lifter.from_checkpoint(ckpt)
    res: dict = {"checkpoint": ckpt.name, "path_smoothing_s": args.path_smoothing}
    t0 = time.perf_counter()
    if "synthetic" in args.parts:
        subjects = list(read_split(Path(args.data) / "split.json")[args.subjects])
        res["synthetic"] = part_synthetic(lifter, Path(args.data), subjects, args.max_frames)
        print("synthetic", json.dumps({k: res["synthetic"][k] for k in ("clips", *METHODS)},
                                      indent=1), flush=True)
    if "shelf" in args.parts:
        if not Path(args.shelf).is_file():
            print(f"no shelf_dev at {args.shelf}", file=sys.stderr)
            return 2
        res["shelf"] = part_shelf(lifter, Path(args.shelf))
        print("shelf", json.dumps({k: res["shelf"][k] for k in ("tracks", "lifted", *METHODS)},
                                  indent=1), flush=True)
    if "video" in args.parts:
        true_up = None if args.video_up is None else np.array(args.video_up, dtype=np.float64)
        res["video"] = part_video(lifter, Path(args.video), true_up)
        print("video", json.dumps(res["video"], indent=1), flush=True)
    res["seconds"] = round(time.perf_counter() - t0, 1)
    out = Path(args.out) if args.out else (
        REPO / "benchmarks" / "results" / f"world_frame{'-test' if args.subjects == 'test' else ''}.json")
    atomic_write_text(out, json.dumps(res, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
