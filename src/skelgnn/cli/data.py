"""``skelgnn data check``, ``skelgnn prepare bvh|h36m`` and ``skelgnn analyze hops|grading``: the
verbs that check, build or study a dataset (:mod:`skelgnn.cli` lists their parser builders in its
verb table)."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from skelgnn.cli.common import EXIT_OK, EXIT_PROBLEMS, default_data_dir, in_dir
from skelgnn.fileio import Writes
from skelgnn.tables import format_table

__all__ = ["add_data_parser", "cmd_data_check", "add_prepare_parser", "add_analyze_parser", "cmd_prepare_bvh",
           "cmd_prepare_h36m", "cmd_analyze_hops", "cmd_analyze_grading"]


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------

def add_data_parser(subparsers: argparse._SubParsersAction) -> None:
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
# prepare
# --------------------------------------------------------------------------------------------

def add_prepare_parser(subparsers: argparse._SubParsersAction) -> None:
    prep = subparsers.add_parser("prepare", help="build benchmark npz files from original data",
                                 description="Build benchmark npz files (VideoPose3D format) from "
                                             "original motion-capture files.")
    verbs = prep.add_subparsers(title="prepare commands", metavar="VERB", dest="prepare_verb")
    verbs.required = True
    bvh = verbs.add_parser(
        "bvh", help="BVH motion capture -> data_3d_<name>.npz and data_2d_<name>_gt.npz",
        description="Read .bvh / .bvh.gz files, run forward kinematics, map to the target joints "
                    "through a joint map (the 17-joint CMU map is built in; a map's [skeleton] "
                    "table declares any other layout, e.g. resources/cmu23_joint_map.toml), "
                    "resample, place each sequence, "
                    "project it through the cameras and write data_3d_<name>.npz, "
                    "data_2d_<name>_gt.npz (and _det.npz), cameras.json and actions.csv.")
    bvh.add_argument("--bvh", metavar="DIR", required=True, help="directory searched for BVH files")
    bvh.add_argument("--out", metavar="DIR", required=True,
                     help="output directory (refused when it already holds a benchmark of --name)")
    bvh.add_argument("--force", action="store_true",
                     help="replace the benchmark files in --out (an old _det.npz is removed "
                          "unless --detector-noise writes a new one)")
    bvh.add_argument("--fps", type=float, default=60.0,
                     help="output frame rate; must divide the files' rate (default 60)")
    bvh.add_argument("--cameras", metavar="JSON", default=None,
                     help="cameras.json; subjects it lacks get its subjects in turn "
                          "(default: the built-in Human3.6M cameras)")
    bvh.add_argument("--joint-map", metavar="TOML", default=None,
                     help="joint map (default: the built-in CMU map)")
    bvh.add_argument("--index", metavar="MD", default=None,
                     help="CMU-INDEX.md with the trial descriptions (default: <bvh>/CMU-INDEX.md)")
    bvh.add_argument("--name", default="cmu", help="dataset name in the file names (default cmu)")
    bvh.add_argument("--detector-noise", action="store_true",
                     help="also write data_2d_<name>_det.npz with the synthetic detector")
    bvh.add_argument("--seed", type=int, default=None,
                     help="detector random seed (default 20211011, the benchmark's)")
    bvh.add_argument("--no-progress", action="store_true", help="no progress bar")
    bvh.set_defaults(command="prepare bvh", handler=cmd_prepare_bvh, writes=lambda a: Writes(
        in_dir(a.out, f"data_3d_{a.name}.npz", f"data_2d_{a.name}_gt.npz",
               f"data_2d_{a.name}_det.npz", "cameras.json", "actions.csv"),
        [a.bvh, a.cameras, a.joint_map, a.index]))
    h36m = verbs.add_parser(
        "h36m", help="Human3.6M D3_Positions CDF files -> data_3d_h36m.npz and data_2d_h36m_gt.npz",
        description="Read <root>/<subject>/MyPoseFeatures/D3_Positions/*.cdf (cdflib) and write "
                    "data_3d_<name>.npz (32 joints, world metres) and data_2d_<name>_gt.npz (17 "
                    "joints projected through each subject's 4 cameras), as VideoPose3D does.")
    h36m.add_argument("--h36m", metavar="DIR", required=True, help="Human3.6M root directory")
    h36m.add_argument("--out", metavar="DIR", required=True, help="output directory")
    h36m.add_argument("--subjects", nargs="+", metavar="S", default=None,
                      help="subjects (default: those of S1 S5 S6 S7 S8 S9 S11 present)")
    h36m.add_argument("--cameras", metavar="JSON", default=None,
                      help="cameras.json keyed by S1..S11 (default: the built-in table)")
    h36m.add_argument("--keep-all", action="store_true",
                      help="keep S11 Directions (left out by default, like VideoPose3D)")
    h36m.add_argument("--name", default="h36m", help="dataset name in the file names (default h36m)")
    h36m.add_argument("--no-progress", action="store_true", help="no progress bar")
    h36m.set_defaults(command="prepare h36m", handler=cmd_prepare_h36m, writes=lambda a: Writes(
        in_dir(a.out, f"data_3d_{a.name}.npz", f"data_2d_{a.name}_gt.npz"), [a.h36m, a.cameras]))


def cmd_prepare_bvh(args: argparse.Namespace) -> int:
    """``skelgnn prepare bvh``."""
    from skelgnn.prepare.bvh import DetectorModel, prepare_bvh
    from skelgnn.progress import terminal_mode

    detector = None
    if args.detector_noise:
        detector = DetectorModel() if args.seed is None else DetectorModel(seed=args.seed)
    elif args.seed is not None:
        raise ValueError("--seed only applies with --detector-noise")
    start = time.perf_counter()
    result = prepare_bvh(args.bvh, args.out, fps=args.fps, cameras=args.cameras,
                         joint_map=args.joint_map, name=args.name, index=args.index,
                         detector=detector, progress=terminal_mode(not args.no_progress),
                         force=args.force)
    subjects = sorted({s.subject for s in result.sequences})
    print(f"{len(result.sequences)} sequences, {len(subjects)} subjects, {result.num_frames} frames "
          f"at {args.fps:g} fps in {time.perf_counter() - start:.1f} s")
    print("cameras: " + ", ".join(f"{s}<-{o}" for s, o in sorted(result.camera_sources.items())))
    for path in result.files:
        print(f"wrote {path}")
    return EXIT_OK


def cmd_prepare_h36m(args: argparse.Namespace) -> int:
    """``skelgnn prepare h36m``."""
    from skelgnn.prepare.h36m import DEFAULT_EXCLUDE, prepare_h36m
    from skelgnn.progress import terminal_mode

    start = time.perf_counter()
    result = prepare_h36m(args.h36m, args.out, subjects=args.subjects, cameras=args.cameras,
                          exclude=() if args.keep_all else DEFAULT_EXCLUDE, name=args.name,
                          progress=terminal_mode(not args.no_progress))
    print(f"{result.sequences} sequences of {' '.join(result.subjects)}, {result.frames} frames "
          f"in {time.perf_counter() - start:.1f} s")
    for path in result.files:
        print(f"wrote {path}")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# analyze
# --------------------------------------------------------------------------------------------

def add_analyze_parser(subparsers: argparse._SubParsersAction) -> None:
    an = subparsers.add_parser("analyze", help="analyses of a benchmark's training data",
                               description="Analyses of a benchmark's training data.")
    verbs = an.add_subparsers(title="analyze commands", metavar="VERB", dest="analyze_verb")
    verbs.required = True
    hops = verbs.add_parser(
        "hops", help="information gain per hop distance and the squeeze ratio it implies",
        description="Measure the information gain of k-hop neighbours on the training subjects "
                    "(target-aware Gaussian measure and LookHops measure), fit a exp(-b k), "
                    "print d = exp(-b) and write hops.json and hops.png (skelgnn.layers.hops).")
    hops.add_argument("--data", metavar="DIR", default=None, help="benchmark directory")
    hops.add_argument("--source", choices=("det", "gt"), default="det", help="2D source")
    hops.add_argument("--out", metavar="DIR", required=True, help="output directory")
    hops.add_argument("--max-hop", type=int, default=None,
                      help="largest hop measured (default: the skeleton's diameter)")
    hops.add_argument("--fit-max", type=int, default=5, help="fit over k = 1..FIT_MAX (default 5)")
    hops.add_argument("--frame-stride", type=int, default=2, help="every n-th frame (default 2)")
    hops.add_argument("--no-plot", action="store_true", help="write no PNG")
    hops.set_defaults(command="analyze hops", handler=cmd_analyze_hops, writes=lambda a: Writes(
        in_dir(a.out, "hops.json", *(() if a.no_plot else ("hops.png",))),
        [default_data_dir(a.data)]))
    grading = verbs.add_parser(
        "grading", help="learnt hop gates of a gated Skeletal GNN and the widths they imply",
        description="Read the hop gates of a checkpoint trained with model.grading=gated, derive "
                    "per-group widths from the gates' mass (skelgnn.layers.grading) and print them "
                    "next to the fixed grading's widths and squeeze ratios.")
    grading.add_argument("--checkpoint", required=True, metavar="PT", help="gated checkpoint")
    grading.add_argument("--hops", metavar="JSON", default=None,
                         help="hops.json of `skelgnn analyze hops`, to print its derived d too")
    grading.add_argument("--json", metavar="PATH", default=None, help="write the report here")
    grading.set_defaults(command="analyze grading", handler=cmd_analyze_grading,
                         writes=lambda a: Writes([a.json], [a.checkpoint, a.hops]))
    _add_cameras_parser(verbs)


def _add_cameras_parser(verbs: argparse._SubParsersAction) -> None:
    cams = verbs.add_parser(
        "cameras", help="score a checkpoint on novel cameras (the cross-camera test)",
        description="Project the test subjects' world 3D into a fixed, seeded set of novel cameras "
                    "(phone portrait, low and high viewpoints, wide and long lenses, person near "
                    "the image edge), add detector noise, and print P1 / P2 (mm) per camera kind "
                    "(skelgnn.evaluate.cross_camera).")
    cams.add_argument("--checkpoint", metavar="PT", required=True, help="checkpoint file")
    cams.add_argument("--data", metavar="DIR", default=None, help="benchmark directory")
    cams.add_argument("--noise", choices=("benchmark", "detector", "none"), default="benchmark",
                      help="2D noise: the benchmark's synthetic detector scaled to the person "
                           "(default), the training augmentation's detector noise, or none")
    cams.add_argument("--seed", type=int, default=16, help="camera and noise seed (default 16)")
    cams.add_argument("--max-frames", type=int, default=0,
                      help="score the first N frames of every test sequence (default 0: all)")
    cams.add_argument("--no-tta", action="store_true", help="no flip test-time augmentation")
    cams.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    cams.add_argument("--json", metavar="OUT", default=None, help="write the figures as JSON")
    cams.set_defaults(command="analyze cameras", handler=cmd_analyze_cameras,
                      writes=lambda a: Writes([a.json], [a.checkpoint, default_data_dir(a.data)]))


def cmd_analyze_cameras(args: argparse.Namespace) -> int:
    """``skelgnn analyze cameras``."""
    import json

    from skelgnn.fileio import atomic_write_text, check_output_path

    if args.max_frames < 0 or args.threads < 1:
        raise ValueError("--max-frames must be >= 0 and --threads >= 1")
    if args.json:
        check_output_path(args.json)
    import torch

    from skelgnn.evaluate.cross_camera import evaluate_cross_camera, format_cross_camera

    torch.set_num_threads(args.threads)
    result = evaluate_cross_camera(args.checkpoint, args.data, noise=args.noise, seed=args.seed,
                                   max_frames=args.max_frames, flip_test=not args.no_tta)
    print(format_cross_camera(result))
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=2) + "\n")
    return EXIT_OK


def cmd_analyze_hops(args: argparse.Namespace) -> int:
    from skelgnn.layers.hops import analyze_hops

    if args.frame_stride < 1:
        raise ValueError(f"--frame-stride must be >= 1, got {args.frame_stride}")
    res = analyze_hops(args.data, args.source, max_hop=args.max_hop, fit_max=args.fit_max,
                       frame_stride=args.frame_stride)
    rows = [[k, f"{t:.4f}", "-" if lh != lh else f"{lh:.4f}", n]
            for k, t, lh, n in zip(res.hops, res.target_ig, res.lookhops_ig, res.joints_with_hop)]
    print(f"information gain per hop, {res.source}, training subjects {' '.join(res.subjects)}, "
          f"{res.num_samples} samples (every {res.frame_stride}th frame)")
    print(format_table(["hop", "target IG (nats)", "LookHops IG", "joints with hop"], rows))
    for name, fit in (("target-aware", res.target_fit), ("LookHops", res.lookhops_fit)):
        print(f"{name:12s} fit over k={fit.ks[0]}..{fit.ks[-1]}: a={fit.a:.4g} b={fit.b:.4f} "
              f"R2={fit.r2:.3f}  ->  d = exp(-b) = {fit.d:.3f}")
    out = Path(args.out)
    path = res.write_json(out / "hops.json")
    print(f"wrote {path}; use it with --set model.squeeze={res.target_fit.d:.3f}")
    if not args.no_plot:
        from skelgnn.video.render import plot_hop_information

        print(f"wrote {plot_hop_information(res, out / 'hops.png')}")
    return EXIT_OK


def cmd_analyze_grading(args: argparse.Namespace) -> int:
    import json

    from skelgnn.models.checkpoint import load_model
    from skelgnn.layers.grading import gate_report
    from skelgnn.layers.hops import squeeze_from_json

    model, _, _ = load_model(args.checkpoint)
    rep = gate_report(model)
    layers = len(rep.layers)
    rows = [[hops, fixed, f"{sum(m[g] for m in rep.mean_gate) / layers:.3f}",
             f"{rep.mass_ratio[g]:.3f}", derived]
            for g, (hops, fixed, derived) in enumerate(zip(rep.group_hops, rep.fixed_widths,
                                                           rep.derived_widths))]
    print(f"hop gates of {layers} D-HCSF layers in {args.checkpoint}")
    print(format_table(["hops", "fixed width", "mean gate", "mass / short range",
                        "derived width"], rows))
    derived = "-" if rep.derived_squeeze is None else f"{rep.derived_squeeze:.3f}"
    line = f"squeeze d: config {rep.config_squeeze:.3f}, from the gates {derived}"
    report = rep.to_dict()
    if args.hops:
        d_ig = squeeze_from_json(args.hops)
        line += f", from the information-gain fit {d_ig:.3f}"
        report["ig_squeeze"] = d_ig
    print(line)
    if args.json:
        from skelgnn.fileio import atomic_write_text

        out = atomic_write_text(args.json, json.dumps(report, indent=1) + "\n")
        print(f"wrote {out}")
    return EXIT_OK
