"""Limits and refusals of the command line (with tests/test_robust.py):
a new run never overwrites a run directory's files, `evaluate` reports
progress in logs and scores a labelled subsample on request, and CLI runs hide library warnings
a user cannot act on (the library API still shows them)."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import tiny_checkpoint
from skelgnn.models.checkpoint import load_checkpoint
from skelgnn.cli import main
from skelgnn.data import load_benchmark
from skelgnn.evaluate.benchmark import ProgressLog, subsample_records

SRC = Path(__file__).resolve().parents[2] / "src"
TINY = ["model.channels=16", "model.blocks=1", "data.split=test", "data.frame_stride=1",
        "train.batch_size=64", "train.max_samples=128", "train.threads=1"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


def _train_args(mini_dir: Path, run: Path, *extra: str) -> list[str]:
    return (["train", "--data", str(mini_dir), "--run-dir", str(run), "--no-progress"]
            + [a for o in TINY for a in ("--set", o)] + list(extra))


def _one_line_error(capsys, code: int) -> str:
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    return err


# --------------------------------------------------------------------------------------------
# train --run-dir: a new run refuses a directory holding a run's files
# --------------------------------------------------------------------------------------------

def test_train_refuses_a_run_dir_holding_only_prev_pt(mini_dir, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "prev.pt").write_bytes(b"the only checkpoint left by a crash")
    err = _one_line_error(capsys, main(_train_args(mini_dir, run)))
    assert "prev.pt" in err and "--resume" in err
    assert (run / "prev.pt").read_bytes() == b"the only checkpoint left by a crash"
    assert sorted(p.name for p in run.iterdir()) == ["prev.pt"]  # nothing written


@pytest.mark.parametrize("names", [("config.json",), ("history.json",), ("config.json", "history.json")])
def test_train_never_overwrites_the_users_config_or_history(mini_dir, tmp_path, capsys, names):
    run = tmp_path / "run"
    run.mkdir()
    for name in names:
        (run / name).write_text('{"mine": true}\n')
    err = _one_line_error(capsys, main(_train_args(mini_dir, run)))
    assert all(name in err for name in names) and "another --run-dir" in err
    for name in names:
        assert (run / name).read_text() == '{"mine": true}\n'
    assert sorted(p.name for p in run.iterdir()) == sorted(names)


def test_resume_from_prev_pt_alone(mini_dir, tmp_path, capsys):
    run = tmp_path / "run"
    args = [a for a in _train_args(mini_dir, run, "--set", "train.epochs=1") if a != "--no-progress"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "%|" not in err and "step/s" not in err and "s/step" not in err  # no terminal: no bar
    (run / "last.pt").rename(run / "prev.pt")  # the crash window between the two renames
    assert main(_train_args(mini_dir, run, "--resume", "--set", "train.epochs=2")) == 0
    assert "for 2 epochs" in capsys.readouterr().out
    assert load_checkpoint(run / "last.pt")["epoch"] == 2


# --------------------------------------------------------------------------------------------
# evaluate: progress lines without a terminal, a labelled subsample
# --------------------------------------------------------------------------------------------

def test_subsample_records_is_seeded_exact_and_sorted(mini_dir):
    records = load_benchmark(mini_dir, "gt")
    total = sum(r.num_frames for r in records)
    a = subsample_records(records, 150, seed=0)
    assert sum(r.num_frames for r in a) == 150
    keys = [(r.subject, r.action, r.camera) for r in a]
    assert keys == sorted(keys, key=[(r.subject, r.action, r.camera) for r in records].index)
    assert [(r.subject, r.action, r.camera, r.num_frames) for r in subsample_records(records, 150)] \
        == [(r.subject, r.action, r.camera, r.num_frames) for r in a]  # same seed, same subsample
    cut = [r for r in a if r.num_frames < next(o.num_frames for o in records if o.subject == r.subject
                                                  and o.action == r.action and o.camera == r.camera)]
    assert len(cut) <= 1  # only the last drawn sequence is cut, to its first frames
    for r in cut:
        full = next(o for o in records if (o.subject, o.action, o.camera) == (r.subject, r.action, r.camera))
        np.testing.assert_array_equal(r.poses_3d, full.poses_3d[:r.num_frames])
        assert r.trajectory.shape[0] == r.keypoints_2d.shape[0] == r.num_frames
    assert sum(r.num_frames for r in subsample_records(records, 10 * total)) == total
    with pytest.raises(ValueError, match="max_samples"):
        subsample_records(records, 0)


def test_progress_log_lines_are_spaced_and_end_with_the_total(caplog):
    now = [0.0]
    caplog.set_level(logging.INFO, logger="skelgnn.evaluate.benchmark")
    progress = ProgressLog(sequences=4, frames=40, every=10.0, clock=lambda: now[0])
    for t in (3.0, 11.0, 12.0, 13.0):
        now[0] = t
        progress(10)
    assert [r.getMessage() for r in caplog.records] == [
        "lifting 4 sequences, 40 frames", "2/4 sequences, 20/40 frames, 11 s",
        "4/4 sequences, 40/40 frames, 13 s"]


def test_evaluate_logs_progress_when_stderr_is_no_tty_and_labels_a_subsample(
        ckpt, mini_dir, tmp_path, capsys, caplog):
    logger = logging.getLogger("skelgnn.evaluate.benchmark")
    logger.setLevel(logging.WARNING)  # the CLI's default: the progress lines must show all the same
    out = tmp_path / "figures.json"
    assert not sys.stderr.isatty()
    try:
        code = main(["evaluate", "--checkpoint", str(ckpt), "--data", str(mini_dir), "--no-tta",
                     "--max-samples", "150", "--json", str(out)])
    finally:
        logger.setLevel(logging.NOTSET)
    assert code == 0
    lines = [r.getMessage() for r in caplog.records if r.name == "skelgnn.evaluate.benchmark"]
    assert lines[0].startswith("scoring a subsample of 150 of ") and "not a reported figure" in lines[0]
    assert "lifting " in lines[1] and lines[-2].endswith(" s") and "150/150 frames" in lines[-2]
    report = capsys.readouterr().out
    named, report = report.split("\n", 1)  # first the data directory evaluated, then the report
    assert named == f"evaluating {ckpt} on {mini_dir.resolve()}"
    assert report.startswith("SUBSAMPLE: 150 of ") and "not a figure to report" in report
    figures = json.loads(out.read_text())
    assert figures["samples"] == 150 and figures["subsample"]["max_samples"] == 150
    assert figures["subsample"]["of_samples"] > 150 and "hard5_p1" not in figures


@pytest.mark.parametrize("bad", ["0", "-3", "ten"])
def test_evaluate_max_samples_must_be_a_positive_integer(ckpt, capsys, bad):
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "--checkpoint", str(ckpt), "--max-samples", bad])
    assert exc.value.code == 2 and "integer >= 1" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# library warnings: hidden in CLI runs, shown by the library API
# --------------------------------------------------------------------------------------------

SCRIPT = r"""
import os, sys, warnings
import numpy as np
import torch
from skelgnn.cli import main
from skelgnn.models.checkpoint import load_checkpoint

