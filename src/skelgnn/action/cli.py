"""``skelgnn action train|evaluate``: its own parser builder and handlers, wired into
:mod:`skelgnn.cli` by one call to :func:`add_action_parser` and :data:`ACTION_COMMANDS`.

Each sub-parser sets both ``command="action <verb>"`` and ``handler=<function>``. Heavy
imports happen inside the handlers.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from skelgnn.fileio import Writes

__all__ = ["add_action_parser", "ACTION_COMMANDS", "cmd_action_train", "cmd_action_evaluate"]


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=None, help="CMU benchmark directory (default: auto)")
    p.add_argument("--source", default="gtcam", choices=("gt3d", "gtcam", "lifted"),
                   help="3D of the clips: ground-truth world (gt3d), ground-truth camera frame "
                        "(gtcam), or lifted from 2D by --checkpoint (default gtcam)")
    p.add_argument("--checkpoint", default=None, help="lifter checkpoint for --source lifted")
    p.add_argument("--source-2d", default="det", choices=("det", "gt"),
                   help="2D keypoints lifted with --source lifted (default det)")
    p.add_argument("--cache", default=None, help="directory caching lifted 3D (outside the repo)")
    p.add_argument("--ntu", default=None, metavar="DIR",
                   help="train / score on the NTU RGB+D .skeleton files in DIR (cross-subject "
                        "split) instead of the CMU benchmark")
    p.add_argument("--val", action="store_true",
                   help="model selection: train on train minus val, score on val")


def add_action_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``action`` with the verbs ``train`` and ``evaluate``."""
    act = subparsers.add_parser("action", help="skeleton action recognition on 3D clips",
                                description="Train and score skeleton action classifiers "
                                            "(D-HCSF encoder or ST-GCN baseline) on 3D clips.")
    verbs = act.add_subparsers(title="action commands", metavar="VERB", dest="action_verb")
    verbs.required = True
    tr = verbs.add_parser("train", help="train a classifier on the train subjects")
    tr.add_argument("--model", default="stgcn", choices=("dhcsf", "stgcn"))
    _add_data_options(tr)
    tr.add_argument("--seconds", type=float, default=3.0, help="clip length (default 3)")
    tr.add_argument("--fps", type=float, default=10.0, help="clip frame rate (default 10)")
    tr.add_argument("--stride", type=float, default=1.0, help="seconds between clips (default 1)")
    tr.add_argument("--epochs", type=int, default=12)
    tr.add_argument("--samples-per-epoch", type=int, default=1600)
    tr.add_argument("--batch-size", type=int, default=32)
    tr.add_argument("--lr", type=float, default=2e-3)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--out", required=True, help="where to write the action model (.pt)")
    tr.set_defaults(command="action train", handler=cmd_action_train, writes=lambda a: Writes(
        [a.out], [a.checkpoint, a.ntu, _data_dir(a)]))
    ev = verbs.add_parser("evaluate", help="score a trained classifier on the test subjects")
    ev.add_argument("model_path", help="action model written by `skelgnn action train`")
    _add_data_options(ev)
    ev.add_argument("--json", default=None, help="write the scores here")
    ev.add_argument("--figure", default=None, help="write the confusion matrix PNG here")
    ev.set_defaults(command="action evaluate", handler=cmd_action_evaluate,
                    writes=lambda a: Writes([a.json, a.figure],
                                            [a.model_path, a.checkpoint, a.ntu, _data_dir(a)]))


def _data_dir(args: argparse.Namespace) -> str | None:
    """The CMU benchmark directory read (none with ``--ntu``)."""
    from skelgnn.data.npz import default_data_dir

    return None if args.ntu else default_data_dir(args.data)


