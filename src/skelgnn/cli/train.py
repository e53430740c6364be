"""``skelgnn models|train|evaluate|bench``: the verbs that build, train, score and time models."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Optional

from skelgnn.cli.common import EXIT_OK, SAMPLE_VIDEO, default_data_dir, in_dir, positive_int
from skelgnn.cli.motion import add_stance_argument, stance_knees
from skelgnn.fileio import Writes, atomic_write_text, check_output_path
from skelgnn.options import Device, Source, choices
from skelgnn.tables import format_table

__all__ = ["add_models_parser", "add_train_parser", "add_evaluate_parser", "add_bench_parser",
           "cmd_models", "cmd_train", "cmd_evaluate", "cmd_bench"]


# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------

def add_models_parser(subparsers: argparse._SubParsersAction) -> None:
    models = subparsers.add_parser(
        "models", help="list the model presets with their size and cost",
        description="List every model preset: receptive field, parameters and multiply-"
                    "accumulates per output frame (window mode, counted by "
                    "torch.utils.flop_counter).")
    models.add_argument("--json", metavar="OUT", default=None, help="also write the table as JSON")
    models.set_defaults(command="models", handler=cmd_models, writes=lambda a: Writes([a.json]))


def cmd_models(args: argparse.Namespace) -> int:
    """``skelgnn models``: the preset table."""
    from skelgnn.models import PRESETS, build_model, count_parameters, macs_per_frame

    rows, records = [], []
    for name, cfg in PRESETS.items():
        model = build_model(cfg)
        params, macs = count_parameters(model), macs_per_frame(model)
        rows.append([name, cfg.arch, model.receptive_field, f"{params / 1e6:.3f}M",
                     f"{macs / 1e6:.2f}M"])
        records.append({"name": name, "arch": cfg.arch, "receptive_field": model.receptive_field,
                        "parameters": params, "macs_per_frame": macs})
    print(format_table(["preset", "arch", "frames", "params", "MACs/frame"], rows))
    if args.json:
        atomic_write_text(args.json, json.dumps(records, indent=2) + "\n")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# train / evaluate
# --------------------------------------------------------------------------------------------

def add_train_parser(subparsers: argparse._SubParsersAction) -> None:
    tr = subparsers.add_parser(
        "train", help="train a model",
        description="Train a model from a TOML config (see configs/) with optional overrides. "
                    "Writes config.json, train.log, history.json and last.pt to the run directory; "
                    "a new run refuses a directory already holding any of them or prev.pt "
                    "(--resume continues a run).")
    tr.add_argument("--config", metavar="TOML", default=None,
                    help="config file (default: the skelgnn-1f preset and default schedule)")
    tr.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides",
                    help="override a config field, e.g. --set train.lr=5e-4 (repeatable)")
    tr.add_argument("--run-dir", metavar="DIR", required=True, help="output directory")
    tr.add_argument("--data", metavar="DIR", default=None,
                    help="benchmark directory (overrides data.root)")
    tr.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    tr.add_argument("--device", choices=choices(Device), default=None,
                    help="training device (overrides train.device; default auto)")
    tr.add_argument("--no-progress", action="store_true", help="no progress bars")
    tr.set_defaults(command="train", handler=cmd_train, writes=_train_writes,
                    interrupt_hint=_train_resume_hint)


RUN_DIR_OUTPUTS = ("config.json", "history.json", "train.log", "last.pt", "prev.pt", ".lock")
"""What ``skelgnn train`` writes into ``--run-dir`` (:data:`skelgnn.train.loop.RUN_FILES`)."""


def _train_writes(args: argparse.Namespace) -> Writes:
    """The run directory's files must not be the config or lie inside the data (a resumed run
    rewrites its own config.json, which it reads)."""
    return Writes(in_dir(args.run_dir, *RUN_DIR_OUTPUTS),
                  [None if args.resume else args.config, args.data])


def _train_resume_hint(args: argparse.Namespace) -> str:
    data = f" --data {args.data}" if args.data else ""
    return (f"resume with `skelgnn train --resume --run-dir {args.run_dir}{data}` (from the last "
            "finished epoch)")


def cmd_train(args: argparse.Namespace) -> int:
    """``skelgnn train``."""
    from skelgnn.train.config import load_config
    from skelgnn.progress import terminal_mode
    from skelgnn.train.loop import TrainingDiverged, train

    logging.getLogger("skelgnn").setLevel(min(logging.getLogger().level, logging.INFO))
    overrides = list(args.overrides) + ([f"train.device={args.device}"] if args.device else [])
    cfg = load_config(args.config, overrides)
    # --resume keeps the saved config, but a --set train.epochs=N given now is honoured
    epochs_set = any(o.split("=", 1)[0].strip() == "train.epochs" for o in args.overrides)
    try:
        result = train(cfg, args.run_dir, resume=args.resume,
                       progress=terminal_mode(not args.no_progress),  # lines, not bars, in logs
                       data_dir=args.data, epochs=cfg.train.epochs if epochs_set else None)
    except FileExistsError as exc:
        raise ValueError(str(exc)) from None
    except TrainingDiverged as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"trained {cfg.preset} for {result.epochs} epochs in {result.minutes:.1f} min: "
          f"{result.checkpoint}")
    return EXIT_OK


def add_evaluate_parser(subparsers: argparse._SubParsersAction) -> None:
    ev = subparsers.add_parser(
        "evaluate", help="score a checkpoint on the benchmark test subjects",
        description="P1 (MPJPE) and P2 (P-MPJPE) in mm: per-sample and action-wise means, a "
                    "per-action table, the fixed hard subsets and the model's own hardest "
                    "5% / 10%. Flip test-time augmentation is on unless --no-tta.")
    ev.add_argument("--checkpoint", metavar="PT", default=None,
                    help="checkpoint file (required for the benchmark; --footage: default as for "
                         "`skelgnn infer`)")
    ev.add_argument("--data", metavar="DIR", default=None, help="benchmark directory")
    ev.add_argument("--source", choices=choices(Source), default=None,
                    help="2D source (default: the one the checkpoint was trained on)")
    ev.add_argument("--no-tta", action="store_true", help="no flip test-time augmentation")
    ev.add_argument("--json", metavar="OUT", default=None, help="write the figures as JSON")
    ev.add_argument("--max-samples", metavar="N", type=positive_int, default=None,
                    help="cmu: score a seeded subsample of at most N frames (whole sequences, the "
                         "last one cut) for a quick look; the report and JSON say it is a "
                         "subsample, never report it")
    ev.add_argument("--model-free", action="store_true",
                    help="cmu: also score the hard subsets no model chose (the rarest 5%% / 10%% "
                         "of test poses by distance to the nearest training pose, the noisiest "
                         "10%% of det 2D; the first run takes about a minute, then cached)")
    ev.add_argument("--per-sample", metavar="NPZ", default=None,
                    help="cmu: write every sample's P1 / P2 and key to this .npz (paired tests "
                         "between models: benchmarks/seeds.py --per-sample)")
    ev.add_argument("--dataset", choices=("cmu", "3dhp"), default="cmu",
                    help="cmu: the benchmark test subjects (default); 3dhp: the MPI-INF-3DHP test "
                         "set in --data (PCK@150mm, AUC, MPJPE per scene)")
    ev.add_argument("--joints", type=int, choices=(17, 14), default=17,
                    help="3dhp: score all 17 mapped joints (default) or the official 14")
    ev.add_argument("--footage", metavar="NPZ", default=None,
                    help="score on labelled footage instead ('footage with 3D' npz, see docs/BENCHMARK.md, "
                         "'Footage you can measure on'): every track lifted as `skelgnn infer` "
                         "does, scored on the 12 limb joints (MPJPE, P-MPJPE, limb-direction "
                         "error, knee angles, world up error) beside the constant-pose floor")
    ev.add_argument("--md", metavar="OUT", default=None, help="--footage: also write the "
                    "Markdown report")
    ev.add_argument("--min-score", metavar="S", type=float, default=0.3,
                    help="--footage: as `skelgnn infer --min-score` (default 0.3)")
    ev.add_argument("--no-flip-repair", action="store_true",
                    help="--footage: keep the detector's left/right labels")
    ev.add_argument("--no-reframe", action="store_true",
                    help="--footage: lift in the keypoints' own pixels")
    ev.add_argument("--smooth", action="store_true",
                    help="--footage: One-Euro filter on the poses, as `skelgnn infer --smooth`")
    ev.add_argument("--no-level", action="store_true",
                    help="--footage: never level a rolled camera, as `skelgnn infer --no-level`")
    add_stance_argument(ev, "--footage: ")
    ev.set_defaults(command="evaluate", handler=cmd_evaluate, writes=lambda a: Writes(
        [a.json, a.md, a.per_sample],
        [a.checkpoint, a.footage, None if a.footage else default_data_dir(a.data)]))


def _evaluate_progress() -> str:
    """A tqdm bar on a terminal; otherwise progress log lines (INFO of ``skelgnn.evaluate.benchmark``,
    shown without ``-v``), so a redirected run still says how far it got."""
    if sys.stderr.isatty():
        return "bar"
    logger = logging.getLogger("skelgnn.evaluate.benchmark")
    logger.setLevel(min(logger.getEffectiveLevel(), logging.INFO))
    return "log"


def _evaluate_3dhp(args: argparse.Namespace) -> int:
    """``skelgnn evaluate --dataset 3dhp``: PCK, AUC and MPJPE on the MPI-INF-3DHP test set."""
    from skelgnn.evaluate.mpi3dhp import evaluate_checkpoint_3dhp, format_3dhp_report
    from skelgnn.progress import terminal_mode

    if args.data is None:
        raise ValueError("--dataset 3dhp needs --data DIR: the MPI-INF-3DHP test set directory "
                         "holding TS1 .. TS6/annot_data.mat")
    if args.source is not None:
        raise ValueError("--source applies to --dataset cmu only; 3DHP is scored on its annot2 2D")
    if args.max_samples is not None:
        raise ValueError("--max-samples applies to --dataset cmu only")
    if args.model_free or args.per_sample:
        raise ValueError("--model-free and --per-sample apply to --dataset cmu only")
    result = evaluate_checkpoint_3dhp(args.checkpoint, args.data, joints=args.joints,
                                      flip_test=not args.no_tta, progress=terminal_mode())
    print(format_3dhp_report(result))
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=2) + "\n")
    return EXIT_OK


def _evaluate_footage(args: argparse.Namespace) -> int:
    """``skelgnn evaluate --footage FILE``: a lifter on labelled real footage."""
    from skelgnn.evaluate.footage import evaluate_footage, format_footage_report, read_footage
    from skelgnn.infer.onnx import build_lifter

    if args.dataset != "cmu" or args.source is not None or args.max_samples is not None:
        raise ValueError("--footage scores the footage file alone; drop --dataset, --source and "
                         "--max-samples")
    if not 0.0 <= args.min_score <= 1.0:
        raise ValueError(f"--min-score must be in [0, 1], found {args.min_score}")
    footage = read_footage(args.footage)
    lifter = build_lifter(args.checkpoint, "torch", not args.no_tta)
    lifter.flip_repair = not args.no_flip_repair
    result = evaluate_footage(footage, lifter, args.min_score, reframe=not args.no_reframe,
                              smooth=args.smooth, level=not args.no_level,
                              stance_knees=stance_knees(args))
    report = format_footage_report(result)
    print(report, end="")
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=2) + "\n")
    if args.md:
        atomic_write_text(args.md, report)
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``skelgnn evaluate``."""
    if args.footage is not None:
        if args.model_free or args.per_sample:
            raise ValueError("--model-free and --per-sample apply to --dataset cmu only")
        return _evaluate_footage(args)
    if args.md is not None:
        raise ValueError("--md applies to --footage only")
    if args.checkpoint is None:
        raise ValueError("the benchmark needs --checkpoint PT (the checkpoint to score)")
    if args.dataset == "3dhp":
        return _evaluate_3dhp(args)
    from skelgnn.data import resolve_data_dir
    from skelgnn.evaluate.benchmark import evaluate_checkpoint, format_report

    try:  # say which data before minutes of work; a missing one is evaluate_checkpoint's error
        print(f"evaluating {args.checkpoint} on {resolve_data_dir(args.data).resolve()}",
              flush=True)
    except FileNotFoundError:
        pass
    result = evaluate_checkpoint(args.checkpoint, args.data, args.source,
                                 flip_test=not args.no_tta, progress=_evaluate_progress(),
                                 max_samples=args.max_samples, model_free=args.model_free,
                                 per_sample=args.per_sample)
    print(format_report(result))
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=2) + "\n")
    return EXIT_OK



