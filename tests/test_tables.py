"""Tests of skelgnn.tables.format_table: the plain and the Markdown rendering."""
from __future__ import annotations

from skelgnn.tables import format_table


def test_plain_table_right_aligns_number_columns_only():
    lines = format_table(["name", "n", "note"], [["a", 1, "x"], ["bbb", 100, "-"], ["cc", "2.5", "y"]]).splitlines()
    assert lines == ["name    n  note", "----  ---  ----", "a       1  x", "bbb   100  -", "cc    2.5  y"]


def test_plain_table_without_rows_is_the_header():
    assert format_table(["a", "bb"], []).splitlines() == ["a  bb", "-  --"]


def test_markdown_table():
    text = format_table(["name", "n"], [["a", 1], ["bbb", 100]], markdown=True)
    assert text.splitlines() == ["| name | n |", "|---|---|", "| a | 1 |", "| bbb | 100 |"]
