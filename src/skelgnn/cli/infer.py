"""``skelgnn infer|export|video``: the verbs that lift keypoints files and videos with a checkpoint."""
from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

from skelgnn.cli.common import BACKENDS, EXIT_OK, in_dir
from skelgnn.fileio import Writes, check_output_path

__all__ = ["add_infer_parser", "add_export_parser", "add_video_parser", "cmd_infer", "cmd_export", "cmd_video"]


# --------------------------------------------------------------------------------------------
# infer / export / render / video
# --------------------------------------------------------------------------------------------

def add_infer_parser(subparsers: argparse._SubParsersAction) -> None:
    inf = subparsers.add_parser(
        "infer", help="lift a file of 2D keypoints to 3D",
        description="Read one person's 2D keypoints (npz 'keypoints' (F, J, 2|3); COCO-results "
                    "or mmpose-predictions JSON; an OpenPose JSON directory), convert them to the "
                    "Human3.6M 17-joint layout, "
                    "fill joints below --min-score by temporal interpolation, lift them and write "
                    "an npz with poses_3d (F, 17, 3) root-relative camera-frame metres, "
                    "keypoints_2d, scores, filled, joint_names, checkpoint (and fps when known).")
    inf.add_argument("--keypoints", metavar="FILE", required=True,
                     help=".npz or .json keypoints, or an OpenPose --write_json directory")
    inf.add_argument("--out", metavar="NPZ", required=True, help="output file (poses_3d.npz)")
    inf.add_argument("--layout", choices=("auto", "h36m17", "coco17", "blazepose33", "body25"),
                     default="auto",
                     help="keypoint layout of the file (default auto: the file's 'layout' entry, "
                          "blazepose33 for 33 joints, body25 (OpenPose) for 25; 17 joints must "
                          "be named)")
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
                          "(see docs/USAGE.md, 'From video to motion')")
    inf.add_argument("--backend", choices=BACKENDS, default="torch",
                     help="run the model with PyTorch or ONNX Runtime (default torch)")
    inf.add_argument("--onnx", metavar="ONNX", default=None,
                     help="with --backend onnxruntime: a model from `skelgnn export` (default: "
                          "export the checkpoint to a temporary file)")
    inf.add_argument("--no-tta", action="store_true", help="no flip test-time augmentation")
    inf.add_argument("--reframe", action="store_true", help=argparse.SUPPRESS)  # removed: refused
    # --no-reframe --device --threads --focal --smooth --export
    from skelgnn.cli.motion import add_motion_arguments

    add_motion_arguments(inf)
    inf.set_defaults(command="infer", handler=cmd_infer, writes=lambda a: Writes(
        [a.out] + [str(Path(a.out).with_suffix(f".{fmt}")) for fmt in a.export],
        [a.keypoints, a.checkpoint, a.onnx]))


def cmd_infer(args: argparse.Namespace) -> int:
    """``skelgnn infer``."""
    from skelgnn.infer.keypoints import check_image_size, read_keypoints
    from skelgnn.infer.layouts import resolve_layout
    from skelgnn.motion.pipeline import world_summary
    from skelgnn.progress import stage

    from skelgnn.cli.motion import (apply_threads, build_cli_lifter, cmd_infer_tracks, flip_line,
                                    lift_prediction, refuse_removed_reframe, write_exports)

    refuse_removed_reframe(args)
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
    with stage(f"lifting {seq.num_frames} frames"):  # named by the command's heartbeat lines
        # lift, trajectory, world frame; a rolled camera is levelled and lifted again
        pred, motion = lift_prediction(lifter, seq.keypoints, image_size, layout, seq.fps, args)
    elapsed = time.perf_counter() - start
    out = pred.save(args.out, fps=seq.fps, frames=seq.frames, image_size=image_size,
                    layout=layout, checkpoint=lifter.info.get("checkpoint", ""), **motion)
    print(f"lifted {pred.poses_3d.shape[0]} frames ({layout}, {image_size[0]:g}x{image_size[1]:g}) "
          f"with {lifter.info.get('checkpoint', '?')} [{args.backend}, receptive field "
          f"{lifter.receptive_field}] in {elapsed:.2f} s")
    print(f"missing joints: {pred.report.summary()}")
    print(flip_line(pred))
    print(world_summary(motion))
    print(f"wrote {out}")
    for path in write_exports(out, args.export):
        print(f"wrote {path}")
    return EXIT_OK


def add_export_parser(subparsers: argparse._SubParsersAction) -> None:
    ex = subparsers.add_parser(
        "export", help="export a checkpoint to ONNX",
        description="Write the model's window mode to ONNX: input keypoints_2d (B, R, 17, 2) "
                    "normalised 2D, output poses_3d (B, 17, 3) metres, dynamic batch B; the codec "
                    "and receptive field go into the model metadata (needs the onnx package).")
    ex.add_argument("--checkpoint", metavar="PT", default=None,
                    help="checkpoint (default: as for `skelgnn infer`)")
    ex.add_argument("--onnx", metavar="OUT", required=True, help="the .onnx file to write")
    ex.add_argument("--opset", type=int, default=17, help="ONNX opset, 13 to 20 (default 17)")
    ex.set_defaults(command="export", handler=cmd_export,
                    writes=lambda a: Writes([a.onnx], [a.checkpoint]))


def cmd_export(args: argparse.Namespace) -> int:
    """``skelgnn export``."""
    from skelgnn.infer.onnx import export_onnx
    from skelgnn.infer.lifter import default_checkpoint

    checkpoint = args.checkpoint or default_checkpoint()
    Writes([args.onnx], [checkpoint]).check()
    out = export_onnx(checkpoint, args.onnx, opset=args.opset)
    print(f"exported {checkpoint} to {out}")
    return EXIT_OK


