"""Skeleton action recognition on the CMU benchmark: classifiers x 3D sources (issue 19, part 4).

    python benchmarks/action.py                                  # the whole grid
    python benchmarks/action.py --models stgcn --sources gtcam   # a part of it
    python benchmarks/action.py --table                          # collect only

Clips of ``SECONDS`` s at ``FPS`` fps, one every second, are labelled with the sequence's action
category (``actions.csv``, 13 classes) and split by subject as ``split.json`` says (train
subjects for training, test subjects scored once after the last epoch). Sources: ``gt3d``
(ground-truth world 3D, one view; not in the default grid), ``gtcam`` (ground-truth camera-frame 3D, 4 cameras),
``lifted-1f`` / ``lifted-27f`` (the det 2D of the 4 cameras lifted by ``--ckpt-1f`` /
``--ckpt-27f``, without flip test; 3D comparable with ``gtcam``). Every classifier trains with
the same short schedule (``TrainConfig`` defaults: 12 epochs of 1600 random clips) on one CPU
thread. Writes ``benchmarks/results/action/<model>-<source>.json``, a confusion-matrix PNG per
run and ``TABLE.md``. Lifted 3D is cached outside the repository (``--cache``).
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
SOURCES = ("gtcam", "lifted-1f", "lifted-27f", "gt3d")
DEFAULT_SOURCES = SOURCES[:3]  # gt3d (world frame, one view) on request


def run(model_name: str, source: str, sets: dict, spec: ClipSpec, info: dict, out: Path) -> dict:
    from skelgnn.visualize import draw_confusion_matrix

    train, test = sets["train"], sets["test"]
    torch.manual_seed(0)
    model = build_classifier(model_name, len(train.classes), H36M17.parents)
    cfg = TrainConfig()
    t0 = time.perf_counter()
    history = train_classifier(model, train, cfg)
    train_s = time.perf_counter() - t0
    scores = evaluate_classifier(model, test)
    result = {
        "model": model_name, "source": source, "source_info": info,
        "clip_spec": spec.__dict__, "train_config": cfg.to_dict(),
        "classifier": {k: v for k, v in model.cfg.to_dict().items() if k != "parents"},
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_clips": len(train), "train_class_counts": train.class_counts(),
        "test_class_counts": {k: v for k, v in test.class_counts().items() if v},
        "train_seconds": round(train_s, 1), "history": history, **scores.to_dict(),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{model_name}-{source}.json").write_text(json.dumps(result, indent=1) + "\n")
    draw_confusion_matrix(scores.confusion, scores.classes, out / f"{model_name}-{source}.png",
                          title=f"{model_name} on {source}: top-1 {100 * scores.top1:.1f}%")
    print(f"{model_name:6s} {source:11s} top-1 {100 * scores.top1:5.1f}%  balanced "
          f"{100 * scores.balanced:5.1f}%  ({train_s:.0f} s)", flush=True)
    return result


def table(out: Path) -> str:
    rows = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    if not rows:
        return "no results\n"
    classes = sorted({c for r in rows for c in r["per_class"]})
    head = ["model", "source", "top-1 %", "balanced %", *classes]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    order = {s: i for i, s in enumerate(SOURCES)}
    for r in sorted(rows, key=lambda r: (r["model"], order.get(r["source"], 99))):
        cells = [r["model"], r["source"], f"{100 * r['top1']:.1f}", f"{100 * r['balanced']:.1f}"]
        cells += [f"{100 * r['per_class'][c]:.0f}" if c in r["per_class"] else "" for c in classes]
        lines.append("| " + " | ".join(cells) + " |")
    n = rows[0]["num_clips"]
    text = ("Action recognition on the CMU test subjects (S08, S11, S14), top-1 over clips and "
            "per-class accuracy (%)\n" f"({n} test clips per 4-camera source).\n\n" + "\n".join(lines) + "\n")
    (out / "TABLE.md").write_text(text)
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--sources", nargs="+", default=list(DEFAULT_SOURCES), choices=SOURCES)
    ap.add_argument("--ckpt-1f", default=str(REPO / "checkpoints" / "skelgnn-1f-cmu-det.pt"))
    ap.add_argument("--ckpt-27f", default=str(REPO / "checkpoints" / "skelgnn-27f-cmu-det.pt"))
    ap.add_argument("--cache", default=str(Path.home() / ".cache" / "skelgnn" / "action"))
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--table", action="store_true", help="only collect the table")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    out = Path(args.out)
    if not args.table:
        torch.set_num_threads(args.threads)
        spec = ClipSpec(seconds=SECONDS, fps=FPS, stride_seconds=STRIDE)
        for source in args.sources:
            t0 = time.perf_counter()
            if source.startswith("lifted"):
                ckpt = Path(args.ckpt_1f if source == "lifted-1f" else args.ckpt_27f)
                sets = cmu_clip_sets("lifted", args.data, spec, checkpoint=ckpt, source_2d="det",
                                     lift_step=int(round(60 / FPS)), cache_dir=args.cache)
                info = {"kind": "lifted", "checkpoint": ckpt.name, "source_2d": "det",
                        "flip_test": False}
            else:
                sets = cmu_clip_sets(source, args.data, spec)
                info = {"kind": source}
            info["load_seconds"] = round(time.perf_counter() - t0, 1)
            for model_name in args.models:
                run(model_name, source, sets, spec, info, out)
    print(table(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
