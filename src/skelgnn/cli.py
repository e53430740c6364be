"""The ``skelgnn`` command line: one verb -> one function.

Adding a command: write ``_add_<verb>_parser(subparsers)`` (it builds the sub-parser and sets
``command="<verb> [<sub-verb>]"`` as a default), write ``cmd_<verb>(args) -> int``, and register
both in :data:`PARSER_BUILDERS` and :data:`COMMANDS`. Handlers raise ``ValueError`` /
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
from typing import Callable, Sequence

from skelgnn import __version__

__all__ = ["build_parser", "main", "COMMANDS", "PARSER_BUILDERS", "format_table", "cmd_data_check"]

log = logging.getLogger(__name__)

Handler = Callable[[argparse.Namespace], int]

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2


def _is_number(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table; numbers right-aligned, text left-aligned."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    numeric = [bool(rows) and all(_is_number(row[i]) for row in rows) for i in range(len(headers))]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w)
                         for c, w, num in zip(row, widths, numeric)).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


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
    check.set_defaults(command="data check")


def cmd_data_check(args: argparse.Namespace) -> int:
    """``skelgnn data check``: print the benchmark summary; exit 1 when problems were found."""
    from skelgnn.data import check_benchmark

    start = time.perf_counter()
    report = check_benchmark(args.data)
    elapsed = time.perf_counter() - start

    print(f"benchmark: {report.data_dir}")
    print(f"{len(report.subjects)} subjects, {report.num_sequences} sequences, "
          f"{report.num_frames} frames (x {len(report.camera_ids)} cameras = "
          f"{report.num_frames * len(report.camera_ids)} views)")
    sizes = ", ".join(f"{cid} {w}x{h}" for cid, (w, h) in zip(report.camera_ids, report.image_sizes))
    print(f"cameras: {sizes}")
    print()
    print(format_table(
        ["subject", "set", "sequences", "frames", "cameras", "extrinsics of"],
        [[s.subject, s.split, s.sequences, s.frames, s.cameras, s.camera_source] for s in report.subjects]))
    if report.split_file:
        by_set: dict[str, list[str]] = {}
        for s in report.subjects:
            by_set.setdefault(s.split, []).append(s.subject)
        note = "  (val is part of train)" if "val" in by_set else ""
        print("split: " + "; ".join(f"{k} {' '.join(v)}" for k, v in sorted(by_set.items())) + note)
    else:
        print("split: no split.json")
    print()
    print(format_table(
        ["category", "sequences", "frames", "train frames", "test frames"],
        [[c.category, c.sequences, c.frames, c.train_frames, c.test_frames] for c in report.categories]))
    print(f"{len(report.categories)} categories; actions.csv: "
          f"{'checked' if report.actions_file else 'absent'}")
    print()
    print(format_table(
        ["2D source", "sequences", "truncated", "mean err vs proj (px)", "max err (px)"],
        [[s.source, s.sequences, s.truncated, f"{s.mean_error_px:.4f}", f"{s.max_error_px:.6f}"]
         for s in report.sources]))
    gt = [s for s in report.sources if s.source == "gt"]
    if gt:
        print(f"GT reprojection: max {gt[0].max_error_px:.6f} px (must be < 0.01 px)")
    if report.hard_subsets:
        print("hard subsets: " + ", ".join(f"{name} ({n} samples)" for name, n in report.hard_subsets))
    print(f"checked in {elapsed:.1f} s")
    if report.problems:
        print(f"\n{len(report.problems)} problem(s):")
        for p in report.problems:
            print(f"  - {p}")
        return EXIT_PROBLEMS
    print("OK")
    return EXIT_OK



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
    models.set_defaults(command="models")


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
        Path(args.json).write_text(json.dumps(records, indent=2) + "\n")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# train / evaluate
# --------------------------------------------------------------------------------------------

def _add_train_parser(subparsers: argparse._SubParsersAction) -> None:
    tr = subparsers.add_parser(
        "train", help="train a model",
        description="Train a model from a TOML config (see configs/) with optional overrides. "
                    "Writes config.json, train.log, history.json and last.pt to the run directory.")
    tr.add_argument("--config", metavar="TOML", default=None,
                    help="config file (default: the skelgnn-1f preset and default schedule)")
    tr.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides",
                    help="override a config field, e.g. --set train.lr=5e-4 (repeatable)")
    tr.add_argument("--run-dir", metavar="DIR", required=True, help="output directory")
    tr.add_argument("--data", metavar="DIR", default=None,
                    help="benchmark directory (overrides data.root)")
    tr.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    tr.add_argument("--no-progress", action="store_true", help="no progress bars")
    tr.set_defaults(command="train")


def cmd_train(args: argparse.Namespace) -> int:
    """``skelgnn train``."""
    from skelgnn.config import load_config
    from skelgnn.train import TrainingDiverged, train

    logging.getLogger("skelgnn").setLevel(min(logging.getLogger().level, logging.INFO))
    cfg = load_config(args.config, args.overrides)
    try:
        result = train(cfg, args.run_dir, resume=args.resume, progress=not args.no_progress,
                       data_dir=args.data)
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
                    "5%% / 10%%. Flip test-time augmentation is on unless --no-tta.")
    ev.add_argument("--checkpoint", metavar="PT", required=True, help="checkpoint file")
    ev.add_argument("--data", metavar="DIR", default=None, help="benchmark directory")
    ev.add_argument("--source", choices=("det", "gt"), default=None,
                    help="2D source (default: the one the checkpoint was trained on)")
    ev.add_argument("--no-tta", action="store_true", help="no flip test-time augmentation")
    ev.add_argument("--json", metavar="OUT", default=None, help="write the figures as JSON")
    ev.set_defaults(command="evaluate")


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``skelgnn evaluate``."""
    from skelgnn.evaluate import evaluate_checkpoint, format_report

    result = evaluate_checkpoint(args.checkpoint, args.data, args.source,
                                 flip_test=not args.no_tta, progress=sys.stderr.isatty())
    print(format_report(result))
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
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
    b.add_argument("--out", metavar="DIR", default="benchmarks/results",
                   help="where speed.json and SPEED.md go (default benchmarks/results)")
    b.set_defaults(command="bench")


def cmd_bench(args: argparse.Namespace) -> int:
    """``skelgnn bench``."""
    from skelgnn.bench import DEFAULT_PRESETS, format_bench, run_bench
    from skelgnn.models import PRESETS, build_model

    names = list(PRESETS) if args.all else (args.preset or list(DEFAULT_PRESETS))
    for n in names:
        build_model(n)  # unknown names fail here, with a suggestion
    result = run_bench(names, threads=args.threads, quick=args.quick,
                       progress=sys.stderr.isatty())
    table = format_bench(result)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "speed.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "SPEED.md").write_text(table + "\n")
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
]
"""One function per top-level verb, each adding its sub-parser."""

COMMANDS: dict[str, Handler] = {
    "data check": cmd_data_check,
    "models": cmd_models,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "bench": cmd_bench,
}
"""``command`` value set by a sub-parser -> handler."""


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
    handler = COMMANDS.get(getattr(args, "command", None))
    if handler is None:  # a sub-parser without set_defaults(command=...): a wiring bug
        parser.error(f"no handler for {args.verb!r}")
    try:
        return handler(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
