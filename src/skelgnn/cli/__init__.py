"""The ``skelgnn`` command line: one verb -> one function, one file per verb group.

Adding a command: write ``cmd_<verb>(args) -> int`` and ``add_<verb>_parser(subparsers)`` in the
verb group's module (``data``, ``train``, ``infer``, ``motion``; ``skelgnn.action.cli``), which
builds the sub-parser and ends with ``set_defaults(command="<verb> [<sub-verb>]",
handler=cmd_<verb>)``, then append the builder to :data:`PARSER_BUILDERS` (the verb table).
:data:`COMMANDS` is derived from it. Handlers raise ``ValueError`` /
``FileNotFoundError`` for user errors; :func:`main` turns them into ``error: <message>`` on stderr
and exit code 2. Only this package reads ``sys.argv`` and prints.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from typing import Callable, Iterator, Optional, Sequence

from skelgnn import __version__
from skelgnn.action.cli import add_action_parser
from skelgnn.cli.common import BACKENDS, EXIT_INTERRUPTED, EXIT_USAGE, Handler
from skelgnn.cli.data import add_analyze_parser, add_data_parser, add_prepare_parser, cmd_data_check
from skelgnn.cli.infer import add_export_parser, add_infer_parser, add_video_parser
from skelgnn.cli.motion import add_convert_parser, add_render_parser
from skelgnn.cli.view import add_view_parser
from skelgnn.cli.train import add_bench_parser, add_evaluate_parser, add_models_parser, add_train_parser
from skelgnn.tables import format_table

__all__ = ["build_parser", "main", "commands", "COMMANDS", "PARSER_BUILDERS", "format_table", "cmd_data_check",
           "BACKENDS"]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# Parser and dispatch
# --------------------------------------------------------------------------------------------

PARSER_BUILDERS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_data_parser,  # skelgnn.cli.data
    add_models_parser,  # skelgnn.cli.train
    add_train_parser,
    add_evaluate_parser,
    add_bench_parser,
    add_infer_parser,  # skelgnn.cli.infer
    add_export_parser,
    add_render_parser,  # skelgnn.cli.motion
    add_video_parser,  # skelgnn.cli.infer
    add_prepare_parser,  # skelgnn.cli.data
    add_analyze_parser,
    add_convert_parser,  # skelgnn.cli.motion
    add_view_parser,  # skelgnn.cli.view
    add_action_parser,  # skelgnn.action.cli
]
"""The verb table: one function per top-level verb, each adding its sub-parser with
``set_defaults(command="<verb> [<sub-verb>]", handler=cmd_<verb>)``."""


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
    from skelgnn.progress import heartbeat

    with _progress_lines(), heartbeat(f"skelgnn {args.command}"):
        return _run(handler, args)


@contextlib.contextmanager
def _progress_lines() -> Iterator[None]:
    """Show the ``skelgnn.progress`` lines (bare messages on stderr) without ``-v``: a command that
    works for minutes says how far it got (:mod:`skelgnn.progress`)."""
    from skelgnn.progress import LOGGER

    logger = logging.getLogger(LOGGER)
    saved = logger.level, logger.propagate
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(stream)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(stream)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def _run(handler: Handler, args: argparse.Namespace) -> int:
    """Run one command's handler; user errors become one ``error:`` line and exit code 2."""
    writes = getattr(args, "writes", None)
    try:
        if writes is not None:  # the output rule, before any work (skelgnn.fileio.Writes)
            writes(args).check()
        if args.verbose:  # -v: every library's warnings too
            return handler(args)
        from skelgnn.cli.quiet import quiet_libraries

        with quiet_libraries():  # torch / onnx / mediapipe advice a user cannot act on
            return handler(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        hint = getattr(args, "interrupt_hint", None)
        print("error: interrupted" + (f"; {hint(args)}" if hint is not None else ""), file=sys.stderr)
        return EXIT_INTERRUPTED
    except MemoryError:
        print("error: out of memory (the input asks for more memory than this machine has; see "
              "docs/USAGE.md, 'Data formats and safety', for the bounds)", file=sys.stderr)
        return EXIT_USAGE
    except RecursionError:
        print("error: the input is nested too deeply to read", file=sys.stderr)
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