def _clip_sets(args: argparse.Namespace, spec, parts: tuple[str, ...], classes=None):
    from skelgnn.action.pipeline import cmu_clip_sets, ntu_clip_sets

    if args.ntu:
        sets = ntu_clip_sets(args.ntu, spec)
        return {p: sets[p] for p in parts if p in sets}
    if args.source == "lifted" and not args.checkpoint:
        raise ValueError("--source lifted needs --checkpoint PATH")
    wanted = tuple("val" if (p == "test" and args.val) else p for p in parts)
    sets = cmu_clip_sets(args.source, args.data, spec, wanted, holdout_val=args.val,
                         checkpoint=args.checkpoint, classes=classes, source_2d=args.source_2d,
                         lift_step=max(1, int(round(60 / spec.fps))), cache_dir=args.cache)
    return {p: sets[w] for p, w in zip(parts, wanted)}


def _source_info(args: argparse.Namespace) -> dict:
    if args.ntu:
        return {"dataset": "ntu", "dir": str(args.ntu)}
    return {"dataset": "cmu", "source": args.source, "source_2d": args.source_2d,
            "checkpoint": Path(args.checkpoint).name if args.checkpoint else None,
            "val": bool(args.val)}


def cmd_action_train(args: argparse.Namespace) -> int:
    import torch

    from skelgnn.action.clips import ClipSpec
    from skelgnn.action.models import build_classifier
    from skelgnn.action.ntu import NTU25
    from skelgnn.action.pipeline import save_action_model
    from skelgnn.action.training import TrainConfig, train_classifier
    from skelgnn.skeleton import H36M17

    spec = ClipSpec(seconds=args.seconds, fps=args.fps, stride_seconds=args.stride)
    train = _clip_sets(args, spec, ("train",))["train"]
    parents = (NTU25 if args.ntu else H36M17).parents
    torch.manual_seed(args.seed)
    model = build_classifier(args.model, len(train.classes), parents)
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                      samples_per_epoch=args.samples_per_epoch, seed=args.seed)
    print(f"{args.model}: {len(train)} training clips of {spec.frames} frames, "
          f"{len(train.classes)} classes")
    history = train_classifier(
        model, train, cfg,
        progress=lambda e, loss, acc: print(f"epoch {e}: loss {loss:.4f}, train top-1 {100 * acc:.1f}%",
                                            flush=True))
    save_action_model(args.out, model, train.classes, spec, source=_source_info(args),
                      train=cfg.to_dict(), history=history)
    print(f"wrote {args.out}")
    return 0


def cmd_action_evaluate(args: argparse.Namespace) -> int:
    from skelgnn.action.clips import ClipSpec
    from skelgnn.action.pipeline import load_action_model
    from skelgnn.action.training import evaluate_classifier

    model, payload = load_action_model(args.model_path)
    spec = ClipSpec(**payload["clip_spec"])
    test = _clip_sets(args, spec, ("test",), classes=payload["classes"])["test"]
    if list(test.classes) != list(payload["classes"]):
        raise ValueError(f"the model's classes {payload['classes']} differ from the data's "
                         f"{list(test.classes)}")
    scores = evaluate_classifier(model, test)
    part = "val" if args.val else "test"
    print(f"{part}: {scores.num_clips} clips, top-1 {100 * scores.top1:.1f}%, "
          f"class-balanced {100 * scores.balanced:.1f}%")
    for name, acc in scores.per_class.items():
        print(f"  {name:<12} {100 * acc:5.1f}%")
    if args.json:
        result = {"model_path": Path(args.model_path).name, "source": _source_info(args),
                  "part": part, **scores.to_dict()}
        from skelgnn.fileio import atomic_write_text

        atomic_write_text(args.json, json.dumps(result, indent=1) + "\n")
    if args.figure:
        from skelgnn.video.render import draw_confusion_matrix

        draw_confusion_matrix(scores.confusion, scores.classes, args.figure,
                              title=f"{payload['classifier']['encoder']} on {part}")
    return 0


ACTION_COMMANDS = {"action train": cmd_action_train, "action evaluate": cmd_action_evaluate}
"""``command`` value -> handler, for :data:`skelgnn.cli.COMMANDS`."""
