"""Every shipped checkpoint, and the infer options that exist, on labelled real footage.

    python benchmarks/footage.py                          # ../shared/data/shelf_dev, checkpoints/*.pt
    python benchmarks/footage.py --footage my.npz --checkpoint my.pt --out results/mine

Scores each checkpoint with :func:`skelgnn.evaluate.footage.evaluate_footage` (the path of
``skelgnn evaluate --footage``: lifted as ``skelgnn infer`` does) with flip repair on (the
default) and off, plus, per checkpoint, the other infer options: ``--smooth``, ``--no-reframe``,
``--no-tta``, ``--no-level``, ``--stance-knees off``, and the constant-pose floor; then injects
whole-body left/right swaps into the real detections (``--inject-swaps``) and measures the flip
repair on them. Writes ``OUT/<stem>.json``
(every run's full result) and ``OUT/<stem>.md`` (the tables). The footage is never copied into
the results: only figures.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Optional
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHELF_DEV = REPO.parent / "shared" / "data" / "shelf_dev" / "shelf_dev.npz"
OUT = REPO / "benchmarks" / "results" / "footage"

_DEFAULTS = {"flip_repair": True, "smooth": False, "reframe": True, "flip_test": True, "level": True,
             "stance_knees": None}
VARIANTS: dict[str, dict[str, Optional[bool]]] = {
    "defaults": _DEFAULTS,
    "no flip repair": {**_DEFAULTS, "flip_repair": False},
    "--smooth": {**_DEFAULTS, "smooth": True},
    "--no-reframe": {**_DEFAULTS, "reframe": False},
    "--no-tta": {**_DEFAULTS, "flip_test": False},
    "--no-level": {**_DEFAULTS, "level": False},
    "--stance-knees off": {**_DEFAULTS, "stance_knees": False},
}
"""Infer options tried per checkpoint (``defaults``: ``skelgnn infer`` as shipped)."""


def run(footage_path: Path, checkpoints: list[Path], variants: list[str],
        min_score: float = 0.3) -> dict:
    """Score every (checkpoint, variant); returns the JSON-ready results."""
    from skelgnn.evaluate.footage import evaluate_footage, read_footage
    from skelgnn.infer.lifter import Lifter

    footage = read_footage(footage_path)
    rows = []
    constant = None
    for ckpt in checkpoints:
        for name in variants:
            opts = VARIANTS[name]
            lifter = Lifter.from_checkpoint(ckpt, flip_test=opts["flip_test"])
            lifter.flip_repair = opts["flip_repair"]
            start = time.perf_counter()
            result = evaluate_footage(footage, lifter, min_score, reframe=opts["reframe"],
                                      smooth=opts["smooth"], level=opts["level"],
                                      stance_knees=opts["stance_knees"])
            seconds = time.perf_counter() - start
            constant = result["constant_pose"]
            result["footage"] = footage_path.name  # the file's name, not this machine's path
            rows.append({"checkpoint": ckpt.name, "variant": name, "seconds": round(seconds, 1),
                         "result": result})
            o = result["overall"]
            print(f"{ckpt.name:28s} {name:16s} P-MPJPE {o['p_mpjpe_mm']:6.1f} mm  limb "
                  f"{o['limb_deg']:5.1f} deg  knee {o['knee_pred_deg']:5.1f} deg  lifted "
                  f"{result['lifted']}/{result['tracks']}  swapped {result['flip_swapped_frames']}"
                  f"  ({seconds:.0f} s)", flush=True)
    return {"footage": footage_path.name, "min_score": min_score, "constant_pose": constant,
            "rows": rows}


COCO_LEFT_RIGHT = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))
"""COCO-17 (left, right) pairs: a detector's whole-body swap exchanges each."""


