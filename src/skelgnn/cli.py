"""The ``skelgnn`` command line: one verb -> one function.

Adding a command: write ``cmd_<verb>(args) -> int`` and ``_add_<verb>_parser(subparsers)``, which
builds the sub-parser and ends with ``set_defaults(command="<verb> [<sub-verb>]",
handler=cmd_<verb>)``, then append the builder to :data:`PARSER_BUILDERS` (the verb table).
:data:`COMMANDS` is derived from it. Handlers raise ``ValueError`` /
``FileNotFoundError`` for user errors; :func:`main` turns them into ``error: <message>`` on stderr
and exit code 2. Only this module reads ``sys.argv`` and prints.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

from skelgnn import __version__
from skelgnn.cli_data import add_analyze_parser, add_prepare_parser
from skelgnn.cli_motion import add_convert_parser, add_render_parser
from skelgnn.tables import format_table
from skelgnn.fileio import atomic_write_text, check_output_path, refuse_overwriting_inputs
from skelgnn.options import Device, Source, choices

BACKENDS = ("torch", "onnxruntime")
"""Lifter back ends (:func:`skelgnn.export.build_lifter`; the CLI does not import torch to list them)."""

SAMPLE_VIDEO = "../shared/data/video/person_balance_cam01.mp4"
"""The sample clip (relative to the repository root, where the Makefile runs)."""

__all__ = ["build_parser", "main", "commands", "COMMANDS", "PARSER_BUILDERS", "format_table", "cmd_data_check"]

log = logging.getLogger(__name__)

Handler = Callable[[argparse.Namespace], int]

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------

def _add_data_parser(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="inspect and validate benchmark data",
                                 description="Inspect and validate benchmark data.")
    verbs = data.add_subparsers(title="data commands", metavar="VERB", dest="data_verb")
    verbs.required = True
    check = verbs.add_parser(
        "check", help="load, validate and summarise a benchmark directory",
        description="Load the 3D poses, every 2D source, the cameras, split and action table; "
                    "check that they agree (the GT 2D must equal the projection of the 3D within "
                    "0.01 px) and print a summary.")
    check.add_argument("--data", metavar="DIR", default=None,
                       help="benchmark directory (default: $SKELGNN_DATA, else ../shared/data/cmu)")
    check.set_defaults(command="data check", handler=cmd_data_check)


def cmd_data_check(args: argparse.Namespace) -> int:
    """``skelgnn data check``: print the benchmark summary; exit 1 when problems were found."""
    from skelgnn.data import check_benchmark, format_benchmark_report

    start = time.perf_counter()
    report = check_benchmark(args.data)
    print(format_benchmark_report(report, time.perf_counter() - start))
    return EXIT_PROBLEMS if report.problems else EXIT_OK



# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------

def _add_models_parser(subparsers: argparse._SubParsersAction) -> None:
    models = subparsers.add_parser(
        "models", help="list the model presets with their size and cost",
        description="List every model preset: receptive field, parameters and multiply-"
                    "accumulates per output frame (window mode, counted by "
                    "torch.utils.flop_counter).")
    models.add_argument("--json", metavar="OUT", default=None, help="also write the table as JSON")
    models.set_defaults(command="models", handler=cmd_models)


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

def _add_train_parser(subparsers: argparse._SubParsersAction) -> None:
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
    tr.set_defaults(command="train", handler=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    """``skelgnn train``."""
    from skelgnn.config import load_config
    from skelgnn.train import TrainingDiverged, train

    logging.getLogger("skelgnn").setLevel(min(logging.getLogger().level, logging.INFO))
    overrides = list(args.overrides) + ([f"train.device={args.device}"] if args.device else [])
    cfg = load_config(args.config, overrides)
    # --resume keeps the saved config, but a --set train.epochs=N given now is honoured
    epochs_set = any(o.split("=", 1)[0].strip() == "train.epochs" for o in args.overrides)
    try:
        result = train(cfg, args.run_dir, resume=args.resume,
                       progress=not args.no_progress and sys.stderr.isatty(),  # no bars in logs
                       data_dir=args.data, epochs=cfg.train.epochs if epochs_set else None)
    except FileExistsError as exc:
        raise ValueError(str(exc)) from None
    except TrainingDiverged as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"trained {cfg.preset} for {result.epochs} epochs in {result.minutes:.1f} min: "
          f"{result.checkpoint}")
    return EXIT_OK


def _add_evaluate_parser(subparsers: argparse._SubParsersAction) -> None:
    ev = subparsers.add_parser(
        "evaluate", help="score a checkpoint on the benchmark test subjects",
        description="P1 (MPJPE) and P2 (P-MPJPE) in mm: per-sample and action-wise means, a "
                    "per-action table, the fixed hard subsets and the model's own hardest "
                    "5% / 10%. Flip test-time augmentation is on unless --no-tta.")
    ev.add_argument("--checkpoint", metavar="PT", required=True, help="checkpoint file")
    ev.add_argument("--data", metavar="DIR", default=None, help="benchmark directory")
    ev.add_argument("--source", choices=choices(Source), default=None,
                    help="2D source (default: the one the checkpoint was trained on)")
    ev.add_argument("--no-tta", action="store_true", help="no flip test-time augmentation")
    ev.add_argument("--json", metavar="OUT", default=None, help="write the figures as JSON")
    ev.add_argument("--max-samples", metavar="N", type=_positive_int, default=None,
                    help="cmu: score a seeded subsample of at most N frames (whole sequences, the "
                         "last one cut) for a quick look; the report and JSON say it is a "
                         "subsample, never report it")
    ev.add_argument("--dataset", choices=("cmu", "3dhp"), default="cmu",
                    help="cmu: the benchmark test subjects (default); 3dhp: the MPI-INF-3DHP test "
                         "set in --data (PCK@150mm, AUC, MPJPE per scene)")
    ev.add_argument("--joints", type=int, choices=(17, 14), default=17,
                    help="3dhp: score all 17 mapped joints (default) or the official 14")
    ev.set_defaults(command="evaluate", handler=cmd_evaluate)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _evaluate_progress() -> str:
    """A tqdm bar on a terminal; otherwise progress log lines (INFO of ``skelgnn.evaluate``,
    shown without ``-v``), so a redirected run still says how far it got."""
    if sys.stderr.isatty():
        return "bar"
    logger = logging.getLogger("skelgnn.evaluate")
    logger.setLevel(min(logger.getEffectiveLevel(), logging.INFO))
    return "log"


def _evaluate_3dhp(args: argparse.Namespace) -> int:
    """``skelgnn evaluate --dataset 3dhp``: PCK, AUC and MPJPE on the MPI-INF-3DHP test set."""
    from skelgnn.evaluate_3dhp import evaluate_checkpoint_3dhp, format_3dhp_report

    if args.data is None:
        raise ValueError("--dataset 3dhp needs --data DIR: the MPI-INF-3DHP test set directory "
                         "holding TS1 .. TS6/annot_data.mat")
    if args.source is not None:
        raise ValueError("--source applies to --dataset cmu only; 3DHP is scored on its annot2 2D")
    if args.max_samples is not None:
        raise ValueError("--max-samples applies to --dataset cmu only")
    result = evaluate_checkpoint_3dhp(args.checkpoint, args.data, joints=args.joints,
                                      flip_test=not args.no_tta, progress=sys.stderr.isatty())
    print(format_3dhp_report(result))
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=2) + "\n")
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``skelgnn evaluate``."""
    if args.json:
        check_output_path(args.json)  # refuse a directory or device before minutes of scoring
        refuse_overwriting_inputs([args.json], [args.checkpoint])
    if args.dataset == "3dhp":
        return _evaluate_3dhp(args)
    from skelgnn.evaluate import evaluate_checkpoint, format_report

    result = evaluate_checkpoint(args.checkpoint, args.data, args.source,
                                 flip_test=not args.no_tta, progress=_evaluate_progress(),
                                 max_samples=args.max_samples)
    print(format_report(result))
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=2) + "\n")
    return EXIT_OK



