"""The motion verb group of the command line (``skelgnn convert|render``) and the pieces of the
video-to-motion path that ``skelgnn infer`` and ``skelgnn video`` (:mod:`skelgnn.cli.infer`)
share: the options ``--no-reframe``, ``--device``, ``--threads``, ``--focal``, ``--smooth``,
``--export``, the lifter they build and what they do after lifting. ``convert``: poses npz ->
BVH / JSON / CSV; ``render``: poses npz -> mp4 / gif / png."""
from __future__ import annotations

import argparse
import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # numpy is imported by the handlers, not when the parser is built
    import numpy as np

__all__ = ["add_motion_arguments", "apply_threads", "build_cli_lifter", "refuse_removed_reframe",
           "lift_prediction", "path_smoothing", "flip_line", "write_exports", "cmd_infer_tracks",
           "add_convert_parser", "cmd_convert", "add_render_parser", "cmd_render",
           "STANCE_CHOICES", "add_stance_argument", "stance_knees"]

log = logging.getLogger(__name__)

EXPORT_FORMATS = ("bvh", "json", "csv")
DEVICES = ("cpu", "cuda", "mps")
"""``--device`` choices (:data:`skelgnn.infer.lifter.INFERENCE_DEVICES`; the parser does not import
torch to list them)."""


def add_motion_arguments(parser: argparse.ArgumentParser) -> None:
    """``--no-reframe``, ``--device``, ``--threads``, ``--focal``, ``--smooth``,
    ``--path-smoothing``, ``--export``, ``--no-flip-repair``, ``--no-level``, ``--stance-knees``."""
    parser.add_argument("--no-reframe", action="store_true",
                        help="lift in the keypoints' own pixels instead of a virtual camera "
                             "framed like the training data (the default of `infer`, `video` and "
                             "Lifter.predict alike; see docs/USAGE.md, 'Footage from other cameras')")
    parser.add_argument("--device", choices=DEVICES, default="cpu",
                        help="run the lifter on the CPU (default: one clip is too small for a "
                             "GPU to pay), a CUDA GPU or Apple's MPS; an error if unavailable")
    parser.add_argument("--focal", metavar="PX", type=float, default=None,
                        help="the camera's focal length in pixels, for the root trajectory "
                             "(default: the image diagonal, i.e. a 53 degree diagonal field of view)")
    parser.add_argument("--smooth", action="store_true",
                        help="One-Euro filter on the poses and the trajectory (off by default: "
                             "the temporal models are already smooth)")
    parser.add_argument("--path-smoothing", metavar="SECONDS", type=float, default=None,
                        help="sigma of the Gaussian on the root's path across the floor (default "
                             "0.3 s: a monocular trajectory jitters in depth; 0: off)")
    parser.add_argument("--export", metavar="FMT", nargs="+", choices=EXPORT_FORMATS, default=[],
                        help="also write the motion as BVH / JSON / CSV next to the npz "
                             "(same name, other suffix)")
    parser.add_argument("--no-flip-repair", action="store_true",
                        help="keep the detector's left/right labels as they are (default: "
                             "repair frames where it swapped them, see docs/BENCHMARK.md, 'Left/right flip repair')")
    parser.add_argument("--no-level", action="store_true",
                        help="lift the clip as the camera saw it even when it looks rolled "
                             "(default: a camera rolled more than 5 degrees, by the learnt up, "
                             "is levelled and the clip lifted again; see docs/USAGE.md, "
                             "'A tilted camera')")
    add_stance_argument(parser)
    parser.add_argument("--threads", metavar="N", type=int, default=1,
                        help="torch CPU threads (default 1: fastest for one clip, see docs/USAGE.md)")


STANCE_CHOICES = ("auto", "on", "off")
"""``--stance-knees`` values (:func:`stance_knees`)."""


