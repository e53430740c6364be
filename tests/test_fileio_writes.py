"""Every writer goes through fileio.atomic_path, which writes only regular files."""
from __future__ import annotations

import os

import pytest

from skelgnn.cli import main
from skelgnn.fileio import atomic_path, atomic_write_text


def test_atomic_writer_replaces_a_regular_file(tmp_path):
    out = tmp_path / "sub" / "a.json"
    atomic_write_text(out, "1")
    atomic_write_text(out, "2")
    assert out.read_text() == "2" and sorted(os.listdir(out.parent)) == ["a.json"]


def test_atomic_writer_follows_a_link_to_a_regular_file(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")
    link = tmp_path / "l.txt"
    link.symlink_to(target)
    atomic_write_text(link, "new")
    assert link.read_text() == "new"


@pytest.mark.parametrize("kind", ["directory", "device", "fifo"])
def test_atomic_writer_refuses_what_is_not_a_regular_file(tmp_path, kind):
    if kind == "directory":
        target = tmp_path / "d"
        target.mkdir()
    elif kind == "device":
        target = tmp_path / "null"
        target.symlink_to("/dev/null")
    else:
        target = tmp_path / "fifo"
        os.mkfifo(target)
    with pytest.raises(ValueError, match="cannot write .*(a directory|not a regular file)"):
        with atomic_path(target):
            raise AssertionError("must refuse before yielding")
    assert os.path.lexists(target) and not target.is_file()
    assert sorted(os.listdir(tmp_path)) == [target.name]  # no temp file left behind


def test_cli_refuses_dev_null_and_directories_without_traceback(tmp_path, capsys):
    assert main(["models", "--json", "/dev/null"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write /dev/null") and "Traceback" not in err
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")
    assert main(["models", "--json", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
