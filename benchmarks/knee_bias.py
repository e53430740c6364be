"""How a lifter reads straight knees: predicted against true knee angle on the val subject.

    python benchmarks/knee_bias.py                          # the default checkpoint
    python benchmarks/knee_bias.py --checkpoint runs/x/last.pt --max-frames 600

The ``val`` subject's sequences through the fixed novel cameras of
:mod:`skelgnn.evaluate.cross_camera` (benchmark detector noise), lifted as ``skelgnn infer`` lifts
(``Lifter.predict_full``, reframed); both knees' hip-knee-ankle angles (degrees, 180 = straight)
of every frame, binned by the true angle: the mean predicted and true angle per bin. Prints a
table and writes ``benchmarks/results/footage/knee_bias.json`` (one entry per checkpoint name).
Val only: nothing here is scored on test.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "cmu"
BINS = [(100, 130), (130, 145), (145, 155), (155, 160), (160, 165), (165, 180)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=None, help="default: the shipped footage checkpoint")
    ap.add_argument("--max-frames", type=int, default=600, help="first N frames of each sequence")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "footage" / "knee_bias.json"))
    args = ap.parse_args(argv)
    import torch

    from skelgnn.data.benchmark import read_split
    from skelgnn.evaluate.cross_camera import novel_records
    from skelgnn.evaluate.footage import knee_angles
    from skelgnn.fileio import atomic_write_text
    from skelgnn.infer.lifter import Lifter, default_checkpoint

    torch.set_num_threads(1)
    ckpt = Path(args.checkpoint) if args.checkpoint else default_checkpoint()
    lifter = Lifter.from_checkpoint(ckpt)
    subjects = list(read_split(Path(args.data) / "split.json")["val"])
    limbs = [3, 2, 1, 4, 5, 6, 16, 15, 14, 11, 12, 13]  # the footage scorer's 12 limb joints
    pred, true = [], []
    for rec in novel_records(args.data, subjects, noise="benchmark", max_frames=args.max_frames):
        out = lifter.predict_full(rec.keypoints_2d, rec.image_size, "h36m17", reframe=True)
        pred.append(knee_angles(out.poses_3d[:, limbs]))
        true.append(knee_angles(rec.poses_3d[:, limbs]))
    p, t = np.concatenate(pred).ravel(), np.concatenate(true).ravel()
    # a run's last.pt is named by its run directory (no machine paths in the results)
    name = ckpt.parent.name if ckpt.name in ("last.pt", "prev.pt") else ckpt.name
    rows = []
    print(f"{name}: {len(t)} knees of {subjects}, true median {np.median(t):.1f}, predicted {np.median(p):.1f}")
    print("| true knee deg | knees | predicted mean | true mean |\n|---|---|---|---|")
    for lo, hi in BINS:
        m = (t >= lo) & (t < hi)
        if m.any():
            rows.append({"bin": [lo, hi], "knees": int(m.sum()), "pred_mean": float(p[m].mean()),
                         "true_mean": float(t[m].mean())})
            print(f"| {lo}-{hi} | {int(m.sum())} | {p[m].mean():.1f} | {t[m].mean():.1f} |")
    out_path = Path(args.out)
    result = json.loads(out_path.read_text()) if out_path.is_file() else {}
    result[name] = {"subjects": subjects, "max_frames": args.max_frames, "knees": int(len(t)),
                    "true_median": float(np.median(t)), "pred_median": float(np.median(p)),
                    "bins": rows}
    atomic_write_text(out_path, json.dumps(result, indent=2) + "\n")
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