# --------------------------------------------------------------------------------------------
# bench
# --------------------------------------------------------------------------------------------

def _add_bench_parser(subparsers: argparse._SubParsersAction) -> None:
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
    b.set_defaults(command="bench", handler=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    """``skelgnn bench``."""
    from skelgnn.bench import DEFAULT_PRESETS, format_bench, run_bench
    from skelgnn.models import PRESETS, build_model

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


# --------------------------------------------------------------------------------------------
# infer / export / render / video
# --------------------------------------------------------------------------------------------

def _add_infer_parser(subparsers: argparse._SubParsersAction) -> None:
    inf = subparsers.add_parser(
        "infer", help="lift a file of 2D keypoints to 3D",
        description="Read one person's 2D keypoints (npz 'keypoints' (F, J, 2|3); COCO-results "
                    "or mmpose-predictions JSON), convert them to the Human3.6M 17-joint layout, "
                    "fill joints below --min-score by temporal interpolation, lift them and write "
                    "an npz with poses_3d (F, 17, 3) root-relative camera-frame metres, "
                    "keypoints_2d, scores, filled, joint_names, checkpoint (and fps when known).")
    inf.add_argument("--keypoints", metavar="FILE", required=True, help=".npz or .json keypoints")
    inf.add_argument("--out", metavar="NPZ", required=True, help="output file (poses_3d.npz)")
    inf.add_argument("--layout", choices=("auto", "h36m17", "coco17", "blazepose33"),
                     default="auto",
                     help="keypoint layout of the file (default auto: the file's 'layout' entry, "
                          "or blazepose33 for 33 joints; 17 joints must be named)")
    inf.add_argument("--image-size", metavar=("W", "H"), type=float, nargs=2, default=None,
                     help="image width and height in pixels (default: the file's image_size)")
    inf.add_argument("--checkpoint", metavar="PT", default=None,
                     help="checkpoint (default: checkpoints/skelgnn-27f-video.pt, the footage "
                          "checkpoint, else the benchmark ones)")
    inf.add_argument("--min-score", metavar="S", type=float, default=0.3,
                     help="joints scoring below S are missing and get filled (default 0.3)")
    inf.add_argument("--person", metavar="score|track|all|ID", default="score",
                     help="with several people in a frame, keep the most confident (score) or the "
                          "one nearest the previous frame's choice (track), or track everyone "
                          "and lift every track (all: OUT_STEM.track<ID>.npz) or track ID "
                          "(see README, 'From video to motion')")
    inf.add_argument("--backend", choices=BACKENDS, default="torch",
                     help="run the model with PyTorch or ONNX Runtime (default torch)")
    inf.add_argument("--onnx", metavar="ONNX", default=None,
                     help="with --backend onnxruntime: a model from `skelgnn export` (default: "
                          "export the checkpoint to a temporary file)")
    inf.add_argument("--no-tta", action="store_true", help="no flip test-time augmentation")
    inf.add_argument("--reframe", action="store_true",
                     help="deprecated, no effect: reframing is the default now (--no-reframe "
                          "turns it off)")
    # --no-reframe --device --threads --focal --smooth --export
    from skelgnn.cli_motion import add_motion_arguments

    add_motion_arguments(inf)
    inf.set_defaults(command="infer", handler=cmd_infer)


def cmd_infer(args: argparse.Namespace) -> int:
    """``skelgnn infer``."""
    from skelgnn.keypoints_io import check_image_size, read_keypoints
    from skelgnn.layouts import resolve_layout

    from skelgnn.cli_motion import (apply_threads, build_cli_lifter, cmd_infer_tracks,
                                    place_prediction, warn_deprecated_reframe, write_exports)

    outputs = [Path(args.out)] + [Path(args.out).with_suffix(f".{fmt}") for fmt in args.export]
    refuse_overwriting_inputs(outputs, [args.keypoints, args.checkpoint, args.onnx])
    warn_deprecated_reframe(args)
    if args.person not in ("score", "track"):  # several people: one output per track
        return cmd_infer_tracks(args)
    if args.onnx and args.backend != "onnxruntime":
        raise ValueError("--onnx needs --backend onnxruntime")
    apply_threads(args)
    if not 0.0 <= args.min_score <= 1.0:
        raise ValueError(f"--min-score must be in [0, 1], found {args.min_score}")
    seq = read_keypoints(args.keypoints, person=args.person)
    layout = resolve_layout(args.layout, seq.num_joints, seq.layout)
    if args.image_size is not None:
        image_size = check_image_size(args.image_size)
    elif seq.image_size is not None:
        image_size = seq.image_size
    else:
        raise ValueError(f"{args.keypoints}: the file has no image_size; pass --image-size W H "
                         "(the width and height in pixels of the images the keypoints come from)")
    lifter = build_cli_lifter(args)
    start = time.perf_counter()
    pred = lifter.predict_full(seq.keypoints, image_size, layout, args.min_score,
                               reframe=not args.no_reframe)
    elapsed = time.perf_counter() - start
    pred, motion = place_prediction(pred, image_size, seq.fps, args)  # trajectory, poses_world
    out = pred.save(args.out, fps=seq.fps, frames=seq.frames, image_size=image_size,
                    layout=layout, checkpoint=lifter.info.get("checkpoint", ""), **motion)
    print(f"lifted {pred.poses_3d.shape[0]} frames ({layout}, {image_size[0]:g}x{image_size[1]:g}) "
          f"with {lifter.info.get('checkpoint', '?')} [{args.backend}, receptive field "
          f"{lifter.receptive_field}] in {elapsed:.2f} s")
    print(f"missing joints: {pred.report.summary()}")
    print(f"wrote {out}")
    for path in write_exports(out, args.export):
        print(f"wrote {path}")
    return EXIT_OK


def _add_export_parser(subparsers: argparse._SubParsersAction) -> None:
    ex = subparsers.add_parser(
        "export", help="export a checkpoint to ONNX",
        description="Write the model's window mode to ONNX: input keypoints_2d (B, R, 17, 2) "
                    "normalised 2D, output poses_3d (B, 17, 3) metres, dynamic batch B; the codec "
                    "and receptive field go into the model metadata (needs the onnx package).")
    ex.add_argument("--checkpoint", metavar="PT", default=None,
                    help="checkpoint (default: as for `skelgnn infer`)")
    ex.add_argument("--onnx", metavar="OUT", required=True, help="the .onnx file to write")
    ex.add_argument("--opset", type=int, default=17, help="ONNX opset, 13 to 20 (default 17)")
    ex.set_defaults(command="export", handler=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    """``skelgnn export``."""
    from skelgnn.export import export_onnx
    from skelgnn.inference import default_checkpoint

    checkpoint = args.checkpoint or default_checkpoint()
    refuse_overwriting_inputs([args.onnx], [checkpoint])
    out = export_onnx(checkpoint, args.onnx, opset=args.opset)
    print(f"exported {checkpoint} to {out}")
    return EXIT_OK


def _add_video_parser(subparsers: argparse._SubParsersAction) -> None:
    vd = subparsers.add_parser(
        "video", help="detect, lift and render the person in a video",
        description="Detect one person's 2D keypoints in every frame with MediaPipe BlazePose "
                    "(needs mediapipe==0.10.21, the 'video' extra), lift them to 3D and write "
                    "keypoints_2d.npz, poses_3d.npz, side_by_side.mp4 (the video with the 2D "
                    "skeleton | the 3D skeleton) and contact_sheet.png to --out, printing the "
                    "frames/s of each stage.")
    vd.add_argument("input", metavar="VIDEO", help="input video (mp4, mov, ...)")
    vd.add_argument("--out", metavar="DIR", required=True, help="output directory")
    vd.add_argument("--checkpoint", metavar="PT", default=None,
                    help="checkpoint (default: as for `skelgnn infer`)")
    vd.add_argument("--min-score", metavar="S", type=float, default=0.3,
                    help="landmarks with visibility below S are filled (default 0.3)")
    vd.add_argument("--max-frames", metavar="N", type=int, default=None,
                    help="process only the first N frames")
    vd.add_argument("--backend", choices=BACKENDS, default="torch",
                    help="run the lifter with PyTorch or ONNX Runtime (default torch)")
    vd.add_argument("--no-render", action="store_true", help="skip side_by_side.mp4 and contact_sheet.png")
    vd.add_argument("--no-tta", action="store_true", help="no flip test-time augmentation")
    vd.add_argument("--person", metavar="one", default="one",
                    help="people lifted: one, the only choice (MediaPipe's pose API finds one "
                         "person per frame; for several, detect with a multi-person 2D detector "
                         "and run `skelgnn infer --person all`)")
    # --no-reframe --device --threads --focal --smooth --export
    from skelgnn.cli_motion import add_motion_arguments

    add_motion_arguments(vd)
    vd.set_defaults(command="video", handler=cmd_video)


def cmd_video(args: argparse.Namespace) -> int:
    """``skelgnn video``."""
    from skelgnn.cli_motion import apply_threads, build_cli_lifter, write_exports
    from skelgnn.video import process_video, read_video_info

    if args.person != "one":
        raise ValueError(f"--person {args.person}: `skelgnn video` lifts one person, because its "
                         "detector (MediaPipe's legacy pose API, the one that works offline) "
                         "finds one person per frame. For several people, run a multi-person 2D "
                         "detector (mmpose, ...) and `skelgnn infer --keypoints FILE.json "
                         "--person all`")
    apply_threads(args)
    check_output_path(Path(args.out) / "poses_3d.npz")  # --out an existing file: before any work
    if not 0.0 <= args.min_score <= 1.0:
        raise ValueError(f"--min-score must be in [0, 1], found {args.min_score}")
    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError(f"--max-frames must be >= 1, found {args.max_frames}")
    info = read_video_info(args.input)
    lifter = build_cli_lifter(args)
    start = time.perf_counter()
    result = process_video(args.input, args.out, lifter, min_score=args.min_score,
                           max_frames=args.max_frames, render=not args.no_render,
                           progress=sys.stderr.isatty(), reframe=not args.no_reframe,
                           focal=args.focal, smooth=args.smooth)
    elapsed = time.perf_counter() - start
    frames = result.prediction.poses_3d.shape[0]
    print(f"{args.input}: {frames} frames, {info.size[0]}x{info.size[1]} at {info.fps:g} fps, "
          f"lifted with {lifter.info.get('checkpoint', '?')} in {elapsed:.1f} s")
    print(f"missing joints: {result.prediction.report.summary()}")
    for stage, seconds in result.timings.items():
        print(f"  {stage:14s} {seconds:7.2f} s  {frames / max(seconds, 1e-9):8.1f} frames/s")
    for name, path in result.files.items():
        print(f"  {name}: {path}")
    for path in write_exports(result.files["poses_3d"], args.export):
        print(f"  export: {path}")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# Parser and dispatch
# --------------------------------------------------------------------------------------------

PARSER_BUILDERS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_data_parser,
    _add_models_parser,
    _add_train_parser,
    _add_evaluate_parser,
    _add_bench_parser,
    _add_infer_parser,
    _add_export_parser,
    add_render_parser,  # skelgnn.cli_motion
    _add_video_parser,
    add_prepare_parser,  # skelgnn.cli_data
    add_analyze_parser,  # skelgnn.cli_data
    add_convert_parser,  # skelgnn.cli_motion
]
"""The verb table: one function per top-level verb, each adding its sub-parser with
``set_defaults(command="<verb> [<sub-verb>]", handler=cmd_<verb>)``."""



# skeleton action recognition: parser and handlers live in skelgnn.action.cli
from skelgnn.action.cli import add_action_parser  # noqa: E402

PARSER_BUILDERS.append(add_action_parser)


def build_parser() -> argparse.ArgumentParser:
    """The full ``skelgnn`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="skelgnn",
        description="Skeletal graph neural networks (D-HCSF) for 2D-to-3D human pose lifting.")
    parser.add_argument("--version", action="version", version=f"skelgnn {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log progress (-v info, -vv debug)")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", dest="verb")
    subparsers.required = True
    for add in PARSER_BUILDERS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``skelgnn`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING if args.verbose == 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    handler = getattr(args, "handler", None)
    if handler is None:  # a sub-parser without set_defaults(handler=...): a wiring bug
        parser.error(f"no handler for {args.verb!r}")
    try:
        if args.verbose:  # -v: every library's warnings too
            return handler(args)
        from skelgnn.quiet import quiet_libraries

        with quiet_libraries():  # torch / onnx / mediapipe advice a user cannot act on
            return handler(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # any other file-system failure: one line, not a traceback
        where = f"{exc.filename}: " if exc.filename is not None else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE


def commands(parser: Optional[argparse.ArgumentParser] = None) -> dict[str, Handler]:
    """Every leaf command of the parser (``"data check"``, ``"train"``, ...) -> its handler, read
    from the sub-parsers' defaults."""
    out: dict[str, Handler] = {}

    def walk(p: argparse.ArgumentParser) -> None:
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            out[p.get_default("command")] = p.get_default("handler")
        for sub in subs:
            for child in dict.fromkeys(sub.choices.values()):
                walk(child)

    walk(parser or build_parser())
    return out


COMMANDS: dict[str, Handler] = commands()
"""``command`` value -> handler, derived from the verb table (for tests and introspection)."""


if __name__ == "__main__":
    sys.exit(main())
