"""Smoothing and thread figures of the video-to-motion path on the sample video.

    python benchmarks/motion_sample.py                        # detects the sample (video extra)
    python benchmarks/motion_sample.py --keypoints DIR/keypoints_2d.npz

Lifts one clip's keypoints (default: the sample video, detected with MediaPipe as ``skelgnn
video`` does) with the default checkpoint, then reports:

* **jitter**: mean joint acceleration (m/s^2) of the root-relative poses and of the root
  trajectory, without and with ``--smooth`` (One-Euro, :mod:`skelgnn.motion.smoothing` defaults);
* **lag**: the shift (frames) that best aligns the smoothed poses with the raw ones;
* **lift time** of the clip with 1, 2 and 4 torch threads (median of 5), which sets the default
  of ``--threads``.

Prints the figures and writes ``benchmarks/results/motion_sample.json``.
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


def best_lag(smooth: np.ndarray, raw: np.ndarray, max_shift: int = 10) -> int:
    """Frames ``k`` minimising the mean squared difference of ``smooth[k:]`` and ``raw[:-k]``."""
    errs = [np.mean((smooth[k:] - raw[:len(raw) - k]) ** 2) for k in range(max_shift)]
    return int(np.argmin(errs))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keypoints", default=None, help="keypoints_2d.npz from `skelgnn video`")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "motion_sample.json"))
    args = ap.parse_args(argv)
    import torch

    from skelgnn.infer.lifter import Lifter, default_checkpoint
    from skelgnn.infer.keypoints import read_keypoints
    from skelgnn.motion.pipeline import build_motion
    from skelgnn.motion.smoothing import mean_acceleration

    if args.keypoints:
        seq = read_keypoints(args.keypoints)
    else:
        if not SAMPLE.is_file():
            print(f"no video at {SAMPLE}", file=sys.stderr)
            return 2
        from skelgnn.video.pipeline import MediaPipePoseDetector, detect_keypoints

        with MediaPipePoseDetector() as det:
            seq = detect_keypoints(SAMPLE, det)
    ckpt = Path(args.checkpoint) if args.checkpoint else default_checkpoint()
    lifter = Lifter.from_checkpoint(ckpt)
    layout = seq.layout or "blazepose33"
    times = {}
    for threads in (1, 2, 4):
        torch.set_num_threads(threads)
        runs = []
        for _ in range(5):
            t0 = time.perf_counter()
            pred = lifter.predict_full(seq.keypoints, seq.image_size, layout, reframe=True)
            runs.append(time.perf_counter() - t0)
        times[threads] = float(np.median(runs))
    fps = float(seq.fps or 30.0)
    raw = build_motion(pred.poses_3d, pred.keypoints_2d, seq.image_size, fps, pred.scores)
    smooth = build_motion(pred.poses_3d, pred.keypoints_2d, seq.image_size, fps, pred.scores,
                          smooth=True)
    res = {
        "checkpoint": ckpt.name, "frames": int(len(pred.poses_3d)), "fps": fps,
        "pose_jitter_m_s2": {"raw": mean_acceleration(raw.poses_3d, fps),
                             "smooth": mean_acceleration(smooth.poses_3d, fps)},
        "trajectory_jitter_m_s2": {"raw": mean_acceleration(raw.trajectory[:, None], fps),
                                   "smooth": mean_acceleration(smooth.trajectory[:, None], fps)},
        "pose_lag_frames": best_lag(smooth.poses_3d, raw.poses_3d),
        "trajectory_lag_frames": best_lag(smooth.trajectory, raw.trajectory),
        "lift_seconds_by_threads": times,
    }
    print(json.dumps(res, indent=2))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
