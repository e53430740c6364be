"""How real Blender sees our BVH export, against the ``poses_world`` it was written from.

    python benchmarks/bvh_blender.py                          # the sample video (video extra)
    python benchmarks/bvh_blender.py --poses out/poses_3d.npz # any npz with poses_world
    python benchmarks/bvh_blender.py --poses P.npz --bvh other.bvh --out -   # score a given file

Needs the ``blender`` extra (``bpy``). Without ``--poses`` the sample video is lifted as ``make
demo`` does (``skelgnn video --no-render``, default checkpoint). Without ``--bvh`` the clip is
written with :func:`skelgnn.motion.animation.write_bvh` (what ``skelgnn convert`` writes). The file is
imported with Blender's own importer (:func:`skelgnn.motion.blender.blender_positions`) and with our
reader (:func:`skelgnn.prepare.bvh.read_bvh`), and both are compared with ``poses_world``:

* mean / max joint error (cm) over every joint of every frame, and the mean per joint;
* hip width (RHip-LHip), shoulder width (LShoulder-RShoulder) and stature (Head above the lower
  foot), means over frames (cm), next to ``poses_world``'s;
* the lifted clip's own bone-length spread (per bone, the mean absolute deviation from its
  median length, cm): the part of the error that fixed BVH bone lengths cannot hold.

Prints the figures and writes ``benchmarks/results/bvh_blender.json`` (``--out -``: print only).
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "data" / "video" / "person_balance_cam01.mp4"


def _widths(x: np.ndarray) -> dict[str, float]:
    """Hip, shoulder width and stature (cm, means over frames) of ``(F, 17, 3)`` y-up metres."""
    def dist(a: int, b: int) -> float:
        return 100 * float(np.linalg.norm(x[:, a] - x[:, b], axis=-1).mean())

    stature = 100 * float(np.mean(x[:, 10, 1] - np.minimum(x[:, 3, 1], x[:, 6, 1])))
    return {"hip_width_cm": dist(1, 4), "shoulder_width_cm": dist(11, 14), "stature_cm": stature}


def score(world: np.ndarray, positions: np.ndarray) -> dict[str, object]:
    """Figures of ``positions`` against ``world`` (both ``(F, 17, 3)`` metres)."""
    from skelgnn.motion.animation import BVH_NAMES

    err = 100 * np.linalg.norm(positions - world, axis=-1)  # (F, 17) cm
    return {"mean_joint_error_cm": float(err.mean()), "max_joint_error_cm": float(err.max()),
            "per_joint_mean_cm": {n: round(float(e), 2) for n, e in zip(BVH_NAMES, err.mean(0))},
            **_widths(positions)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--poses", default=None, help="npz with poses_world (default: lift the sample video)")
    ap.add_argument("--bvh", default=None, help="score this BVH file (default: write one with write_bvh)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "bvh_blender.json"),
                    help="JSON to write, '-' for none")
    args = ap.parse_args(argv)

    from skelgnn.motion.animation import BVH_NAMES, bone_lengths, load_motion_npz, write_bvh
    from skelgnn.motion.blender import blender_positions
    from skelgnn.cli import main as cli
    from skelgnn.prepare.bvh import forward_kinematics, read_bvh
    from skelgnn.skeleton import H36M17

    with tempfile.TemporaryDirectory(prefix="bvh-blender-") as tmp:
        poses = Path(args.poses) if args.poses else Path(tmp) / "poses_3d.npz"
        if args.poses is None:
            if not SAMPLE.is_file():
                print(f"no video at {SAMPLE}", file=sys.stderr)
                return 2
            if cli(["video", str(SAMPLE), "--out", tmp, "--no-render"]) != 0:
                return 1
        world, fps, frame = load_motion_npz(poses)
        if frame != "world":
            print(f"{poses}: no poses_world", file=sys.stderr)
            return 2
        bvh = Path(args.bvh) if args.bvh else Path(tmp) / "motion.bvh"
        if args.bvh is None:
            write_bvh(world, bvh, fps)
        names, cm = blender_positions(bvh)
        blender = cm[:, [names.index(n) for n in BVH_NAMES]] / 100.0
        ours = forward_kinematics(read_bvh(bvh)) / 100.0
        lengths = bone_lengths(world)
    spread = {n: round(100 * float(np.abs(np.linalg.norm(world[:, c] - world[:, p], axis=-1)
                                          - lengths[c]).mean()), 2)
              for c, (n, p) in enumerate(zip(BVH_NAMES, H36M17.parents)) if p >= 0}
    result = {"poses": str(args.poses or f"skelgnn video {SAMPLE.name} --no-render"),
              "bvh": str(args.bvh or "skelgnn.motion.animation.write_bvh"), "frames": int(len(world)),
              "bpy": importlib.metadata.version("bpy"), "poses_world": _widths(world),
              "blender_import": score(world, blender), "skelgnn_read_bvh": score(world, ours),
              "blender_vs_skelgnn_max_cm": 100 * float(np.abs(blender - ours).max()),
              "bone_length_spread_cm": spread}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out != "-":
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