def add_stance_argument(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """``--stance-knees auto|on|off`` (``prefix``: a help prefix such as ``"--footage: "``)."""
    parser.add_argument("--stance-knees", choices=STANCE_CHOICES, default="auto",
                        help=prefix + "straighten, in depth, the knees of legs that stand (foot "
                             "planted and still, leg under the hip and straight in 2D): auto "
                             "(default) for a detector's keypoints, not for h36m17 ones, which "
                             "may carry the training skeleton's own knees; see docs/USAGE.md, "
                             "'Standing knees'")


def stance_knees(args: argparse.Namespace) -> Optional[bool]:
    """``--stance-knees`` as :func:`skelgnn.motion.pipeline.lift_and_place` takes it (None: by
    layout)."""
    return {"auto": None, "on": True, "off": False}[getattr(args, "stance_knees", "auto")]


def apply_threads(args: argparse.Namespace) -> None:
    """Set torch's intra-op thread count from ``--threads`` and check ``--device`` is available
    here (both before any file is read)."""
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, found {args.threads}")
    import torch

    from skelgnn.infer.lifter import check_device

    torch.set_num_threads(args.threads)
    check_device(args.device)
    if args.device != "cpu" and args.backend != "torch":
        raise ValueError(f"--device {args.device} needs --backend torch (the ONNX Runtime back "
                         "end runs on the CPU)")


def refuse_removed_reframe(args: argparse.Namespace) -> None:
    """``infer --reframe``, a flag that did nothing, is refused with one clear error (for one
    release; then the parser forgets it)."""
    if getattr(args, "reframe", False):
        raise ValueError("--reframe was removed: every entry point reframes by default "
                         "(--no-reframe turns it off)")


def build_cli_lifter(args: argparse.Namespace) -> Any:
    """The lifter the options name (``--checkpoint``, ``--backend``, ``--onnx``, ``--no-tta``)
    on ``--device``."""
    from skelgnn.infer.onnx import build_lifter

    lifter = build_lifter(args.checkpoint, args.backend, not args.no_tta,
                          getattr(args, "onnx", None))
    lifter.flip_repair = not getattr(args, "no_flip_repair", False)
    return lifter.to(args.device) if args.device != "cpu" else lifter


def path_smoothing(args: argparse.Namespace) -> float:
    """``--path-smoothing`` checked (seconds; the default when not given)."""
    from skelgnn.motion.pipeline import PATH_SMOOTH_S

    value = getattr(args, "path_smoothing", None)
    value = PATH_SMOOTH_S if value is None else float(value)
    if not (math.isfinite(value) and 0 <= value <= 10):
        raise ValueError(f"--path-smoothing must be between 0 and 10 seconds, found {value:g}")
    return value


def lift_prediction(lifter: Any, keypoints: Any, image_size: tuple[float, float], layout: str,
                    fps: Optional[float], args: argparse.Namespace
                    ) -> tuple[Any, dict[str, np.ndarray]]:
    """Lift, place and level one clip as the options say
    (:func:`skelgnn.motion.pipeline.lift_and_place`): returns the
    :class:`skelgnn.infer.lifter.Prediction` (``poses_3d`` as placed: smoothed under ``--smooth``,
    in the real camera after levelling) and the npz entries to add
    (:meth:`skelgnn.motion.pipeline.Motion.arrays`)."""
    from skelgnn.motion.pipeline import lift_and_place

    if args.focal is not None and not args.focal > 0:
        raise ValueError(f"--focal must be a positive number of pixels, found {args.focal}")
    pred, motion = lift_and_place(lifter, keypoints, image_size, layout, args.min_score,
                                  reframe=not args.no_reframe, fps=fps, focal=args.focal,
                                  smooth=args.smooth, level=not getattr(args, "no_level", False),
                                  path_smooth_s=path_smoothing(args), stance_knees=stance_knees(args))
    return pred, motion.arrays()


def flip_line(pred: Any) -> str:
    """The printed line of what the left/right flip repair did to a prediction."""
    if pred.flips is None:
        return "flip repair: off"
    return f"flip repair: {pred.flips.summary()}"


def write_exports(npz: Path, formats: list[str]) -> list[Path]:
    """Write ``npz``'s motion as ``npz.with_suffix(.FMT)`` for every format."""
    from skelgnn.motion.animation import export_motion, load_motion_npz

    if not formats:
        return []
    positions, fps, frame = load_motion_npz(npz)
    return [export_motion(positions, Path(npz).with_suffix(f".{fmt}"), fps, frame)
            for fmt in dict.fromkeys(formats)]


def add_convert_parser(subparsers: argparse._SubParsersAction) -> None:
    """The ``skelgnn convert`` sub-parser."""
    cv = subparsers.add_parser(
        "convert", help="write a poses npz as BVH, JSON or CSV",
        description="Read poses_3d.npz (from `skelgnn infer` or `skelgnn video`) and write its "
                    "motion -- poses_world when present (y up, metres), else poses_3d (+ "
                    "trajectory) turned y-up -- as BVH (fixed median bone lengths, joint "
                    "rotations, centimetres), JSON or CSV (joint positions in metres, with "
                    "names), chosen by OUT's suffix.")
    cv.add_argument("input", metavar="IN", help="npz with poses_world or poses_3d")
    cv.add_argument("output", metavar="OUT", help="FILE.bvh, FILE.json or FILE.csv")
    cv.add_argument("--fps", type=float, default=None, help="frame rate (default: the npz's, else 30)")
    from skelgnn.fileio import Writes

    cv.set_defaults(command="convert", handler=cmd_convert,
                    writes=lambda a: Writes([a.output], [a.input]))


def cmd_convert(args: argparse.Namespace) -> int:
    """``skelgnn convert``."""
    from skelgnn.motion.animation import export_motion, load_motion_npz

    positions, fps, frame = load_motion_npz(args.input)
    if args.fps is not None:
        fps = args.fps
    out = export_motion(positions, args.output, fps, frame)
    print(f"wrote {out} ({len(positions)} frames at {fps:g} fps, {frame} frame)")
    return 0


def cmd_infer_tracks(args: argparse.Namespace) -> int:
    """``skelgnn infer --person all|ID``: track every person of a JSON keypoints file
    (:func:`skelgnn.infer.tracking.track_people`) and lift each track. ``all`` writes
    ``OUT_STEM.track<ID>.npz`` per track; an id writes that track to ``--out``."""
    from skelgnn.infer.keypoints import check_image_size, read_json_detections
    from skelgnn.infer.layouts import resolve_layout
    from skelgnn.infer.tracking import track_people

    person = str(args.person)
    if person != "all" and not person.isdigit():
        raise ValueError(f"--person must be score, track, all or a track id (0, 1, ...), found "
                         f"{person!r}")
    if Path(args.keypoints).suffix.lower() != ".json":
        raise ValueError(f"--person {person} needs a JSON keypoints file with several people per "
                         f"frame (COCO results or mmpose predictions); {args.keypoints} holds one")
    apply_threads(args)
    by_frame, joints, info = read_json_detections(args.keypoints)
    tracks = track_people({f: [kp for kp, _ in people] for f, people in by_frame.items()},
                          min_score=args.min_score)
    if person != "all":
        tracks = [t for t in tracks if t.id == int(person)]
        if not tracks:
            raise ValueError(f"{args.keypoints}: no track {person}; `--person all` lists them")
    layout = resolve_layout(args.layout, joints, info.layout)
    if args.image_size is not None:
        image_size = check_image_size(args.image_size)
    elif info.image_size is not None:
        image_size = info.image_size
    else:
        raise ValueError(f"{args.keypoints}: the file has no image_size; pass --image-size W H")
    lifter = build_cli_lifter(args)
    out = Path(args.out)
    paths = [out if person != "all" else out.with_name(f"{out.stem}.track{t.id}{out.suffix}")
             for t in tracks]
    from skelgnn.fileio import refuse_overwriting_inputs

    refuse_overwriting_inputs([q.with_suffix(s) for q in paths for s in (q.suffix, *(
        f".{fmt}" for fmt in args.export))], [args.keypoints, args.checkpoint, args.onnx])
    for track, path in zip(tracks, paths):
        pred, motion = lift_prediction(lifter, track.keypoints, image_size, layout, info.fps, args)
        saved = pred.save(path, fps=info.fps, frames=track.frames, image_size=image_size,
                          layout=layout, checkpoint=lifter.info.get("checkpoint", ""),
                          track_id=track.id, **motion)
        print(f"track {track.id}: frames {track.frames[0]}-{track.frames[-1]} "
              f"({track.num_detections} detected), wrote {saved}")
        print(f"  {flip_line(pred)}")
        for extra in write_exports(saved, args.export):
            print(f"  wrote {extra}")
    print(f"{len(tracks)} track(s) from {args.keypoints}")
    return 0


def add_render_parser(subparsers: argparse._SubParsersAction) -> None:
    rd = subparsers.add_parser(
        "render", help="draw 3D poses as an mp4, gif or png",
        description="Render the poses of an npz written by `skelgnn infer` or `skelgnn video` "
                    "with fixed axes (left side blue, right red, centre grey): poses_world when "
                    "the file has it (gravity up, standing on the floor grid, seen level from "
                    "the camera's side), else the root-relative camera-frame poses_3d. The "
                    "output type follows the suffix: .mp4, .gif, or .png (one frame).")
    rd.add_argument("--poses", metavar="NPZ", required=True, help="npz with poses_3d (F, 17, 3)")
    rd.add_argument("--out", metavar="FILE", required=True, help="anim.mp4, anim.gif or frame.png")
    rd.add_argument("--fps", type=float, default=None,
                    help="frames per second (default: the file's fps, else 30)")
    rd.add_argument("--frame", type=int, default=0, help="frame drawn for a .png (default 0)")
    rd.add_argument("--size", metavar=("W", "H"), type=int, nargs=2, default=(640, 480),
                    help="frame size in pixels (default 640 480)")
    rd.add_argument("--elev", type=float, default=None,
                    help="view elevation, degrees (default 10 for poses_world, 15 for poses_3d)")
    rd.add_argument("--azim", type=float, default=None,
                    help="view azimuth about the vertical, degrees; 0 = the camera's view "
                         "(default 0 for poses_world, 45 for poses_3d)")
    rd.add_argument("--camera-frame", action="store_true",
                    help="draw poses_3d (root-relative, camera frame) even when the file has "
                         "poses_world")
    from skelgnn.fileio import Writes

    rd.set_defaults(command="render", handler=cmd_render,
                    writes=lambda a: Writes([a.out], [a.poses]))


def cmd_render(args: argparse.Namespace) -> int:
    """``skelgnn render``."""
    from skelgnn.video.render import PoseRenderer, load_render_poses, world_renderer, write_animation

    poses, file_fps, world = load_render_poses(args.poses, args.camera_frame)
    fps = args.fps or file_fps or 30.0
    if world:
        renderer, poses = world_renderer(poses, tuple(args.size), args.elev, args.azim)
    else:
        renderer = PoseRenderer.for_poses(
            poses, size=tuple(args.size), elev=15.0 if args.elev is None else args.elev,
            azim=45.0 if args.azim is None else args.azim)
    start = time.perf_counter()
    out = write_animation(poses, args.out, fps=fps, renderer=renderer, frame=args.frame)
    elapsed = time.perf_counter() - start
    frames = 1 if out.suffix.lower() == ".png" else poses.shape[0]
    print(f"wrote {out}: {frames} frame(s) of {'poses_world' if world else 'poses_3d'} at "
          f"{fps:g} fps in {elapsed:.2f} s")
    return 0