real_load = torch.load
def noisy_load(*args, **kwargs):  # torch's own kind of advice, raised from inside torch
    warnings.warn_explicit("TORCH-ADVICE set weights_only=False", UserWarning,
                           "torch/serialization.py", 1, module="torch.serialization")
    warnings.warn("SKELGNN-OWN warning", UserWarning)  # not a library's: shown
    return real_load(*args, **kwargs)
torch.load = noisy_load
warnings.simplefilter("default")
ckpt, kp, out = sys.argv[1:4]
code = main(["infer", "--keypoints", kp, "--checkpoint", ckpt, "--out", out])
sys.stderr.write(f"--- cli exit {code}\n"); sys.stderr.flush()
warnings.simplefilter("always")
load_checkpoint(ckpt)  # the library API: the advice shows
"""


def test_cli_hides_library_warnings_the_library_api_shows_them(ckpt, tmp_path):
    kp = tmp_path / "kp.npz"
    rng = np.random.default_rng(0)
    np.savez(kp, keypoints=rng.uniform(200, 800, (8, 17, 2)), layout=np.array("h36m17"),
             image_size=np.array([1000.0, 1000.0]))
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(ckpt), str(kp), str(tmp_path / "o.npz")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    cli, _, library = proc.stderr.partition("--- cli exit 0\n")
    assert _ and (tmp_path / "o.npz").is_file(), proc.stderr
    assert "TORCH-ADVICE" not in cli and "SKELGNN-OWN" in cli, cli
    assert "TORCH-ADVICE" in library, library


# --------------------------------------------------------------------------------------------
# prepare bvh --out onto an existing benchmark: refused; --force replaces it, no stale det file
# --------------------------------------------------------------------------------------------

def _toy_bvh_dir(root: Path) -> tuple[Path, Path]:
    from conftest import tiny_bvh

    src = root / "bvh"
    (src / "01").mkdir(parents=True)
    (src / "01" / "01_01.bvh").write_text(tiny_bvh(*["1 2 3 0 0 0 0 0 0 0 0 0"] * 4))
    jmap = root / "toy.toml"
    jmap.write_text('name = "toy"\nscale = 0.01\naxes = ["x", "-z", "y"]\nfloor_joints = ["Foot"]\n'
                    '[skeleton]\nnames = ["Hip", "Knee", "Foot"]\nparents = [-1, 0, 1]\n'
                    '[joints]\nHip = "hip"\nKnee = "knee"\nFoot = "foot"\n')
    return src, jmap


def test_prepare_bvh_refuses_an_existing_benchmark_and_force_leaves_no_stale_det(tmp_path, capsys):
    src, jmap = _toy_bvh_dir(tmp_path)
    out = tmp_path / "bench"
    base = ["prepare", "bvh", "--bvh", str(src), "--out", str(out), "--fps", "120",
            "--joint-map", str(jmap), "--no-progress"]
    assert main(base + ["--detector-noise"]) == 0
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert "data_2d_cmu_det.npz" in before
    err = _one_line_error(capsys, main(base))
    assert "already holds a benchmark" in err and "--force" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # untouched
    assert main(base + ["--force"]) == 0  # no detector now: the old det file must go
    assert sorted(p.name for p in out.iterdir()) == sorted(set(before) - {"data_2d_cmu_det.npz"})


# --------------------------------------------------------------------------------------------
# a config section that is not a table; a truncated .mat
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["model = 5\n", "train = [1, 2]\n", 'data = "cmu"\n'])
def test_a_config_section_that_is_not_a_table_is_one_line(tmp_path, capsys, text):
    path = tmp_path / "exp.toml"
    path.write_text(text)
    err = _one_line_error(capsys, main(["train", "--config", str(path), "--run-dir", str(tmp_path / "r")]))
    assert "must be a table of settings" in err and "TypeError" not in err
    assert not (tmp_path / "r").exists()


def test_a_truncated_mat_file_is_a_value_error_naming_it(tmp_path):
    pytest.importorskip("scipy")
    from skelgnn.prepare.mpi3dhp import read_annot_mat

    path = tmp_path / "annot_data.mat"
    path.write_bytes(b"MATLAB 5.0 MAT-file")  # the header cut short
    with pytest.raises(ValueError, match=r"annot_data.mat: not a readable MATLAB file \(MatReadError"):
        read_annot_mat(path)


# --------------------------------------------------------------------------------------------
# video / bench --out onto an existing file: one line, before any work
# --------------------------------------------------------------------------------------------

def test_video_and_bench_out_onto_an_existing_file_fail_before_the_work(tmp_path, capsys, monkeypatch):
    import skelgnn.evaluate.speed as bench

    taken = tmp_path / "taken"
    taken.write_bytes(b"mine")
    not_a_video = tmp_path / "clip.mp4"
    not_a_video.write_bytes(b"not read: the output is checked first")
    err = _one_line_error(capsys, main(["video", str(not_a_video), "--out", str(taken)]))
    assert f"{taken} is not a directory" in err
    monkeypatch.setattr(bench, "run_bench", lambda *a, **k: pytest.fail("timed before checking --out"))
    err = _one_line_error(capsys, main(["bench", "--preset", "skelgnn-1f", "--video", "none",
                                        "--out", str(taken)]))
    assert f"{taken} is not a directory" in err
    assert taken.read_bytes() == b"mine"


# --------------------------------------------------------------------------------------------
# video: a run never leaves an older clip's files beside its own
# --------------------------------------------------------------------------------------------

def _clip(path: Path, frames: int = 4) -> Path:
    iio2 = pytest.importorskip("imageio.v2")
    pytest.importorskip("imageio_ffmpeg")
    writer = iio2.get_writer(str(path), format="FFMPEG", fps=10, codec="libx264",
                             macro_block_size=2, ffmpeg_log_level="error")
    for _ in range(frames):
        writer.append_data(np.zeros((64, 48, 3), np.uint8))
    writer.close()
    return path


def test_video_outputs_are_replaced_as_one_set(ckpt, tmp_path, monkeypatch):
    import skelgnn.video.pipeline as video
    from skelgnn.infer.lifter import Lifter

    clip = _clip(tmp_path / "clip.mp4")
    person = np.concatenate([np.random.default_rng(0).uniform(10, 40, (33, 2)),
                             np.full((33, 1), 0.9)], -1)
    out = tmp_path / "out"
    out.mkdir()
    old = {name: f"older clip's {name}".encode() for name in video.VIDEO_OUTPUTS}
    for name, data in old.items():
        (out / name).write_bytes(data)
    (out / "notes.txt").write_text("the user's")
    lifter = Lifter.from_checkpoint(ckpt)

    def lift_fails(*args, **kwargs):
        raise ValueError("lifting failed")

    monkeypatch.setattr(video, "lift_detections", lift_fails)
    with pytest.raises(ValueError, match="lifting failed"):
        video.process_video(clip, out, lifter, detector=lambda frame: person, render=False)
    assert sorted(p.name for p in out.iterdir()) == ["keypoints_2d.npz", "notes.txt"]  # this clip's only
    monkeypatch.undo()
    for name, data in old.items():
        (out / name).write_bytes(data)
    video.process_video(clip, out, lifter, detector=lambda frame: person, render=False)
    assert sorted(p.name for p in out.iterdir()) == ["keypoints_2d.npz", "motion.html", "notes.txt",
                                                     "poses_3d.npz"]
    assert all((out / n).read_bytes() != old[n] for n in ("keypoints_2d.npz", "poses_3d.npz",
                                                          "motion.html"))


def test_an_unreadable_video_is_one_line_without_the_ffmpeg_banner(tmp_path, capsys):
    pytest.importorskip("imageio")
    pytest.importorskip("imageio_ffmpeg")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(range(256)) * 20)
    err = _one_line_error(capsys, main(["video", str(bad), "--out", str(tmp_path / "o")]))
    assert "cannot read as a video" in err and "ffmpeg version" not in err and "configuration:" not in err


def test_max_samples_one_is_refused_not_reported_as_loss_zero(capsys):
    from skelgnn.train.config import TrainConfig

    with pytest.raises(ValueError, match=r"train.max_samples must be 0 \(all\) or >= 2"):
        TrainConfig(max_samples=1)
    assert TrainConfig(max_samples=2).max_samples == 2
    code = main(["train", "--set", "train.max_samples=1", "--run-dir", "/nonexistent/x"])
    assert "train.max_samples" in _one_line_error(capsys, code)


def test_a_rotated_clip_warns_once_per_command_not_per_opening(tmp_path, caplog):
    """imageio-ffmpeg logs the same rotation warning every time a rotated phone clip is opened
    (five identical lines per `skelgnn video`); inside a CLI run it is shown once."""
    import logging
    import subprocess

    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    from skelgnn.cli.quiet import quiet_libraries
    from skelgnn.video.pipeline import iter_frames
    from skelgnn.video.render import write_video

    plain, rotated = tmp_path / "plain.mp4", tmp_path / "rotated.mp4"
    frames = [np.full((48, 64, 3), 40 * i, dtype=np.uint8) for i in range(4)]
    write_video(plain, frames, fps=10)
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error",
                    "-display_rotation", "90", "-i", str(plain), "-c", "copy", str(rotated)],
                   check=True)

    def rotation_warnings(times: int) -> int:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="imageio_ffmpeg"):
            for _ in range(times):
                assert len(list(iter_frames(rotated))) == 4
        return sum(r.name == "imageio_ffmpeg" and "frame size" in r.getMessage()
                   for r in caplog.records)

    assert rotation_warnings(3) == 3  # the library API: every opening warns
    with quiet_libraries():
        assert rotation_warnings(3) == 1
    assert rotation_warnings(2) == 2  # restored after the command
