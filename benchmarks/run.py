"""The CMU benchmark: train and score every model under one protocol, one row at a time.

    python benchmarks/run.py --list
    python benchmarks/run.py --only skelgnn-1f --source det
    python benchmarks/run.py                    # every row not yet committed

Each row trains its model preset (the registry's ``<row>``, plus ``configs/<row>.toml`` where a row
carries settings beyond the preset) on all ``train`` subjects (``data.split =
"test"``, settings having been chosen on ``val`` beforehand), scores the test subjects once with
the last epoch's weights, and writes ``benchmarks/results/<row>-<source>.json`` (commit, config,
epochs, training minutes, machine, every metric). Rows already written are skipped, so the table
is built in pieces; an interrupted row resumes from its run directory's ``last.pt``. The Markdown
table ``benchmarks/results/TABLE.md`` is regenerated from all rows after each one.
"""
from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

from skelgnn.tables import format_table

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
CONFIGS = REPO / "configs"

# row name (= model preset) -> (config file where the row carries settings beyond its preset, else
# None; sources; shipped checkpoint name for the det row or None)
ROWS: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    "skelgnn-1f": (None, ("det", "gt"), "skelgnn-1f-cmu-det.pt"),
    "skelgnn-27f": (None, ("det", "gt"), "skelgnn-27f-cmu-det.pt"),
    "skelgnn-1f-paper": (None, ("det", "gt"), "skelgnn-1f-paper-cmu-det.pt"),
    "skelgnn-27f-paper": (None, ("det", "gt"), None),
    "fcn-1f": (None, ("det", "gt"), None),
    "semgcn-1f": ("semgcn-1f.toml", ("det", "gt"), None),
    "semgcn-nl-1f": ("semgcn-nl-1f.toml", ("det", "gt"), None),
    "mgcn-1f": ("mgcn-1f.toml", ("det", "gt"), None),
    "tcn-1f": (None, ("det", "gt"), None),
    "tcn-27f": (None, ("det", "gt"), None),
    # the baselines after their own val search (benchmarks/val.py, round b1-baselines)
    "tcn-1f-tuned": (None, ("det",), None),
    "mgcn-1f-tuned": ("mgcn-1f-tuned.toml", ("det",), None),
    # ... and the other two after the same search (round b2-baselines)
    "fcn-1f-tuned": (None, ("det",), None),
    "semgcn-1f-tuned": ("semgcn-1f-tuned.toml", ("det",), None),
    # ... and SemGCN with its non-local blocks (round b3-baselines)
    "semgcn-nl-1f-tuned": ("semgcn-nl-1f-tuned.toml", ("det",), None),
    "skelgnn-1f-nosqueeze": (None, ("det",), None),
    "skelgnn-1f-flat": (None, ("det",), None),
    "skelgnn-1f-static": (None, ("det",), None),
    "skelgnn-27f-notemporal": (None, ("det",), None),
    # controls: the flagship's embedding in front of a plain MLP / LCN of its size (models.control)
    "control-mlp-1f": (None, ("det", "gt"), None),
    "control-lcn-1f": (None, ("det", "gt"), None),
    "control-mlp-1f-macs": (None, ("det",), None),
    "control-lcn-1f-macs": (None, ("det",), None),
}

METRIC_COLUMNS = [("p1", "P1"), ("p2", "P2"), ("p1_action", "P1 act."), ("p2_action", "P2 act."),
                  ("hard5_p1", "P1 hard 5%"), ("hard10_p1", "P1 hard 10%"),
                  ("rare10_p1", "P1 rare 10%"),
                  ("own_hard5_p1", "P1 own 5%"), ("own_hard10_p1", "P1 own 10%")]


def machine() -> dict:
    import torch

    from skelgnn.evaluate.speed import machine_info

    return {**machine_info(), "threads": torch.get_num_threads(), "torch": torch.__version__}


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, check=True,
                              capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def row_stem(name: str, source: str, seed: int | None) -> str:
    """File stem of a row's result: ``<row>-<source>``, or ``<row>-<source>-s<seed>`` for a seed run."""
    return f"{name}-{source}" if seed is None else f"{name}-{source}-s{seed}"


def row_config(name: str, overrides: list[str] | tuple[str, ...] = ()):
    """The :class:`~skelgnn.train.config.ExperimentConfig` of row ``name``: its config file, or the
    default recipe with the row's model preset from the registry; then ``overrides``."""
    from skelgnn.train.config import load_config

    cfg_file = ROWS[name][0]
    if cfg_file is None:
        return load_config(None, [f"model.preset={name}", *overrides])
    return load_config(CONFIGS / cfg_file, list(overrides))


def run_row(name: str, source: str, data: str | None, runs: Path, extra: list[str],
            seed: int | None = None) -> Path:
    from skelgnn.models.checkpoint import export_weights
    from skelgnn.evaluate.benchmark import evaluate_checkpoint
    from skelgnn.train.loop import train

    cfg_file, _, shipped = ROWS[name]
    seed_set = [] if seed is None else [f"train.seed={seed}"]
    cfg = row_config(name, [f"data.source={source}", "data.split=test", *extra, *seed_set])
    run_dir = runs / row_stem(name, source, seed)
    resume = (run_dir / "last.pt").exists()
    result = train(cfg, run_dir, resume=resume, progress=sys.stderr.isatty(), data_dir=data)
    # per-sample errors beside the checkpoint (outside git) for paired tests (benchmarks/seeds.py)
    scores = evaluate_checkpoint(result.checkpoint, data, source, flip_test=True,
                                 progress=sys.stderr.isatty(), model_free=True,
                                 per_sample=run_dir / "per_sample.npz")
    row = {"row": name, "source": source, "seed": cfg.train.seed, "commit": commit(), "config": cfg.to_dict(),
           "config_file": f"configs/{cfg_file}" if cfg_file else None, "epochs": result.epochs,
           "train_minutes": round(result.minutes, 2),
           "train_frames": "every 2nd" if cfg.data.frame_stride == 2 else
           f"every {cfg.data.frame_stride}", "machine": machine(),
           "date": time.strftime("%Y-%m-%d"), **scores}
    row.pop("checkpoint", None)
    if "data_dir" in row:  # the benchmark directory's name, not this machine's path
        row["data_dir"] = Path(row["data_dir"]).name
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / (row_stem(name, source, seed) + ".json")
    out.write_text(json.dumps(row, indent=2) + "\n")
    if shipped and source == "det" and data is None and seed is None:
        # shipped in half precision (20 MiB budget); benchmarks/half_precision.py checks it
        export_weights(result.checkpoint, REPO / "checkpoints" / shipped, half=True)
    return out