def inject_swaps(footage, fraction: float = 0.3, seed: int = 0):
    """The footage with the whole body's left/right labels swapped in runs of 3-11 frames
    covering about ``fraction`` of each track (COCO-17 only), and the per-track truth."""
    import dataclasses

    import numpy as np

    if footage.layout != "coco17":
        raise ValueError(f"--inject-swaps needs coco17 footage, found {footage.layout}")
    rng = np.random.default_rng(seed)
    tracks, truth = [], []
    mean_run = 7.0
    for track in footage.tracks:
        f = len(track.keypoints)
        swapped = np.zeros(f, bool)
        t = int(rng.integers(0, 10))
        while t < f:
            n = int(rng.integers(3, 12))
            swapped[t:t + n] = True
            t += n + int(rng.integers(1, max(2, int(2 * mean_run * (1 - fraction) / fraction))))
        kp = track.keypoints.copy()
        for left, right in COCO_LEFT_RIGHT:
            kp[swapped, left], kp[swapped, right] = track.keypoints[swapped, right], \
                track.keypoints[swapped, left]
        tracks.append(dataclasses.replace(track, keypoints=kp))
        truth.append(swapped)
    return dataclasses.replace(footage, tracks=tuple(tracks)), truth


def run_injected(footage_path: Path, checkpoint: Path, fraction: float,
                 min_score: float = 0.3) -> dict:
    """Whole-body swaps injected into the footage's real detections: the repair's per-frame
    precision / recall, and the scores with and without it."""
    from skelgnn.evaluate.footage import evaluate_footage, read_footage
    from skelgnn.infer.lifter import Lifter

    clean = read_footage(footage_path)
    footage, truth = inject_swaps(clean, fraction)
    lifter = Lifter.from_checkpoint(checkpoint)
    tp = fp = fn = 0
    for track, swapped in zip(footage.tracks, truth):
        pred = lifter.predict_full(track.keypoints, footage.image_size, footage.layout, min_score)
        found = pred.flips.swapped.any(axis=1)
        tp += int((found & swapped).sum())
        fp += int((found & ~swapped).sum())
        fn += int((~found & swapped).sum())
    out = {"checkpoint": checkpoint.name, "fraction": fraction,
           "swapped_frames": int(sum(t.sum() for t in truth)),
           "frames": int(sum(len(t) for t in truth)),
           "precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1)}
    for name, repair in (("with repair", True), ("without repair", False)):
        lifter.flip_repair = repair
        o = evaluate_footage(footage, lifter, min_score)["overall"]
        out[name] = {k: o[k] for k in ("mpjpe_mm", "p_mpjpe_mm", "limb_deg")}
    lifter.flip_repair = True
    o = evaluate_footage(clean, lifter, min_score)["overall"]
    out["clean"] = {k: o[k] for k in ("mpjpe_mm", "p_mpjpe_mm", "limb_deg")}
    print(f"injected swaps ({checkpoint.name}): {out['swapped_frames']} of {out['frames']} "
          f"frames, repair precision {out['precision']:.3f} recall {out['recall']:.3f}; limb "
          f"{out['without repair']['limb_deg']:.1f} -> {out['with repair']['limb_deg']:.1f} deg "
          f"(clean {out['clean']['limb_deg']:.1f})", flush=True)
    return out


def merge_results(old: dict, new: dict, rescored: list[str]) -> dict:
    """``old``'s rows and injected-swap runs of checkpoints not in ``rescored``, in their order,
    with ``new``'s rows put where the rescored checkpoint's stood (appended when new)."""
    def merged(key: str, name) -> list:  # noqa: ANN001
        kept = [r for r in old.get(key, []) if name(r) not in rescored]
        order = [name(r) for r in old.get(key, [])]
        out = kept + list(new.get(key, []))
        return sorted(out, key=lambda r: order.index(name(r)) if name(r) in order else len(order))

    out = dict(new)
    out["rows"] = merged("rows", lambda r: r["checkpoint"])
    if "injected" in new or "injected" in old:
        out["injected"] = merged("injected", lambda r: r["checkpoint"])
    return out


def table(results: dict) -> str:
    """The Markdown table of :func:`run`'s results."""
    c = results["constant_pose"]
    first = results["rows"][0]["result"] if results["rows"] else None
    lines = [f"# Lifters on {results['footage']}", ""]
    if first is not None:
        lines += [f"{first['tracks']} tracks, {first['overall']['frames']} scored frames, 12 limb "
                  "joints centred on the mid-hip; MPJPE / P-MPJPE in mm, limb-direction error "
                  "and knee angles in degrees (knee truth "
                  f"{first['overall']['knee_true_deg']:.1f}), up error: the world frame's up "
                  "against the truth, degrees; path error: the root's horizontal path against the "
                  "truth's (mm), skating: foot skating of the placed motion (cm/s). Produced by "
                  "`python benchmarks/footage.py`.", ""]
    lines += ["| checkpoint | options | tracks lifted | frames swapped | MPJPE | P-MPJPE | "
              "limb dir. | knee pred. | up error | path error | skating |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in results["rows"]:
        r, o = row["result"], row["result"]["overall"]
        extra = [o.get(k) for k in ("up_error_deg", "path_mm", "skating_cm_s")]
        lines.append(f"| {row['checkpoint']} | {row['variant']} | {r['lifted']}/{r['tracks']} | "
                     f"{r['flip_swapped_frames']} | {o['mpjpe_mm']:.1f} | {o['p_mpjpe_mm']:.1f} | "
                     f"{o['limb_deg']:.1f} | {o['knee_pred_deg']:.1f} | "
                     + " | ".join("-" if v is None else f"{v:.1f}" for v in extra) + " |")
    if c is not None:
        lines.append(f"| constant pose (the set's mean) | - | - | - | - | {c['p_mpjpe_mm']:.1f} | "
                     f"{c['limb_deg']:.1f} | {c['knee_pred_deg']:.1f} | - | - | - |")
    injected = results.get("injected") or []
    if injected:
        first_inj = injected[0]
        lines += ["", f"Whole-body left/right swaps injected into the real detections "
                  f"({first_inj['swapped_frames']} of {first_inj['frames']} frames, runs of 3-11 "
                  "frames, seed 0): the repair's per-frame precision and recall, and the scores "
                  "(MPJPE / P-MPJPE mm, limb direction deg) as detected, with the swaps and "
                  "without repair, and with repair.", "",
                  "| checkpoint | precision | recall | as detected | swapped, no repair | "
                  "swapped, repaired |", "|---|---|---|---|---|---|"]
        for inj in injected:
            cells = [f"{inj[k]['mpjpe_mm']:.1f} / {inj[k]['p_mpjpe_mm']:.1f} / "
                     f"{inj[k]['limb_deg']:.1f}" for k in ("clean", "without repair",
                                                           "with repair")]
            lines.append(f"| {inj['checkpoint']} | {inj['precision']:.3f} | "
                         f"{inj['recall']:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--footage", type=Path, default=SHELF_DEV, help="'footage with 3D' npz")
    parser.add_argument("--checkpoint", type=Path, action="append", default=None,
                        help="checkpoint(s) (default: checkpoints/*.pt)")
    parser.add_argument("--variant", action="append", choices=list(VARIANTS), default=None,
                        help="infer options to try (default: all)")
    parser.add_argument("--min-score", type=float, default=0.3)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1, as `skelgnn infer`)")
    parser.add_argument("--out", type=Path, default=OUT, help="output directory")
    parser.add_argument("--merge", action="store_true",
                        help="keep the rows of other checkpoints already in OUT's JSON (rescore "
                             "only the --checkpoint ones, e.g. after retraining one)")
    parser.add_argument("--inject-swaps", type=float, default=0.3, metavar="FRACTION",
                        help="also inject whole-body left/right swaps into about FRACTION of the "
                             "frames and measure the repair (0: skip; default 0.3)")
    args = parser.parse_args(argv)
    if not args.footage.is_file():
        print(f"error: footage file not found: {args.footage}", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(args.threads)
    checkpoints = args.checkpoint or sorted((REPO / "checkpoints").glob("*.pt"))
    results = run(args.footage, checkpoints, args.variant or list(VARIANTS), args.min_score)
    if args.inject_swaps > 0:
        results["injected"] = [run_injected(args.footage, ckpt, args.inject_swaps,
                                            args.min_score) for ckpt in checkpoints]
    from skelgnn.fileio import atomic_write_text

    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.footage.stem
    if args.merge and (args.out / f"{stem}.json").is_file():
        results = merge_results(json.loads((args.out / f"{stem}.json").read_text()), results,
                                [c.name for c in checkpoints])
    atomic_write_text(args.out / f"{stem}.json", json.dumps(results, indent=2) + "\n")
    atomic_write_text(args.out / f"{stem}.md", table(results))
    print(f"wrote {args.out / f'{stem}.json'} and {args.out / f'{stem}.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