def add_video_parser(subparsers: argparse._SubParsersAction) -> None:
    vd = subparsers.add_parser(
        "video", help="detect, lift and render the person in a video",
        description="Detect one person's 2D keypoints in every frame with MediaPipe BlazePose "
                    "(needs mediapipe==0.10.21, the 'video' extra), lift them to 3D and write "
                    "keypoints_2d.npz, poses_3d.npz, side_by_side.mp4 (the video with the 2D "
                    "skeleton | the 3D skeleton), contact_sheet.png and motion.html (an "
                    "interactive 3D viewer, one offline HTML file; see `skelgnn view`) to --out, "
                    "printing the frames/s of each stage.")
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
    vd.add_argument("--no-viewer", action="store_true", help="skip motion.html (the interactive viewer)")
    vd.add_argument("--rotate", choices=("auto", "0", "90", "180", "270"), default="auto",
                    help="degrees the picture is turned clockwise, turned back before lifting "
                         "(default auto: judged from the detected person, with a warning when "
                         "turned; rotation metadata is applied when decoding anyway)")
    vd.add_argument("--no-tta", action="store_true", help="no flip test-time augmentation")
    vd.add_argument("--person", metavar="one", default="one",
                    help="people lifted: one, the only choice (MediaPipe's pose API finds one "
                         "person per frame; for several, detect with a multi-person 2D detector "
                         "and run `skelgnn infer --person all`)")
    # --no-reframe --device --threads --focal --smooth --export
    from skelgnn.cli.motion import add_motion_arguments

    add_motion_arguments(vd)
    vd.set_defaults(command="video", handler=cmd_video, writes=_video_writes)


def _video_writes(args: argparse.Namespace) -> Writes:
    """The video's outputs (the exports beside poses_3d.npz included) must not be the clip or
    the checkpoint: a clip named side_by_side.mp4 in --out is refused, never deleted."""
    from skelgnn.video.pipeline import VIDEO_OUTPUTS

    return Writes(in_dir(args.out, *VIDEO_OUTPUTS, *(f"poses_3d.{fmt}" for fmt in args.export)),
                  [args.input, args.checkpoint])


def cmd_video(args: argparse.Namespace) -> int:
    """``skelgnn video``."""
    from skelgnn.cli.motion import (apply_threads, build_cli_lifter, flip_line, path_smoothing,
                                    stance_knees, write_exports)
    from skelgnn.cli.quiet import filter_native_stderr
    from skelgnn.motion.pipeline import world_summary
    from skelgnn.progress import terminal_mode
    from skelgnn.video.pipeline import process_video, read_video_info

    if args.person != "one":
        raise ValueError(f"--person {args.person}: `skelgnn video` lifts one person, because its "
                         "detector (MediaPipe's legacy pose API, the one that works offline) "
                         "finds one person per frame. For several people, run a multi-person 2D "
                         "detector (mmpose, ...) and `skelgnn infer --keypoints FILE.json "
                         "--person all`")
    apply_threads(args)
    path_smoothing(args)  # a bad --path-smoothing: before the video is read
    check_output_path(Path(args.out) / "poses_3d.npz")  # --out an existing file: before any work
    if not 0.0 <= args.min_score <= 1.0:
        raise ValueError(f"--min-score must be in [0, 1], found {args.min_score}")
    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError(f"--max-frames must be >= 1, found {args.max_frames}")
    info = read_video_info(args.input)
    lifter = build_cli_lifter(args)
    start = time.perf_counter()
    native: contextlib.AbstractContextManager[None] = (
        contextlib.nullcontext() if args.verbose else filter_native_stderr())
    with native:  # MediaPipe's C++ start-up lines; `skelgnn -v video` shows them
        result = process_video(args.input, args.out, lifter, min_score=args.min_score,
                               max_frames=args.max_frames, render=not args.no_render,
                               progress=terminal_mode(), reframe=not args.no_reframe,
                               focal=args.focal, smooth=args.smooth, viewer=not args.no_viewer,
                               rotate=args.rotate if args.rotate == "auto" else int(args.rotate),
                               level=not args.no_level, path_smooth_s=path_smoothing(args),
                               stance_knees=stance_knees(args))
    elapsed = time.perf_counter() - start
    frames = result.prediction.poses_3d.shape[0]
    print(f"{args.input}: {frames} frames, {info.size[0]}x{info.size[1]} at {info.fps:g} fps, "
          f"lifted with {lifter.info.get('checkpoint', '?')} in {elapsed:.1f} s")
    print(f"missing joints: {result.prediction.report.summary()}")
    print(flip_line(result.prediction))
    if result.mediapipe_agreement is not None:
        print(f"MediaPipe's own 3D (pose_world_landmarks, saved as poses_3d_mediapipe): "
              f"P-MPJPE {result.mediapipe_agreement:.1f} mm from ours over "
              f"{result.mediapipe_frames} frames")
    if result.motion is not None:
        print(world_summary(result.motion))
    for stage, seconds in result.timings.items():
        print(f"  {stage:14s} {seconds:7.2f} s  {frames / max(seconds, 1e-9):8.1f} frames/s")
    for name, path in result.files.items():
        print(f"  {name}: {path}")
    for path in write_exports(result.files["poses_3d"], args.export):
        print(f"  export: {path}")
    return EXIT_OK
