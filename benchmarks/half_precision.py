"""Do half-precision shipped weights lift like their float32 source? (docs/DESIGN.md, whole network: width)

    python benchmarks/half_precision.py --pair checkpoints/skelgnn-1f-cmu-det.pt runs/bench/skelgnn-1f-det/last.pt

For each ``--pair HALF FULL``, both checkpoints lift every ``--every``-th test frame of their
2D source (flip TTA on, as the benchmark rows) and the script prints the largest and mean
per-joint distance between the two predictions (mm) and P1 of each. The shipped weights are
accepted when the largest distance stays under 1 mm. Writes
``benchmarks/results/half_precision.json``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def compare(half: Path, full: Path, data: str | None, every: int) -> dict:
    from skelgnn.models.checkpoint import load_model
    from skelgnn.data import WindowDataset, load_benchmark, read_skeleton, read_split, resolve_data_dir
    from skelgnn.models.predict import predict_sequences

    root = resolve_data_dir(data)
    preds, target = [], None
    for path in (half, full):
        model, codec, info = load_model(path)
        records = load_benchmark(root, info["source"], subjects=read_split(root / "split.json")["test"])
        dataset = WindowDataset(records, model.receptive_field, stride=1, codec=codec)
        pred, target = predict_sequences(model, dataset, flip_test=True,
                                         skeleton=read_skeleton(root, info["source"], num_joints=model.num_joints))
        preds.append(pred[::every])
    target = target[::every]
    dist = np.linalg.norm(preds[0] - preds[1], axis=-1) * 1000.0  # (N, J) mm
    p1 = [float(np.linalg.norm(p - target, axis=-1).mean() * 1000.0) for p in preds]
    return {"half": str(half), "full": str(full), "samples": int(dist.shape[0]),
            "max_joint_diff_mm": float(dist.max()), "mean_joint_diff_mm": float(dist.mean()),
            "p1_half": p1[0], "p1_full": p1[1], "size_half_bytes": half.stat().st_size,
            "size_full_bytes": full.stat().st_size}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pair", nargs=2, action="append", required=True, metavar=("HALF", "FULL"))
    ap.add_argument("--data", default=None, help="benchmark directory")
    ap.add_argument("--every", type=int, default=5, help="score every N-th test frame (default 5)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "half_precision.json"))
    args = ap.parse_args(argv)
    rows = [compare(Path(h), Path(f), args.data, args.every) for h, f in args.pair]
    for r in rows:
        ok = "ok" if r["max_joint_diff_mm"] < 1.0 else "OVER 1 mm"
        print(f"{r['half']}: max {r['max_joint_diff_mm']:.3f} mm, mean {r['mean_joint_diff_mm']:.4f} mm "
              f"per joint over {r['samples']} samples ({ok}); P1 {r['p1_half']:.2f} vs "
              f"{r['p1_full']:.2f} mm; {r['size_half_bytes'] / 2**20:.1f} vs "
              f"{r['size_full_bytes'] / 2**20:.1f} MiB")
    Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if all(r["max_joint_diff_mm"] < 1.0 for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