# --------------------------------------------------------------------------------------------
# bench
# --------------------------------------------------------------------------------------------

def add_bench_parser(subparsers: argparse._SubParsersAction) -> None:
    b = subparsers.add_parser(
        "bench", help="measure model speed on this CPU",
        description="Parameters, MACs per frame, inference frames/s at batch 1 and 1024, MACs/s, "
                    "training samples/s and peak memory of each preset, each in its own process. "
                    "Writes JSON and a Markdown table.")
    b.add_argument("--preset", action="append", default=[], metavar="NAME",
                   help="presets to measure (default: the main ones; repeatable)")
    b.add_argument("--all", action="store_true", help="every preset")
    b.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    b.add_argument("--quick", action="store_true", help="fewer repeats")
    b.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="time on the wall clock (default) or on the process's CPU time (use with "
                        "--threads 1 on a loaded machine)")
    b.add_argument("--out", metavar="DIR", default="benchmarks/results",
                   help="where speed.json and SPEED.md go (default benchmarks/results)")
    b.add_argument("--video", metavar="MP4", default="auto",
                   help="also time each stage of `skelgnn video` on this clip ('auto': the "
                        f"sample video {SAMPLE_VIDEO} when it and mediapipe are there; 'none' "
                        "to skip)")
    b.set_defaults(command="bench", handler=cmd_bench, writes=lambda a: Writes(
        in_dir(a.out, "speed.json", "SPEED.md"), [None if a.video in ("auto", "none") else a.video]))


