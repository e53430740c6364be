"""Bone-length stability of the video path, with and without reframing, per shipped checkpoint.

    python benchmarks/video_bones.py                      # the sample video, checkpoints/*.pt
    python benchmarks/video_bones.py --video clip.mp4 --checkpoint my.pt

Detects the person once (MediaPipe BlazePose, as ``skelgnn video`` does), then lifts the same 2D
keypoints with each checkpoint twice: in the footage's own camera (screen normalisation of the
real frame) and reframed into a virtual camera framed like the training data
(:func:`skelgnn.infer.lifter.reframe_keypoints`, what ``skelgnn video`` does by default). A rigid
skeleton should keep its bone lengths: the figure is the median over the 16 bones of each bone's
standard deviation across frames, in cm, plus the mean thigh and shin lengths next to the mocap
skeleton's (0.368 m and 0.454 m), and the posture: knee and hip angles (180 degrees = straight) and
the trunk's tilt from the vertical in the world frame (``poses_world`` of ``skelgnn video``). Prints a table and writes
``benchmarks/results/video_bones.json``. Needs the ``video`` extra.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "data" / "video" / "person_balance_cam01.mp4"
MOCAP = {"thigh": 0.368, "shin": 0.454}


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees between the ``(..., 3)`` vectors ``a`` and ``b``."""
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), (a * b).sum(-1)))


def bone_figures(poses: np.ndarray, world: np.ndarray | None = None) -> dict[str, float]:
    """Median bone-length std (cm), mean thigh / shin lengths (m), and the posture of ``(F, 17,
    3)`` poses: mean knee angle (thigh to shin, 180 = straight leg), mean hip angle (trunk to
    thigh, 180 = standing straight) and, given the world-frame poses, the trunk's mean tilt from
    the vertical (0 = upright)."""
    from skelgnn.skeleton import H36M17

    bones = {(p, c): np.linalg.norm(poses[:, c] - poses[:, p], axis=-1) for p, c in H36M17.bones()}
    stds = np.array([b.std() for b in bones.values()])
    thigh = np.mean([bones[(1, 2)].mean(), bones[(4, 5)].mean()])
    shin = np.mean([bones[(2, 3)].mean(), bones[(5, 6)].mean()])
    # H36M17: 0 pelvis, 1/4 hips, 2/5 knees, 3/6 ankles, 8 thorax
    knee = np.mean([_angle(poses[:, h] - poses[:, k], poses[:, a] - poses[:, k]).mean()
                    for h, k, a in ((1, 2, 3), (4, 5, 6))])
    trunk = poses[:, 8] - poses[:, 0]  # (F, 3)
    hip = np.mean([_angle(trunk, poses[:, k] - poses[:, h]).mean() for h, k in ((1, 2), (4, 5))])
    out = {"median_bone_std_cm": float(100 * np.median(stds)), "thigh_m": float(thigh),
           "shin_m": float(shin), "knee_deg": float(knee), "hip_deg": float(hip)}
    if world is not None:  # y up
        out["trunk_tilt_deg"] = float(_angle(world[:, 8] - world[:, 0],
                                             np.array([0.0, 1.0, 0.0])).mean())
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", default=str(SAMPLE))
    ap.add_argument("--checkpoint", action="append", default=[],
                    help="checkpoints to compare (default: every checkpoints/*.pt)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "video_bones.json"))
    args = ap.parse_args(argv)
    from skelgnn.infer.lifter import Lifter
    from skelgnn.motion.pipeline import build_motion
    from skelgnn.tables import format_table
    from skelgnn.video.pipeline import MediaPipePoseDetector, detect_keypoints

    video = Path(args.video)
    if not video.is_file():
        print(f"no video at {video}", file=sys.stderr)
        return 2
    ckpts = [Path(c) for c in args.checkpoint] or sorted((REPO / "checkpoints").glob("*.pt"))
    with MediaPipePoseDetector() as det:
        seq = detect_keypoints(video, det)
    rows = {}
    for ckpt in ckpts:
        lifter = Lifter.from_checkpoint(ckpt)
        for reframe in (False, True):
            pred = lifter.predict_full(seq.keypoints, seq.image_size, seq.layout, 0.3,
                                       reframe=reframe)
            world = build_motion(pred.poses_3d, pred.keypoints_2d, seq.image_size, seq.fps,
                                 pred.scores).poses_world
            rows[f"{ckpt.name} reframe={'on' if reframe else 'off'}"] = {
                "checkpoint": ckpt.name, "reframe": reframe, **bone_figures(pred.poses_3d, world)}
    print(f"{video.name}: {len(seq.keypoints)} frames, {seq.image_size[0]:.0f} x "
          f"{seq.image_size[1]:.0f}")
    print(format_table(["checkpoint", "reframe", "median bone std (cm)", "thigh (m)", "shin (m)",
                        "knee (deg)", "hip (deg)", "trunk tilt (deg)"],
                       [[r["checkpoint"], "on" if r["reframe"] else "off",
                         f"{r['median_bone_std_cm']:.2f}", f"{r['thigh_m']:.3f}", f"{r['shin_m']:.3f}",
                         f"{r['knee_deg']:.0f}", f"{r['hip_deg']:.0f}", f"{r['trunk_tilt_deg']:.1f}"]
                        for r in rows.values()], markdown=True))
    Path(args.out).write_text(json.dumps(
        {"video": video.name, "frames": int(len(seq.keypoints)),
         "frame_size": list(seq.image_size), "mocap_m": MOCAP,
         "date": time.strftime("%Y-%m-%d"), "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
