"""Text tables for the command line and the benchmark reports.

One function, two renderings of the same rows: a plain table whose number columns are
right-aligned (the terminal), and a Markdown table (the files under ``benchmarks/results``).
"""
from __future__ import annotations

from typing import Sequence

__all__ = ["format_table"]


def _is_number(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]], *,
                 markdown: bool = False) -> str:
    """Render ``rows`` under ``headers`` (each cell through ``str``).

    Plain (default): columns padded to their widest cell and separated by two spaces, a dashed rule
    under the header; a column whose every cell parses as a number is right-aligned, any other
    left-aligned; trailing spaces are stripped.

    Markdown: ``| a | b |`` lines with a ``|---|---|`` rule, cells unpadded.
    """
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    if markdown:
        out = ["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(headers)]
        return "\n".join(out + ["| " + " | ".join(r) + " |" for r in cells[1:]])
    numeric = [bool(rows) and all(_is_number(row[i]) for row in rows) for i in range(len(headers))]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w)
                         for c, w, num in zip(row, widths, numeric)).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)