def cmd_bench(args: argparse.Namespace) -> int:
    """``skelgnn bench``."""
    from skelgnn.evaluate.speed import DEFAULT_PRESETS, format_bench, run_bench
    from skelgnn.models import PRESETS, build_model

    from skelgnn.train.config import max_threads

    if not 1 <= args.threads <= max_threads():
        raise ValueError(f"--threads must be between 1 and {max_threads()}, found {args.threads}")
    names = list(PRESETS) if args.all else (args.preset or list(DEFAULT_PRESETS))
    for n in names:
        build_model(n)  # unknown names fail here, with a suggestion
    video: Optional[Path] = None
    if args.video == "auto":
        import importlib.util

        if Path(SAMPLE_VIDEO).is_file() and importlib.util.find_spec("mediapipe") is not None:
            video = Path(SAMPLE_VIDEO)
    elif args.video != "none":
        video = Path(args.video)
        if not video.is_file():
            raise FileNotFoundError(f"--video {video}: no such file (or 'none' to skip)")
        from skelgnn.video.pipeline import read_video_info

        read_video_info(video)  # not a video: one line now, not ffmpeg's log after the presets
    check_output_path(Path(args.out) / "speed.json")  # before minutes of timing
    result = run_bench(names, threads=args.threads, quick=args.quick,
                       progress=sys.stderr.isatty(), video=video, clock=args.clock)
    table = format_bench(result)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "speed.json", json.dumps(result, indent=2) + "\n")
    atomic_write_text(out / "SPEED.md", table + "\n")
    return EXIT_OK
