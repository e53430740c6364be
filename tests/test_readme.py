"""Every code block of the README runs as written: the ```python blocks in order in one session,
the ```sh blocks line by line with `skelgnn` on the PATH, all in a scratch checkout-like directory
(``configs/`` linked in, ``../shared`` the real shared data). A block whose first line is
``# readme-test: skip (reason)`` is not run, and one whose first line is ``# readme-test: slow
(reason)`` runs in the ``slow`` test (``make test-all``); both lists stay short and every entry
says why."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import skelgnn
from conftest import require_path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SHARED = REPO.parent / "shared"
SKIP = "# readme-test: skip"
SLOW = "# readme-test: slow"
SKIPPED = {  # the first command of each skipped block: every other block runs
    "git clone <this repository> skelgnn && cd skelgnn",
    "make demo                     # VIDEO=path/to/your.mp4 for your own clip",
    "skelgnn video clip.mp4 --out out/clip --export bvh json csv",
}
SLOWER = {  # the first command of each slow block
    "skelgnn train --config configs/mini.toml --run-dir runs/mini --set train.epochs=1",
}
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)


def blocks() -> list[tuple[str, str]]:
    """(language, code) of every fenced block of the README, in order."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(README.read_text())]


def test_only_the_listed_blocks_are_skipped():
    found = blocks()
    assert {lang for lang, _ in found} <= {"sh", "python"}, "a block in a language no test runs"
    skipped = {code.splitlines()[1] for _, code in found if code.startswith(SKIP)}
    assert skipped == SKIPPED
    slow = {code.splitlines()[1] for _, code in found if code.startswith(SLOW)}
    assert slow == SLOWER
    assert all(re.match(r"# readme-test: (skip|slow) \(.+\)$", code.splitlines()[0])
               for _, code in found if code.startswith("# readme-test")), "a mark without reason"


def test_readme_keeps_the_make_lines():
    text = README.read_text()
    assert "make demo" in text and "make test" in text and "pip install skelgnn" not in text


def _commands(code: str) -> list[str]:
    """The commands of a sh block: one per line, comments dropped."""
    out = []
    for line in code.splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


@pytest.fixture
def checkout(tmp_path, monkeypatch) -> Path:
    """A directory laid out like a checkout beside ../shared, with a `skelgnn` command that runs
    this source tree."""
    require_path(SHARED / "data" / "cmu" / "mini", "CMU mini fixture")
    work = tmp_path / "repo"
    work.mkdir()
    (tmp_path / "shared").symlink_to(SHARED)
    (work / "configs").symlink_to(REPO / "configs")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "skelgnn"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m skelgnn "$@"\n')
    shim.chmod(0o755)
    src = str(Path(skelgnn.__file__).resolve().parents[1])
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])))
    monkeypatch.chdir(work)
    return work


def _run_sh(code: str) -> None:
    for command in _commands(code):
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"


def test_every_readme_block_runs(checkout):
    session: dict = {"__name__": "__readme__"}
    ran = {"python": 0, "sh": 0}
    for lang, code in blocks():
        if code.startswith(("# readme-test: skip", "# readme-test: slow")):
            continue
        if lang == "python":
            exec(compile(code, f"README.md python block {ran['python'] + 1}", "exec"), session)
        else:
            _run_sh(code)
        ran[lang] += 1
    assert ran["python"] >= 5 and ran["sh"] >= 1
    for name in ("keypoints.npz", "people.json", "poses_3d.npz", "poses_3d.bvh", "people_3d.npz",
                 "openpose_3d.npz", "motion.json", "poses_3d.png"):
        assert (checkout / name).is_file(), name
    assert len(list((checkout / "openpose_json").glob("*_keypoints.json"))) == 60


@pytest.mark.slow
def test_slow_readme_blocks_run(checkout):
    slow = [code for lang, code in blocks() if code.startswith(SLOW)]
    assert slow and all(lang == "sh" for lang, code in blocks() if code.startswith(SLOW))
    for code in slow:
        _run_sh(code)
    assert (checkout / "runs" / "mini" / "last.pt").is_file() and (checkout / "mini.json").is_file()


def test_default_checkpoint_from_any_directory(tmp_path, monkeypatch):
    """The README's `Lifter.from_checkpoint()` outside the repository: the shipped checkpoint."""
    from skelgnn.infer.lifter import Lifter, default_checkpoint

    monkeypatch.chdir(tmp_path)
    assert default_checkpoint().name == "skelgnn-27f-video.pt"
    assert Lifter.from_checkpoint().info["checkpoint"] == "skelgnn-27f-video.pt"
