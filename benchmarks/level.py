"""Levelling a rolled camera: lift again as the level camera would see it (``lift_and_place``).

    python benchmarks/level.py                        # val (S02), extra rolls 0 and +-14 degrees
    python benchmarks/level.py --gates 4 6 8 --rolls 0 8 -8 14 -14 20 -20

The ``val`` subject's sequences are seen through the fixed novel cameras of
:mod:`skelgnn.evaluate.cross_camera` (rolled a few degrees at most, benchmark detector noise), each
camera rolled further about its optical axis by one of ``--rolls`` degrees in turn (exact: the 2D
turns about the principal point, the 3D and the true up about the optical axis). Every clip is
lifted and placed by :func:`skelgnn.motion.pipeline.lift_and_place` (the default checkpoint,
``skelgnn infer``'s defaults) without levelling and with levelling above each ``--gates`` roll.
Per setting: the mean up error (degrees), P-MPJPE and root-relative camera-frame MPJPE (mm, 17
joints). One torch thread; prints a table and writes ``benchmarks/results/level.json``.
Settings are chosen here, on ``val``, never on test.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "cmu"


def roll_view(uv: np.ndarray, poses: np.ndarray, up: np.ndarray, centre: np.ndarray,
              roll_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A view's 2D, camera-frame 3D and up as the same camera rolled by ``roll_deg`` sees them."""
    from skelgnn.geometry import roll_matrix

    turn = roll_matrix(roll_deg)
    return ((uv - centre) @ turn[:2, :2].T + centre, poses @ turn.T, turn @ up)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rolls", type=float, nargs="+", default=[0.0, 14.0, -14.0],
                    help="extra camera rolls, degrees, one per clip in turn")
    ap.add_argument("--gates", type=float, nargs="+", default=[4.0, 6.0, 8.0],
                    help="levelling thresholds (degrees of estimated roll) to compare")
    ap.add_argument("--subjects", default="val", choices=("val",))
    ap.add_argument("--max-frames", type=int, default=0, help="first N frames of each sequence")
    ap.add_argument("--up-weights", default=None, metavar="NPZ",
                    help="another up regressor's weights (default: the shipped ones), e.g. an "
                         "earlier one: git show REV:src/skelgnn/resources/up_regressor.npz > old.npz")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "level.json"))
    args = ap.parse_args(argv)
    import torch

    from skelgnn.data.benchmark import read_split
    from skelgnn.evaluate.cross_camera import novel_records
    from skelgnn.fileio import atomic_write_text
    from skelgnn.infer.lifter import Lifter
    from skelgnn.metrics import p_mpjpe
    from skelgnn.motion.pipeline import lift_and_place
    from skelgnn.motion.world_metrics import up_error_deg

    torch.set_num_threads(1)
    if args.up_weights:
        from skelgnn.motion import gravity

        gravity._SHIPPED[:] = [gravity.UpRegressor.load(args.up_weights)]
    subjects = list(read_split(Path(args.data) / "split.json")[args.subjects])
    lifter = Lifter.from_checkpoint()
    settings = [("off", None)] + [(f"level above {g:g} deg", g) for g in args.gates]
    per_roll: dict[str, dict[str, list]] = {}
    t0 = time.perf_counter()
    records = novel_records(args.data, subjects, noise="benchmark", max_frames=args.max_frames)
    for k, rec in enumerate(records):
        cam = rec.calibration
        extra = args.rolls[k % len(args.rolls)]
        o = cam.world_to_camera(np.zeros((1, 3)))[0]
        up0 = cam.world_to_camera(np.array([[0.0, 0.0, 1.0]]))[0] - o
        uv, gt, true_up = roll_view(rec.keypoints_2d.astype(np.float64),
                                    rec.poses_3d.astype(np.float64), up0,
                                    np.array([cam.cx, cam.cy]), extra)
        bucket = per_roll.setdefault(f"{abs(extra):g}", {name: [] for name, _ in settings})
        for name, gate in settings:
            pred, motion = lift_and_place(lifter, uv, rec.image_size, "h36m17",
                                          level=gate is not None, min_roll_deg=gate or 0.0)
            poses = pred.poses_3d.astype(np.float64)
            bucket[name].append((up_error_deg(motion.world.rotation[1], true_up),
                                 1000 * float(np.mean(p_mpjpe(poses, gt))),
                                 1000 * float(np.linalg.norm(poses - gt, axis=-1).mean()),
                                 abs(motion.roll_deg) > 0))
    result: dict = {"subjects": subjects, "rolls": args.rolls, "clips": len(records),
                    "up_weights": Path(args.up_weights).name if args.up_weights else "shipped",
                    "seconds": round(time.perf_counter() - t0, 1), "by_extra_roll": {}}
    print(f"{len(records)} clips of {subjects} in {result['seconds']:.0f} s")
    print("| extra roll | setting | up error deg | P-MPJPE mm | MPJPE mm | clips levelled |")
    print("|---|---|---|---|---|---|")
    for roll, bucket in sorted(per_roll.items(), key=lambda kv: float(kv[0])):
        result["by_extra_roll"][roll] = {}
        for name, rows in bucket.items():
            v = np.array(rows, dtype=np.float64)
            fig = {"up_deg": float(v[:, 0].mean()), "p_mpjpe_mm": float(v[:, 1].mean()),
                   "mpjpe_mm": float(v[:, 2].mean()), "levelled": int(v[:, 3].sum()),
                   "clips": len(v)}
            result["by_extra_roll"][roll][name] = fig
            print(f"| +-{roll} | {name} | {fig['up_deg']:.2f} | {fig['p_mpjpe_mm']:.1f} | "
                  f"{fig['mpjpe_mm']:.1f} | {fig['levelled']}/{fig['clips']} |")
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
