"""Tests of the skelgnn command line."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from skelgnn.cli import COMMANDS, build_parser, format_table, main


def _top_level_verbs(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    raise AssertionError("no sub-commands")


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    verbs = {command.split()[0] for command in COMMANDS}
    assert "data" in verbs
    assert _top_level_verbs(build_parser()) == verbs  # every verb has a handler and vice versa
    for verb in verbs:
        assert f"    {verb} " in out
    with pytest.raises(SystemExit):
        main(["data", "--help"])
    assert "check" in capsys.readouterr().out


# the smallest valid argument list of each verb (a new verb must be added here)
MINIMAL_ARGS = {
    "data check": ["--data", "x"],
    "models": [],
    "train": ["--run-dir", "x"],
    "evaluate": ["--checkpoint", "x"],
    "bench": [],
    "infer": ["--keypoints", "x", "--out", "x"],
    "export": ["--checkpoint", "x", "--onnx", "x"],
    "render": ["--poses", "x", "--out", "x"],
    "video": ["x", "--out", "x"],
    "prepare bvh": ["--bvh", "x", "--out", "x"],
    "prepare h36m": ["--h36m", "x", "--out", "x"],
    "analyze hops": ["--out", "x"],
    "analyze cameras": ["--checkpoint", "x.pt"],
    "analyze grading": ["--checkpoint", "x"],
    "action train": ["--out", "x"],
    "action evaluate": ["x"],
    "convert": ["x", "y.bvh"],
    "view": ["x", "--out", "y.html"],
}


def test_every_parser_command_has_a_handler():
    parser = build_parser()
    assert set(MINIMAL_ARGS) == set(COMMANDS)
    for command in COMMANDS:
        args = parser.parse_args(command.split() + MINIMAL_ARGS[command])
        assert args.command == command
        assert args.handler is COMMANDS[command] and callable(args.handler)


@pytest.mark.parametrize("command", sorted(MINIMAL_ARGS))
def test_help_of_every_subcommand_runs_without_doubled_percent(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*command.split(), "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: skelgnn " + command)
    assert "%%" not in out and "%(" not in out


def test_evaluate_help_shows_single_percent(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    assert "hardest 5% / 10%" in " ".join(capsys.readouterr().out.split())


def test_data_check_on_mini(mini_dir, capsys):
    assert main(["data", "check", "--data", str(mini_dir)]) == 0
    out = capsys.readouterr().out
    for text in ("subject", "S07", "S08", "S10", "test", "Walk", "Soccer", "2D source", "det", "gt",
                 "GT reprojection", "OK"):
        assert text in out
    gt_line = next(line for line in out.splitlines() if line.startswith("gt "))
    assert float(gt_line.split()[-1]) < 0.01


def test_data_check_reports_problems(mini_dir, tmp_path, capsys):
    for name in ("data_3d_cmu.npz", "data_2d_cmu_gt.npz", "cameras.json"):
        (tmp_path / name).symlink_to(mini_dir / name)
    (tmp_path / "split.json").write_text(json.dumps({"train": ["S07"], "test": ["S08"]}))
    assert main(["data", "check", "--data", str(tmp_path)]) == 1
    assert "'S10'] are in neither train nor test" in capsys.readouterr().out


def test_bad_data_dir_exits_2_with_error_line(tmp_path, capsys):
    assert main(["data", "check", "--data", str(tmp_path / "missing")]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: data directory not found")
    assert "--data DIR" in captured.err and "Traceback" not in captured.err


def test_malformed_data_exits_2(tmp_path, capsys):
    (tmp_path / "data_3d_cmu.npz").write_bytes(b"junk")
    assert main(["data", "check", "--data", str(tmp_path)]) == 2
    assert "not an npz" in capsys.readouterr().err


def test_console_script_error_path(tmp_path):
    result = subprocess.run([sys.executable, "-m", "skelgnn.cli", "data", "check", "--data",
                             str(tmp_path / "missing")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    # one error line, last; before it at most the heartbeat of a slow start (a loaded machine)
    *before, last = result.stderr.splitlines()
    assert last.startswith("error: ") and "Traceback" not in result.stderr
    assert all(": still working" in line for line in before), before


def test_format_table_aligns_numbers():
    table = format_table(["name", "n"], [["a", 1], ["bbb", 100]]).splitlines()
    assert table[0] == "name    n"
    assert table[2] == "a       1"
    assert table[3] == "bbb   100"
