"""The ``skelgnn`` command line: one verb -> one function.

Adding a command: write ``_add_<verb>_parser(subparsers)`` (it builds the sub-parser and sets
``command="<verb> [<sub-verb>]"`` as a default), write ``cmd_<verb>(args) -> int``, and register
both in :data:`PARSER_BUILDERS` and :data:`COMMANDS`. Handlers raise ``ValueError`` /
``FileNotFoundError`` for user errors; :func:`main` turns them into ``error: <message>`` on stderr
and exit code 2. Only this module reads ``sys.argv`` and prints.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
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
# Parser and dispatch
# --------------------------------------------------------------------------------------------

PARSER_BUILDERS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_data_parser,
]
"""One function per top-level verb, each adding its sub-parser."""

COMMANDS: dict[str, Handler] = {
    "data check": cmd_data_check,
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
