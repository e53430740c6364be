"""Does bf16 inference lift like float32? (docs/BENCHMARK.md, speed)

    python benchmarks/bf16.py --checkpoint checkpoints/skelgnn-1f-cmu-det.pt --subject S08

Each ``--checkpoint`` lifts the test frames of ``--subject`` (a subsample of the test split;
flip TTA on, as the benchmark rows) twice: in float32, and under ``torch.autocast("cpu",
torch.bfloat16)`` (matmuls in bf16 with float32 accumulation). Prints P1 of each, the largest and
mean per-joint distance between the two predictions (mm) and the seconds each took, and writes
``benchmarks/results/bf16.json``. Only meaningful on CPUs with bf16 arithmetic (AVX-512 BF16 or
AMX); elsewhere autocast emulates it slowly.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def compare(checkpoint: Path, data: str | None, subjects: list[str]) -> dict:
    import torch

    from skelgnn.evaluate.speed import bf16_supported, cpu_flags
    from skelgnn.models.checkpoint import load_model
    from skelgnn.data import WindowDataset, load_benchmark, read_skeleton, resolve_data_dir
    from skelgnn.models.predict import predict_sequences

    root = resolve_data_dir(data)
    model, codec, info = load_model(checkpoint)
    records = load_benchmark(root, info["source"], subjects=subjects)
    dataset = WindowDataset(records, model.receptive_field, stride=1, codec=codec)
    skeleton = read_skeleton(root, info["source"], num_joints=model.num_joints)
    preds, secs, target = [], [], None
    for bf16 in (False, True):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            pred, target = predict_sequences(model, dataset, flip_test=True, progress=False,
                                             skeleton=skeleton)
        secs.append(time.perf_counter() - t0)
        preds.append(pred)
    dist = np.linalg.norm(preds[0] - preds[1], axis=-1) * 1000.0  # (N, J) mm
    p1 = [float(np.linalg.norm(p - target, axis=-1).mean() * 1000.0) for p in preds]
    return {"checkpoint": checkpoint.name, "subjects": subjects, "samples": int(dist.shape[0]),
            "cpu": cpu_flags()[0], "bf16_native": bf16_supported(),
            "p1_fp32": p1[0], "p1_bf16": p1[1], "max_joint_diff_mm": float(dist.max()),
            "mean_joint_diff_mm": float(dist.mean()), "seconds_fp32": secs[0],
            "seconds_bf16": secs[1]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", action="append", required=True)
    ap.add_argument("--subject", action="append", default=None,
                    help="test subjects to lift (default S08; repeatable)")
    ap.add_argument("--data", default=None, help="benchmark directory")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "bf16.json"))
    args = ap.parse_args(argv)
    rows = [compare(Path(c), args.data, args.subject or ["S08"]) for c in args.checkpoint]
    for r in rows:
        print(f"{r['checkpoint']} on {r['samples']} frames of {r['subjects']}: P1 fp32 "
              f"{r['p1_fp32']:.2f} mm, bf16 {r['p1_bf16']:.2f} mm; per-joint difference max "
              f"{r['max_joint_diff_mm']:.2f}, mean {r['mean_joint_diff_mm']:.3f} mm; "
              f"{r['seconds_fp32']:.1f} s vs {r['seconds_bf16']:.1f} s")
    Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
