"""The ``skelgnn view`` verb: a poses npz -> one self-contained, offline HTML viewer
(:mod:`skelgnn.video.viewer`)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_view_parser", "cmd_view"]


def add_view_parser(subparsers: argparse._SubParsersAction) -> None:
    """The ``skelgnn view`` sub-parser."""
    vw = subparsers.add_parser(
        "view", help="write an interactive 3D viewer (one offline HTML file) of a poses npz",
        description="Write one self-contained HTML file (three.js inlined: it opens offline from "
                    "the file, no server, no network) showing the motion of POSES (the npz of "
                    "`skelgnn infer` or `skelgnn video`): the world-frame skeleton on its floor "
                    "(poses_world; else poses_3d turned y-up), with orbit controls, a timeline, "
                    "play/pause at the file's fps, and the 2D keypoints beside it -- over frames "
                    "of --video when given. Open it in any browser.")
    vw.add_argument("poses", metavar="POSES", help="npz with poses_world or poses_3d (F, 17, 3)")
    vw.add_argument("--out", metavar="HTML", required=True, help="the HTML file to write")
    vw.add_argument("--video", metavar="MP4", default=None,
                    help="the video the keypoints came from: a few of its frames (at most "
                         "--max-images, 240 pixels high) are drawn under the 2D keypoints")
    vw.add_argument("--max-images", metavar="N", type=int, default=150,
                    help="video frames kept with --video (evenly spaced; default 150, ~10 kB each)")
    from skelgnn.fileio import Writes

    vw.set_defaults(command="view", handler=cmd_view,
                    writes=lambda a: Writes([a.out], [a.poses, a.video]))


def cmd_view(args: argparse.Namespace) -> int:
    """``skelgnn view``."""
    from skelgnn.video.viewer import write_viewer_from_npz

    if Path(args.out).suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"--out {args.out}: the viewer is an HTML file; name it FILE.html")
    if args.max_images < 1:
        raise ValueError(f"--max-images must be >= 1, found {args.max_images}")
    out = write_viewer_from_npz(args.poses, args.out, video=args.video, max_images=args.max_images,
                                progress=sys.stderr.isatty())
    size = out.stat().st_size / 1e6
    print(f"wrote {out} ({size:.1f} MB): open it in a browser (works offline)")
    return 0
