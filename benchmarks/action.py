"""Skeleton action recognition on the CMU benchmark: classifiers x 3D sources (docs/ANALYSIS.md, action recognition).

    python benchmarks/action.py                                  # the whole grid
    python benchmarks/action.py --models stgcn --sources gtcam   # a part of it
    python benchmarks/action.py --table                          # collect only

Clips of ``SECONDS`` s at ``FPS`` fps, one every second, are labelled with the sequence's action
category (``actions.csv``, 13 classes) and split by subject as ``split.json`` says (train
subjects for training, test subjects scored once after the last epoch). Sources: ``gt3d``
(ground-truth world 3D, one view; not in the default grid), ``gtcam`` (ground-truth camera-frame
3D, 4 cameras), ``lifted-NAME`` (the det 2D of the 4 cameras lifted by a checkpoint, without flip
test; 3D comparable with ``gtcam``): ``1f-paper``, ``1f`` and ``27f`` are the shipped
checkpoints, three lifters of increasing accuracy (``--lifter NAME=CHECKPOINT`` for others), and
each lifter's own error on the test clips' frames is recorded beside the recognition scores.
Every classifier trains with the same short schedule (``TrainConfig`` defaults: 12 epochs of
1600 random clips) on one CPU thread, once per seed (``--seeds``, default 0 1 2). Writes
``benchmarks/results/action/<model>-<source>.json`` (mean, sd and every seed's run), a
confusion-matrix PNG per cell (the seeds summed) and ``TABLE.md``. Lifted 3D is cached outside the
repository (``--cache``).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import torch  # noqa: E402

from skelgnn.action.clips import ClipSpec  # noqa: E402
from skelgnn.action.models import build_classifier  # noqa: E402
from skelgnn.action.pipeline import cmu_clip_sets  # noqa: E402
from skelgnn.action.training import TrainConfig, evaluate_classifier, train_classifier  # noqa: E402
from skelgnn.skeleton import H36M17  # noqa: E402

OUT = REPO / "benchmarks" / "results" / "action"
SECONDS, FPS, STRIDE = 3.0, 10.0, 1.0
MODELS = ("dhcsf", "stgcn")
# lifter name -> shipped checkpoint; source "lifted-NAME" lifts the det 2D with it
LIFTERS = {"1f-paper": "skelgnn-1f-paper-cmu-det.pt", "1f": "skelgnn-1f-cmu-det.pt",
           "27f": "skelgnn-27f-cmu-det.pt"}
SOURCES = ("gtcam", *(f"lifted-{name}" for name in LIFTERS), "gt3d")
DEFAULT_SOURCES = SOURCES[:-1]  # gt3d (world frame, one view) on request
SEEDS = (0, 1, 2)


def run(model_name: str, source: str, sets: dict, spec: ClipSpec, info: dict, out: Path,
        seeds: tuple[int, ...] = SEEDS) -> dict:
    """Train and score one classifier on one source once per seed; the figure sums the seeds'
    confusion matrices."""
    import numpy as np

    from skelgnn.video.render import draw_confusion_matrix

    train, test = sets["train"], sets["test"]
    runs, confusion = [], None
    for seed in seeds:
        torch.manual_seed(seed)
        model = build_classifier(model_name, len(train.classes), H36M17.parents)
        cfg = TrainConfig(seed=seed)
        t0 = time.perf_counter()
        history = train_classifier(model, train, cfg)
        train_s = time.perf_counter() - t0
        scores = evaluate_classifier(model, test)
        cm = np.asarray(scores.confusion)
        confusion = cm if confusion is None else confusion + cm
        runs.append({"seed": seed, "train_seconds": round(train_s, 1), "history": history,
                     **scores.to_dict()})
        print(f"{model_name:6s} {source:16s} seed {seed}: top-1 {100 * scores.top1:5.1f}%  "
              f"balanced {100 * scores.balanced:5.1f}%  ({train_s:.0f} s)", flush=True)
    top1 = np.array([r["top1"] for r in runs])
    balanced = np.array([r["balanced"] for r in runs])
    classes = list(runs[0]["per_class"])
    result = {
        "model": model_name, "source": source, "source_info": info,
        "clip_spec": spec.__dict__, "train_config": {**TrainConfig().to_dict(), "seed": list(seeds)},
        "classifier": {k: v for k, v in model.cfg.to_dict().items() if k != "parents"},
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_clips": len(train), "train_class_counts": train.class_counts(),
        "test_class_counts": {k: v for k, v in test.class_counts().items() if v},
        "seeds": list(seeds), "top1": float(top1.mean()), "top1_sd": float(top1.std(ddof=1)) if len(runs) > 1 else 0.0,
        "balanced": float(balanced.mean()),
        "balanced_sd": float(balanced.std(ddof=1)) if len(runs) > 1 else 0.0,
        "per_class": {c: float(np.mean([r["per_class"][c] for r in runs])) for c in classes},
        "confusion": confusion.tolist(), "classes": runs[0]["classes"],
        "num_clips": runs[0]["num_clips"], "runs": runs,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{model_name}-{source}.json").write_text(json.dumps(result, indent=1) + "\n")
    draw_confusion_matrix(confusion, runs[0]["classes"], out / f"{model_name}-{source}.png",
                          title=f"{model_name} on {source}: top-1 {100 * top1.mean():.1f}% "
                                f"({len(runs)} seeds summed)")
    return result


def lifter_error(data: str | None, checkpoint: Path, cache: str) -> dict:
    """MPJPE (mm, root-relative, no alignment) of the lifted test-subject sequences against the
    ground-truth camera-frame 3D at the frames the clips use."""
    import numpy as np

    from skelgnn.action.sources import load_sequences
    from skelgnn.data import resolve_data_dir
    from skelgnn.action.clips import split_subjects

    subjects = split_subjects(resolve_data_dir(data), "test")
    step = int(round(60 / FPS))
    lifted = load_sequences("lifted", data, subjects, checkpoint, source_2d="det",
                            lift_step=step, cache_dir=cache)
    truth = {(s.subject, s.action, s.camera): s.poses for s in load_sequences("gtcam", data, subjects)}
    errs = []
    for seq in lifted:
        gt = truth[(seq.subject, seq.action, seq.camera)]
        stride = int(round(60 / seq.fps))
        gt = gt[::stride][:len(seq.poses)]
        errs.append(np.linalg.norm(seq.poses[:len(gt)] - gt, axis=-1).reshape(-1))
    err = np.concatenate(errs)
    return {"lifter_p1_mm": round(float(err.mean()) * 1000, 2), "lifter_frames": int(err.size // 17)}


def table(out: Path) -> str:
    rows = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    rows = [r for r in rows if r.get("source") in SOURCES]
    if not rows:
        return "no results\n"
    classes = sorted({c for r in rows for c in r["per_class"]})
    head = ["model", "source", "lifter P1 mm", "top-1 %", "balanced %", *classes]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    order = {s: i for i, s in enumerate(SOURCES)}

    def pm(r: dict, key: str) -> str:
        return f"{100 * r[key]:.1f} ± {100 * r.get(key + '_sd', 0.0):.1f}"

    for r in sorted(rows, key=lambda r: (r["model"], order.get(r["source"], 99))):
        lifter = r["source_info"].get("lifter_p1_mm")
        cells = [r["model"], r["source"], f"{lifter:.1f}" if lifter is not None else "0 (truth)",
                 pm(r, "top1"), pm(r, "balanced")]
        cells += [f"{100 * r['per_class'][c]:.0f}" if c in r["per_class"] else "" for c in classes]
        lines.append("| " + " | ".join(cells) + " |")
    n, seeds = rows[0]["num_clips"], len(rows[0].get("seeds", [0]))
    text = ("Action recognition on the CMU test subjects (S08, S11, S14): top-1 over clips and "
            "class-balanced accuracy (%), mean ± sd over " f"{seeds} seeds, per-class accuracy "
            f"(seed mean); {n} test clips per 4-camera source. Lifter P1: the lifter's error on "
            "the test clips' frames (det 2D, no flip test).\n\n" + "\n".join(lines) + "\n")
    (out / "TABLE.md").write_text(text)
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--sources", nargs="+", default=list(DEFAULT_SOURCES), choices=SOURCES)
    ap.add_argument("--lifter", action="append", default=[], metavar="NAME=CHECKPOINT",
                    help="checkpoint of source lifted-NAME (default: the shipped "
                         + ", ".join(f"{k}: {v}" for k, v in LIFTERS.items()) + ")")
    ap.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    ap.add_argument("--cache", default=str(Path.home() / ".cache" / "skelgnn" / "action"))
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--table", action="store_true", help="only collect the table")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    checkpoints = {name: REPO / "checkpoints" / file for name, file in LIFTERS.items()}
    for spec_ in args.lifter:
        name, sep, path = spec_.partition("=")
        if not sep or name not in LIFTERS:
            ap.error(f"--lifter takes NAME=CHECKPOINT with NAME one of {sorted(LIFTERS)}; got {spec_!r}")
        checkpoints[name] = Path(path)
    out = Path(args.out)
    if not args.table:
        torch.set_num_threads(args.threads)
        spec = ClipSpec(seconds=SECONDS, fps=FPS, stride_seconds=STRIDE)
        for source in args.sources:
            t0 = time.perf_counter()
            if source.startswith("lifted-"):
                ckpt = checkpoints[source[len("lifted-"):]]
                sets = cmu_clip_sets("lifted", args.data, spec, checkpoint=ckpt, source_2d="det",
                                     lift_step=int(round(60 / FPS)), cache_dir=args.cache)
                info = {"kind": "lifted", "checkpoint": ckpt.name, "source_2d": "det",
                        "flip_test": False, **lifter_error(args.data, ckpt, args.cache)}
            else:
                sets = cmu_clip_sets(source, args.data, spec)
                info = {"kind": source}
            info["load_seconds"] = round(time.perf_counter() - t0, 1)
            for model_name in args.models:
                run(model_name, source, sets, spec, info, out, tuple(args.seeds))
    print(table(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
