"""Novel cameras through ``skelgnn infer``'s path, and what the left/right flip repair does there.

    python benchmarks/novel_infer.py                       # val (S02), every checkpoints/*.pt
    python benchmarks/novel_infer.py --subjects test --checkpoint checkpoints/skelgnn-27f-video.pt

The cross-camera test (``skelgnn analyze cameras``) scores a checkpoint's network on the novel
camera views directly. A user's keypoints go through more:
:func:`skelgnn.motion.pipeline.lift_and_place` (what ``skelgnn infer`` runs) repairs left/right
swaps, fills gaps, reframes the person (not when the camera looks steeply down), levels a rolled
camera and places the clip. This script lifts the same records (the seeded novel cameras of
:mod:`skelgnn.evaluate.cross_camera`, first ``--max-frames`` frames of each sequence, the
benchmark's detector noise scaled to the person) through ``lift_and_place`` with infer's
defaults (30 fps), with the flip repair on and off, and reports P-MPJPE (17 joints, mm) per
camera kind and overall, and how many group-frames the repair swapped (the noise swaps a knee
and ankle or an elbow and wrist for 1-4 frames with probability 0.002 a frame and limb pair, so
a few swaps are right).

It also injects runs of swapped legs, arms or whole bodies (3-11 frames every 5-24 frames, as
``tests/infer/test_flips.py``) into the same records' 2D and reports the repair's per-frame
precision and recall (the 2D cue alone, as the 27-frame checkpoints use it).

Prints the figures and writes ``benchmarks/results/novel_infer[-test].json``.
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


def inject(frames: int, rng: np.random.Generator, groups: int) -> np.ndarray:
    """``(F, groups)`` bool runs of 3-11 swapped frames every 5-24 frames: one group or all."""
    truth = np.zeros((frames, groups), bool)
    t = 0
    while t < frames:
        t += int(rng.integers(5, 25))
        n = int(rng.integers(3, 12))
        g = int(rng.integers(0, groups + 1))
        if g == groups:
            truth[t:t + n] = True
        else:
            truth[t:t + n, g] = True
        t += n
    return truth


def score_checkpoint(checkpoint: Path, records: list, kinds: list[str]) -> dict:
    from skelgnn.infer.lifter import Lifter
    from skelgnn.metrics import p_mpjpe
    from skelgnn.motion.pipeline import lift_and_place

    lifter = Lifter.from_checkpoint(checkpoint)
    out: dict = {}
    for repair in (True, False):
        lifter.flip_repair = repair
        errs: dict[str, list[np.ndarray]] = {k: [] for k in kinds}
        swapped = as_seen = 0
        for rec in records:
            pred, motion = lift_and_place(lifter, rec.keypoints_2d, rec.image_size, "h36m17", fps=30.0)
            swapped += 0 if pred.flips is None else int(pred.flips.swapped.sum())
            as_seen += int(not motion.reframed)
            true = (rec.poses_3d - rec.poses_3d[:, :1]).astype(np.float64) * 1000.0
            errs[kinds[rec.camera]].append(
                np.asarray(p_mpjpe(1000.0 * pred.poses_3d.astype(np.float64), true)))
        every = np.concatenate([np.concatenate(v) for v in errs.values()])
        out["repair on" if repair else "repair off"] = {
            "p_mpjpe_mm": round(float(every.mean()), 2),
            "per_kind": {k: round(float(np.concatenate(v).mean()), 2) for k, v in errs.items()},
            "swapped_group_frames": swapped, "group_frames": int(2 * len(every)),
            "clips_lifted_as_seen": as_seen, "clips": len(records)}
    return out


def injected(records: list, seed: int = 0) -> dict:
    from skelgnn.infer.flips import FLIP_GROUPS, detect_flips, swap_groups

    rng = np.random.default_rng(seed)
    tp = fp = fn = 0
    for rec in records:
        kp = np.concatenate([rec.keypoints_2d, np.ones(rec.keypoints_2d.shape[:2] + (1,))], -1)
        truth = inject(len(kp), rng, len(FLIP_GROUPS))
        found = detect_flips(swap_groups(kp.astype(np.float64), truth))
        tp += int((found & truth).sum())
        fp += int((found & ~truth).sum())
        fn += int((~found & truth).sum())
    return {"precision": round(tp / max(tp + fp, 1), 4), "recall": round(tp / max(tp + fn, 1), 4),
            "injected_group_frames": tp + fn}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subjects", default="val", choices=("val", "test"))
    ap.add_argument("--checkpoint", type=Path, action="append", default=None,
                    help="checkpoint(s) (default: checkpoints/*.pt)")
    ap.add_argument("--max-frames", type=int, default=300)
    ap.add_argument("--data", default=None, help="the CMU benchmark (default ../shared/data/cmu)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    import torch

    from skelgnn.data.benchmark import read_split, resolve_data_dir
    from skelgnn.evaluate.cross_camera import NOVEL_KINDS, novel_records
    from skelgnn.fileio import atomic_write_text

    torch.set_num_threads(1)
    root = resolve_data_dir(args.data)
    subjects = read_split(root / "split.json")[args.subjects]
    t0 = time.perf_counter()
    records = novel_records(root, subjects, max_frames=args.max_frames)
    kinds = list(NOVEL_KINDS)
    checkpoints = args.checkpoint or sorted((REPO / "checkpoints").glob("*.pt"))
    result: dict = {"subjects": subjects, "records": len(records), "max_frames": args.max_frames,
                    "checkpoints": {}}
    for ckpt in checkpoints:
        result["checkpoints"][ckpt.name] = score_checkpoint(ckpt, records, kinds)
        r = result["checkpoints"][ckpt.name]
        print(f"{ckpt.name}: P-MPJPE repair on {r['repair on']['p_mpjpe_mm']:.2f} mm "
              f"(swapped {r['repair on']['swapped_group_frames']} of {r['repair on']['group_frames']}"
              f" group-frames), off {r['repair off']['p_mpjpe_mm']:.2f}", flush=True)
    result["injected_swaps"] = injected(records)
    print(f"injected swaps, 2D cue: {result['injected_swaps']}")
    result["seconds"] = round(time.perf_counter() - t0, 1)
    out = args.out or REPO / "benchmarks" / "results" / (
        "novel_infer.json" if args.subjects == "val" else "novel_infer-test.json")
    atomic_write_text(out, json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