def write_table() -> Path:
    rows = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*-det.json")) +
            sorted(RESULTS.glob("*-gt.json"))]
    rows = [r for r in rows if "row" in r and "source" in r]  # not speed.json / memory.json
    order = {n: i for i, n in enumerate(ROWS)}
    rows.sort(key=lambda r: (r["source"], order.get(r["row"], 99)))
    lines = [format_table(
        ["model", "source", "params", "epochs", "train min"] + [label for _, label in METRIC_COLUMNS],
        [[r["row"], r["source"], f"{r.get('parameters', 0) / 1e6:.2f}M", r["epochs"], f"{r['train_minutes']:.0f}"]
         + [f"{r[k]:.1f}" if k in r else "-" for k, _ in METRIC_COLUMNS] for r in rows], markdown=True)]
    machines = sorted({r["machine"]["cpu"] + f", {r['machine']['cores']} cores" for r in rows})
    lines += ["", "Errors in mm on the test subjects (S08, S11, S14), all cameras, every frame, "
              "flip test-time augmentation; trained on every 2nd frame of all train subjects; "
              "last epoch scored once. Machine: " + "; ".join(machines) + "."]
    if any(k not in r for r in rows for k, _ in METRIC_COLUMNS):
        lines += ["", "-: not reported; the fixed hard subsets are read from "
                  "`hard_<source>_top{5,10}.json` in the data directory, and a source without "
                  "them gets none; `P1 rare 10%` (the model-free rarest 10% of test poses, "
                  "`skelgnn.evaluate.hard_free`) exists for rows scored since it was added, and "
                  "`benchmarks/results/hard_free/` scores every kept checkpoint on it."]
    for source in ("det", "gt"):
        per_action = [r for r in rows if r["source"] == source]
        if not per_action:
            continue
        cats = sorted(per_action[0]["per_action"])
        lines += ["", f"Per action, {source} source (P1 / P2, mm):", "", format_table(
            ["model"] + cats,
            [[r["row"]] + [f"{r['per_action'][c]['p1']:.1f} / {r['per_action'][c]['p2']:.1f}"
                           if c in r["per_action"] else "-" for c in cats] for r in per_action],
            markdown=True)]
    out = RESULTS / "TABLE.md"
    text = "\n".join(lines) + "\n"
    out.write_text(text)
    readme = REPO / "docs" / "BENCHMARK.md"  # the README links this page for the table
    begin, end = "<!-- BENCHMARK TABLE -->", "<!-- /BENCHMARK TABLE -->"
    if RESULTS == REPO / "benchmarks" / "results" and readme.is_file():
        body = readme.read_text()
        if begin in body and end in body:
            head, rest = body.split(begin, 1)
            _, tail = rest.split(end, 1)
            readme.write_text(f"{head}{begin}\n{text}{end}{tail}")
    return out


def main(argv: list[str] | None = None) -> int:
    global RESULTS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", default=[], metavar="ROW",
                    help="run only these rows (repeatable)")
    ap.add_argument("--source", choices=("det", "gt"), action="append", default=[],
                    help="only these 2D sources")
    ap.add_argument("--data", default=None, help="benchmark directory")
    ap.add_argument("--runs", default=str(REPO / "runs" / "bench"), help="run directories")
    ap.add_argument("--results", default=str(RESULTS), help="where rows and TABLE.md go")
    ap.add_argument("--force", action="store_true", help="rerun rows already written")
    ap.add_argument("--seed", type=int, default=None,
                    help="train with this seed and write <row>-<source>-s<seed>.json beside the "
                         "default-seed row (seed spread runs; the shipped checkpoint is untouched)")
    ap.add_argument("--list", action="store_true", help="list rows and their state")
    ap.add_argument("--table", action="store_true", help="only rebuild TABLE.md")
    ap.add_argument("--set", action="append", default=[], dest="extra", metavar="KEY=VALUE",
                    help="extra config override for every row run (e.g. for smoke tests)")
    args = ap.parse_args(argv)
    RESULTS = Path(args.results)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    unknown = [n for n in args.only if n not in ROWS]
    if unknown:
        ap.error(f"unknown rows {unknown}; known: {list(ROWS)}")
    todo = []
    for name, (_, sources, _) in ROWS.items():
        for src in sources:
            if args.only and name not in args.only or args.source and src not in args.source:
                continue
            done = (RESULTS / (row_stem(name, src, args.seed) + ".json")).exists()
            if args.list:
                print(f"{name:26s} {src:4s} {'done' if done else 'todo'}")
            elif not done or args.force:
                todo.append((name, src))
    if args.list:
        return 0
    if not args.table:
        for name, src in todo:
            out = run_row(name, src, args.data, Path(args.runs), args.extra, args.seed)
            print(f"wrote {out}", flush=True)
            write_table()
    print(f"table: {write_table()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
