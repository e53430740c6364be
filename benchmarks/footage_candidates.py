"""Footage lifter candidates on the two sets they may be chosen on: val (S02) and shelf_dev.

    python benchmarks/footage_candidates.py NAME=CHECKPOINT [NAME=CHECKPOINT ...]
    python benchmarks/footage_candidates.py --table          # the table of every recorded row

Each candidate is scored on the benchmark's val subject (S02, fixed cameras, ``det`` 2D, flip
TTA: P1 / P2 in mm; note that the shipped checkpoints saw S02 in training, and candidates
fine-tuned from them inherit that; with ``--no-val`` the run's own last validation in its
``history.json``, the same protocol) and on ``shelf_dev`` through ``skelgnn evaluate --footage``'s
path with infer's defaults and with ``--no-reframe`` (limb-direction error, P-MPJPE, knee angle,
tracks lifted); with ``--novel`` also on val seen through the cross-camera test's six novel
camera kinds (P-MPJPE; ``--only-novel`` adds them to recorded rows). Rows are merged into
``benchmarks/results/footage/candidates.json`` by name (a rerun replaces its row) with the
command that trained the candidate when its run directory has a ``config.json``;
``candidates.md`` is the table. Never scores the test split.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHELF_DEV = REPO.parent / "shared" / "data" / "shelf_dev" / "shelf_dev.npz"
OUT = REPO / "benchmarks" / "results" / "footage" / "candidates"


def portable(path: Path) -> str:
    """``path`` as the results record it: relative to the repository when inside it, else from
    its run directory on (``RUN/last.pt``): no machine's directories in committed results."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(Path("runs") / path.parent.name / path.name)


def novel_val(checkpoint: Path) -> dict:
    """P-MPJPE on the val subject seen through the cross-camera test's six novel camera kinds
    (:func:`skelgnn.evaluate.cross_camera.evaluate_cross_camera`, the first 300 frames of each
    sequence, benchmark detector noise, seed 16), mm: all samples and per kind."""
    from skelgnn.evaluate.cross_camera import evaluate_cross_camera

    r = evaluate_cross_camera(checkpoint, subjects=["S02"], max_frames=300)
    return {"p2": round(float(r["p2"]), 1),
            **{kind: round(float(v["p2"]), 1) for kind, v in r["per_kind"].items()}}


def score(name: str, checkpoint: Path, val: bool = True, novel: bool = False) -> dict:
    from skelgnn.evaluate.benchmark import evaluate_checkpoint
    from skelgnn.evaluate.footage import evaluate_footage, read_footage
    from skelgnn.infer.lifter import Lifter

    row: dict = {"name": name, "checkpoint": portable(checkpoint)}
    config = checkpoint.parent / "config.json"
    if config.is_file():
        row["config"] = json.loads(config.read_text())
    start = time.perf_counter()
    history = checkpoint.parent / "history.json"
    if val:
        v = evaluate_checkpoint(checkpoint, subjects=["S02"], progress=False)
        row["val"] = {k: round(float(v[k]), 2) for k in ("p1", "p2", "p1_action", "p2_action")}
    elif history.is_file():  # the run's own validation after its last epoch: the same protocol
        last = json.loads(history.read_text())[-1]
        if "val_p1" in last:
            row["val"] = {k: round(float(last[f"val_{k}"]), 2)
                          for k in ("p1", "p2", "p1_action", "p2_action")}
            row["val_source"] = f"{portable(history)} (epoch {last['epoch']})"
    if novel:
        row["val_novel"] = novel_val(checkpoint)
    footage = read_footage(SHELF_DEV)
    for label, reframe in (("shelf_dev", True), ("shelf_dev --no-reframe", False)):
        r = evaluate_footage(footage, Lifter.from_checkpoint(checkpoint), reframe=reframe)
        o = r["overall"]
        row[label] = {"limb_deg": round(o["limb_deg"], 2), "p_mpjpe_mm": round(o["p_mpjpe_mm"], 1),
                      "mpjpe_mm": round(o["mpjpe_mm"], 1),
                      "knee_pred_deg": round(o["knee_pred_deg"], 1),
                      "knee_true_deg": round(o["knee_true_deg"], 1),
                      "lifted": f"{r['lifted']}/{r['tracks']}", "frames": o["frames"]}
        row["constant_pose"] = {k: round(r["constant_pose"][k], 2)
                                for k in ("limb_deg", "p_mpjpe_mm", "knee_pred_deg")}
    row["seconds"] = round(time.perf_counter() - start, 1)
    return row


def table(rows: list[dict]) -> str:
    lines = ["| candidate | val P1 | val P2 | shelf limb deg | shelf P-MPJPE | shelf knee deg "
             "| --no-reframe limb | --no-reframe P-MPJPE | --no-reframe knee "
             "| val novel cameras P2 | val high view P2 |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        v = r.get("val", {})
        a, b = r["shelf_dev"], r["shelf_dev --no-reframe"]
        lines.append(f"| {r['name']} | {v.get('p1', '-')} | {v.get('p2', '-')} | {a['limb_deg']} | "
                     f"{a['p_mpjpe_mm']} | {a['knee_pred_deg']} | {b['limb_deg']} | "
                     f"{b['p_mpjpe_mm']} | {b['knee_pred_deg']} | "
                     f"{r.get('val_novel', {}).get('p2', '-')} | "
                     f"{r.get('val_novel', {}).get('high_view', '-')} |")
    if rows:
        c = rows[-1]["constant_pose"]
        lines.append(f"| constant pose (shelf_dev's mean) | - | - | {c['limb_deg']} | "
                     f"{c['p_mpjpe_mm']} | {c['knee_pred_deg']} | | | | | |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(REPO / "src"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("candidates", nargs="*", help="NAME=CHECKPOINT")
    ap.add_argument("--no-val", action="store_true",
                    help="do not score val here: take it from the run's history.json when there")
    ap.add_argument("--novel", action="store_true",
                    help="also score val through the novel camera kinds (P-MPJPE, about a minute)")
    ap.add_argument("--only-novel", action="store_true",
                    help="add the novel-camera figures to rows already recorded (NAME=CHECKPOINT)")
    ap.add_argument("--table", action="store_true", help="print the recorded table")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    path = args.out.with_suffix(".json")
    rows = json.loads(path.read_text())["rows"] if path.is_file() else []
    for spec in args.candidates:
        name, _, ckpt = spec.partition("=")
        if not ckpt:
            ap.error(f"expected NAME=CHECKPOINT, got {spec!r}")
        if args.only_novel:
            old = [r for r in rows if r["name"] == name]
            if not old:
                ap.error(f"--only-novel: no recorded row named {name!r}")
            row = {**old[0], "val_novel": novel_val(Path(ckpt))}
        else:
            row = score(name, Path(ckpt), val=not args.no_val, novel=args.novel)
        rows = [r for r in rows if r["name"] != name] + [row]
        print(json.dumps({k: v for k, v in row.items() if k != "config"}), flush=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"rows": rows}, indent=1) + "\n")
        args.out.with_suffix(".md").write_text(table(rows))
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
