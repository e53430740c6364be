"""The cross-camera test (training for footage) for the shipped checkpoints.

    python benchmarks/cross_camera.py                         # checkpoints/*.pt, all test frames
    python benchmarks/cross_camera.py --max-frames 300 --checkpoint checkpoints/skelgnn-1f-cmu-det.pt

Scores each checkpoint on the test subjects' 3D seen through the fixed, seeded novel cameras of
:mod:`skelgnn.evaluate.cross_camera` (one camera of each of 6 kinds per test sequence; the benchmark's
synthetic detector noise scaled to the person; flip TTA on) -- the same as
``skelgnn analyze cameras --checkpoint X`` -- and writes one
``benchmarks/results/cross_camera/<checkpoint stem>.json`` per checkpoint plus a table.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "cmu"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA), help="benchmark directory")
    ap.add_argument("--checkpoint", action="append", default=[],
                    help="checkpoints to score (default: every checkpoints/*.pt)")
    ap.add_argument("--max-frames", type=int, default=0,
                    help="first N frames of every test sequence (default 0: all)")
    ap.add_argument("--noise", default="benchmark", choices=("benchmark", "detector", "none"))
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "cross_camera"))
    args = ap.parse_args(argv)
    import torch

    from skelgnn.evaluate.cross_camera import evaluate_cross_camera, format_cross_camera
    from skelgnn.fileio import atomic_write_text
    from skelgnn.tables import format_table

    torch.set_num_threads(args.threads)
    ckpts = [Path(c) for c in args.checkpoint] or sorted((REPO / "checkpoints").glob("*.pt"))
    if not ckpts:
        print("no checkpoints", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for ckpt in ckpts:
        t0 = time.perf_counter()
        res = evaluate_cross_camera(ckpt, args.data, noise=args.noise, seed=args.seed,
                                    max_frames=args.max_frames)
        res["seconds"] = round(time.perf_counter() - t0, 1)
        print(format_cross_camera(res), flush=True)
        suffix = "" if args.noise == "benchmark" else f"-{args.noise}"
        atomic_write_text(out / f"{ckpt.stem}{suffix}.json", json.dumps(res, indent=2) + "\n")
        rows.append([ckpt.stem] + [f"{res['per_kind'][k]['p2']:.1f}" for k in res["per_kind"]]
                    + [f"{res['p1']:.1f}", f"{res['p2']:.1f}"])
    kinds = list(res["per_kind"])
    print(format_table(["checkpoint"] + [f"{k} P2" for k in kinds] + ["P1", "P2"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
